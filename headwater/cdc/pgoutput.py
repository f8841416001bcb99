"""Decoding the messages of PostgreSQL's built-in ``pgoutput`` plugin (logical replication
protocol version 1): Begin, Commit, Origin, Relation, Type, Insert, Update, Delete, Truncate
and Message.

Written here, not taken from a library: no maintained Python decoder of this format can be
installed for this project. ``pypgoutput`` (last release 0.0.3, 2022) is built on psycopg2
and its own replication loop; ``pgoutput-decoder`` (one release, 0.1.0) is a Rust extension
that opens its own tokio-postgres connection and needs Python 3.12; neither decodes bytes a
caller already holds, which is what polling a slot with SQL returns. The format is small,
fixed since PostgreSQL 10 and documented ("Logical Replication Message Formats" in the
PostgreSQL manual), so this module is a few functions over :mod:`struct`.

Column values stay as the bytes the server sent (the text output of each column's type);
:mod:`headwater.cdc.postgres_types` turns whole columns of them into Arrow arrays at once.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from headwater.errors import CdcError

#: microseconds from the Unix epoch to PostgreSQL's (2000-01-01), for commit timestamps
POSTGRES_EPOCH_US = 946_684_800_000_000

#: a column of a Relation message that is part of the replica identity (the key)
KEY_FLAG = 1

_INT16 = struct.Struct("!h")
_INT32 = struct.Struct("!i")
_UINT32 = struct.Struct("!I")
_BEGIN = struct.Struct("!QqI")
_COMMIT = struct.Struct("!BQQq")
_COLUMN_TAIL = struct.Struct("!Ii")


@dataclass(frozen=True, slots=True)
class Begin:
    #: where the transaction's commit record starts
    final_lsn: int
    #: microseconds since the Unix epoch
    commit_time_us: int
    xid: int


@dataclass(frozen=True, slots=True)
class Commit:
    commit_lsn: int
    #: where the transaction's commit record ends: the position to resume after
    end_lsn: int
    commit_time_us: int


@dataclass(frozen=True, slots=True)
class Origin:
    commit_lsn: int
    name: str


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type_oid: int
    #: the type's modifier (precision and scale of a numeric), -1 when none
    typmod: int
    key: bool


@dataclass(frozen=True, slots=True)
class Relation:
    relid: int
    namespace: str
    name: str
    #: the table's REPLICA IDENTITY: ``d`` default (primary key), ``f`` full, ``i`` an index,
    #: ``n`` nothing
    replica_identity: str
    columns: tuple[Column, ...]

    @property
    def table(self) -> str:
        return f"{self.namespace or 'pg_catalog'}.{self.name}"


@dataclass(frozen=True, slots=True)
class TypeInfo:
    oid: int
    namespace: str
    name: str


#: a tuple's values: the text the server sent, None for null, :data:`UNCHANGED` for an
#: unchanged TOASTed value it did not send
Values = list[bytes | None]


class _Unchanged(bytes):
    """The marker of a value the server did not send (an unchanged TOASTed column)."""


#: the one marker object; compare with ``is``
UNCHANGED: bytes = _Unchanged(b"")


@dataclass(frozen=True, slots=True)
class Insert:
    relid: int
    new: Values


@dataclass(frozen=True, slots=True)
class Update:
    relid: int
    #: the old row's key columns (``K``) or whole old row (``O``, REPLICA IDENTITY FULL);
    #: None when the server sent neither (the key did not change)
    old: Values | None
    new: Values


@dataclass(frozen=True, slots=True)
class Delete:
    relid: int
    old: Values


@dataclass(frozen=True, slots=True)
class Truncate:
    relids: tuple[int, ...]
    cascade: bool
    restart_identity: bool


@dataclass(frozen=True, slots=True)
class Message:
    """A message written with ``pg_logical_emit_message`` (sent when the ``messages``
    option is on)."""

    transactional: bool
    lsn: int
    prefix: str
    content: bytes


Decoded = (
    Begin | Commit | Origin | Relation | TypeInfo | Insert | Update | Delete | Truncate | Message
)


def decode(data: bytes) -> Decoded:
    """One pgoutput message."""
    kind = data[:1]
    try:
        decoder = _DECODERS[kind]
    except KeyError:
        raise CdcError(
            f"pgoutput sent a message of unknown kind {kind!r}",
            hint="the capture reads protocol version 1; report this with the server's version",
        ) from None
    return decoder(data)


def _string(data: bytes, pos: int) -> tuple[str, int]:
    end = data.index(0, pos)
    return data[pos:end].decode(), end + 1


def tuple_values(data: bytes, pos: int) -> tuple[Values, int]:
    """A TupleData at ``pos``: its values and the position after it."""
    (count,) = _INT16.unpack_from(data, pos)
    pos += 2
    values: Values = []
    append = values.append
    unpack = _INT32.unpack_from
    for _ in range(count):
        kind = data[pos]
        pos += 1
        if kind == 116 or kind == 98:  # 't' text, 'b' binary
            (length,) = unpack(data, pos)
            pos += 4
            append(data[pos : pos + length])
            pos += length
        elif kind == 110:  # 'n' null
            append(None)
        elif kind == 117:  # 'u' unchanged TOASTed value, not sent
            append(UNCHANGED)
        else:
            raise CdcError(f"pgoutput sent a tuple value of unknown kind {chr(kind)!r}")
    return values, pos


def _begin(data: bytes) -> Begin:
    final_lsn, timestamp, xid = _BEGIN.unpack_from(data, 1)
    return Begin(final_lsn, timestamp + POSTGRES_EPOCH_US, xid)


def _commit(data: bytes) -> Commit:
    _flags, commit_lsn, end_lsn, timestamp = _COMMIT.unpack_from(data, 1)
    return Commit(commit_lsn, end_lsn, timestamp + POSTGRES_EPOCH_US)


def _origin(data: bytes) -> Origin:
    (lsn,) = struct.unpack_from("!Q", data, 1)
    name, _ = _string(data, 9)
    return Origin(lsn, name)


def _relation(data: bytes) -> Relation:
    (relid,) = _UINT32.unpack_from(data, 1)
    namespace, pos = _string(data, 5)
    name, pos = _string(data, pos)
    identity = chr(data[pos])
    (count,) = _INT16.unpack_from(data, pos + 1)
    pos += 3
    columns = []
    for _ in range(count):
        flags = data[pos]
        column, pos = _string(data, pos + 1)
        type_oid, typmod = _COLUMN_TAIL.unpack_from(data, pos)
        pos += 8
        columns.append(Column(column, type_oid, typmod, bool(flags & KEY_FLAG)))
    return Relation(relid, namespace, name, identity, tuple(columns))


def _type(data: bytes) -> TypeInfo:
    (oid,) = _UINT32.unpack_from(data, 1)
    namespace, pos = _string(data, 5)
    name, _ = _string(data, pos)
    return TypeInfo(oid, namespace, name)


def _insert(data: bytes) -> Insert:
    (relid,) = _UINT32.unpack_from(data, 1)
    new, _ = tuple_values(data, 6)  # after the relid, the 'N' marker
    return Insert(relid, new)


def _update(data: bytes) -> Update:
    (relid,) = _UINT32.unpack_from(data, 1)
    old: Values | None = None
    pos = 5
    if data[pos] in (75, 79):  # 'K' old key, 'O' old row
        old, pos = tuple_values(data, pos + 1)
    new, _ = tuple_values(data, pos + 1)  # after the 'N' marker
    return Update(relid, old, new)


def _delete(data: bytes) -> Delete:
    (relid,) = _UINT32.unpack_from(data, 1)
    old, _ = tuple_values(data, 6)  # after the 'K' or 'O' marker
    return Delete(relid, old)


def _truncate(data: bytes) -> Truncate:
    (count,) = _UINT32.unpack_from(data, 1)
    options = data[5]
    relids = struct.unpack_from(f"!{count}I", data, 6)
    return Truncate(tuple(relids), bool(options & 1), bool(options & 2))


def _message(data: bytes) -> Message:
    flags = data[1]
    (lsn,) = struct.unpack_from("!Q", data, 2)
    prefix, pos = _string(data, 10)
    (length,) = _INT32.unpack_from(data, pos)
    return Message(bool(flags & 1), lsn, prefix, data[pos + 4 : pos + 4 + length])


_DECODERS: dict[bytes, Callable[[bytes], Decoded]] = {
    b"B": _begin,
    b"C": _commit,
    b"O": _origin,
    b"R": _relation,
    b"Y": _type,
    b"I": _insert,
    b"U": _update,
    b"D": _delete,
    b"T": _truncate,
    b"M": _message,
}


def lsn_text(lsn: int) -> str:
    """``0/16B3748``: an LSN as PostgreSQL writes it."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def lsn_value(text: str) -> int:
    """An LSN written as PostgreSQL writes it, as a number."""
    try:
        high, low = text.split("/")
        return (int(high, 16) << 32) | int(low, 16)
    except ValueError:
        raise CdcError(
            f"`{text}` is not a PostgreSQL position (an LSN such as 0/16B3748)",
            hint="pass a position a PostgreSQL capture returned",
        ) from None
