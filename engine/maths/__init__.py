"""The mathematics of a network, written once: its forward and backward passes (with the
fault drills that break one line of the backward), the vectorised and element-by-element
numerical slopes, a map of its output over the plane, and the grammar of its tensors' names
(names: W2, dz1, ...).

Pure NumPy functions of arrays. Imports nothing of the project outside this package.
"""
