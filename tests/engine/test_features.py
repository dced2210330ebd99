"""Feature inputs as TensorFlow Playground's (issue 27, item 4): the grammar that reads them
(never evaluated), their maths, the data whose inputs they become, the map that computes
them at every grid point, Explain's wording of an input, and a session that keeps them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from engine.data import batches
from engine.data.fit import fit_to_data
from engine.data.sets import parse_csv
from engine.explain.elements import explain_text
from engine.explain.explanation import redo
from engine.maths import network
from engine.maths.features import FEATURES, FeatureError, canonical, expand, parse, parse_one
from engine.maths.plane import Plane, field
from engine.run import session
from engine.run.sample import sample_view
from engine.run.stepper import Stepper
from engine.settings.config import Config, ConfigError, validate

ALL = ("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)")


def fitted(config: Config, given: set[str]) -> Stepper:
    config = validate(config, given)
    config, data = fit_to_data(config, given)
    return Stepper(config, data=data)


def test_the_grammar_reads_playgrounds_seven_as_typed_spaces_and_all() -> None:
    assert FEATURES == ALL
    assert [f.name for f in parse(ALL)] == list(ALL)
    assert parse_one(" sin ( x2 ) ").name == "sin(x2)"
    assert parse_one("x1 ^ 2").name == "x1^2"
    assert parse_one("x1 * x2").name == "x1*x2"
    assert canonical(("x2", "x1^2")) == ("x2", "x1^2")  # in the order given
    assert canonical(("x1", " x2")) == ()  # the plane's own columns: no features


@pytest.mark.parametrize("bad", ["cos(x1)", "x3", "x1^3", "x1*x1", "x2*x1", "x1+x2", "__import__('os')",
                                 "sin(sin(x1))", "", "X1", "exec('x1')"])
def test_anything_else_is_refused_by_name_with_the_allowed_ones(bad: str) -> None:
    with pytest.raises(FeatureError) as error:
        parse(("x1", bad))
    assert repr(bad.strip()) in str(error.value)
    assert "x1, x2, x1^2, x2^2, x1*x2, sin(x1), sin(x2)" in str(error.value)


def test_a_feature_given_twice_or_none_at_all_is_refused() -> None:
    with pytest.raises(FeatureError, match="'x1\\^2' is given twice"):
        parse(("x1^2", "x2", " x1 ^2"))
    with pytest.raises(FeatureError, match="at least one"):
        parse(())


def test_each_feature_is_its_formula_of_the_points_coordinates() -> None:
    points = np.random.default_rng(3).uniform(-5, 5, (50, 2))
    x1, x2 = points[:, 0], points[:, 1]
    expected = np.column_stack([x1, x2, x1 ** 2, x2 ** 2, x1 * x2, np.sin(x1), np.sin(x2)])
    np.testing.assert_array_equal(expand(points, parse(ALL)), expected)


def test_the_config_refuses_a_bad_feature_and_features_without_data() -> None:
    with pytest.raises(ConfigError, match="'tan\\(x1\\)' is not a feature") as error:
        validate(Config(dataset="moons", features=("x1", "tan(x1)")), {"dataset", "features"})
    assert error.value.key == "features"
    with pytest.raises(ConfigError, match="only applies to learning from data"):
        validate(Config(features=("x1^2",)), {"features"})
    # A TOML file's string or array, kept as the canonical names.
    assert validate(Config(dataset="moons", features="x1, x1 ^ 2"), {"dataset", "features"}).features \
        == ("x1", "x1^2")  # type: ignore[arg-type]
    assert validate(Config(dataset="moons", features=["sin(x2)"]), {"dataset", "features"}).features \
        == ("sin(x2)",)  # type: ignore[arg-type]


def test_the_inputs_are_the_features_of_the_standardized_points() -> None:
    """Standardizing comes first, so x1² is the square of the x1 the map's axis shows."""
    s = fitted(Config(dataset="circle", features=("x1^2", "x2^2", "sin(x1)"), standardize=True),
               {"dataset", "features", "standardize"})
    data = s.data
    assert data is not None and s.config.inputs == 3
    given = {"dataset", "standardize"}
    plain = batches.from_config(validate(Config(dataset="circle", standardize=True), given))
    assert plain is not None
    np.testing.assert_array_equal(data.plane.X, plain.dataset.X)  # the same points, split and scaled
    np.testing.assert_array_equal(data.dataset.train, plain.dataset.train)
    p = data.plane.X
    expected = np.column_stack([p[:, 0] ** 2, p[:, 1] ** 2, np.sin(p[:, 0])])
    np.testing.assert_array_equal(data.dataset.X, expected)
    assert data.dataset.columns == ("x1²", "x2²", "sin(x1)") and data.axis_names == ("x1", "x2")


def test_the_circle_is_separated_by_two_units_given_x1_squared_and_x2_squared() -> None:
    """Playground's lesson: with x1² and x2² two hidden units separate the circle, which
    they cannot from x1, x2 alone (the class is a disc: a threshold on x1² + x2²)."""
    def accuracy(features: tuple[str, ...]) -> float:
        config = Config(dataset="circle", features=features, hidden=(2,), lr=0.3, noise=0.0,
                        test_fraction=0.0)
        s = fitted(config, {"dataset", "features", "hidden", "lr", "noise", "test-fraction"})
        for _ in range(150 * 4):
            s.next()
        metrics = s.evaluate(s.state.params)
        assert metrics is not None and metrics.train_accuracy is not None
        return metrics.train_accuracy
    assert accuracy(("x1^2", "x2^2")) == 1.0
    assert accuracy(("x1", "x2")) < 0.9


def test_the_map_computes_the_features_of_each_grid_point() -> None:
    s = fitted(Config(dataset="xor", features=("x1", "x1*x2", "sin(x2)")), {"dataset", "features"})
    data = s.data
    assert data is not None
    plane = Plane.around(data.plane.X)
    arch, params = s.config.architecture, s.state.params
    grid = field(arch, params, plane, 12, 8, inputs=data.inputs_at)
    points = plane.grid(12, 8)
    inputs = np.column_stack([points[:, 0], points[:, 0] * points[:, 1], np.sin(points[:, 1])])
    cache, _ = network.forward(arch, inputs, params, np.zeros(len(points), dtype=np.int64))
    np.testing.assert_array_equal(grid.value.reshape(-1), cache["a2"][:, 0])


def test_explain_writes_an_input_as_its_feature_with_the_numbers_substituted() -> None:
    s = fitted(Config(dataset="moons", features=("x2", "x1^2", "x1*x2", "sin(x1)"), batch=16),
               {"dataset", "features", "batch"})
    s.next()
    view = sample_view(s.view(), 3)
    assert view.sample is not None and view.data is not None
    row = view.sample.row
    x1, x2 = view.data.plane.X[row]
    square = explain_text(view, "x[1]")
    assert square.formula == f"x[1] = x1², input feature 1 of data row {row}"
    assert square.substituted.startswith("x[1] = x1² = ") and square.substituted.count("²") == 2
    assert square.value == x1 * x1 == redo(square)
    product, sine, plain = (explain_text(view, f"x[{j}]") for j in (2, 0, 3))
    assert product.value == x1 * x2 == redo(product) and "x1·x2 = " in product.substituted
    assert plain.value == float(np.sin(x1)) == redo(plain) and " = sin(" in plain.substituted
    assert sine.substituted.count("=") == 2  # x[0] = x2 = value: nothing to substitute
    assert any("x1 = " in note and "x2 = " in note for note in square.notes)


def test_a_csv_headers_names_reach_the_plane_the_features_and_explain() -> None:
    dataset = parse_csv("height, weight ,label\n1.0,2.0,0\n3.0,0.5,1\n2.0,2.5,0\n4.0,1.0,1\n", "people")
    assert dataset.columns == ("height", "weight") and dataset.column_names == ("height", "weight")
    assert parse_csv("1,2,0\n3,4,1\n").column_names == ("x1", "x2")
    data = batches.prepare(dataset, 0.0, 0, 1, features=parse(("x1", "x1*x2")))
    assert data.axis_names == ("height", "weight") and data.dataset.columns == ("height", "height·weight")


def test_a_session_keeps_the_features_and_their_points_and_replays_exactly(tmp_path: object) -> None:
    s = fitted(Config(dataset="moons", features=("x1^2", "sin(x2)", "x1*x2"), batch=20, samples=60),
               {"dataset", "features", "batch", "samples"})
    for _ in range(9):
        s.next()
    kept = session.from_bytes(session.to_bytes(session.record(s)))
    assert kept.config.features == ("x1^2", "sin(x2)", "x1*x2") and kept.data is not None
    np.testing.assert_array_equal(kept.data.plane.X, s.data.plane.X)  # type: ignore[union-attr]
    again = Stepper(kept.config, data=kept.data)
    again.replay(list(kept.path), lambda bug: again.model)
    for name, value in s.state.params.items():
        np.testing.assert_array_equal(again.state.params[name], value)


def test_a_session_whose_points_do_not_give_its_inputs_is_refused() -> None:
    s = fitted(Config(dataset="moons", features=("x1^2", "x2"), samples=30),
               {"dataset", "features", "samples"})
    good = session.record(s)
    assert good.data is not None and good.data.plane_data is not None
    moved = replace(good.data.plane_data, X=good.data.plane_data.X + 1.0)
    bad = replace(good, data=replace(good.data, plane_data=moved))
    with pytest.raises(session.SessionError, match="not the features x1\\^2, x2"):
        session.from_bytes(session.to_bytes(bad))


def test_regenerated_data_are_a_new_draw_of_the_same_shape_and_split() -> None:
    config = validate(Config(dataset="spiral", features=("x1", "sin(x1)")), {"dataset", "features"})
    first, again, other = batches.drawn(config, 42), batches.drawn(config, 42), batches.drawn(config, 43)
    np.testing.assert_array_equal(first.dataset.X, again.dataset.X)
    assert not np.array_equal(first.plane.X, other.plane.X) and other.seed == 43
    assert len(other.dataset.test) == len(first.dataset.test) and other.features == first.features


def test_a_csv_of_other_than_two_columns_refuses_features(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "three.csv"
    path.write_text("a,b,c,label\n1,2,3,0\n4,5,6,1\n", encoding="utf-8")
    config = validate(Config(data=str(path), features=("x1^2",)), {"data", "features"})
    with pytest.raises(ConfigError, match="three has 3 column") as error:
        batches.from_config(config)
    assert error.value.key == "features"


def test_explain_and_a_session_name_a_csv_headers_columns() -> None:
    dataset = parse_csv("temperature,pressure,label\n" + "".join(
        f"{t},{p},{int(t > p)}\n" for t, p in ((1, 2), (3, 1), (2, 5), (6, 4), (0, 1), (7, 2))), "weather")
    config = validate(Config(data="weather.csv"), {"data"})
    data = batches.prepare(dataset, 0.0, 2, 42)
    s = Stepper(batches.fitted(config, data), data=data)
    s.next()
    view = sample_view(s.view(), 1)
    assert view.sample is not None
    e = explain_text(view, "x[1]")
    assert e.formula == f"x[1], pressure, feature 1 of data row {view.sample.row}"
    assert e.substituted == f"x[1] = pressure = {e.substituted.split(' = ')[-1]}"
    kept = session.from_bytes(session.to_bytes(session.record(s)))
    assert kept.data is not None and kept.data.axis_names == ("temperature", "pressure")
