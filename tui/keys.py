"""The app's key bindings as plain data: id, default keys, action, description.

Kept free of Textual so that the command line can validate a keymap from a TOML file
without paying for Textual's import; the app builds its BINDINGS from this table.
"""

from __future__ import annotations

from typing import NamedTuple


class Key(NamedTuple):
    id: str  # stable: what a keymap names
    keys: str  # Textual key names, comma-separated
    action: str
    description: str
    footer: str = ""  # label in the footer; empty hides it there
    scope: str = "app"  # "panel": bound on a focused panel, where it wins over the app's keys
    priority: bool = False  # taken before any screen or field sees it: works on every screen


KEYS = (
    Key("next", "n,space,right", "next", "Run the next phase", "Next phase"),
    Key("back", "b,left", "undo", "Undo the last phase exactly (any depth)", "Back"),
    Key("finish-step", "s", "finish_step", "Run to the end of this step's update", "Finish"),
    Key("train", "t", "train", "Train K steps (--train-steps); escape keeps those done",
        "Train"),
    Key("play", "p", "play", "Play: train step after step; p or escape pauses"),
    Key("lr-up", "plus", "lr_up", "Learning rate up a rung: 0.1 → 0.3 → 1, mid-run"),
    Key("lr-down", "minus", "lr_down", "Learning rate down a rung: 0.1 → 0.03, mid-run"),
    Key("previous-sample", "left_square_bracket", "previous_sample",
        "Previous sample of the batch: its rows in the panels"),
    Key("next-sample", "right_square_bracket", "next_sample",
        "Next sample of the batch: its rows in the panels"),
    Key("reset", "r", "reset", "Back to the initial parameters (b undoes the reset)", "Reset"),
    Key("toggle-gradcheck", "g", "toggle_gradcheck", "Turn the gradient-check phase on or off",
        "Gradcheck"),
    Key("edit-config", "c", "edit_config", "Edit the settings (lr, l1, l2, batch: mid-run)", "Config"),
    Key("zoom", "z", "zoom", "Zoom: every exact value of a tensor, scrollable", "Zoom"),
    Key("health", "v", "health", "Training health: statistics, verdicts, histograms"),
    Key("log-scale", "y", "toggle_log_scale", "Loss chart: its loss axis linear or log scale"),
    Key("measure", "a", "measure", "Measure the loss and accuracy of every row now"),
    Key("regenerate", "d", "regenerate", "Draw the data again from the next seed, keeping the weights"),
    Key("test-points", "o", "toggle_test_points", "Map: show or hide the test points"),
    Key("explain", "e", "toggle_explain", "Explain the element under the cursor; its sources lit",
        "Explain"),
    Key("network-picture", "m", "toggle_picture", "Network picture: every unit and weight; click a unit"),
    Key("cancel", "escape", "cancel", "Cancel a phase that is still running"),
    Key("save-session", "ctrl+s", "save_session",
        "Save the session to a file (reopen it with --session FILE)"),
    Key("export-params", "x", "export_params", "Write the parameters to an .npz file (--params FILE)"),
    Key("export-json", "w", "export_json", "Write the state on screen as JSON (the --format json "
        "object)"),
    Key("help", "question_mark", "help", "Show this help", "Help"),
    Key("quit", "q", "quit", "Quit", "Quit"),
    Key("suspend", "ctrl+z", "suspend_process", "Suspend to the shell (fg brings it back)",
        priority=True),
    Key("focus-next", "tab", "app.focus_next", "Move to the next panel"),
    Key("focus-previous", "shift+tab", "app.focus_previous", "Move to the previous panel"),
    # In a focused panel the arrows move the cell cursor (left and right no longer step
    # phases there: n, space and b still do).
    Key("cursor-up", "up,k", "cursor('up')", "In a panel: cursor up a row, on into the tensor above",
        scope="panel"),
    Key("cursor-down", "down,j", "cursor('down')", "In a panel: cursor down a row, on into the next tensor",
        scope="panel"),
    Key("cursor-left", "left,h", "cursor('left')", "In a panel: cursor left a column", scope="panel"),
    Key("cursor-right", "right,l", "cursor('right')", "In a panel: cursor right a column", scope="panel"),
)
IDS = frozenset(k.id for k in KEYS)
BY_ID = {k.id: k for k in KEYS}
