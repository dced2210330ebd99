"""Modal screens: help, tensor zoom, configuration form."""
