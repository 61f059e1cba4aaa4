"""The ``carescore`` command line: a thin edge over the library."""

from scoring.cli.app import app, main

__all__ = ["app", "main"]
