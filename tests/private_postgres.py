"""A private PostgreSQL server with ``wal_level = logical`` in a temporary folder, on a free
port, that a test may stop, kill with SIGKILL and start again on the same data (the shared
server on 5432 is never reconfigured or restarted).

PostgreSQL refuses to run as root, and tests run as root: the server runs as the ``postgres``
OS user, in a folder of its own under the system's temporary directory (pytest's folders
are private to root). ``fsync`` is off: a SIGKILL of the server's processes loses nothing the
operating system has been handed, only a crash of the machine would.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

BIN = Path(os.environ.get("HEADWATER_TEST_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
OS_USER = "postgres"


def require_binaries() -> None:
    """Skip (or fail under HEADWATER_REQUIRE_SERVICES=1) without PostgreSQL's server binaries
    or the ``postgres`` OS user to run them."""
    missing = [name for name in ("initdb", "postgres") if not (BIN / name).exists()]
    reason = ""
    if missing:
        reason = f"PostgreSQL's server binaries are not in {BIN}: {', '.join(missing)}"
    else:
        try:
            pwd.getpwnam(OS_USER)
        except KeyError:
            reason = f"no `{OS_USER}` OS user to run a private PostgreSQL server as"
    if not reason:
        return
    if os.environ.get("HEADWATER_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}; HEADWATER_REQUIRE_SERVICES=1 requires them", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivatePostgres:
    """``postgres`` on its own data folder, listening on 127.0.0.1:``port`` with trust
    authentication, ``wal_level = logical`` and room for replication slots."""

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="hw-postgres-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = _free_port()
        self.settings = {
            "wal_level": "logical",
            "max_replication_slots": "10",
            "max_wal_senders": "10",
            "fsync": "off",
            "full_page_writes": "off",
            "shared_buffers": "32MB",
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.folder),
            **(settings or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None
        user = pwd.getpwnam(OS_USER)
        self._ids = (user.pw_uid, user.pw_gid)
        os.chown(self.folder, *self._ids)
        subprocess.run(
            [str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-N"],
            check=True,
            capture_output=True,
            timeout=120,
            user=self._ids[0],
            group=self._ids[1],
            extra_groups=[],
            cwd=self.folder,
            env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8"},
        )

    def url(self, database: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql+psycopg://{user}@127.0.0.1:{self.port}/{database}"

    def conninfo(self, database: str = "postgres", user: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} dbname={database} user={user}"

    def start(self) -> None:
        options = [f"--{name.replace('_', '-')}={value}" for name, value in self.settings.items()]
        with self.log.open("ab") as log:
            os.chown(self.log, *self._ids)
            self.process = subprocess.Popen(
                [str(BIN / "postgres"), "-D", str(self.data), "-p", str(self.port), *options],
                stdout=log,
                stderr=log,
                user=self._ids[0],
                group=self._ids[1],
                extra_groups=[],
                cwd=self.folder,
                # its own process group: kill() reaches the server's backends too, so the data
                # folder is free for the next start
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while not self._ready():
            if self.process.poll() is not None:
                raise RuntimeError(self.log.read_text(errors="replace")[-2000:])
            if time.monotonic() > deadline:
                raise RuntimeError(f"the private PostgreSQL on port {self.port} did not start")
            time.sleep(0.05)

    def _ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.conninfo(), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
                return True
        except psycopg.OperationalError:
            return False

    def stop(self) -> None:
        """A fast shutdown (SIGINT): clients are disconnected, a checkpoint is written."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None

    def kill(self) -> None:
        """SIGKILL to the server and every backend: no checkpoint, recovery at the next start."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):  # it died already
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)
