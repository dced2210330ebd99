"""The command line and the Textual app. Importing this package does not import Textual:
the headless report must start as fast as a plain NumPy script."""
