"""The `tlkeras` command line: a thin layer over the library."""

from tlkeras.cli.main import main

__all__ = ["main"]
