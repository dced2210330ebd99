"""The configuration fitted to the data --data or --dataset names: the network's inputs and
classes become the data's, and what the data contradict is refused as a UsageError.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from tui.cli.options import Options, UsageError

if TYPE_CHECKING:
    from engine.data.batches import Data


def with_data(options: Options) -> tuple[Options, Data | None]:
    """The data the options name, loaded, split and planned, and the options with the
    network's inputs and classes the data's; a UsageError ("--data: line 3: ...") for a
    file that cannot be read or a setting the data contradict."""
    config = options.config
    if not config.learns_from_data:
        return options, None
    from dataclasses import replace

    from engine.data import batches
    from engine.data.sets import DataError
    from engine.settings.config import ConfigError, check_fitted, validate

    try:
        data = batches.from_config(config)
        # The loss was resolved for the output asked; the data may ask for another.
        config = replace(config, loss=config.loss if "loss" in options.given else "")
    except DataError as error:
        message = str(error)  # a file's problem names the file; a line's problem does not
        raise UsageError(f"--data: {message if config.data in message else f'{config.data}: {message}'}") \
            from None
    assert data is not None
    dataset = data.dataset
    name = config.dataset or os.path.basename(config.data)
    try:
        check_fitted(config, options.given, name, dataset.features, dataset.classes)
        fitted = validate(batches.fitted(config, data), given=())
        batches.check_step(fitted, data, options.given)
    except ConfigError as error:
        raise UsageError(f"--{error.key}: {error.message}") from None
    return replace(options, config=fitted), data
