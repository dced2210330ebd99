"""A CSV file read as a stream: one fast pass over its bytes, then its lines, never the whole
text in memory.

The first pass reads the bytes in blocks and counts the newlines (the rows there can be, so the
arrays are allocated once and the memory bound is checked before a number is parsed), finds
the first NUL and checks that the bytes are UTF-8: the two refusals that come before any line's.
At about a gigabyte a second it costs a few percent of the parse. The lines are then decoded as
they are read, split on \\n only (as an editor counts them), the byte-order mark a spreadsheet
writes dropped.
"""

from __future__ import annotations

import io
from collections.abc import Generator
from typing import BinaryIO

from engine.data.csv_rows import Line
from engine.data.errors import DataError
from engine.settings.bounds import MAX_LINE_CHARS

#: Bytes read at a time by the first pass.
BLOCK_BYTES = 2**20


def survey(file: BinaryIO) -> int:
    """The number of lines the file has at most (its newlines, plus one), or DataError naming
    the line of its first byte that is not UTF-8 or, failing that, of its first NUL."""
    file.seek(0)
    newlines, nul_line, tail = 0, 0, b""  # tail: the start of a character cut by a block's end
    while block := file.read(BLOCK_BYTES):
        data = tail + block
        end = _decoded_up_to(data, newlines, final=False)
        if not nul_line and (nul := data.find(b"\0", 0, end)) >= 0:
            nul_line = newlines + data.count(b"\n", 0, nul) + 1
        newlines += data.count(b"\n", 0, end)
        tail = data[end:]
    _decoded_up_to(tail, newlines, final=True)
    if nul_line:
        raise DataError(f"line {nul_line}: a NUL byte: this looks like a binary file, not CSV")
    return newlines + 1


def _decoded_up_to(data: bytes, newlines: int, final: bool) -> int:
    """How many bytes of data are whole UTF-8 characters (all but a character cut at the end,
    unless `final`), or DataError naming the line (after `newlines` before data) of the first
    byte that is not UTF-8."""
    if data.isascii():  # most CSVs: checked without decoding
        return len(data)
    try:
        data.decode("utf-8")
        return len(data)
    except UnicodeDecodeError as error:
        if not final and error.end == len(data) and error.reason == "unexpected end of data":
            return error.start
        line = newlines + data.count(b"\n", 0, error.start) + 1
        raise DataError(f"line {line}: not UTF-8 text (byte {data[error.start]:#04x}); "
                        "is this a binary file?") from None


def file_lines(file: BinaryIO) -> Generator[Line, None, None]:
    """The file's non-blank lines with their numbers, from its start, decoded as read; a line
    of more than MAX_LINE_CHARS characters is refused once that many are read."""
    file.seek(0)
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="\n")
    number = 0
    try:
        while line := text.readline(MAX_LINE_CHARS + 1):
            number += 1
            if len(line.removesuffix("\n")) > MAX_LINE_CHARS:
                raise DataError(f"line {number} is longer than {MAX_LINE_CHARS:,} characters: "
                                "not a row of numbers")
            if not line.isspace():
                yield number, line.removesuffix("\n")
    except UnicodeDecodeError:  # the first pass found none: the file changed since
        raise DataError(f"line {number + 1}: the file changed while it was read; "
                        "read it again when it is complete") from None
    finally:
        text.detach()  # the caller's file stays open
