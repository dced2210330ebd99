"""The run's settings: a frozen Config, its defaults and bounds, and its validation.

May import engine.maths, engine.model and engine.check (names the settings choose from).
"""
