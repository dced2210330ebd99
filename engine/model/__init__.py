"""What the stepper drives: the Model protocol every model meets, and the built-in model.

May import engine.maths (and engine.files).
"""
