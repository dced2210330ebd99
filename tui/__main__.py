"""`python -m tui`: the command line (tui.cli.start, then tui.cli.main)."""

import sys

from tui.cli.start import main

sys.exit(main())
