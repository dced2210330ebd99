"""The command line: options (the flags), main (the dispatcher), load, fit and session (what
the flags name, read and checked), headless and explain (the report), launch (the app),
export (the notebook), files (the outputs written whole), stderr (the messages), serve and
tabs (the app in a browser).

No Textual at import time: tui.app is imported only where the app is opened (tui.cli.launch).
May import the engine, tui.text, tui.keys and tui.output.
"""
