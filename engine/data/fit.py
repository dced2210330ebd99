"""A config fitted to the data it names: the data decide the network's inputs and classes.

One place for the command line and the app's form: load the data, check what the user
gave against them (engine.settings.rules.check_fitted), fit the sizes, check the fitted
config and the memory of a step on its batch."""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import replace

from engine.data import batches
from engine.data.batches import Data
from engine.settings.config import Config, check_fitted, validate


def fit_to_data(config: Config, given: Collection[str]) -> tuple[Config, Data]:
    """The config fitted to its data and the data, loaded, split and planned. `config` names
    data (learns_from_data); `given` names the settings the user gave, by key. Raises
    engine.data.sets.DataError for a file that cannot be used, ConfigError for a setting the
    data contradict."""
    data = batches.from_config(config)
    assert data is not None
    # The loss was resolved for the output asked; the data may ask for another.
    config = replace(config, loss=config.loss if "loss" in given else "")
    name = config.dataset or os.path.basename(config.data)
    check_fitted(config, given, name, data.dataset.features, data.dataset.classes)
    fitted = validate(batches.fitted(config, data), given=())
    batches.check_step(fitted, data, given)
    return fitted, data
