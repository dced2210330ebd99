"""The backprop-stepper engine: pure NumPy, never Textual, no screen and no printing.

Layers, each importing only those above it in this list:

- engine.files: reading a file the user named (a leaf, imports nothing of the project);
- engine.maths: the network's passes and the numerical slopes;
- engine.model: the Model protocol and the built-in model;
- engine.check: verdicts and diagnosis of a gradient check;
- engine.settings: the run's Config;
- engine.data: data sets, CSV, batches;
- engine.usermodel: a user's model file in its own process;
- engine.run: the stepper, its history, sessions;
- engine.explain: why a number is what it is.

tests/test_layers.py enforces the order.
"""
