"""CSV files read by NumPy's C reader: the files users have, read without the line-by-line
reader; a bad line found in its block and named as the line reader names it; the bounds on
rows, line length and the arrays' memory, checked before a number is parsed; the file read as a
stream, never whole. (The refusals themselves, each malformed kind with its message, are in
tests/engine/test_data.py, unchanged.)"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine.data.csv_file
import engine.data.csv_rows
import engine.data.csv_table
import engine.data.sets
from engine.data.csv_rows import Head, numbered_lines
from engine.data.csv_table import read_table
from engine.data.sets import DataError, Dataset, parse_csv, read_csv
from tests.helpers import peak_allocated


def write(tmp_path: Path, content: str | bytes, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


@pytest.fixture
def line_reader_used(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The lines the line-by-line reader was asked to check (it still checks them)."""
    asked: list[int] = []
    check = engine.data.csv_rows.check_row

    def counted(row: tuple[int, str], head: Head) -> list[float]:
        asked.append(row[0])
        return check(row, head)

    monkeypatch.setattr(engine.data.csv_rows, "check_row", counted)
    return asked


# The files users have: each read by the C reader alone.

AS_USERS_HAVE_THEM = {
    "a header": b"x1,x2,label\n0.5,-1,0\n2,0.3,1\n",
    "no header": b"0.5,-1,0\n2,0.3,1\n",
    "quoted header names (R's write.csv)": b'"x1","x2","label"\n0.5,-1,0\n2,0.3,1\n',
    "CRLF (Excel, Windows)": b"x1,x2,label\r\n0.5,-1,0\r\n2,0.3,1\r\n",
    "no trailing newline": b"x1,x2,label\n0.5,-1,0\n2,0.3,1",
    "a byte-order mark (Excel's CSV UTF-8)": b"\xef\xbb\xbfx1,x2,label\r\n0.5,-1,0\r\n2,0.3,1\r\n",
    "a byte-order mark before a number": b"\xef\xbb\xbf0.5,-1,0\n2,0.3,1\n",
    "blank lines and trailing ones": b"x1,x2,label\n\n0.5,-1,0\n \t\n2,0.3,1\n\n\n",
    "spaces round fields, floats as labels": b" 0.5 , -1.0e0 , 0.0 \n+2,.3,1.\n",
    "pandas' to_csv(index=False)": b"x1,x2,label\n0.5,-1.0,0\n2.0,0.3,1\n",
    "numpy.savetxt's %.18e": b"5.000000000000000000e-01,-1.000000000000000000e+00,0.000000000000000000e+00\n"
                             b"2.000000000000000000e+00,2.999999999999999889e-01,1.000000000000000000e+00\n",
}


@pytest.mark.parametrize("kind", list(AS_USERS_HAVE_THEM))
def test_a_csv_as_users_have_it_is_read_without_the_line_reader(
        tmp_path: Path, kind: str, line_reader_used: list[int]) -> None:
    data = read_csv(write(tmp_path, AS_USERS_HAVE_THEM[kind]))
    assert np.array_equal(data.X, [[0.5, -1.0], [2.0, 0.3]]) and data.y.tolist() == [0, 1]
    assert data.column_names == ("x1", "x2")
    assert line_reader_used == []


def test_the_text_reader_takes_the_c_reader_too(line_reader_used: list[int]) -> None:
    assert parse_csv("a,b,k\r\n1,2,0\r\n\r\n3,4,1").X.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert line_reader_used == []


def test_a_header_name_in_double_quotes_is_read_as_the_name_inside(tmp_path: Path) -> None:
    data = read_csv(write(tmp_path, '"age", "say ""hi""",label\n1,2,0\n3,4,1\n'))
    assert data.column_names == ("age", 'say "hi"')


def test_mnist_shaped_rows_are_read_exactly(tmp_path: Path, line_reader_used: list[int]) -> None:
    """Several blocks (785 fields a row: 83 rows a block), integers 0-255, a label column."""
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 256, (500, 785))
    rows[:, -1] = np.arange(500) % 10
    path = tmp_path / "mnist.csv"
    np.savetxt(path, rows, fmt="%d", delimiter=",", header=",".join(f"p{j}" for j in range(784)) + ",label",
               comments="")
    data = read_csv(path)
    assert np.array_equal(data.X, rows[:, :-1]) and np.array_equal(data.y, rows[:, -1])
    assert data.columns[:2] == ("p0", "p1") and line_reader_used == []


# A bad line: the C reader fails its block, the line reader names the line.


@pytest.mark.parametrize(("bad", "message"), [
    ("abc", "line 4000: field 2 is 'abc', not a number"),
    ("nan", "line 4000: field 2 is nan, not a finite number"),
    ("1e999", "line 4000: field 2 '1e999' is too large (overflows to infinity)"),
    ("1_000", "line 4000: field 2 is '1_000', not a number"),
    ("2,0", "line 4000 has 4 fields, but line 2 has 3"),
])
def test_a_bad_line_deep_in_the_file_is_named_after_reading_its_block_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line_reader_used: list[int], bad: str,
        message: str) -> None:
    monkeypatch.setattr(engine.data.csv_table, "BLOCK_NUMBERS", 3 * 100)  # blocks of 100 rows
    lines = ["x,y,k"] + [f"{i},{i % 7},{i % 2}" for i in range(5000)]
    lines[3999] = f"1,{bad},1"
    with pytest.raises(DataError, match=f"^{re.escape(message)}"):
        read_csv(write(tmp_path, "\n".join(lines)))
    assert line_reader_used == list(range(3902, 4001))  # the block of lines 3902-4001, up to the bad one


def test_a_bad_label_is_named_by_its_line(tmp_path: Path) -> None:
    rows = "".join(f"{i},{i % 3}\n" for i in range(3000)) + "5,2.5\n"
    with pytest.raises(DataError, match=r"^line 3001: the label is 2\.5, not a whole number"):
        read_csv(write(tmp_path, rows))


def test_a_skipped_class_names_the_first_line_of_the_class_after_it(tmp_path: Path) -> None:
    rows = "x,k\n" + "".join(f"{i},0\n" for i in range(3000)) + "\n7,2\n8,2\n"
    with pytest.raises(DataError, match=r"^the labels skip class 1: line 3003 has label 2"):
        read_csv(write(tmp_path, rows))


@given(st.text(alphabet="0123456789.eE+-_ \t\u00a0xXnaifNAIF\u0663d", max_size=8))
def test_the_c_reader_takes_no_number_the_line_rules_refuse(field: str) -> None:
    """What lets a block that the C reader reads and the array checks pass skip the line rules:
    any field NumPy reads as a finite number, the rules read too, as the same number."""
    try:
        value = np.loadtxt([f"{field},0"], delimiter=",", comments=None, ndmin=2)[0, 0]
    except ValueError:
        return
    if np.isfinite(value):
        assert engine.data.csv_rows.check_row((1, f"{field},0"), Head((), (1, "0,0"), 2))[0] == value


# Bounds: rows, line length, memory; checked before reading.


def test_too_many_rows_are_refused_after_the_rows_before_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine.data.sets, "MAX_SAMPLES", 10)
    with pytest.raises(DataError, match=r"^line 12: more than 10 rows$"):
        parse_csv("x,k\n" + "1,0\n2,1\n" * 6)
    with pytest.raises(DataError, match=r"^line 4: field 1 is 'oops'"):  # as the line reader always said
        parse_csv("x,k\n" + "1,0\n2,1\n" + "oops,1\n" + "1,0\n" * 20)


def test_rows_that_would_take_more_memory_than_allowed_are_refused_before_a_number_is_parsed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine.data.csv_table, "MAX_DATA_BYTES", 8 * 3 * 10)  # ten rows of three
    monkeypatch.setattr(np, "loadtxt", None)  # parsing would fail with a TypeError
    rows = "a,b,k\n" + "1,2,0\n3,4,1\n" * 6
    with pytest.raises(DataError, match=r"^line 12: more than 10 rows of 3 numbers: they would take "
                                        r"more than the 240 bytes a data set may hold \(use fewer rows or "
                                        r"columns\)"):
        read_csv(write(tmp_path, rows))


def test_blank_lines_do_not_count_as_rows_against_the_memory_bound(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine.data.csv_table, "MAX_DATA_BYTES", 8 * 3 * 10)
    rows = "1,2,0\n\n\r\n3,4,1\n" * 5  # 20 lines, 10 rows
    data = read_csv(write(tmp_path, rows))
    assert data.samples == 10 and data.X.flags.owndata and data.X.base is None


def test_a_line_too_long_is_refused_once_that_much_is_read(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine.data.csv_file, "MAX_LINE_CHARS", 100)
    read_csv(write(tmp_path, "1," * 49 + "0\n" + "1," * 49 + "1\n"))  # 99 characters: fine
    with pytest.raises(DataError, match=r"^line 2 is longer than 100 characters: not a row of numbers$"):
        read_csv(write(tmp_path, "1,0\n" + "1" * 10_000 + ",1\n"))


def test_a_file_that_grew_since_its_lines_were_counted_is_refused() -> None:
    text = "1,0\n2,1\n3,0\n4,1\n"
    with pytest.raises(DataError, match=r"^line 4: the file grew while it was read"):
        read_table(lambda: numbered_lines(text), 3, 100)


# Reading in bounded memory.


def test_the_file_is_never_whole_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fields of 20 characters become numbers of 8 bytes: the peak is the arrays and a block
    (made small here, as the file is), not the text (2.5 times the arrays) nor a copy of the rows."""
    monkeypatch.setattr(engine.data.csv_file, "BLOCK_BYTES", 2**16)
    monkeypatch.setattr(engine.data.csv_table, "BLOCK_NUMBERS", 2**12)
    rng = np.random.default_rng(1)
    X = rng.random((20_000, 10))
    path = tmp_path / "long.csv"
    np.savetxt(path, np.column_stack([X, np.arange(20_000) % 2]), fmt="%.18f", delimiter=",")
    arrays, text = X.nbytes + 20_000 * 8, path.stat().st_size
    assert text > 2.5 * arrays
    assert peak_allocated(lambda: read_csv(path)) < arrays + text / 4


def test_a_dataset_keeps_a_read_only_array_that_owns_its_memory_and_copies_others() -> None:
    owned = np.arange(6.0).reshape(3, 2).copy()
    owned.setflags(write=False)
    y = np.array([0, 1, 0])
    assert Dataset(owned, y, "d").X is owned
    writable = np.arange(6.0).reshape(3, 2)
    assert Dataset(writable, y, "d").X is not writable
    view = np.arange(6.0).reshape(3, 2)[:, :]  # read-only view of a writable array: copied
    view.setflags(write=False)
    assert Dataset(view, y, "d").X is not view
    borrowed = np.frombuffer(bytearray(48))  # memory a bytearray still writes to: copied
    borrowed.setflags(write=False)
    assert not np.shares_memory(Dataset(borrowed.reshape(3, 2), y, "d").X, borrowed)


# The first pass over the bytes: what it finds wherever its blocks are cut.


@pytest.mark.parametrize("block", [1, 2, 3, 5, 2**20])
def test_the_first_pass_finds_the_same_problem_wherever_its_blocks_are_cut(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    monkeypatch.setattr(engine.data.csv_file, "BLOCK_BYTES", block)
    assert read_csv(write(tmp_path, "é,ü,k\n1,2,0\n3,4,1\n")).columns == ("é", "ü")
    with pytest.raises(DataError, match=r"^line 3: not UTF-8 text \(byte 0xe9\)"):
        read_csv(write(tmp_path, "x,ü,k\n1,2,0\n3,4,1".encode() + b"\xe9"))
    with pytest.raises(DataError, match=r"^line 2: not UTF-8 text \(byte 0xc3\)"):
        read_csv(write(tmp_path, b"x,y,k\n1,2,\xc3"))  # cut off in the middle of a character
    with pytest.raises(DataError, match=r"^line 3: a NUL byte"):
        read_csv(write(tmp_path, b"x,y,k\n1,2,0\n\x00,4,1\n"))


def test_a_byte_that_is_not_utf8_is_named_before_an_earlier_nul(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"^line 3: not UTF-8 text \(byte 0x89\)"):
        read_csv(write(tmp_path, b"x,\x00y,k\n1,2,0\n\x89PNG\n"))


def test_a_nul_in_the_header_is_refused_as_the_text_reader_refuses_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"^line 1: a NUL byte: this looks like a binary file, not CSV"):
        read_csv(write(tmp_path, "x,\x00y,k\n1,2,0\n3,4,1\n"))
    with pytest.raises(DataError, match=r"^line 1: a NUL byte: this looks like a binary file, not CSV"):
        parse_csv("x,\x00y,k\n1,2,0\n3,4,1\n")
