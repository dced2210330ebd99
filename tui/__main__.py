"""`python -m tui`: the command line (tui.cli.main)."""

import sys

from tui.cli.main import main

sys.exit(main())
