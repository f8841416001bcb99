"""The ``headwater`` command: a thin Typer shell over :class:`headwater.Workspace`.

:func:`main` first offers the command to a running agent (``headwater agent start``), which
runs it from warm imports; only when there is none does it import the Typer app here.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from headwater.lazy import exports

if TYPE_CHECKING:
    from headwater.cli.app import app

__all__ = ["app", "main"]
__getattr__ = exports(__name__, {"app": "headwater.cli.app"})


def main() -> None:
    """Console entry point."""
    from headwater.agent.client import forward

    code = forward(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from headwater.cli.app import main as run_here

    run_here()
