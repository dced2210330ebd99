"""The command line, its outputs and the Textual app. Importing this package does not import
Textual: the headless report must start as fast as a plain NumPy script.

- tui.text, tui.keys: shared leaves (safe text, the key table), no Textual;
- tui.output: the text report, the JSON trace and the notebook export, no Textual;
- tui.cli: options, the dispatcher, the headless run, output files, serve; no Textual at
  import (the app is imported when it is opened);
- tui.app: the Textual app, its widgets and screens;
- tui.verify: gradient checks for a test suite (check_model, check_functions), no Textual;
  may import tui.cli, whose stepper and verdict it shares with the headless run.

tests/test_layers.py enforces the directions.
"""
