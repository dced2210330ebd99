"""The formulas a model file's panels show (tui.app.widgets.formulas.for_view): a course's
own maths with its own names, the notebook's lines only for a file measured to compute the
notebook's network, and none for a file whose maths is its own."""

from __future__ import annotations

from engine.run.stepper import Phase
from engine.settings.config import Config
from tests.helpers import FileModel, stepped
from tui.app.widgets.formulas import cs231n_forward, dlai_backward, dlai_forward, for_view, formulas

BUILTIN_LINES = ("a2 = σ(z2)", "−[y·log a2", "dW1 = dz1·xᵀ")


def shown(model: FileModel, config: Config | None = None, phases: int = 1) -> str:
    return "\n".join(for_view(stepped(model, phases, config).view()).values())


def test_the_built_in_network_and_the_notebooks_own_file_keep_the_notebooks_lines() -> None:
    from engine.model.builtin import BuiltinModel

    builtin = for_view(stepped(BuiltinModel()).view())
    assert builtin == formulas(Config().resolved().architecture)
    assert for_view(stepped(FileModel()).view()) == builtin  # measured: the same numbers


def test_a_file_of_its_own_gets_no_one_elses_formulas() -> None:
    text = shown(FileModel(loss_shift=1e-3))
    assert not any(line in text for line in BUILTIN_LINES)
    assert "forward as net.py computes it (its own code: no formulas shown)" in text
    assert "backward as net.py computes it" in text
    assert "n = (L(θ+ε) − L(θ−ε)) / 2ε" in text and "W ← W − lr·dW" in text  # what the stepper does


def test_a_cs231n_file_is_shown_as_the_course_writes_it_over_its_scores() -> None:
    config = Config(classes=1)
    text = shown(FileModel(follows="cs231n"), config)
    assert not any(line in text for line in BUILTIN_LINES)
    assert "z1 = X·W1 + b1        h1 = relu(z1)\nscores = h1·W2 + b2\n" in text
    assert "dscores = (softmax(scores) − onehot(y)) / N" in text
    assert "dW1 = Xᵀ·dz1 + reg·W1" in text and "dz1 = dh1 ⊙ [z1 > 0]" in text


def test_a_deeplearning_ai_file_is_shown_with_its_Z_and_A() -> None:
    text = shown(FileModel(follows="deeplearning-ai"))
    assert "Z1 = W1·X + b1        A1 = g(Z1)\nZ2 = W2·A1 + b2       A2 = σ(Z2)" in text
    assert "dW1 = (1/m)·dZ1·Xᵀ" in text and "dZ1 = dA1 ⊙ g′(Z1)" in text
    assert not any(line in text for line in BUILTIN_LINES)
    assert "A2 = softmax(Z2)" in dlai_forward(2, 3) and "J  = −(1/m)·Σ Y·log A2" in dlai_forward(2, 3)


def test_deep_course_networks_use_the_l_notation_and_batch_norm_its_gamma_and_beta() -> None:
    deep = cs231n_forward(5, False)
    assert "scores = h4·W5 + b5" in deep and "l = 1..4, h_0 = X" in deep
    assert "h1 = relu(norm(z1; gamma1, beta1))" in cs231n_forward(2, True)
    assert "dA_{l−1} = W_lᵀ·dZ_l" in dlai_backward(5)


def test_the_update_line_lists_the_models_own_parameters() -> None:
    view = stepped(FileModel(follows="cs231n"), 1).view()
    assert for_view(view)[Phase.UPDATE] == "W ← W − lr·dW          for W1, b1, W2, b2"


def test_an_l_layer_file_is_shown_with_its_list_of_caches() -> None:
    """L_model_forward's output is AL and its Z, A live in a list of caches: the formulas
    use AL and say where the list keeps the rest."""
    from dataclasses import dataclass

    from engine.maths.network import Array, Labels, Params, Tensors

    @dataclass(frozen=True)
    class Layered(FileModel):
        def forward(self, x: Array, params: Params, y: Labels) -> tuple[Tensors, float]:
            cache, loss = super().forward(x, params, y)
            return {"caches[0].activation_cache.Z": cache["z1"], "AL": cache["a2"]}, loss

    text = shown(Layered(follows="deeplearning-ai"))
    assert "Z2 = W2·A1 + b2       AL = σ(Z2)" in text and "dZ2 = AL − Y" in text
    assert "Z_l: caches[l−1].activation_cache.Z" in text
    assert "AL" not in shown(FileModel(follows="deeplearning-ai"))
