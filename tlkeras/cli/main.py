"""`tlkeras` entry point: `tlkeras_cli.main`, importable from the package.

The command line lives in the top-level module `tlkeras_cli`, which parses
the arguments before anything imports TensorFlow (importing any
`tlkeras.*` module runs `tlkeras/__init__.py`, which does): `--help` and
argument errors are instant.
"""

import sys

from tlkeras_cli import _parser
from tlkeras_cli import main

__all__ = ["_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
