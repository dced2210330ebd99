"""What a run writes: the text report, the JSON trace and the Jupyter notebook.

No Textual. May import the engine, tui.text, and tui.cli's options and files (the request
it renders, and the atomic writer).
"""
