"""Drawing only what changed, laying out only what moved: most keys change a panel or two, a
needless update costs a render of the widget, and a relayout of the whole screen is the
costliest part of a frame (issue 15).

- `same`: whether a widget would be drawn from the same things again (skip the build).
- `update`: update a Static unless it shows exactly that; lay out only on a new height.
- `steady`: pad a widget to the tallest it has been, so that its height stays put.
- `QuietStatic`, `QuietScroll`: no second layout, a frame later, for a size already given
  (tui.app.compat's OneLayout and ScrollLaidOutOnResize).
"""

from __future__ import annotations

from enum import Enum
from typing import cast

from textual.content import Content
from textual.css.styles import RulesMap
from textual.widget import Widget
from textual.widgets import Static

from tui.app.compat import OneLayout, ScrollLaidOutOnResize, VisibleLines, text_height

_SHOWN = "_quiet_shown"
_SIZE = "_quiet_size"
_TALLEST = "_quiet_tallest"


#: Values compared by value in `same` (tuples of such values: a cursor, a log of captured
#: text); anything else (arrays, the state's parts, configs) by identity: they are frozen,
#: so the same object holds the same numbers.
VALUES = (str, int, float, bool, Enum, tuple, frozenset, type(None))


def same(drawn_from: tuple[object, ...], now: tuple[object, ...] | None) -> bool:
    """Whether a widget would be drawn from the same things again: the same objects, or
    equal plain values (a widget with nothing new to show is left as it is)."""
    return now is not None and len(now) == len(drawn_from) and all(
        a is b or (isinstance(a, VALUES) and type(a) is type(b) and a == b)
        for a, b in zip(drawn_from, now, strict=True))


def height(widget: Widget, content: Content) -> int:
    """The lines `content` takes in `widget` at its width, wrapped as Textual wraps them;
    before the widget has a width, its lines as written."""
    width = widget.content_size.width
    if width <= 0:
        return content.plain.count("\n") + 1
    return text_height(content.plain, cast(RulesMap, widget.styles), width)


def _size(widget: Widget, content: Content) -> tuple[int, int]:
    """The content's height in the widget and, when the widget is as wide as its content,
    its widest line (None as a width: as wide as its container, whatever it shows)."""
    width = widget.styles.width
    auto = width is not None and width.is_auto
    return height(widget, content), content.get_optimal_width(cast(RulesMap, widget.styles), 0) if auto else 0


def shown(widget: Widget) -> Content | None:
    """What `update` last gave the widget to show (None: nothing yet)."""
    return cast(Content | None, getattr(widget, _SHOWN, None))


def update(widget: Static, content: Content) -> bool:
    """widget.update(content) unless it already shows exactly that (text and styles); without
    a relayout when its size stays the same. True if it updated."""
    old: Content | None = getattr(widget, _SHOWN, None)
    if old is not None and old.plain == content.plain and old.spans == content.spans:
        return False
    # The size of what it shows is kept with it, at the width it was measured at: not
    # measured again on every key.
    size = (widget.content_size.width, *_size(widget, content))
    layout = old is None or not size[0] or getattr(widget, _SIZE, None) != size
    setattr(widget, _SHOWN, content)
    setattr(widget, _SIZE, size)
    widget.update(content, layout=layout)
    return True


def steady(widget: Widget, content: Content, what: object) -> Content:
    """`content` padded with blank lines to the tallest the widget has shown for `what` (a
    network, say) at its width: a panel going back to "not computed yet" as a new step
    starts keeps its size, so the screen does not jump under the reader, and a key repaints
    what changed without laying the whole screen out again."""
    seen = (what, widget.content_size.width)
    previous, tallest = getattr(widget, _TALLEST, (None, 0))
    lines = height(widget, content)
    tallest = max(lines, tallest if previous == seen else 0)
    setattr(widget, _TALLEST, (seen, tallest))
    return Content.assemble(content, "\n" * (tallest - lines)) if lines < tallest else content


class QuietStatic(OneLayout, VisibleLines, Static):
    """A Static laid out once per change of size (OneLayout), whose lines are rendered as
    the screen shows them (VisibleLines): a panel is often taller than the screen."""


class QuietScroll(ScrollLaidOutOnResize):
    """The panels' scroll: laid out again only for a new size of its own (compat)."""
