"""The ``headwater`` console command: hand it to a running agent, or run it here.

Kept apart from :mod:`headwater.cli` so that a command an agent takes imports nothing but
the standard library and :mod:`headwater.agent.client`.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Console entry point."""
    from headwater.agent.client import forward

    code = forward(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from headwater.cli.app import main as run_here

    run_here()
