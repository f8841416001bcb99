"""``python -m headwater.agent``: the agent in this process (``headwater agent start`` runs it)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from headwater.agent.address import socket_path
from headwater.agent.server import Agent
from headwater.errors import HeadwaterError


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m headwater.agent", description=__doc__)
    parser.add_argument("--socket", type=Path, default=None, help="where to listen")
    parser.add_argument("--idle-timeout", type=float, default=None, help="seconds; default never")
    args = parser.parse_args()
    # a fresh `headwater` process has the scripts folder first on its path, not the folder
    # the agent was started in; and the agent should hold no folder open
    if sys.path and sys.path[0] in ("", os.getcwd()):
        sys.path.pop(0)
    os.chdir("/")
    try:
        child = Agent(args.socket or socket_path(), idle_timeout=args.idle_timeout).serve()
    except HeadwaterError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 1
    if child is not None:
        child.run()  # in a forked child: ends the process
    return 0


if __name__ == "__main__":
    sys.exit(main())
