"""A run: the stepper and its history of phases, the per-sample view the screens show, and
sessions saved and reopened.

May import every engine layer below it (maths, model, check, settings, data, usermodel, files).
"""
