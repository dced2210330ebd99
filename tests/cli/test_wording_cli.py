"""Issue 27's wording on the command line and in the text it prints: no negative zero in a
number, --help and --version, and "did you mean" for a mistyped flag, TOML key or tensor."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tui.app.widgets.tensor import number_format
from tui.cli.main import main
from tui.text import number, unsigned_zeros

#: A zero written with a minus sign, as "-0", "-0.", "-0.0000" or "-0.000e+00", and not the
#: start of a number such as -0.5 or -0.0001.
NEGATIVE_ZERO = re.compile(r"-0(?:\.0*)?(?:e[+-]0+)?(?![\d.e])")


def test_the_pattern_finds_a_negative_zero_and_nothing_else() -> None:
    assert [NEGATIVE_ZERO.search(t) is not None for t in ("-0", "-0.", "-0.0000", " -0.000e+00]", "[-0. ")] \
        == [True] * 5
    assert not any(NEGATIVE_ZERO.search(t) for t in ("-0.5", "-0.0001", "0.", "-0.6907", "10-0.5", "1e-05"))


@pytest.mark.parametrize(("value", "spec", "text"), [
    (-0.0, "", "0.0"), (-0.0, " .4f", " 0.0000"), (-1e-7, ".4f", "0.0000"), (-0.0, " .3e", " 0.000e+00"),
    (np.float32(-0.0), ".6g", "0"), (-0.5, "+.4g", "-0.5"), (1.5, " .6g", " 1.5"), (-2.0, "", "-2.0")])
def test_a_number_is_never_a_negative_zero(value: float, spec: str, text: str) -> None:
    assert number(value, spec) == text


def test_arrays_lose_their_negative_zeros_and_keep_their_type() -> None:
    floats = unsigned_zeros(np.array([[-0.0, -1.0], [0.0, 2.5]]))
    assert str(floats) == "[[ 0.  -1. ]\n [ 0.   2.5]]"
    assert unsigned_zeros(np.array([-0.0], dtype=np.float32)).dtype == np.float32
    assert unsigned_zeros(np.array([1, 2])).dtype.kind == "i"
    assert repr(unsigned_zeros(complex(-0.0, -0.0))) == "0j"


def test_a_panels_numbers_write_a_dead_units_gradient_as_zero() -> None:
    values = np.array([-0.0, 0.06684463, -0.52856388])
    assert [number_format(values)(v) for v in values] == [" 0.0000", " 0.0668", "-0.5286"]
    tiny = np.array([-0.0, 1e-9])
    assert number_format(tiny)(-0.0) == " 0.000e+00"
    assert number_format(np.array([complex(-0.0, -0.0)]))(complex(-0.0, -0.0)) == " 0.0000+0.0000j"


def test_the_text_report_and_its_explanations_show_no_negative_zero(capsys) -> None:
    """The notebook's network has a dead unit: its dW1 row and dW2 column are -0.0 (0 times a
    negative number), which NumPy prints as "-0."."""
    assert main(["--headless", "--explain", "dW2[0,2]", "--explain", "dz1[2]"]) == 0
    out = capsys.readouterr().out
    assert "backward.dW2[0,2] = 0.0" in out
    assert [m[0] for m in NEGATIVE_ZERO.finditer(out)] == []


def test_help_describes_the_tool_as_it_is(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the description
    assert "2-layer" not in out
    for feature in ("8 hidden layers", "--dataset", "Adam", "--model", "--explain", "--session",
                    "--export-notebook", "(serve)", "--version"):
        assert feature in out, feature


def test_version_prints_the_packages_version_and_exits_0(capsys) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"backprop-stepper {version('backprop-stepper')}\n"


@pytest.mark.parametrize(("argv", "hint"), [
    (["--hlep"], "unrecognized arguments: --hlep (did you mean --help?)"),
    (["--hiden", "8", "--headless"], "unrecognized arguments: --hiden 8 (did you mean --hidden?)"),
    (["--optimiser=adam"], "(did you mean --optimizer?)"),
    (["--headless", "--explain", "dw1[1,1]"], "--explain: no tensor 'dw1' (did you mean dW1[1,1]?); "),
    (["--headless", "--explain", "DZ2[0]"], "(did you mean dz2[0]?)"),
    (["--headless", "--explain", "lost"], "no tensor 'lost' (did you mean loss?)"),
])
def test_a_mistyped_flag_or_tensor_is_told_what_it_may_have_meant(argv: list[str], hint: str, capsys) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert err.startswith("backprop-stepper: error: ") and hint in err
    assert err.count("did you mean") == 1


@pytest.mark.parametrize(("toml", "hint"), [
    ("hiden = [8]\n", "unknown key 'hiden' in {path} (did you mean 'hidden'?); known keys: "),
    ("train_steps = 5\n", "(did you mean 'train-steps'?)"),
    ("[keymap]\nnxt = \"m\"\n", "unknown binding id 'nxt' in [keymap] of {path} (did you mean 'next'?)"),
])
def test_a_mistyped_toml_key_is_told_what_it_may_have_meant(toml: str, hint: str, tmp_path, capsys) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(toml)
    assert main(["--config", str(path), "--headless"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err and hint.format(path=path) in err


def test_serve_suggests_its_own_flags_and_the_apps(capsys) -> None:
    assert main(["serve", "--prot", "8000"]) == 2
    assert "unrecognized arguments: --prot 8000 (did you mean --port?)" in capsys.readouterr().err
    assert main(["serve", "--hiden", "8"]) == 2
    assert "(did you mean --hidden?)" in capsys.readouterr().err


def test_nothing_close_suggests_nothing(capsys) -> None:
    assert main(["--prot", "3"]) == 2  # the flags' shared "--" makes no match (--lr was one)
    assert main(["--zzzzzz"]) == 2
    assert main(["--headless", "--explain", "W7[0,0]"]) == 2
    assert "did you mean" not in capsys.readouterr().err
