"""The model log: what a user's model printed and the errors it raised."""

from __future__ import annotations

from textual.content import Content

from engine.run.stepper import State, View
from tui.app.widgets.panels import Panel, join
from tui.app.widgets.tensor import FAIL, MUTED
from tui.text import printable


class LogPanel(Panel):
    """What a user's model printed (at import and in each call), and the errors it raised,
    with the user's own traceback lines: the app stays alive so the code can be fixed."""

    title = "Model log"
    reads = ()  # the view's log

    def build(self, view: View, state: State) -> Content:
        log = view.log
        self.display = log is not None
        if not log:
            name = printable(view.model_name, oneline=True)
            return Content.styled(f"{name} has printed nothing yet", MUTED)
        entries = log[-12:]
        blocks = []
        if len(log) > len(entries):
            blocks.append(Content.styled(f"… {len(log) - len(entries)} earlier entries", MUTED))
        for entry in entries:
            error = entry.source == "error"
            head = "error" if error else f"printed {entry.during}"
            lines = printable(entry.text).rstrip("\n").split("\n")
            if len(lines) > 40:
                lines = [*lines[:20], f"… {len(lines) - 40} more lines …", *lines[-20:]]
            blocks.append(Content.assemble((head, FAIL if error else "bold"), "\n",
                                           (("\n".join(lines)), FAIL if error else "")))
        return join(blocks)
