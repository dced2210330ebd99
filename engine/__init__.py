"""The backprop-stepper engine: pure NumPy, no screen, no printing, no files.

Everything the app and the headless report show is computed here, once.
"""
