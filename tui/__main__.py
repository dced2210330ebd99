"""Entry point: `backprop-stepper` and `python -m tui`.

Parses and validates everything before doing anything, so bad input gets one clear
message and exit status 2, with nothing printed on stdout. Textual is imported only
when the app is opened.
"""

from __future__ import annotations

import sys

from tui.cli import PROG, UsageError, parse


def main(argv: list[str] | None = None) -> int:
    try:
        options = parse(sys.argv[1:] if argv is None else argv)
    except UsageError as error:
        print(f"{PROG}: error: {error}\nTry '{PROG} --help' for the flags.", file=sys.stderr)
        return 2
    from engine.stepper import Stepper

    stepper = Stepper(options.config)
    if options.headless:
        from tui.report import json_report, text_report

        finished = stepper.run_steps(options.config.steps)
        render = json_report if options.format == "json" else text_report
        print(render(options.config, stepper, finished))
        return 0
    from tui.app import StepperApp

    StepperApp(stepper).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
