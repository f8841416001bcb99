"""The ``headwater`` console command (``headwater.command:main`` in ``[project.scripts]``)."""

from __future__ import annotations

from headwater.cli.app import main

__all__ = ["main"]
