"""The CSV files students bring, read as they are (tests/fixtures/csv: files written here, each
reproducing a quirk of a public file: UCI's iris.data and sonar.all-data with class names,
Kaggle's Iris.csv with an Id column and a missing value, R's write.csv quoting, MNIST's label
first, WDBC's diagnosis second, UCI's '?' for a missing value, an SVM's -1/1 labels, Titanic's
quoted names with commas, UCI wine quality's semicolons).

Class names are read as classes, numbered in sorted order; every other quirk is refused with a
message naming the line and saying what to do.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.data.sets import DataError, parse_csv, read_csv
from tests.helpers import FIXTURES

CSV = FIXTURES / "csv"


def test_iris_class_names_are_classes_numbered_in_sorted_order() -> None:
    data = read_csv(CSV / "iris_names.csv")  # no header: the first line is a row, kept
    assert data.samples == 12 and data.features == 4
    assert data.class_names == ("Iris-setosa", "Iris-versicolor", "Iris-virginica")
    assert data.y.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert data.X[0].tolist() == [5.5, 2.5, 1.7, 0.3]
    assert data.columns == ()


def test_the_order_is_the_names_not_the_rows() -> None:
    """Sonar's R rows come first, yet M is class 0: the same file shuffled gives the same classes."""
    data = read_csv(CSV / "sonar_rm.csv")
    assert data.class_names == ("M", "R")
    assert data.y.tolist() == [1, 1, 1, 0, 0, 0]
    lines = (CSV / "sonar_rm.csv").read_text().splitlines()
    assert parse_csv("\n".join(lines[::-1])).y.tolist() == [0, 0, 0, 1, 1, 1]


def test_quoted_names_are_read_without_their_quotes() -> None:
    data = read_csv(CSV / "r_write_csv.csv")
    assert data.columns == ("Sepal.Length", "Sepal.Width")
    assert data.class_names == ("setosa", "versicolor", "virginica")
    assert data.y.tolist() == [0, 1, 0, 2]


def test_names_are_read_by_the_fast_reader_and_the_line_reader_alike() -> None:
    """A block the C reader refuses (a feature spelt +.5, which it does not take) is read line by
    line: the same numbers and classes."""
    text = "".join(f"{j}.5,{k}\n" for j, k in zip(range(9), "abcabcabc", strict=True))
    fast = parse_csv(text)
    slow = parse_csv(text.replace("0.5,a", "+.5,a"))
    assert np.array_equal(fast.X, slow.X) and np.array_equal(fast.y, slow.y)
    assert fast.class_names == slow.class_names == ("a", "b", "c")


REFUSED = {
    "iris_kaggle_missing.csv": "line 5: field 5 is '', not a number: a missing value; fill it in or "
                               "delete the row",
    "breast_cancer_question_mark.csv": "line 3: field 7 is '?', not a number: a missing value; fill it in "
                                       "or delete the row",
    "mnist_label_first.csv": "every label is 0: a classifier needs at least two classes; the header names "
                             "column 1 'label': if that is the label, move it to the last column (the label "
                             "is always the last)",
    "wdbc_label_second.csv": "line 2: the label is 0.05721, not a whole number (a class index 0, 1, "
                             "...); the header names column 2 'Diagnosis': if that is the label, move "
                             "it to the last column (the label is always the last)",
    "xor_minus_one.csv": "line 3: the label is -1: class indices start at 0: write the class -1 as 0",
    "wine_semicolons.csv": "line 1 has 1 field: need at least one feature and a label (the last column); "
                           "its fields are separated by semicolons: write commas",
    "titanic_quoted_comma.csv": "line 1: the header has 5 names but line 2 has 6 fields (a field in double "
                                "quotes holds a comma; fields are numbers here, split at every comma: leave "
                                "the column of text out)",
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_each_other_quirk_is_refused_saying_where_and_what_to_do(name: str) -> None:
    with pytest.raises(DataError) as caught:
        read_csv(CSV / name)
    assert str(caught.value) == REFUSED[name]


NAMED_REFUSED = {
    "a number among names": ("1,2,a\n3,4,b\n5,6,7\n",
                             "line 3: the label is '7', a number, but line 1's is 'a', a name: the labels "
                             "must be all names or all class indices"),
    "a missing name": ("1,2,a\n3,4,b\n5,6,?\n",
                       "line 3: the label is missing ('?'): give the row its class or delete the row"),
    "an empty name": ("x,y,k\n1,2,a\n3,4,\n", "line 3: the label is missing (''): give the row"),
    "one name": ("1,2,M\n3,4,M\n", "every label is 'M': a classifier needs at least two classes"),
    "a bad feature before a name": ("1,2,a\n3,x,b\n", "line 2: field 2 is 'x', not a number"),
    "a short row": ("1,2,a\n3,b\n", "line 2 has 2 fields, but line 1 has 3"),
    "a name among numbers": ("1,2,0\n3,4,b\n", "line 2: the label is 'b', not a number"),
}


def test_more_names_than_a_softmax_takes_are_refused_at_the_first_too_many() -> None:
    text = "".join(f"{k},c{k}\n" for k in range(10_001))
    with pytest.raises(DataError, match=r"^line 10001: more than 10,000 different labels: a network takes "
                                        r"at most 10,000 classes$"):
        parse_csv(text)


@pytest.mark.parametrize("kind", list(NAMED_REFUSED))
def test_a_file_of_class_names_is_refused_naming_the_line(kind: str) -> None:
    text, message = NAMED_REFUSED[kind]
    with pytest.raises(DataError) as caught:
        parse_csv(text)
    assert str(caught.value).startswith(message)


def test_a_header_is_told_from_a_first_row_by_the_line_after_it() -> None:
    """Numbers and a word over numbers and a number: a header (as ever); over numbers and a word:
    the first row of a file of names, unless the word names a label column; alone: a header
    with nothing under it (as ever)."""
    assert parse_csv("1,2,label\n3,4,0\n5,6,1\n").columns == ("1", "2")
    assert parse_csv("1,2,a\n3,4,b\n").samples == 2
    assert parse_csv("0,1,class\n3,4,b\n5,6,c\n").samples == 2  # pixels 0 and 1, then 'class'
    with pytest.raises(DataError, match=r"^line 1 is a header and no rows of numbers follow it"):
        parse_csv("1,2,a\n")


@pytest.mark.parametrize("header", ["x,y,label", "x,target,label"])
def test_a_last_column_named_as_the_label_gets_no_hint(header: str) -> None:
    """The last column's name says it is the label: no 'move it' hint, whatever comes before
    (y is a coordinate; target here a feature)."""
    with pytest.raises(DataError) as caught:
        parse_csv(f"{header}\n1,2,0\n3,4,0\n")
    assert str(caught.value) == "every label is 0: a classifier needs at least two classes"


# ---- the classes' names where classes are shown -------------------------------------------


def test_the_report_the_trace_and_the_confusion_tables_name_the_classes(
        capsys: pytest.CaptureFixture[str]) -> None:
    from tui.cli.main import main

    path = str(CSV / "iris_names.csv")
    assert main(["--headless", "--data", path, "--steps", "1", "--standardize"]) == 0
    report = capsys.readouterr().out
    assert "3 classes (0 Iris-setosa, 1 Iris-versicolor, 2 Iris-virginica); " in report
    assert main(["--headless", "--format", "json", "--data", path, "--steps", "1"]) == 0
    head = json.loads(capsys.readouterr().out.splitlines()[0])
    assert head["data"]["class_names"] == ["Iris-setosa", "Iris-versicolor", "Iris-virginica"]


def test_numbered_classes_keep_every_output_as_it_was(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from tui.cli.main import main

    (tmp_path / "d.csv").write_text("a,b,y\n1,2,0\n2,1,1\n3,3,0\n0,1,1\n")
    assert main(["--headless", "--format", "json", "--data", str(tmp_path / "d.csv"), "--steps", "1"]) == 0
    assert "class_names" not in json.loads(capsys.readouterr().out.splitlines()[0])["data"]


def test_the_confusion_key_and_a_session_keep_the_names() -> None:
    from engine.run.session import from_bytes, open_session, record, to_bytes
    from engine.run.stepper import Stepper
    from tui.app.widgets.boundary import confusion_text
    from tui.cli.fit import with_data
    from tui.cli.options import parse

    options, data = with_data(parse(["--data", str(CSV / "sonar_rm.csv"), "--test-fraction", "0"]))
    assert data is not None
    stepper = Stepper(options.config, data=data)
    text = confusion_text(options.config.architecture, stepper.state.params, data)
    assert text.endswith("\n\nclasses: 0 M, 1 R")
    back = open_session(from_bytes(to_bytes(record(stepper))))
    assert back.data is not None and back.data.dataset.class_names == ("M", "R")


def test_a_key_of_many_or_long_names_stays_one_short_line() -> None:
    from tui.text import class_key

    assert class_key(("B", "M")) == "0 B, 1 M"
    key = class_key(tuple(f"class {k:02d}" for k in range(20)))
    assert key.endswith("11 class 11, … (8 more)")
    assert class_key(("x" * 100, "\x1b[31mred")) == f"0 {'x' * 39}…, 1 red"  # no escape code


def test_a_dataset_or_a_session_with_the_wrong_names_is_refused() -> None:
    from engine.data.sets import Dataset
    from engine.run.session import SessionError, from_bytes, record, to_bytes
    from engine.run.stepper import Stepper
    from tests.helpers import members, rezip
    from tui.cli.fit import with_data
    from tui.cli.options import parse

    with pytest.raises(ValueError, match=r"^class_names must name each of the 2 classes, got 3$"):
        Dataset(np.zeros((2, 1)), np.array([0, 1]), "d", class_names=("a", "b", "c"))
    options, data = with_data(parse(["--data", str(CSV / "sonar_rm.csv")]))
    parts = members(to_bytes(record(Stepper(options.config, data=data))))
    for bad, message in ((["M"], "data.class_names: class_names must name each of the 2 classes, got 1"),
                         ("MR", "data.class_names: must be a list of names, got 'MR'")):
        head = json.loads(parts["session.json"])
        head["data"]["class_names"] = bad
        with pytest.raises(SessionError, match=f"^{message}$"):
            from_bytes(rezip({**parts, "session.json": json.dumps(head).encode()}))
