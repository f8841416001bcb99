"""Messages between the ``headwater`` command and the agent: a 4-byte length, then JSON.

A message may carry file descriptors (the caller's standard streams), passed with
``SCM_RIGHTS`` along its first bytes.
"""

from __future__ import annotations

import json
import os
import socket
import struct
from typing import Any

HEADER = struct.Struct("!I")
MAX_MESSAGE = 16 * 1024 * 1024
MAX_FDS = 3


class Closed(Exception):
    """The other side closed the connection before a whole message arrived."""


def send(sock: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    """Send one message, with ``fds`` alongside when given."""
    body = json.dumps(message, separators=(",", ":")).encode()
    data = HEADER.pack(len(body)) + body
    if fds:
        sent = socket.send_fds(sock, [data], fds)
        data = data[sent:]
    if data:  # sending nothing to a peer that has answered and closed would fail (EPIPE)
        sock.sendall(data)


def receive(sock: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """Receive one message and the descriptors sent with it (the caller closes them)."""
    data, fds, _, _ = socket.recv_fds(sock, HEADER.size, MAX_FDS)
    if not data:
        _close(fds)
        raise Closed("the connection closed")
    try:
        data += _exactly(sock, HEADER.size - len(data))
        (size,) = HEADER.unpack(data)
        if size > MAX_MESSAGE:
            raise ValueError(f"a message of {size:,} bytes is larger than {MAX_MESSAGE:,}")
        message = json.loads(_exactly(sock, size))
        if not isinstance(message, dict):
            raise ValueError("a message must be a JSON object")
    except BaseException:
        _close(fds)
        raise
    return message, fds


def _exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(min(size - len(data), 1 << 20))
        if not chunk:
            raise Closed("the connection closed in the middle of a message")
        data += chunk
    return data


def _close(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)
