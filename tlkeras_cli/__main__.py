"""`python -m tlkeras_cli`: the `tlkeras` command."""

import sys

from tlkeras_cli import main

sys.exit(main())
