"""Judging gradients: per-element verdicts against the numerical slopes, and the diagnosis
of a failed check (which known bug it looks like, and where it enters).

May import engine.maths and engine.model.
"""
