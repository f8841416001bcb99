"""Redis as a document store: SCAN for keys, pipelined TYPE/HGETALL/GET for their values."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import redis
import redis.exceptions

from headwater.connect.documents import Document, ReadAs
from headwater.errors import SourceError, SourceUnreachable


class RedisStore:
    """One Redis database, read ``count`` keys per SCAN call and per pipeline."""

    def __init__(self, url: str, count: int = 1000, timeout: float = 10.0) -> None:
        self.client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout
        )
        kwargs = self.client.connection_pool.connection_kwargs
        self._address = f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
        self.count = count

    @property
    def address(self) -> str:
        return self._address

    def check(self) -> None:
        self._call(self.client.ping)

    def close(self) -> None:
        self.client.close()

    def scan(self, pattern: str, read_as: ReadAs) -> Iterator[list[Document]]:
        batch: list[bytes] = []
        # SCAN may return a key twice while the keyspace is rehashed; a row per key
        seen: set[bytes] = set()
        cursor = 0
        while True:
            cursor, keys = self._call(
                lambda c=cursor: self.client.scan(c, match=pattern, count=self.count)
            )
            for key in keys:
                if key not in seen:
                    seen.add(key)
                    batch.append(key)
            if len(batch) >= self.count or (cursor == 0 and batch):
                yield self._values(batch, read_as)
                batch = []
            if cursor == 0:
                return

    def _values(self, keys: list[bytes], read_as: ReadAs) -> list[Document]:
        kinds = [read_as] * len(keys)
        if read_as == "auto":
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.type(key)
            kinds = [k.decode() for k in self._call(pipe.execute)]
        pipe = self.client.pipeline(transaction=False)
        for key, kind in zip(keys, kinds, strict=True):
            if kind == "hash":
                pipe.hgetall(key)
            elif kind == "string":
                pipe.get(key)
        replies = iter(self._call(lambda: pipe.execute(raise_on_error=False)))
        out = []
        for key, kind in zip(keys, kinds, strict=True):
            name = key.decode("utf-8", "backslashreplace")
            if kind not in ("hash", "string"):
                if kind != "none":  # "none": deleted since the scan
                    out.append(Document(name, kind))
                continue
            document = _document(name, kind, next(replies))
            if document is not None:
                out.append(document)
        return out

    def _call(self, function: Any) -> Any:
        try:
            return function()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise SourceUnreachable(
                f"cannot connect to Redis at {self.address} ({exc})",
                dialect="redis",
                address=self.address,
                hint="is the server running? check the connection's `url`",
            ) from exc
        except redis.exceptions.RedisError as exc:
            raise SourceError(f"Redis at {self.address} failed: {exc}") from exc


def _document(key: str, kind: str, reply: Any) -> Document | None:
    """A key's value from its reply; None when the key was deleted since the scan."""
    if isinstance(reply, Exception):  # WRONGTYPE: the key is not what the table reads
        return Document(key, kind, error=str(reply))
    if reply is None or reply == {}:
        return None
    try:
        if kind == "hash":
            return Document(key, kind, {f.decode(): v.decode() for f, v in reply.items()})
        return Document(key, kind, reply.decode())
    except UnicodeDecodeError as exc:
        return Document(key, kind, error=f"value is not UTF-8 text ({exc.reason})")
