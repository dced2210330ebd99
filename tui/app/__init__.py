"""The Textual app: the controller, the runner thread, commands, widgets and screens, and
tui.app.compat, the one module that uses Textual's private API.

May import the engine, tui.text, tui.keys, tui.output and tui.cli.
"""
