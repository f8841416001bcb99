"""Private NATS and Redis servers, each on a free port with its own data folder, that a test
may kill with SIGKILL and start again on the same data (the shared servers on 4222 and 6379
are never restarted)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def require_binary(path: str, package: str) -> None:
    """Skip (or fail under HEADWATER_REQUIRE_SERVICES=1) when the server binary is missing."""
    if Path(path).exists():
        return
    reason = f"{path} is missing (Debian package {package})"
    if os.environ.get("HEADWATER_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}; HEADWATER_REQUIRE_SERVICES=1 requires it", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateNats:
    """A nats-server with JetStream on a free port and its own store folder."""

    def __init__(self, store: Path) -> None:
        self.port = _free_port()
        self.store = store
        self.url = f"nats://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"the private nats-server on port {self.port} did not start")

    def kill(self) -> None:
        """SIGKILL: the server gets no chance to shut down cleanly."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)
            self.process = None


class PrivateRedis:
    """``redis-server`` on its own port and folder, every write fsynced to its append-only
    file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--logfile",
                str(self.folder / "server.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + 30
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.exceptions.ConnectionError:
                    if time.monotonic() > deadline or self.process.poll() is not None:
                        raise
                time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last save; only what reached the append-only file stays."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
