"""The mathematics of a network, written once: its forward and backward passes, the
vectorised and element-by-element numerical slopes, and a map of its output over the plane.

Pure NumPy functions of arrays. Imports nothing of the project outside this package.
"""
