"""The conventions' names alone (engine.model.conventions adapts the files that follow them).

In a module of their own, which imports nothing, because the built-in network's gradient
check compares names on every run (engine.check.diagnose) and the conventions' package
imports all four courses' adapters: tens of milliseconds of start-up for a name.
"""

NOTEBOOK, DLAI, CS231N = "notebook", "deeplearning-ai", "cs231n"
NIELSEN = "nielsen"
NNFS = "nnfs"
