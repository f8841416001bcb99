"""The embedded durable log: each shard of a stream is a folder of segment files under
``.headwater/streams/<stream>/<shard>/``, records appended with a CRC, zero infrastructure.

Why our own: no maintained Python library offers an embedded, multi-process, append-only log
with sequence numbers and retention; SQLite would serialise every put through one database
lock and cost a transaction per batch. The format is small and private (nothing else reads it).

A record is a 28-byte header — CRC32 of everything after it, data length, sequence number,
arrival time (ms), key length, id length — then the key, the id and the data. A segment file is
named by the sequence number of its first record. Writers of a shard (threads and processes)
take its lock file exclusively; readers take it shared, so a reader never sees half a put. A
put returns after ``write(2)``: the bytes are in the operating system's cache, so they survive
the process being killed at any moment (``fsync: true`` in the stream's settings also survives
a power cut, at the disk's speed). A writer killed in the middle of its ``write`` leaves a
torn record at the end of the segment; the next writer finds it (bad length or CRC at the
tail) and cuts it off before appending, so it never reaches a reader. The work of a put for
each record is its shard (an MD5 of its key), its frame and the frame's CRC; each shard's part
of a put goes out in one ``write``.

Readers read a segment a buffer at a time into one buffer per thread, reused. ``read`` makes a
:class:`~headwater.streams.records.Record` of each record; ``read_block``, what a delivery
uses, keeps the frames as they are with two offsets per record (a
:class:`~headwater.streams.records.FrameBlock`): measured, making the records cost a delivery
more than parsing, writing and committing them.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
import struct
import threading
import time
import zlib
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence, Sized
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from headwater.errors import StreamError, StreamExists, StreamNotFound
from headwater.streams.log import Retention, ShardState, StreamInfo
from headwater.streams.records import (
    FRAME,
    Batch,
    Entry,
    FrameBlock,
    Position,
    Put,
    Record,
    Start,
)
from headwater.streams.sharding import Router, Shard, even_shards
from headwater.streams.validate import check_entries, check_name, parse_sequence

HEADER = FRAME  # crc, data length, sequence, arrived ms, key length, id length
_CRC = struct.Struct(HEADER.format[:2])  # a header is the CRC, then
_BODY = struct.Struct(HEADER.format[0] + HEADER.format[2:])  # the rest of it, which the CRC covers
SEGMENT_BYTES = 32 << 20  # a segment is closed and a new one begun past this size
READ_BYTES = 4 << 20  # read at most this much of a segment at once
IDS_KEPT = 200_000  # de-duplication ids remembered per shard (the newest)
POLL = 0.01  # seconds between looks at a shard a reader waits on
RETENTION_EVERY = 5.0  # seconds between a writer's looks at old segments
MANIFEST = "stream.json"

_Rows = TypeVar("_Rows", bound=Sized)  # what one read of a shard gathered
_UNSET = Put()  # a put's result before its record is appended


@dataclass
class _Tail:
    """What a writer knows of a shard's last segment: where valid records end."""

    segment: int  # first sequence of the last segment
    offset: int  # bytes of valid records in it
    next: int  # sequence of the next record
    last_ms: int  # arrival of the newest record (0: none)
    ids: OrderedDict[str, int] = field(default_factory=OrderedDict)


class _ShardFiles:
    """One shard's folder: its segments, its lock and the cached tail (see module docstring)."""

    def __init__(self, folder: Path, fsync: bool) -> None:
        self.folder = folder
        self.fsync = fsync
        self.lock = threading.Lock()
        self._lock_fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        self.tail: _Tail | None = None
        self.checked_retention = 0.0
        # (segment, sequence) → offset: where sequential readers left off
        self._offsets: OrderedDict[tuple[int, int], int] = OrderedDict()

    def close(self) -> None:
        os.close(self._lock_fd)

    @contextmanager
    def locked(self, exclusive: bool) -> Iterator[None]:
        with self.lock:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.folder.glob("*.log"))

    def path(self, segment: int) -> Path:
        return self.folder / f"{segment:020d}.log"

    # -- writing (under the exclusive lock) ---------------------------------------------

    def refresh_tail(self) -> _Tail:
        """The valid end of the last segment, cutting off a torn record a dead writer left."""
        segments = self.segments()
        if not segments:
            self.path(0).touch()
            segments = [0]
        last = segments[-1]
        tail = self.tail
        if tail is None or tail.segment != last:
            tail = _Tail(
                segment=last,
                offset=0,
                next=last,
                last_ms=0,
                ids=tail.ids if tail else OrderedDict(),
            )
        path = self.path(last)
        size = path.stat().st_size
        if size != tail.offset:
            _advance(tail, path)
            if tail.offset < size:
                os.truncate(path, tail.offset)  # a torn record of a killed writer
        self.tail = tail
        return tail

    def append(
        self, entries: Sequence[Entry], indexes: list[int], now_ms: int, segment_bytes: int
    ) -> tuple[list[int], list[int]]:
        """Append ``entries[i]`` for each ``i`` of ``indexes``, in that order; returns the
        sequence of each, and the places in ``indexes`` of those dropped as duplicates (their
        sequence is the first put's)."""
        tail = self.refresh_tail()
        if tail.offset >= segment_bytes:
            self.path(tail.next).touch()
            tail = self.refresh_tail()
        sequences: list[int] = []
        duplicates: list[int] = []
        parts: list[bytes] = []
        fresh: dict[str, int] = {}  # ids of this put: remembered once it is written
        known = tail.ids
        seq = tail.next
        pack, pack_crc, crc32 = _BODY.pack, _CRC.pack, zlib.crc32
        numbered, framed = sequences.append, parts.extend
        for index in indexes:
            entry = entries[index]
            rid = entry.id
            if rid is None:
                ident = b""
            elif rid in fresh or rid in known:
                duplicates.append(len(sequences))
                numbered(fresh[rid] if rid in fresh else known[rid])
                continue
            else:
                fresh[rid] = seq
                ident = rid.encode()
            key, data = entry.partition_key.encode(), entry.data
            # one frame: the CRC of the rest, then the rest (the header, key, id and data)
            rest = pack(len(data), seq, now_ms, len(key), len(ident)) + key + ident + data
            framed((pack_crc(crc32(rest)), rest))
            numbered(seq)
            seq += 1
        if seq != tail.next:
            blob = b"".join(parts)
            path = self.path(tail.segment)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            try:
                written = os.write(fd, blob)
                while written < len(blob):
                    written += os.write(fd, blob[written:])
                if self.fsync:
                    os.fsync(fd)
            except OSError as exc:
                # all of this shard's part of the put, or none of it: a retry adds it once
                os.ftruncate(fd, tail.offset)
                raise StreamError(
                    f"cannot append to {path}: {exc.strerror or exc}",
                    stream=self.folder.parent.name,
                    hint="free space on that disk (or move the project), then put again: "
                    "nothing of this put was kept in that shard",
                ) from exc
            finally:
                os.close(fd)
            tail.offset += len(blob)
            tail.next, tail.last_ms = seq, now_ms
            for rid, number in fresh.items():
                _remember(known, rid, number)
        return sequences, duplicates

    def apply_retention(self, retention: Retention, now_ms: int) -> None:
        """Drop the oldest segments past the stream's retention (never the one being written).

        A segment's newest record arrived when the file was last written: its mtime."""
        segments = self.segments()
        cutoff = now_ms / 1000 - retention.hours * 3600
        stats = {s: self.path(s).stat() for s in segments}
        total = sum(st.st_size for st in stats.values())
        for segment in segments[:-1]:
            too_old = stats[segment].st_mtime < cutoff
            too_big = retention.bytes is not None and total > retention.bytes
            if not (too_old or too_big):
                break
            self.path(segment).unlink(missing_ok=True)
            total -= stats[segment].st_size

    # -- reading (under the shared lock) ------------------------------------------------

    def read(self, start: int, limit: int) -> tuple[list[tuple[int, int, str, bytes]], int]:
        """Up to ``limit`` records from sequence ``start`` (the first kept one if it is gone):
        (sequence, arrived ms, key, data) each, and the sequence to read next."""
        out: list[tuple[int, int, str, bytes]] = []

        def take(
            data: memoryview, expected: int, start: int, room: int
        ) -> tuple[int, int, int, int]:
            used, taken, last = 0, 0, -1
            for seq, arrived, key, _rid, payload, end in _frames(data, expected, strict=True):
                used, expected = end, seq + 1
                if seq >= start:
                    out.append((seq, arrived, key, payload))
                    taken, last = taken + 1, seq
                    if taken == room:
                        break
            return used, expected, taken, last

        following = self._scan(start, limit, take)
        return out, following

    def read_block(self, start: int, limit: int) -> tuple[_Gathered, int]:
        """As :meth:`read`, gathered batch-shaped (data and keys in buffers, numbers in
        arrays): the frames are walked once, no object made per record but a view of its
        data and key (see :class:`~headwater.streams.records.FrameBlock`)."""
        got = _Gathered()
        following = self._scan(start, limit, got.take)
        return got, following

    def _scan(self, start: int, limit: int, take: _Take) -> int:
        """Feed ``take`` the bytes of the segments from sequence ``start`` (the first kept
        one if it is gone) until it took ``limit`` records; returns the sequence to read next.
        A reader's place in a segment is remembered, so the next read from there seeks to it."""
        segments = self.segments()
        if not segments:
            return start
        start = max(start, segments[0])
        index = max(0, _floor(segments, start))
        count = 0
        while index < len(segments) and count < limit:
            segment = segments[index]
            offset = self._offsets.pop((segment, start), 0)
            seq_at_offset = start if offset else segment
            with open(self.path(segment), "rb") as f:
                while count < limit:
                    f.seek(offset)
                    data = _read_into(f)
                    if not data:
                        break
                    used, seq_at_offset, taken, last = take(
                        data, seq_at_offset, start, limit - count
                    )
                    if taken:
                        count, start = count + taken, last + 1
                    if used == 0:
                        if len(data) == READ_BYTES:
                            raise StreamError(f"a record in {self.path(segment)} is over 4 MiB")
                        break
                    offset += used
            if count < limit and index + 1 < len(segments):
                index += 1
                start = max(start, segments[index])
                continue
            self._offsets[(segment, start)] = offset
            while len(self._offsets) > 64:
                self._offsets.popitem(last=False)
            break
        return start

    def bounds(self) -> tuple[int, int, int]:
        """(first sequence kept, next sequence, arrival of the newest record in ms)."""
        segments = self.segments()
        if not segments:
            return 0, 0, 0
        tail = self.tail
        if (
            tail is None
            or tail.segment != segments[-1]
            or self.path(segments[-1]).stat().st_size != tail.offset
        ):
            tail = self.refresh_tail_readonly(segments[-1])
        return segments[0], tail.next, tail.last_ms

    def refresh_tail_readonly(self, last: int) -> _Tail:
        tail = self.tail
        if tail is None or tail.segment != last:
            tail = _Tail(segment=last, offset=0, next=last, last_ms=0)
        _advance(tail, self.path(last))
        self.tail = tail
        return tail

    def first_at(self, timestamp_ms: int) -> int:
        """The sequence of the first record that arrived at or after ``timestamp_ms``."""
        for segment in self.segments():
            if self.path(segment).stat().st_mtime * 1000 < timestamp_ms - 1000:
                continue  # written for the last time before then (a second of clock slack)
            with open(self.path(segment), "rb") as f:
                data = f.read()
            for seq, arrived, *_ in _frames(data, segment, strict=False):
                if arrived >= timestamp_ms:
                    return seq
        return self.bounds()[1]


# feeds a reader's collector the bytes read from a segment: (bytes, sequence expected first,
# sequence to take from, records still wanted) → (bytes used, sequence expected next,
# records taken, last sequence taken)
_Take = Callable[[memoryview, int, int, int], tuple[int, int, int, int]]


class _Gathered:
    """Records of a batch-shaped read, gathered as they are walked (see :meth:`take`)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.starts: list[int] = []
        self.bodies: list[int] = []
        self.size = 0  # bytes of the chunks
        self.data_bytes = 0

    def __len__(self) -> int:
        return len(self.starts)

    def take(
        self, data: memoryview, expected: int, start: int, room: int
    ) -> tuple[int, int, int, int]:
        """The walk of :func:`_frames` (same checks, same stops) keeping the frames' bytes
        whole and two numbers per record: the one per-record Python of a delivery from the
        embedded log (a header to unpack, a checksum to check)."""
        view = memoryview(data)
        offset, size, head = 0, len(data), HEADER.size
        unpack, crc32 = HEADER.unpack_from, zlib.crc32
        starts, bodies = self.starts, self.bodies
        base = self.size  # where this chunk begins among the chunks
        first = -1
        taken, last, payload = 0, -1, 0
        while offset + head <= size:
            crc, length, seq, _arrived, klen, ilen = unpack(view, offset)
            end = offset + head + klen + ilen + length
            if end > size:
                break
            if crc32(view[offset + 4 : end]) != crc or seq < expected:
                if end < size:
                    raise _damaged(offset)
                break
            if seq >= start:
                if first < 0:
                    first = offset
                    base -= first
                starts.append(base + offset)
                bodies.append(base + end - length)
                payload += length
                taken, last = taken + 1, seq
            expected, offset = seq + 1, end
            if taken == room:
                break
        if taken:
            self.chunks.append(bytes(data[first:offset]))
            self.size += offset - first
            self.data_bytes += payload
        return offset, expected, taken, last

    def block(self, shard: str, following: int, behind_ms: int) -> FrameBlock:
        return FrameBlock(
            shard=shard,
            frames=self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks),
            starts=array("q", self.starts),
            bodies=array("q", self.bodies),
            data_bytes=self.data_bytes,
            next=Position.at(str(following)),
            behind_ms=behind_ms,
        )


def _damaged(offset: int) -> StreamError:
    return StreamError(
        f"a record at byte {offset} of a segment is damaged (bad checksum)",
        hint="the stream's files were changed by something else; delete and "
        "re-create the stream, or restore its folder",
    )


_reading = threading.local()


def _read_into(f: io.BufferedReader) -> memoryview:
    """Up to ``READ_BYTES`` from ``f`` into this thread's read buffer, reused from read to read:
    a reader never allocates (and frees) megabytes per read, which would leave a long-running
    reader's heap fragmented and its memory growing (what is kept is copied out)."""
    buffer = getattr(_reading, "buffer", None)
    if buffer is None:
        buffer = _reading.buffer = memoryview(bytearray(READ_BYTES))
    return buffer[: f.readinto(buffer)]


def _advance(tail: _Tail, path: Path) -> None:
    """Move ``tail`` past the whole, valid records after it in segment ``path`` (remembering
    their ids), a buffer at a time; it stops before a torn or damaged end."""
    with open(path, "rb") as f:
        while True:
            f.seek(tail.offset)
            data = _read_into(f)
            used = 0
            for seq, arrived, _key, rid, _data, end in _frames(data, tail.next, strict=False):
                if rid:
                    _remember(tail.ids, rid, seq)
                tail.next, tail.last_ms, used = seq + 1, arrived, end
            if not used:
                return
            tail.offset += used


def _remember(ids: OrderedDict[str, int], rid: str, seq: int) -> None:
    ids[rid] = seq
    if len(ids) > IDS_KEPT:
        ids.popitem(last=False)


def _floor(values: list[int], target: int) -> int:
    lo, hi = 0, len(values)
    while lo < hi:
        mid = (lo + hi) // 2
        if values[mid] <= target:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1


def _frames(
    data: bytes | memoryview, expected: int, *, strict: bool
) -> Iterator[tuple[int, int, str, str, bytes, int]]:
    """(sequence, arrived ms, key, id, data, end offset) of each whole, valid record in
    ``data``. Stops at an incomplete record; a bad CRC stops too, and raises when ``strict``
    and more records follow it (damage inside a segment, not a torn end)."""
    view = memoryview(data)
    offset, size, head = 0, len(data), HEADER.size
    unpack = HEADER.unpack_from
    while offset + head <= size:
        crc, length, seq, arrived, klen, ilen = unpack(view, offset)
        end = offset + head + klen + ilen + length
        if end > size:
            return
        if zlib.crc32(view[offset + 4 : end]) != crc or seq < expected:
            if strict and end < size:
                raise _damaged(offset)
            return
        key_end = offset + head + klen
        id_end = key_end + ilen
        yield (
            seq,
            arrived,
            bytes(view[offset + head : key_end]).decode(),
            bytes(view[key_end:id_end]).decode(),
            bytes(view[id_end:end]),
            end,
        )
        expected = seq + 1
        offset = end


class EmbeddedLog:
    """Streams as folders under ``root`` (see the module docstring)."""

    kind = "embedded"

    def __init__(
        self,
        root: Path,
        *,
        fsync: bool = False,
        fsync_streams: frozenset[str] = frozenset(),
        segment_bytes: int = SEGMENT_BYTES,
    ):
        self.root = root
        self.fsync = fsync  # every stream; or only those in ``fsync_streams``
        self.fsync_streams = fsync_streams
        self.segment_bytes = segment_bytes
        self._shards: dict[tuple[str, str], _ShardFiles] = {}
        self._manifests: dict[str, tuple[float, dict[str, object], Router]] = {}
        self._lock = threading.Lock()

    # -- streams ------------------------------------------------------------------------

    def create(self, name: str, shards: int, retention: Retention) -> None:
        check_name(name)
        folder = self.root / name
        if (folder / MANIFEST).exists():
            raise StreamExists(f"stream `{name}` exists already", stream=name)
        layout = even_shards(shards)
        folder.mkdir(parents=True, exist_ok=True)
        for shard in layout:
            (folder / shard.id).mkdir(exist_ok=True)
        manifest = {
            "shards": [[s.id, str(s.start_hash), str(s.end_hash)] for s in layout],
            "retention_hours": retention.hours,
            "retention_bytes": retention.bytes,
            "created_ms": int(time.time() * 1000),
        }
        tmp = folder / f".{MANIFEST}.{os.getpid()}"
        tmp.write_text(json.dumps(manifest))
        try:
            os.link(tmp, folder / MANIFEST)  # fails if another creator won
        except FileExistsError:
            raise StreamExists(f"stream `{name}` exists already", stream=name) from None
        finally:
            tmp.unlink(missing_ok=True)

    def delete(self, name: str) -> None:
        self._manifest(name)
        with self._lock:
            for key in [k for k in self._shards if k[0] == name]:
                self._shards.pop(key).close()
            self._manifests.pop(name, None)
        shutil.rmtree(self.root / name)

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.parent.name for p in self.root.glob(f"*/{MANIFEST}"))

    def describe(self, name: str) -> StreamInfo:
        manifest = self._manifest(name)
        states = []
        size = 0
        for shard in self._layout(manifest):
            files = self._files(name, shard.id)
            with files.locked(exclusive=False):
                first, following, _ = files.bounds()
                size += sum(files.path(s).stat().st_size for s in files.segments())
            states.append(
                ShardState(
                    shard,
                    first=str(first) if following > first else None,
                    last=str(following - 1) if following > first else None,
                    records=following - first,
                )
            )
        return StreamInfo(
            name=name,
            backend=self.kind,
            shards=tuple(states),
            retention=_retention(manifest),
            created_ms=int(manifest["created_ms"]),  # type: ignore[call-overload]
            bytes=size,
        )

    # -- records ------------------------------------------------------------------------

    def put(self, name: str, entries: Sequence[Entry]) -> list[Put]:
        manifest, router = self._router(name)
        check_entries(entries, name)
        results: list[Put] = [_UNSET] * len(entries)
        now_ms = int(time.time() * 1000)
        for shard, indexes in router.split(entries):
            files = self._files(name, shard.id)
            with files.locked(exclusive=True):
                sequences, duplicates = files.append(entries, indexes, now_ms, self.segment_bytes)
                if time.monotonic() - files.checked_retention > RETENTION_EVERY:
                    files.checked_retention = time.monotonic()
                    files.apply_retention(_retention(manifest), now_ms)
            for index, seq in zip(indexes, sequences, strict=True):
                results[index] = Put(shard.id, str(seq))
            for at in duplicates:
                results[indexes[at]] = Put(shard.id, str(sequences[at]), duplicate=True)
        return results

    def read(
        self, name: str, shard: str, position: Position, limit: int, wait: float = 0.0
    ) -> Batch:
        files = self._shard_files(name, shard)
        rows, following, tip, tip_ms = self._wait_for(files, position, limit, wait, files.read)
        records = tuple(
            Record(data=data, partition_key=key, sequence=str(seq), arrived_ms=arrived, shard=shard)
            for seq, arrived, key, data in rows
        )
        behind = 0 if following >= tip or not records else max(0, tip_ms - records[-1].arrived_ms)
        return Batch(records=records, next=Position.at(str(following)), behind_ms=behind)

    def read_block(
        self, name: str, shard: str, position: Position, limit: int, wait: float = 0.0
    ) -> FrameBlock:
        """As :meth:`read`, batch-shaped: the records' data in one buffer and the rest in
        arrays (see :class:`~headwater.streams.records.Block`); what a delivery reads."""
        files = self._shard_files(name, shard)
        got, following, tip, tip_ms = self._wait_for(files, position, limit, wait, files.read_block)
        block = got.block(shard, following, 0)
        if following >= tip or not len(block):
            return block
        return replace(block, behind_ms=max(0, tip_ms - block.last_arrived_ms))

    def _shard_files(self, name: str, shard: str) -> _ShardFiles:
        manifest = self._manifest(name)
        if shard not in {s.id for s in self._layout(manifest)}:
            raise StreamNotFound(
                f"stream `{name}` has no shard `{shard}`",
                stream=name,
                hint="`headwater stream describe` lists its shards",
            )
        return self._files(name, shard)

    def _wait_for(
        self,
        files: _ShardFiles,
        position: Position,
        limit: int,
        wait: float,
        reader: Callable[[int, int], tuple[_Rows, int]],
    ) -> tuple[_Rows, int, int, int]:
        """What ``reader`` read from ``position``, the sequence to read next, and the shard's
        next sequence and newest arrival, waiting up to ``wait`` seconds for a first record."""
        deadline = time.monotonic() + wait
        start = self._start(files, position)
        while True:
            with files.locked(exclusive=False):
                rows, following = reader(start, limit)
                _, tip, tip_ms = files.bounds()
            if len(rows) or time.monotonic() >= deadline:
                return rows, following, tip, tip_ms
            time.sleep(POLL)

    def close(self) -> None:
        with self._lock:
            for files in self._shards.values():
                files.close()
            self._shards.clear()

    # -- internals ----------------------------------------------------------------------

    def _start(self, files: _ShardFiles, position: Position) -> int:
        with files.locked(exclusive=False):
            first, following, _ = files.bounds()
            if position.start is Start.TRIM_HORIZON:
                return first
            if position.start is Start.LATEST:
                return following
            if position.start is Start.AT_TIMESTAMP:
                return files.first_at(position.timestamp_ms or 0)
        seq = parse_sequence(position.sequence, "the embedded log", files.folder.parent.name)
        return seq + 1 if position.start is Start.AFTER_SEQUENCE_NUMBER else seq

    def _manifest(self, name: str) -> dict[str, object]:
        return self._router(name)[0]

    def _router(self, name: str) -> tuple[dict[str, object], Router]:
        """The stream's manifest and the router of its shards, read again when it changed."""
        path = self.root / name / MANIFEST
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            raise StreamNotFound(
                f"no stream `{name}` in {self.root}",
                stream=name,
                hint=f"create it with `headwater stream create {name}`; "
                "`headwater stream list` shows the streams there are",
            ) from None
        cached = self._manifests.get(name)
        if cached is None or cached[0] != mtime:
            try:
                manifest = json.loads(path.read_text())
                router = Router(self._layout(manifest))
            except (ValueError, KeyError, TypeError) as exc:
                raise StreamError(
                    f"{path} is damaged ({exc}): the stream's shards cannot be read",
                    stream=name,
                    hint="restore the file from a copy, or delete the stream's folder and "
                    f"create it again with `headwater stream create {name}`",
                ) from None
            cached = (mtime, manifest, router)
            self._manifests[name] = cached
        return cached[1], cached[2]

    @staticmethod
    def _layout(manifest: dict[str, object]) -> tuple[Shard, ...]:
        return tuple(
            Shard(sid, int(start), int(end))
            for sid, start, end in manifest["shards"]  # type: ignore[attr-defined]
        )

    def _files(self, name: str, shard: str) -> _ShardFiles:
        key = (name, shard)
        with self._lock:
            files = self._shards.get(key)
            if files is None:
                folder = self.root / name / shard
                if not folder.is_dir():
                    raise StreamNotFound(f"stream `{name}` was deleted", stream=name)
                files = self._shards[key] = _ShardFiles(
                    folder, self.fsync or name in self.fsync_streams
                )
            return files


def _retention(manifest: dict[str, object]) -> Retention:
    hours = manifest.get("retention_hours", 24.0)
    size = manifest.get("retention_bytes")
    return Retention(hours=float(hours), bytes=None if size is None else int(size))  # type: ignore[arg-type, call-overload]
