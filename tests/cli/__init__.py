"""Tests of the command line, the headless report and trace, output files and serve."""
