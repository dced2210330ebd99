"""Numbers as text without a negative zero (one helper for every place that prints one), and
text from outside the app (a model's file name, its cache keys, the reprs of what it
caches, what it prints, the messages of its exceptions; what a session or a settings file
holds) made safe to show.

Such text is never parsed as markup (it is put in Content objects; the app's notify never
parses markup), and every terminal escape sequence and control character is removed from
it here: they would otherwise reach the terminal and clear the screen, set its title,
write its clipboard or swallow what follows.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import numpy as np

Numbers = TypeVar("Numbers")

_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI (7- and 8-bit): colours, cursor moves, clears
    # OSC, DCS, SOS, PM and APC strings, up to BEL or ST (7- or 8-bit); unterminated, up to
    # the next escape or the end of the line, so that one bad string never hides the lines after it
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]"  # every other escape sequence (ESC c, ESC ( B, ...)
    r"|\x1b"  # a lone escape at the end
)
#: C0 controls but tab and newline, DEL, and the 8-bit C1 controls.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: object, *, oneline: bool = False) -> str:
    """Text with no terminal escape sequences or control characters: a carriage return
    (progress bars) starts a new line; `oneline` turns line breaks and tabs into spaces
    (for names and one-line messages)."""
    text = _ESCAPES.sub("", str(text)).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROLS.sub("", text)
    return re.sub(r"[\n\t]+", " ", text) if oneline else text


def safe_repr(value: object, limit: int = 200) -> str:
    """A value's repr, printable and at most `limit` characters, even when its
    __repr__ raises."""
    try:
        text = repr(value)
    except Exception as error:  # any user object's __repr__ may fail
        text = f"<{type(value).__name__}: repr failed with {type(error).__name__}>"
    text = printable(text, oneline=True)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def type_name(value: object) -> str:
    """The name of a value's type; for a value that stayed in the model's process, the
    type it has there (a generator, the user's own class), not Opaque."""
    # Here, not at the top: only a model's errors name types, and the transport's import
    # (pickle's) is start-up time for every other run.
    from engine.usermodel.transport import Opaque

    return printable(value.type_name if isinstance(value, Opaque) else type(value).__name__, oneline=True)


def unsigned_zeros(values: Numbers) -> Numbers:
    """The number or array with every -0.0 made 0.0, for NumPy's own printing (a float array's
    str). -0.0 is what a dead ReLU's gradient is (0 times a negative) and means nothing more than
    0: "-0." beside "0." reads as a tiny negative value. Integers and other values as they are."""
    kind = np.asarray(values).dtype.kind
    zero = {"f": 0.0, "c": 0j}.get(kind)  # -0.0 + 0.0 is 0.0; a complex number's two parts alike
    return values if zero is None else values + zero  # type: ignore[operator, return-value]


def number(value: Any, spec: str = "") -> str:
    """A real number as text, never "-0": repr() without `spec`, else format() with it, with the
    "z" option (PEP 682) that also writes a negative value rounded to zero ("-0.0000") as zero.
    `spec` is an optional sign (" " or "+") and the rest of a float's format, e.g. " .4f"."""
    if not spec:
        return repr(unsigned_zeros(float(value)))
    sign = spec[0] if spec[0] in " +-" else ""
    return format(float(value), f"{sign}z{spec[len(sign):]}")


#: Class names a key shows (the rest counted), and the characters it shows of each.
KEY_CLASSES, KEY_CHARS = 12, 40


def class_key(names: tuple[str, ...]) -> str:
    """A CSV file's class names with the index each stands for, as one line: "0 B, 1 M"; the
    first KEY_CLASSES, each cut to KEY_CHARS characters (a file's labels may be anything)."""
    shown = [f"{k} {printable(_cut(name), oneline=True)}" for k, name in enumerate(names[:KEY_CLASSES])]
    more = [f"… ({len(names) - KEY_CLASSES} more)"] if len(names) > KEY_CLASSES else []
    return ", ".join(shown + more)


def _cut(text: str) -> str:
    return text if len(text) <= KEY_CHARS else f"{text[:KEY_CHARS - 1]}…"
