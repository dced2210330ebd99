"""Widgets that show the stepper: each draws a View (engine.stepper), never the stepper itself."""
