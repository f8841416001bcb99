"""Where the agent listens: one Unix socket per user, interpreter and Headwater install.

A command may only be handed to an agent running the same Python and the same Headwater, so
the socket's name is a digest of both. The folder holding it belongs to the user and nobody
else may enter it.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

#: set to a socket path to choose where the agent listens (tests, several agents)
SOCKET_VARIABLE = "HEADWATER_AGENT_SOCKET"
#: set to ``off`` (or ``0``, ``no``, ``false``) to never hand commands to an agent
SWITCH_VARIABLE = "HEADWATER_AGENT"


def enabled() -> bool:
    """Whether commands may be handed to an agent (``HEADWATER_AGENT=off`` says no)."""
    return os.environ.get(SWITCH_VARIABLE, "").strip().lower() not in ("off", "0", "no", "false")


def socket_path() -> Path:
    """This interpreter's and install's agent socket."""
    chosen = os.environ.get(SOCKET_VARIABLE)
    if chosen:
        return Path(chosen)
    package = Path(__file__).resolve().parent.parent
    key = hashlib.sha256(f"{sys.prefix}\0{package}".encode()).hexdigest()[:12]
    return runtime_folder() / f"agent-{key}.sock"


def ours(path: str | Path) -> bool:
    """Whether the socket at ``path`` is this user's: a command's environment holds secrets,
    so it is only handed to an agent of the same user."""
    try:
        return os.lstat(path).st_uid == os.getuid()
    except OSError:
        return False


def runtime_folder() -> Path:
    """The user's private folder for agent sockets and logs."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if not base:
        import tempfile  # costs a few milliseconds: only when no runtime folder is set

        base = tempfile.gettempdir()
    return Path(base) / f"headwater-{os.getuid()}"


def private_folder(folder: Path) -> Path:
    """Create ``folder`` readable by its owner only, or refuse one someone else could use.
    (A socket path chosen with :data:`SOCKET_VARIABLE` is the chooser's business: only its
    folder's existence is ensured.)"""
    if os.environ.get(SOCKET_VARIABLE):
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stat = folder.stat()
    if stat.st_uid != os.getuid() or stat.st_mode & 0o077:
        from headwater.errors import AgentError

        raise AgentError(
            f"{folder} must belong to you and be closed to others to hold the agent's socket",
            hint=f"`chmod 700 {folder}` if it is yours, or choose another socket path with "
            f"{SOCKET_VARIABLE}",
        )
    return folder
