"""The Textual app: the controller, the runner thread, commands, widgets and screens.

May import the engine, tui.text, tui.keys, tui.output and tui.cli.
"""
