"""Tests of the engine: the maths, checks, data, a user's model, the stepper and sessions."""
