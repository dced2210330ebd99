"""Data: the built-in data sets, CSV files, train/test splits and mini-batches.

May import engine.maths, engine.settings and engine.files.
"""
