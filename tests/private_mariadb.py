"""A private MariaDB server in a temporary folder, on a free port, that a test may stop and
start again (the shared server on 3306 is never restarted), optionally with the binary log
that change data capture reads."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

INSTALL = "mariadb-install-db"
SERVER = shutil.which("mariadbd") or "/usr/sbin/mariadbd"


def require_binaries() -> None:
    """Skip (or fail under HEADWATER_REQUIRE_SERVICES=1) without MariaDB's server binaries."""
    missing = [b for b in (INSTALL, SERVER) if shutil.which(b) is None]
    if not missing:
        return
    reason = f"MariaDB's server binaries are not installed: {', '.join(missing)}"
    if os.environ.get("HEADWATER_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}; HEADWATER_REQUIRE_SERVICES=1 requires them", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: a row-based binary log as change data capture needs it (docs/cdc.md)
BINLOG_OPTIONS = (
    "--log-bin=mysql-bin",
    "--binlog-format=ROW",
    "--binlog-row-image=FULL",
    "--binlog-row-metadata=FULL",
    "--server-id=1",
)


class PrivateMariaDB:
    """``mariadbd`` on ``datadir``, listening on 127.0.0.1:``port``: root without a password,
    and without grant tables unless ``grants`` (then users and privileges are checked).

    ``binlog`` writes the row-based binary log (:data:`BINLOG_OPTIONS`); ``options`` are more
    server options.
    """

    def __init__(
        self,
        folder: Path,
        *,
        binlog: bool = False,
        grants: bool = False,
        options: Sequence[str] = (),
    ) -> None:
        self.options = [*(BINLOG_OPTIONS if binlog else ()), *options]
        if not grants:
            self.options.append("--skip-grant-tables")
        self.datadir = folder / "data"
        self.log = folder / "server.log"
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        subprocess.run(
            [
                INSTALL,
                "--no-defaults",
                f"--datadir={self.datadir}",
                "--user=root",
                "--skip-test-db",
                "--auth-root-authentication-method=normal",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    @property
    def url(self) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/shop"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    SERVER,
                    "--no-defaults",
                    f"--datadir={self.datadir}",
                    f"--port={self.port}",
                    "--bind-address=127.0.0.1",
                    f"--socket={self.datadir / 'mysqld.sock'}",
                    f"--pid-file={self.datadir / 'mysqld.pid'}",
                    "--user=root",
                    "--innodb-buffer-pool-size=32M",
                    "--innodb-log-file-size=16M",
                    *self.options,
                ],
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    if conn.recv(1):  # the server's greeting: it accepts clients
                        return
            except OSError:
                pass
            assert self.process.poll() is None, self.log.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "the private MariaDB did not start in 60 s"
            time.sleep(0.1)

    def stop(self) -> None:
        """Shut the server down (SIGTERM: it closes every connection), waiting for it."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
