"""Widgets that show the stepper: each draws a View (engine.run.stepper), never the stepper itself."""
