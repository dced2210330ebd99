"""Why an element of a tensor has its value: the formula with the real numbers.

The top engine layer: may import every other engine package.
"""
