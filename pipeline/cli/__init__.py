"""The `sovai` command line; each command imports what it needs when it runs."""

from pipeline.cli.main import main

__all__ = ["main"]
