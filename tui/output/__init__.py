"""What a run writes: the text report, the JSON trace and the Jupyter notebook.

No Textual. May import the engine and tui.text; the command line (tui.cli) writes what
these modules make.
"""
