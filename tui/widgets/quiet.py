"""Updating a Static only when what it shows changed, and laying the screen out again only
when its size may have: most keys change a few panels, and each needless update costs a
render of the widget (and a relayout of the whole screen, the costliest part of a frame)."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

_SHOWN = "_quiet_shown"


def _size(content: Content) -> tuple[int, int]:
    lines = content.split("\n", allow_blank=True)
    return len(lines), max((line.cell_length for line in lines), default=0)


def update(widget: Static, content: Content) -> bool:
    """widget.update(content) unless it already shows exactly that (text and styles); without
    a relayout when the lines and their widest width stay the same. True if it updated."""
    old: Content | None = getattr(widget, _SHOWN, None)
    if old is not None and old.plain == content.plain and old.spans == content.spans:
        return False
    layout = old is None or _size(old) != _size(content)
    setattr(widget, _SHOWN, content)
    widget.update(content, layout=layout)
    return True
