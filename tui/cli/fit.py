"""The configuration fitted to the data --data or --dataset names: the network's inputs and
classes become the data's, and what the data contradict is refused as a UsageError.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from engine.data.fit import fit_to_data
from engine.data.sets import DataError
from engine.settings.config import ConfigError
from tui.cli.options import Options, UsageError, refused

if TYPE_CHECKING:
    from engine.data.batches import Data


def with_data(options: Options) -> tuple[Options, Data | None]:
    """The data the options name, loaded, split and planned, and the options with the
    network's inputs and classes the data's; a UsageError ("--data: line 3: ...") for a
    file that cannot be read or a setting the data contradict."""
    config = options.config
    if not config.learns_from_data:
        return options, None
    try:
        fitted, data = fit_to_data(config, options.given)
    except DataError as error:
        message = str(error)  # a file's problem names the file; a line's problem does not
        raise UsageError(f"--data: {message if config.data in message else f'{config.data}: {message}'}") \
            from None
    except ConfigError as error:
        raise refused(error) from None
    return replace(options, config=fitted), data
