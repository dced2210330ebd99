"""The command line: options, the dispatcher, the headless run, output files, serve.

No Textual at import time: tui.app is imported only where the app is opened.
May import the engine, tui.text, tui.keys and tui.output.
"""
