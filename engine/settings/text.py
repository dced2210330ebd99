"""Settings as people type them (on a command line or in a form field), and values as a
message echoes them back."""

from __future__ import annotations

from collections.abc import Iterable


def _typed(text: str) -> str:
    """The text, if a person could have meant it as a number. Python's int() and float() also
    read 1_0 as 10 and non-ASCII digits (٣, ３), which on a command line or in a form are
    typos, not numbers: ValueError."""
    if not text.strip().isascii() or "_" in text:
        raise ValueError(text)
    return text


def whole(text: str) -> int:
    """A whole number as people type it."""
    return int(_typed(text))


def real(text: str) -> float:
    """A number as people type it (1e-5, -0.4, inf)."""
    return float(_typed(text))


def wholes(text: str) -> tuple[int, ...]:
    """Comma-separated whole numbers (8,8); empty text is no numbers."""
    return tuple(whole(part) for part in text.split(",")) if text.strip() else ()


def reals(text: str) -> tuple[float, ...]:
    """Comma-separated numbers (0.2,-0.4,0.1); empty text is no numbers."""
    return tuple(real(part) for part in text.split(",")) if text.strip() else ()


def word(text: str) -> str:
    return text.strip()


def yes_no(text: str) -> bool:
    """A switch as a form field: yes or no (true or false)."""
    answer = text.strip().lower()
    if answer in ("yes", "true"):
        return True
    if answer in ("no", "false", ""):
        return False
    raise ValueError(text)


def text_value(text: str) -> str:
    """A file name as typed: spaces around it are not part of it."""
    return text.strip()


def shown(value: object, limit: int = 40) -> str:
    """A value as an error message echoes it, cut to `limit` characters with its length: a
    5,000-digit number echoed in full would bury the message it is part of."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's 4,300-digit conversion limit
        return f"a whole number of {value.bit_length():,} bits"  # type: ignore[attr-defined]
    if len(text) <= limit:
        return text
    length = len(value) if isinstance(value, str) else len(text)
    return f"{text[:limit - 1]}… ({length:,} characters)"


def closest(typed: str, known: Iterable[str]) -> str | None:
    """The known name a typo most likely meant: one that differs from it in case alone
    (dw1 for dW1), else difflib's closest match at its usual cutoff, compared in lower case; None
    when nothing is close."""
    import difflib  # only for a typo: no start-up time for a run without one

    by_lower: dict[str, str] = {}
    for name in known:
        by_lower.setdefault(name.lower(), name)
    near = difflib.get_close_matches(typed.lower(), by_lower, n=1)
    return by_lower[near[0]] if near and by_lower[near[0]] != typed else None


def did_you_mean(typed: str, known: Iterable[str], shown_as: str = "{}") -> str:
    """" (did you mean X?)" after a message that refuses `typed`, X the closest known name
    written as `shown_as` says ("{}[1,1]" adds an index); "" when nothing is close."""
    near = closest(typed, known)
    return "" if near is None else f" (did you mean {shown_as.format(near)}?)"


def binary_size(count: int) -> str:
    """Bytes as a message says them, to three figures: 59.6 GiB, 1.05 GiB, 512 MiB, 2,048 GiB."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            value = count / scale
            return f"{value:.3g} {unit}" if value < 1000 else f"{value:,.0f} {unit}"
    return f"{count} bytes"
