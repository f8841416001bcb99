"""The ``headwater`` command: a thin Typer shell over :class:`headwater.Workspace`."""

from headwater.cli.app import app, main

__all__ = ["app", "main"]
