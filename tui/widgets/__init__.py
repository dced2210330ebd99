"""Widgets that show the stepper's state. They read a State; they never change the stepper."""
