"""--output: the headless report written into a file instead of stdout, and a JSON trace's
large arrays into the .npz beside it (tui.output.sidecar).

Both are written as the report is made, a piece at a time, into temporary files beside
their names (tui.cli.files.whole_file), and renamed into place only once the report is
whole: a run that fails or is interrupted leaves neither file half-written, and whatever
was there before as it was.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable, Iterator

from engine.files import shown_name
from engine.usermodel.errors import ModelError
from tui.cli.files import whole_file
from tui.cli.options import PROG, Options
from tui.cli.stderr import BadElement, model_error
from tui.output.sidecar import Sidecar

#: The report's chunks, made with the sidecar that takes its large arrays (None: none).
Report = Callable[[Sidecar | None], Iterable[str]]


def write_report_file(options: Options, report: Report) -> int:
    """The report into --output's file: exit status 0; 1 with one line on stderr when a file
    cannot be written (a full disk); a model's error or an --explain element the final state
    lacks as on stdout (tui.cli.headless). No file is changed unless all went well."""
    assert options.output is not None
    separator = "" if options.format == "json" else "\n"
    try:
        with whole_file(options.output) as file, _arrays(options) as sidecar:
            for i, chunk in enumerate(report(sidecar)):
                file.write((separator * bool(i) + chunk).encode())
            file.write(b"\n")
    except ModelError as error:
        return model_error(error)
    except BadElement as bad:
        return bad.status
    except OSError as error:
        print(f"{PROG}: error: --output: cannot write {shown_name(error.filename or options.output)}: "
              f"{error.strerror or error}", file=sys.stderr)
        return 1
    return 0


@contextlib.contextmanager
def _arrays(options: Options) -> Iterator[Sidecar | None]:
    """The .npz beside a JSON trace's file (none for a text report), made whole when the
    block ends, and only if an array went into it."""
    path = options.sidecar
    if path is None:
        yield None
        return
    with contextlib.ExitStack() as stack:
        sidecar = Sidecar(lambda: stack.enter_context(whole_file(path)), path.name, options.json_arrays_max)
        try:
            yield sidecar
        except BaseException:
            sidecar.abandon()
            raise
        sidecar.close()
