"""A user's own model file, run in a process of its own: the client the stepper calls, the
host process, the contract a file is read by, course conventions, the pipe's transport and
the process tree's clean-up.

May import every engine layer below the run (maths, model, check, settings, data, files).
"""
