"""Real public backprop code, run unedited as a user would: does it load, does correct code pass?

The corpus is other people's code, so it is never part of this repository: it lives under
--root (default /work/corpus), one folder per family, each file where the manifest below says,
and SOURCES.tsv there records where each came from. A cs231n file sits inside a copy of its
repository's package tree (assignmentN/cs231n/..., the .py files only), as a student has it.
This script fetches nothing: it reads the manifest, runs

    python -m tui --headless --model FILE --dataset moons --batch 16 --steps 10 --format json ...

for each entry with only the documented flags (--model, --hidden, --reg, --model-option,
--python and data flags), in a clean environment (no PYTHONPATH, a neutral working
directory), and compares the JSON trace with what an independent central difference said about
the file: "pass" (every step's gradient check passes), the bug (tensor, kind, where it enters),
or a refusal the file earns (Python 2 syntax, a module missing from its repository).

Files that import a course's environment (matplotlib, future's `past`, nnfs, cv2) are run with
--python COURSE_PYTHON, an interpreter that has them (--course-python; by default
ROOT/.courseenv/bin/python), made with

    python3 -m venv ROOT/.courseenv
    ROOT/.courseenv/bin/pip install numpy future matplotlib nnfs opencv-python-headless
    ROOT/.courseenv/bin/pip install scikit-learn h5py scipy pillow  # deeplearning.ai's helpers

It is a measurement, not a test: the exit status is always 0.

    python bench/corpus.py [--root /work/corpus] [--course-python PATH] [--only TEXT]
                           [--markdown FILE] [--timeout 300]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STEPS = 10
RUN = ("--headless", "--dataset", "moons", "--batch", "16", "--steps", str(STEPS), "--format", "json")
COURSE = "{course}"  # stands for --python COURSE_PYTHON in an entry's flags


@dataclass(frozen=True)
class Bug:
    """What the file gets wrong, as the diagnosis should name it."""

    tensor: str
    kind: str
    enters: str = ""


@dataclass(frozen=True)
class Refused:
    """The file cannot run as it is; the error should say this (a substring of stderr)."""

    reason: str


Expected = str | Bug | Refused  # "pass", a bug or a refusal


@dataclass(frozen=True)
class Entry:
    path: str  # under --root
    family: str
    author: str
    expect: Expected
    flags: tuple[str, ...] = ()
    note: str = ""


def _cs(repo: str, assignment: int, name: str, expect: Expected, *flags: str, note: str = "") -> Entry:
    """A cs231n file inside its copied package tree, `cs231n/<owner>__<repo>/assignmentN/...`."""
    path = f"cs231n/{repo}/assignment{assignment}/cs231n/classifiers/{name}"
    return Entry(path, "cs231n", repo.split("__")[0], expect, flags, note)


def _dl(repo: str, path: str, expect: Expected, *flags: str, note: str = "") -> Entry:
    """A deeplearning.ai file in its repository's folder, `dlai/<owner>__<repo>/<path>`, its helpers
    beside it as the student has them; run with the course interpreter (matplotlib, sklearn, h5py)."""
    return Entry(f"dlai/{repo}/{path}", "dlai", repo.split("__")[0], expect, (*flags, *PY), note)


def _flat(family: str, name: str, expect: Expected, *flags: str, note: str = "") -> Entry:
    """A single-file model, `<family>/<owner>__<repo>__<path with / as _>`."""
    return Entry(f"{family}/{name}", family, name.split("__")[0], expect, flags, note)


PY = ("--python", COURSE)
TWO = ("--hidden", "8")
DEEP = ("--hidden", "8,8")
REG = ("--reg", "0.05")
OPTION = "--model-option"
PY2 = Refused("print")
PLANAR = ("--hidden", "4")  # deeplearning.ai's planar net: tanh hidden layer, sigmoid output
L4 = ("--hidden", "4")  # the L-layer files at one hidden layer, then at two
L53 = ("--hidden", "5,3")
PLANAR_V6C = "Planar_data_classification_with_onehidden_layer_v6c"
STEP_V8A = "Building_your_Deep_Neural_Network_Step_by_Step_v8a"
STEP_V5 = "Building+your+Deep+Neural+Network+-+Step+by+Step+v5.py"
W3A1 = "W3A1/Planar_data_classification_with_one_hidden_layer.ipynb"
W4A1 = "W4A1/Building_your_Deep_Neural_Network_Step_by_Step.ipynb"

# Each entry's source (repository @ commit, then the path in it). Each file was read and checked
# outside the repository with an independent central difference (eps 1e-6) of its own loss at
# D=2, H=6 (and [6, 5]), C=2, N=8, reg 0.1: every "pass" file agreed to 1e-9 or better, apart
# from kinks (a ReLU input or an L1-regularised bias exactly at 0).
MANIFEST: tuple[Entry, ...] = (
    # cs231n assignment 1, neural_net.py: TwoLayerNet(input_size, hidden_size, output_size,
    # std=1e-4) and loss(X, y=None, reg=0.0). Its package's __init__ imports the other
    # classifiers, which import matplotlib and future's past.builtins: hence --python.
    # AndersonZhangyq/cs231n-2017 @ f548a2f629d1c663d3f144b9773bae3b404c9034
    #   assignment1/cs231n/classifiers/neural_net.py
    _cs("AndersonZhangyq__cs231n-2017", 1, "neural_net.py", "pass", *TWO, *REG, *PY),
    # AKSoo/CS231n-2017 @ 07e1861c98100010f9441c3ed4d1116408d7743c (no cs231n/__init__.py)
    #   assignment1/cs231n/classifiers/neural_net.py
    _cs("AKSoo__CS231n-2017", 1, "neural_net.py", "pass", *TWO, *PY),
    # Aneureka/cs231n-assignments-2018 @ cb4b294f408ab23403dd18ca600900828c4180c1
    #   assignment1/cs231n/classifiers/neural_net.py
    _cs("Aneureka__cs231n-assignments-2018", 1, "neural_net.py", "pass", *TWO, *REG, *PY),
    # 0809zheng/CS231n-assignment2019 @ 3f5c853986637e2eba33f70c982fac7c618ff0f3
    #   assignment1/cs231n/classifiers/neural_net.py
    _cs("0809zheng__CS231n-assignment2019", 1, "neural_net.py", "pass", *TWO, *PY),
    # 4ever-Rain/CS231n-assignment-2019 @ d996ad8e5e15af168b5f962cc79fca7826836bd1
    #   assignment1/cs231n/classifiers/neural_net.py
    _cs("4ever-Rain__CS231n-assignment-2019", 1, "neural_net.py", "pass", *TWO, *PY),
    # 1219521375/CS231n2020 @ cbafdce997873d72f14ec75204439e50a190cd82
    #   assignment1/cs231n/classifiers/neural_net.py
    _cs("1219521375__CS231n2020", 1, "neural_net.py", "pass", *TWO, *REG, *PY),
    # 2033329616/cs231n @ af00fc881478839f8bbb41c7ed07f52188cb4fd2 (2018)
    #   assignment1/cs231n/classifiers/neural_net.py
    _cs("2033329616__cs231n", 1, "neural_net.py", Bug("b2", "scale", "db2"), *TWO, *PY,
        note="db2 = sum(dscores, axis=0) without the / N that dW2 has: analytic = N x numerical"
             " on b2 only (central difference: ratio 8.000 at N=8); dscores itself is right"),
    # 123liuziming/cs231n-2019 @ 5af8c594a77f8d2401cba2b9bd2873a9e4a0bb44
    #   assignment1/cs231n/classifiers/neural_net.py
    _cs("123liuziming__cs231n-2019", 1, "neural_net.py", Bug("b1", "other"), *TWO, *PY,
        note="the forward leaves b1 out (h = relu(X W1)), so the loss does not depend on b1"
             " (numerical db1 = 0), while the backward returns the sum of dh as db1"),
    # cs231n assignment 1 from 2021, fc_net.py: TwoLayerNet(input_dim, hidden_dim, num_classes,
    # weight_scale, reg), `from ..layers import *` (relative imports).
    # 0suh/cs231n_2021 @ 9b19719dee0b4e039974a2b68af43c111efad67e
    #   assignment1/cs231n/classifiers/fc_net.py
    _cs("0suh__cs231n_2021", 1, "fc_net.py", "pass", *TWO, *REG, *PY),
    # AgainstEntropy/CS231n-assignment2021 @ a3224d264f268ab9260defacb2d6c7284c790829
    #   assignment1/cs231n/classifiers/fc_net.py
    _cs("AgainstEntropy__CS231n-assignment2021", 1, "fc_net.py", "pass", *TWO, *PY),
    # AnirudhM1/CS231n-2022-Solutions @ 7a5b4949f5bca2715deec11d10fcd573cbd93c34
    #   assignment1/cs231n/classifiers/fc_net.py
    _cs("AnirudhM1__CS231n-2022-Solutions", 1, "fc_net.py", "pass", *TWO, *PY),
    # cs231n assignment 2, fc_net.py: TwoLayerNet (to 2020) and FullyConnectedNet(hidden_dims,
    # ..., dropout or dropout_keep_ratio, use_batchnorm or normalization, reg, weight_scale,
    # dtype, seed), `from cs231n.layers import *` (to 2020) or `from ..layers import *`.
    # AndersonZhangyq/cs231n-2017 @ f548a2f629d1c663d3f144b9773bae3b404c9034
    #   assignment2/cs231n/classifiers/fc_net.py
    _cs("AndersonZhangyq__cs231n-2017", 2, "fc_net.py", "pass", *DEEP, OPTION, "use_batchnorm=True"),
    _cs("AndersonZhangyq__cs231n-2017", 2, "fc_net.py", Refused("b1"), *TWO,
        note="TwoLayerNet sets params['b1'] = 0 and params['b2'] = 0 (Python ints, not (H,) and (C,)"
             " arrays) while db1 has shape (H,): the notebook's SGD only worked by broadcasting"),
    # Aneureka/cs231n-assignments-2018 @ cb4b294f408ab23403dd18ca600900828c4180c1
    #   assignment2/cs231n/classifiers/fc_net.py
    _cs("Aneureka__cs231n-assignments-2018", 2, "fc_net.py", "pass", *TWO, *REG),
    _cs("Aneureka__cs231n-assignments-2018", 2, "fc_net.py", "pass",
        *DEEP, OPTION, "normalization=batchnorm"),
    # 1219521375/CS231n2020 @ cbafdce997873d72f14ec75204439e50a190cd82
    #   assignment2/cs231n/classifiers/fc_net.py
    _cs("1219521375__CS231n2020", 2, "fc_net.py", "pass", *DEEP, *REG),
    # 6217Steve99/CS231n-2020 @ dad21c78328d366ffba9395cb45b9a4cdb76c78a
    #   assignment2/cs231n/classifiers/fc_net.py
    _cs("6217Steve99__CS231n-2020", 2, "fc_net.py", "pass", *DEEP, OPTION, "dropout=0.5"),
    # 0suh/cs231n_2021 @ 9b19719dee0b4e039974a2b68af43c111efad67e
    #   assignment2/cs231n/classifiers/fc_net.py
    _cs("0suh__cs231n_2021", 2, "fc_net.py", "pass", *DEEP, OPTION, "normalization=batchnorm"),
    # AgainstEntropy/CS231n-assignment2021 @ a3224d264f268ab9260defacb2d6c7284c790829
    #   assignment2/cs231n/classifiers/fc_net.py
    _cs("AgainstEntropy__CS231n-assignment2021", 2, "fc_net.py", "pass",
        *DEEP, OPTION, "normalization=layernorm"),
    # AnirudhM1/CS231n-2022-Solutions @ 7a5b4949f5bca2715deec11d10fcd573cbd93c34
    #   assignment2/cs231n/classifiers/fc_net.py
    _cs("AnirudhM1__CS231n-2022-Solutions", 2, "fc_net.py", "pass", *DEEP, OPTION, "dropout_keep_ratio=0.5"),
    # 0809zheng/CS231n-assignment2019 @ 3f5c853986637e2eba33f70c982fac7c618ff0f3
    #   assignment2/cs231n/classifiers/fc_net.py
    _cs("0809zheng__CS231n-assignment2019", 2, "fc_net.py", Refused("torch"), *DEEP, *PY,
        note="the 2019 release's layer_utils.py imports fast_layers.py, which imports torch"),
    # AKSoo/CS231n-2017 @ 07e1861c98100010f9441c3ed4d1116408d7743c
    #   assignment2/cs231n/classifiers/fc_net.py
    _cs("AKSoo__CS231n-2017", 2, "fc_net.py", Refused("fast_layers"), *DEEP,
        note="layer_utils.py imports cs231n.fast_layers, which the repository never committed"),
    # BetterCourses/cs231n-spring-2016 @ 3a1d20b52eefb3c979a4daef7de12df1241ee376
    #   assignment2/cs231n/classifiers/fc_net.py
    _cs("BetterCourses__cs231n-spring-2016", 2, "fc_net.py", Refused("fast_layers.py"), *DEEP,
        note="Python 2: the 2016 fast_layers.py has print statements"),
    # Nielsen: Network(sizes), backprop(x, y) -> (nabla_b, nabla_w), column vectors.
    # MichalDanielDobrzanski/DeepLearningPython @ 2da41b6dd19dafae92db1facbc4ed19738e80551
    #   network.py, network2.py
    _flat("nielsen", "MichalDanielDobrzanski__DeepLearningPython__network.py", "pass", *TWO),
    _flat("nielsen", "MichalDanielDobrzanski__DeepLearningPython__network2.py", "pass", *TWO),
    # GuangshengSu/neural-networks-and-deep-learning-based-on-Python3
    #   @ 1c426f5803959017ab59ff3c25cc92eb98b04242 src/network.py, src/network2.py
    _flat("nielsen", "GuangshengSu__neural-networks-and-deep-learning-based-on-Python3__src_network.py",
          "pass", *TWO),
    _flat("nielsen", "GuangshengSu__neural-networks-and-deep-learning-based-on-Python3__src_network2.py",
          "pass", *TWO),
    # Jerry050512/neural-networks-and-deep-learning-py3 @ 86a8b43be6b20708e7f40cf06ea6de6e33f2cdf2
    #   src/network.py, src/network2.py
    _flat("nielsen", "Jerry050512__neural-networks-and-deep-learning-py3__src_network.py", "pass", *TWO),
    _flat("nielsen", "Jerry050512__neural-networks-and-deep-learning-py3__src_network2.py", PY2, *TWO,
          note="the port left network2.py in Python 2 (print statements)"),
    # mnielsen/neural-networks-and-deep-learning @ 72db53d750f571bef8804de4a52224e44dcab3a1
    #   src/network.py, src/network2.py
    _flat("nielsen", "mnielsen__neural-networks-and-deep-learning__src_network.py", PY2, *TWO,
          note="the original is Python 2"),
    _flat("nielsen", "mnielsen__neural-networks-and-deep-learning__src_network2.py", PY2, *TWO,
          note="the original is Python 2"),
    # Neural Networks from Scratch: Layer_Dense(n_inputs, n_neurons, regularisers),
    # forward/backward, dweights/dbiases, (1, n) biases. The book's chapters import nnfs
    # (Chapter 19 also cv2) and train at import.
    # Sentdex/nnfs_book @ 9cf2fc482985d5bc68c736a49aa0624b6ab13fb1 Chapter_NN/ChNN_Final.py
    _flat("nnfs", "Sentdex__nnfs_book__Chapter_10_Ch10_Final.py", "pass", *TWO, *PY),
    _flat("nnfs", "Sentdex__nnfs_book__Chapter_14_Ch14_Final.py", "pass", *TWO, *PY),
    _flat("nnfs", "Sentdex__nnfs_book__Chapter_16_Ch16_Final.py", "pass", *TWO, *PY),
    _flat("nnfs", "Sentdex__nnfs_book__Chapter_18_Ch18_Final.py", "pass", *TWO, *PY),
    _flat("nnfs", "Sentdex__nnfs_book__Chapter_19_Ch19_Final.py", "pass", *TWO, *PY,
          note="loads fashion_mnist_images from disk at import"),
    # mikecon94/NNFS @ 01e629a5904b6e5d58922c319c056b6569edbf8e examples/classification.py
    _flat("nnfs", "mikecon94__NNFS__examples_classification.py", "pass", *TWO, *PY),
    # TheRealAakash/NNFS @ cf09fcaefe5bc9e8fe0478c59319782da5ac8d1d Network/full.py
    _flat("nnfs", "TheRealAakash__NNFS__Network_full.py", "pass", *TWO, *PY),
    # ajkumar-13/NNFS @ 0c5195f6d589eaf00d5294edc7f8259a11352b39
    #   projects/01-mnist-from-scratch/nn.py, projects/02-binary-classifier/nn.py
    _flat("nnfs", "ajkumar-13__NNFS__projects_01-mnist-from-scratch_nn.py", "pass", *TWO),
    _flat("nnfs", "ajkumar-13__NNFS__projects_02-binary-classifier_nn.py", "pass", *TWO),
    # deeplearning.ai course 1, "Planar data classification with one hidden layer": tanh hidden
    # layer, sigmoid output; initialize_parameters(n_x, n_h, n_y), forward_propagation(X,
    # parameters) -> (A2, cache), compute_cost(A2, Y, parameters) (v3 to v6c) or compute_cost(A2,
    # Y) (W3A1, 2021 on), backward_propagation(parameters, cache, X, Y). Checked outside the
    # repository at n_x=2, n_h=4, m=16 (the missing helpers' sigmoid stood in for, to read the
    # file's own maths): every file below agrees to 1e-6 unless its note says otherwise.
    # 50sotero/Planar_data_classification_with_onehidden_layer_v6c
    #   @ 5d3a3b775827223be9bde6af1dcba6570d7f2045 Planar_data_classification_with_onehidden_layer_v6c.ipynb
    _dl("50sotero__Planar_data_classification_with_onehidden_layer_v6c",
        PLANAR_V6C + ".ipynb", "pass", *PLANAR),
    # KashmalCh/Planar_data_classification_with_onehidden_layer_v6c
    #   @ de591dfe4d7792729e21e4129272197ad3b678dc Planar_data_classification_with_onehidden_layer_v6c.ipynb
    _dl("KashmalCh__Planar_data_classification_with_onehidden_layer_v6c", PLANAR_V6C + ".ipynb", "pass",
        *PLANAR, note="the notebook alone: testCases_v2.py and planar_utils.py were not committed"),
    # arimousa/Planar_data_classification_with_onehidden_layer_v6c
    #   @ 20d7ed01148f14ce03a27a8fa5169998253afd66 Planar_data_classification_with_onehidden_layer_v6c.py
    _dl("arimousa__Planar_data_classification_with_onehidden_layer_v6c", PLANAR_V6C + ".py", "pass",
        *PLANAR, note="nbconvert export (get_ipython().magic), no helpers beside it"),
    # SarahMohamedLotfy/Planar-data-classification-with-a-hidden-layer
    #   @ 18bab9c6860a6d79243d60b7298178c69bba7a14 Planar_data_classification_with_onehidden_layer_v6c.py
    _dl("SarahMohamedLotfy__Planar-data-classification-with-a-hidden-layer", PLANAR_V6C + ".py",
        Bug("W1", "cost"), *PLANAR,
        note="no helpers beside it; behind that, its compute_cost is -sum(Y log A2) alone (no (1-Y)"
             " term, no 1/m) while its backward is the mean cross-entropy's: every tensor disagrees"
             " with the file's own loss (ratios 0.04, -0.01, 0.02, -0.009)"),
    # codeeplearning/Planar-data-classification-with-one-hidden-layer-v5
    #   @ 3fd58dd6b5c2a6b0c372bcfeaf2b248912982871
    #   Planar+data+classification+with+one+hidden+layer+v5.py, Planar+...+v5.ipynb
    _dl("codeeplearning__Planar-data-classification-with-one-hidden-layer-v5",
        "Planar+data+classification+with+one+hidden+layer+v5.py", "pass", *PLANAR),
    _dl("codeeplearning__Planar-data-classification-with-one-hidden-layer-v5",
        "Planar+data+classification+with+one+hidden+layer+v5.ipynb", "pass", *PLANAR),
    # NyleD/PlanarDataClassification @ 97c2dc1802fc7c7fe2e691698ce2f2ca8e2ae9da
    #   Planar+data+classification+with+one+hidden+layer+v5.py
    _dl("NyleD__PlanarDataClassification", "Planar+data+classification+with+one+hidden+layer+v5.py",
        "pass", *PLANAR),
    # KPRASANT9/PlanarData-Classification @ 34d994e7e6b5d3596f7ca974334258c386913fe4
    #   Planar data classification with one hidden layer v5.ipynb
    _dl("KPRASANT9__PlanarData-Classification", "Planar data classification with one hidden layer v5.ipynb",
        "pass", *PLANAR),
    # WWLemily/Planar-data-classification-with-one-hidden-layer @ 9e6b6e331d49abaa051146b19eede1ef91cc6200
    #   Planar data classification with one hidden layer v4.ipynb
    _dl("WWLemily__Planar-data-classification-with-one-hidden-layer",
        "Planar data classification with one hidden layer v4.ipynb", "pass", *PLANAR),
    # krashski/Deep-Learning-Specialization @ a9ef7a6fe218c6d65b1c9d59ad3bb0df9439ed4f
    #   Planar data classification with one hidden layer v3.ipynb (imports testCases, v1)
    _dl("krashski__Deep-Learning-Specialization", "Planar data classification with one hidden layer v3.ipynb",
        "pass", *PLANAR),
    # uvita/dls-course1 @ f0fc4aff0c3890a171c765b24e0d21b532faf2d8 W3A1/...
    _dl("uvita__dls-course1", W3A1, "pass", *PLANAR),
    # rpragides/neural-networks-deep-learning @ d4fab4c1f9de93bc4474ddaa4a0d18f05c63bcc7 W3A1/...
    _dl("rpragides__neural-networks-deep-learning", W3A1, "pass", *PLANAR),
    # atmosinf/coursera_deeplearning @ ef5fcf16f1884b13beb62b56f296c1422a6b21cc
    #   neural networks and deep learning/W3A1/...
    _dl("atmosinf__coursera_deeplearning", "neural networks and deep learning/" + W3A1, "pass", *PLANAR),
    # PrashantShivajiBhapkar/Deep-Learning @ 687eadd6bcce57eee8e4e43885211353787a2d50
    #   Planar data classification with one hidden layer.py
    _dl("PrashantShivajiBhapkar__Deep-Learning", "Planar data classification with one hidden layer.py",
        Refused("name 'm' is not defined"), *PLANAR,
        note="a Download-as-Python with its In[] markers stripped; no helpers; behind that, compute_cost"
             " divides by the global m (the data set's size, set by a skipped top-level line)"),
    # tuanhiep/deeplearning @ 0cd95e9f29b51ea93fc82822a9006c416a507217 NeuralNetwork.py
    _dl("tuanhiep__deeplearning", "NeuralNetwork.py", "pass", *PLANAR,
        note="hand-saved cells with a raw %matplotlib inline; no helpers beside it"),
    # resoliwan/neural-networks @ 23231a97eaf45ad3d14a49c0d33696beb54d5910 week3/neural.py
    _dl("resoliwan__neural-networks", "week3/neural.py", "pass", *PLANAR,
        note="hand-saved, no magics; testCases.py (v1) and planar_utils.py beside it"),
    # kanishka123/deep_learning_specialization_coursera @ 2a548ef405e7f9bd6f2d7e1046c2d6df4aa44493
    #   Planar_data_classification_with_onehidden_layer_v6c.py
    _dl("kanishka123__deep_learning_specialization_coursera", PLANAR_V6C + ".py", "pass", *PLANAR),
    # david-d-an/Chapter1Week3 @ 273a0339bebf567eaeb2e643b78d40ecdb93726f model.py
    _dl("david-d-an__Chapter1Week3", "model.py", Refused("AssertionError"), *PLANAR,
        note="a module (main() functions, matplotlib.use('TkAgg')); compute_cost returns"
             " np.squeeze(np.float64(<(1, 1) array>) / m), a 0-d array under NumPy 2, so its own"
             " assert isinstance(cost, float) fails; its gradients agree with asserts off (-O)"),
    # prateeksawhney97/Planar-Data-Classification-with-One-Hidden-Layer
    #   @ 59698f203fe2671a307936553eeae23701df4535 classifier.py
    _dl("prateeksawhney97__Planar-Data-Classification-with-One-Hidden-Layer", "classifier.py", "pass",
        *PLANAR, note="a script that loads the flower data set and trains at import"),
    # "Building your Deep Neural Network: Step by Step": initialize_parameters_deep(layer_dims),
    # L_model_forward(X, parameters) -> (AL, caches), compute_cost(AL, Y), L_model_backward(AL, Y,
    # caches) with relu_backward/sigmoid_backward from dnn_utils(_v2).py. Checked outside the
    # repository at [2, 4, 1] and [2, 5, 3, 1], m=16 (missing dnn_utils_v2 stood in for).
    # 50sotero/Building-your-Deep-Neural-Network-Step-by-Step @ ac0293ee1514f6580efc9b692dd65c839cf25cfc
    #   Building_your_Deep_Neural_Network_Step_by_Step_v8a.ipynb
    _dl("50sotero__Building-your-Deep-Neural-Network-Step-by-Step", STEP_V8A + ".ipynb", "pass", *L4),
    _dl("50sotero__Building-your-Deep-Neural-Network-Step-by-Step", STEP_V8A + ".ipynb", "pass", *L53),
    # Lim-Calculus/Building-your-Deep-Neural-Network-Step-by-Step @ 4db5b2b0a391e871123235e1049f0fa21228c00f
    #   Building_your_Deep_Neural_Network_Step_by_Step_v8a.ipynb
    _dl("Lim-Calculus__Building-your-Deep-Neural-Network-Step-by-Step", STEP_V8A + ".ipynb", "pass", *L4),
    _dl("Lim-Calculus__Building-your-Deep-Neural-Network-Step-by-Step", STEP_V8A + ".ipynb", "pass", *L53),
    # KashmalCh/Building_your_Deep_Neural_Network_Step_by_Step_v8a @ f3f22f662b3e1b8f74fefd0e69a806387a4792ca
    _dl("KashmalCh__Building_your_Deep_Neural_Network_Step_by_Step_v8a", STEP_V8A + ".ipynb", "pass", *L4),
    # Elson2098/Deep-Neural-Network-Step-by-Step @ cb9a307eb0d231fd741a384a8e45d2064f8af9f4 (.ipynb and .py)
    _dl("Elson2098__Deep-Neural-Network-Step-by-Step", STEP_V8A + ".ipynb", "pass", *L4),
    _dl("Elson2098__Deep-Neural-Network-Step-by-Step", STEP_V8A + ".py", "pass", *L4,
        note="nbconvert export: get_ipython().run_line_magic(...) lines"),
    # arimousa/Planar_data_classification_with_onehidden_layer_v6c @ 20d7ed01148f14ce03a27a8fa5169998253afd66
    #   Building_your_Deep_Neural_Network_Step_by_Step_v8a.py
    _dl("arimousa__Planar_data_classification_with_onehidden_layer_v6c", STEP_V8A + ".py", "pass", *L4),
    # ivyw1123/coursera_deep_neural_network @ df0ecbf74f1b69ecd95b248059d3413742008f5a
    #   Building_your_Deep_Neural_Network_Step_by_Step_v8a.py
    _dl("ivyw1123__coursera_deep_neural_network", STEP_V8A + ".py", Refused("syntax"), *L4,
        note="a markdown cell exported as code (line 506, \"### d) L-Layer Model\" then prose):"
             " the export is not Python; no helpers beside it either"),
    # pradiptikayal/Build-your-Deep-Neural-Network @ 5e53a46f14b91abcc4396e0ee7ca59eb99396f27
    #   Building+your+Deep+Neural+Network+-+Step+by+Step+v5.py (testCases_v3, dnn_utils_v2 beside it)
    _dl("pradiptikayal__Build-your-Deep-Neural-Network", STEP_V5, "pass", *L4),
    _dl("pradiptikayal__Build-your-Deep-Neural-Network", STEP_V5, "pass", *L53),
    # krashski/Deep-Learning-Specialization @ a9ef7a6fe218c6d65b1c9d59ad3bb0df9439ed4f
    #   Building your Deep Neural Network - Step by Step v3.ipynb
    _dl("krashski__Deep-Learning-Specialization", "Building your Deep Neural Network - Step by Step v3.ipynb",
        "pass", *L4),
    # uvita/dls-course1, rpragides/neural-networks-deep-learning, atmosinf/coursera_deeplearning
    #   (commits above) W4A1/Building_your_Deep_Neural_Network_Step_by_Step.ipynb
    _dl("uvita__dls-course1", W4A1, "pass", *L4),
    _dl("uvita__dls-course1", W4A1, "pass", *L53),
    _dl("rpragides__neural-networks-deep-learning", W4A1, "pass", *L4),
    _dl("rpragides__neural-networks-deep-learning", W4A1, "pass", *L53),
    _dl("atmosinf__coursera_deeplearning", "neural networks and deep learning/" + W4A1, "pass", *L4),
    _dl("atmosinf__coursera_deeplearning", "neural networks and deep learning/" + W4A1, "pass", *L53),
    # PrashantShivajiBhapkar/Deep-Learning @ 687eadd6bcce57eee8e4e43885211353787a2d50
    #   Building Deep Neural Network Step by Step.py
    _dl("PrashantShivajiBhapkar__Deep-Learning", "Building Deep Neural Network Step by Step.py",
        "pass", *L4),
    # tuanhiep/deeplearning @ 0cd95e9f29b51ea93fc82822a9006c416a507217 DeepNeuralNetwork.py
    _dl("tuanhiep__deeplearning", "DeepNeuralNetwork.py", "pass", *L4,
        note="hand-saved cells: raw %matplotlib inline, %load_ext autoreload, %autoreload 2"),
    # resoliwan/neural-networks @ 23231a97eaf45ad3d14a49c0d33696beb54d5910 week4/deep_neural.py
    _dl("resoliwan__neural-networks", "week4/deep_neural.py", "pass", *L4,
        note="hand-saved, its %load_ext/%autoreload commented out; L_model_forward passes"
             " parameters['b1'] to every hidden layer: invisible with one hidden layer"),
    _dl("resoliwan__neural-networks", "week4/deep_neural.py", Refused("broadcast"), *L53,
        note="the same b1 bug with two hidden layers: its forward raises (3,16) vs (5,1)"),
    # david-d-an/Chapter1Week4 @ b9175dc91e5125f95341b9a8a65070ea10d1e225 model.py
    _dl("david-d-an__Chapter1Week4", "model.py", "pass", *L4),
    _dl("david-d-an__Chapter1Week4", "model.py", "pass", *L53),
    # luca-92/Building-your-Deep-Neural-Network-Step-by-Step @ fdb26d188314c21558b3bd9c723f4ce3c8750487
    #   first_part.ipynb (%run '/home/luca/PycharmProjects/DeepNN/testCases_v3.py', dnn_utils_v2.py:
    #   the author's absolute paths; both files are beside the notebook)
    _dl("luca-92__Building-your-Deep-Neural-Network-Step-by-Step", "first_part.ipynb", "pass", *L4),
    _dl("luca-92__Building-your-Deep-Neural-Network-Step-by-Step", "first_part.ipynb", Refused("dA2"), *L53,
        note="L_model_backward reads grads[\"dA\" + str(2)] (hard-coded) in its ReLU loop: right with"
             " one hidden layer, a KeyError 'dA2' with two (the v3 naming stores dA(L-1) as dA3)"),
)


@dataclass
class Outcome:
    """What one run did."""

    loaded: bool
    steps_passed: int = 0
    steps: int = 0
    diagnoses: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0


def command(entry: Entry, root: Path, course_python: str) -> list[str]:
    """The command line a user would type, with the course interpreter filled in."""
    flags = [course_python if flag == COURSE else flag for flag in entry.flags]
    return [sys.executable, "-m", "tui", *RUN, "--model", str(root / entry.path), *flags]


def clean_environment(home: str) -> dict[str, str]:
    """No PYTHONPATH, no virtualenv, no locale surprises: what a fresh terminal has."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", "TERM": "dumb"}


def run(entry: Entry, root: Path, course_python: str, timeout: float) -> Outcome:
    """Runs one entry from a neutral directory and reads its JSON trace."""
    with tempfile.TemporaryDirectory(prefix="corpus-") as cwd:
        start = time.perf_counter()
        try:
            done = subprocess.run(command(entry, root, course_python), cwd=cwd, env=clean_environment(cwd),
                                  capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return Outcome(False, error=f"no answer in {timeout:g} s")
        seconds = time.perf_counter() - start
    if done.returncode not in (0, 1) or not done.stdout:  # 1 is a run whose check failed
        error = _last_line(done.stderr) or f"exit status {done.returncode}"
        return Outcome(False, error=error, seconds=seconds)
    try:
        trace = json.loads(done.stdout)
    except json.JSONDecodeError:
        return Outcome(False, error="stdout is not JSON", seconds=seconds)
    outcome = _read_trace(trace, seconds)
    if done.returncode != (outcome.steps_passed < outcome.steps):  # the exit status a build reads
        return Outcome(False, error=f"exit status {done.returncode} for {outcome.steps_passed} of "
                       f"{outcome.steps} steps passed", seconds=seconds)
    return outcome


def _last_line(stderr: str) -> str:
    """The error line: the stepper's own `error:` line, else the last line written."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    return (errors or lines or [""])[-1]


def _read_trace(trace: dict[str, Any], seconds: float) -> Outcome:
    steps = trace.get("steps") or []
    passed = 0
    diagnoses: list[dict[str, Any]] = []
    for step in steps:
        check = step.get("gradcheck") or {}
        passed += bool(check.get("passed"))
        diagnoses.extend(check.get("diagnosis") or [])
    return Outcome(True, passed, len(steps), diagnoses, seconds=seconds)


def named(bug: Bug, diagnoses: Sequence[dict[str, Any]]) -> bool:
    """Whether some step's diagnosis names the bug's tensor, kind and (if given) entry point."""
    return any(d.get("tensor") == bug.tensor and d.get("kind") == bug.kind
               and (not bug.enters or d.get("enters") == bug.enters) for d in diagnoses)


def verdict(entry: Entry, outcome: Outcome) -> str:
    """"as expected", or what differs from the expectation."""
    expect = entry.expect
    if isinstance(expect, Refused):
        if outcome.loaded:
            return "ran, expected a refusal"
        return "as expected" if expect.reason in outcome.error else "refused for another reason"
    if not outcome.loaded:
        return "did not load"
    if isinstance(expect, Bug):
        return "as expected" if named(expect, outcome.diagnoses) else "bug not named"
    if outcome.steps_passed == STEPS:
        return "as expected"
    return "FALSE FAILURE" if outcome.steps == STEPS else "ran fewer steps"


def describe(expect: Expected) -> str:
    if isinstance(expect, Bug):
        return f"bug {expect.tensor} {expect.kind}" + (f" at {expect.enters}" if expect.enters else "")
    if isinstance(expect, Refused):
        return f"refused ({expect.reason})"
    return expect


def bug_named(entry: Entry, outcome: Outcome) -> str:
    if isinstance(entry.expect, Bug):
        return "yes" if named(entry.expect, outcome.diagnoses) else "no"
    kinds = sorted({f"{d.get('tensor')} {d.get('kind')}" for d in outcome.diagnoses})
    return ", ".join(kinds[:3]) if kinds else "-"


def row(entry: Entry, outcome: Outcome) -> list[str]:
    flags = " ".join("PY" if f == COURSE else f for f in entry.flags)
    error = outcome.error.removeprefix("backprop-stepper: error: ")
    error = error.removeprefix(Path(entry.path).name).lstrip(":, ")
    loads = "yes" if outcome.loaded else f"no: {_cut(error, 110)}"
    steps = f"{outcome.steps_passed}/{STEPS}" if outcome.loaded else "-"
    return [_name(entry), entry.family,
            entry.author, flags,
            describe(entry.expect), loads, steps, bug_named(entry, outcome), verdict(entry, outcome),
            f"{outcome.seconds:.1f}"]


def _name(entry: Entry) -> str:
    """A file by its name; a cs231n file by repository and assignment: `repo/assignment2/…/fc_net.py`;
    a deeplearning.ai file by its owner too, since many share a name: `uvita/…/<notebook>`."""
    parts = entry.path.split("/")
    if entry.family == "dlai":
        return f"{entry.author}/…/{parts[-1]}"
    return f"{parts[1]}/{parts[2]}/…/{parts[-1]}" if len(parts) > 4 and "classifiers" in parts else parts[-1]


def _cut(text: str, width: int) -> str:
    text = text.replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


HEADER = ["file", "family", "author", "flags", "expected", "loads?", "steps passed",
          "bug named?", "verdict", "s"]


def table(rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def totals(entries: Sequence[Entry], outcomes: Sequence[Outcome]) -> str:
    pairs = list(zip(entries, outcomes, strict=True))
    expect_pass = [(e, o) for e, o in pairs if e.expect == "pass"]
    bugs = [(e, o) for e, o in pairs if isinstance(e.expect, Bug)]
    false = sum(verdict(e, o) == "FALSE FAILURE" for e, o in expect_pass)
    authors = len({e.author for e in entries})
    files = len({e.path for e in entries})
    families = ", ".join(f"{f}: {len({e.path for e in entries if e.family == f})}"
                         for f in sorted({e.family for e in entries}))
    refusals = [(e, o) for e, o in pairs if isinstance(e.expect, Refused)]
    return "\n".join([
        f"- {len(entries)} runs of {files} files by {authors} authors ({families} files)",
        f"- loaded: {sum(o.loaded for o in outcomes)} of {len(entries)}",
        f"- correct files passing every step: {sum(verdict(e, o) == 'as expected' for e, o in expect_pass)}"
        f" of {len(expect_pass)}; false failures (a correct file failing a step): {false}",
        f"- bugs named: {sum(verdict(e, o) == 'as expected' for e, o in bugs)} of {len(bugs)}",
        f"- refusals as expected: {sum(verdict(e, o) == 'as expected' for e, o in refusals)}"
        f" of {len(refusals)}",
        f"- as expected overall: {sum(verdict(e, o) == 'as expected' for e, o in pairs)} of {len(entries)}",
    ])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("/work/corpus"))
    parser.add_argument("--course-python", default="",
                        help="the interpreter for --python (default ROOT/.courseenv/bin/python)")
    parser.add_argument("--only", default="", help="run only the entries whose path contains this")
    parser.add_argument("--markdown", type=Path, help="also write the table and totals to this file")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds one run may take")
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    course_python = args.course_python or str(root / ".courseenv" / "bin" / "python")
    entries = [e for e in MANIFEST if args.only in e.path]
    missing = [e.path for e in entries if not (root / e.path).is_file()]
    for path in missing:
        print(f"missing from the corpus: {path}", file=sys.stderr)
    entries = [e for e in entries if e.path not in missing]
    outcomes = []
    for entry in entries:
        outcome = run(entry, root, course_python, args.timeout)
        outcomes.append(outcome)
        print(f"{verdict(entry, outcome):>26}  {entry.path}", file=sys.stderr, flush=True)
    rows = [row(e, o) for e, o in zip(entries, outcomes, strict=True)]
    report = table(rows) + "\n\n" + totals(entries, outcomes) + "\n"
    notes = [f"- {_name(e)}: {e.note}" for e in entries if e.note]
    if notes:
        report += "\nNotes:\n" + "\n".join(notes) + "\n"
    print(report)
    if args.markdown:
        args.markdown.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
