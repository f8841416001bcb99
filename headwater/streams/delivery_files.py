"""A delivery into files under a prefix, on a local folder or an S3 bucket prefix.

Each flush writes, per shard, one file per resolved prefix, named from the delivery, the shard
and the first and last sequence of the shard's records in the flush
(``<delivery>-<shard>-<first>-<last>.jsonl.gz``); a file appears whole or not at all (a
temporary name renamed locally, one object put on S3). Before it writes them, the flush
notes each shard's range in a small marker under ``_headwater/deliveries/<delivery>/``; the
position then moves in the metadata store. A worker that takes a shard whose marker reaches
past the stored position replays exactly that range first, so the same files are written
again under the same names: a crash between the files and the position duplicates nothing.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from headwater.errors import StreamError
from headwater.project.deliveries import DeliveryConfig
from headwater.streams.delivery_errors import error_rows
from headwater.streams.delivery_parse import Failed, parse
from headwater.streams.delivery_prefix import resolve
from headwater.streams.delivery_table import Flushed
from headwater.streams.records import Record

if TYPE_CHECKING:
    from headwater.project import Project
    from headwater.state import Store

MARKERS = "_headwater/deliveries"


def open_folder(project: Project, url: str) -> tuple[pafs.FileSystem, str]:
    """The file system and root path of a files destination's url."""
    if url.startswith("s3://"):
        from headwater.connect.storage.s3 import S3Access

        return S3Access.resolve(project.config.lake.s3).filesystem(), url.removeprefix(
            "s3://"
        ).rstrip("/")
    if "://" in url and not url.startswith("file://"):
        raise StreamError(
            f"a delivery cannot write files to `{url}`",
            hint="give `files.url` a folder (relative to the project), a file:// or s3:// URL",
        )
    from pathlib import Path

    folder = Path(url.removeprefix("file://")).expanduser()
    folder = folder if folder.is_absolute() else project.root / folder
    return pafs.LocalFileSystem(), str(folder)


class FilesSink:
    """Flushes into files under ``config.files`` (see the module docstring)."""

    def __init__(
        self, project: Project, store: Store, name: str, consumer: str, config: DeliveryConfig
    ) -> None:
        assert config.files is not None and config.errors_prefix is not None
        self.store = store
        self.name = name
        self.consumer = consumer
        self.config = config
        self.files = config.files
        self.errors_prefix = config.errors_prefix
        self.fs, self.root = open_folder(project, config.files.url)
        self.local = isinstance(self.fs, pafs.LocalFileSystem)

    def positions(self) -> dict[str, str]:
        """The last sequence written of each shard (the metadata store holds it)."""
        return {
            c.shard: c.sequence for c in self.store.checkpoints(self.consumer, self.config.stream)
        }

    def pending(self, shard: str) -> tuple[str, str] | None:
        """The range of the last flush begun for ``shard`` (it may not have finished)."""
        marker = self._marker(shard)
        try:
            with self.fs.open_input_stream(marker, compression=None) as f:
                value = json.loads(f.read())
        except OSError as exc:
            if self.fs.get_file_info(marker).type == pafs.FileType.NotFound:
                return None  # no flush begun yet
            # a marker that cannot be read must not be taken for none: the range it holds
            # would be written again under other names
            raise StreamError(
                f"delivery `{self.name}` cannot read {marker}: {exc}",
                stream=self.config.stream,
                hint="check access to that place and run the delivery again",
            ) from exc
        return str(value["first"]), str(value["last"])

    def flush(self, buffered: Mapping[str, Sequence[Record]]) -> Flushed:
        out = Flushed()
        for shard, records in buffered.items():
            if records:
                marker = {"first": records[0].sequence, "last": records[-1].sequence}
                self._put(self._marker(shard), json.dumps(marker).encode())
        for shard, records in sorted(buffered.items()):
            if not records:
                continue
            span = f"{self.name}-{shard}-{records[0].sequence}-{records[-1].sequence}"
            rows, kept, failed = parse(records, None)
            if kept:
                prefixes = resolve(self.files.prefix, kept, rows)
                missing = pc.is_null(prefixes)
                if pc.any(missing).as_py():
                    mask = missing.to_pylist()
                    failed.extend(
                        Failed(
                            r,
                            "PartitionKeyMissing",
                            f"the record has no value for the prefix `{self.files.prefix}`",
                        )
                        for r, bad in zip(kept, mask, strict=True)
                        if bad
                    )
                    keep = pc.invert(missing)
                    kept = [r for r, bad in zip(kept, mask, strict=True) if not bad]
                    rows, prefixes = rows.filter(keep), prefixes.filter(keep)
                out.files += self._write_groups(span, kept, rows, prefixes)
                out.rows[shard] = len(kept)
            if failed:
                out.errors[shard] = len(failed)
                out.files += self._write_errors(span, failed)
        return out

    def _write_groups(
        self, span: str, kept: Sequence[Record], rows: pa.Table, prefixes: pa.Array
    ) -> int:
        written = 0
        for prefix in pc.unique(prefixes).to_pylist():
            where = pc.equal(prefixes, prefix)
            if self.files.format == "parquet":
                sink = io.BytesIO()
                pq.write_table(
                    rows.filter(where),
                    sink,
                    compression="gzip" if self.files.compression == "gzip" else "none",
                )
                body, suffix = sink.getvalue(), ".parquet"
            else:
                mask = where.to_pylist()
                lines = [_line(r.data) for r, m in zip(kept, mask, strict=True) if m]
                body, suffix = b"\n".join(lines) + b"\n", ".jsonl"
                if self.files.compression == "gzip":
                    body, suffix = gzip.compress(body, compresslevel=6, mtime=0), ".jsonl.gz"
            self._put(f"{self.root}/{prefix}{span}{suffix}", body)
            written += 1
        return written

    def _write_errors(self, span: str, failed: list[Failed]) -> int:
        records = [f.record for f in failed]
        prefixes = resolve(self.errors_prefix, records, None)
        table = error_rows(self.name, self.config.stream, failed)
        written = 0
        for prefix in pc.unique(prefixes).to_pylist():
            rows = table.filter(pc.equal(prefixes, prefix)).to_pylist()
            body = b"".join(
                json.dumps(row, default=_iso, ensure_ascii=False).encode() + b"\n" for row in rows
            )
            suffix = ".jsonl"
            if self.files.compression == "gzip":
                body, suffix = gzip.compress(body, compresslevel=6, mtime=0), ".jsonl.gz"
            self._put(f"{self.root}/{prefix or ''}{span}{suffix}", body)
            written += 1
        return written

    def _marker(self, shard: str) -> str:
        return f"{self.root}/{MARKERS}/{self.name}/{shard}.json"

    def _put(self, path: str, body: bytes) -> None:
        """Write ``path`` whole or not at all."""
        folder = path.rsplit("/", 1)[0]
        temporary = None
        try:
            if not self.local:  # one object, visible once complete
                with self.fs.open_output_stream(path, compression=None) as f:
                    f.write(body)
                return
            self.fs.create_dir(folder, recursive=True)
            temporary = f"{folder}/.{uuid.uuid4().hex}.tmp"
            with self.fs.open_output_stream(temporary, compression=None) as f:
                f.write(body)
            self.fs.move(temporary, path)
        except OSError as exc:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    self.fs.delete_file(temporary)
            raise StreamError(
                f"delivery `{self.name}` cannot write {path}: {exc}",
                stream=self.config.stream,
                hint="check that its folder exists, is writable and has space; the records "
                "are delivered when the delivery runs again",
            ) from exc


def _line(data: bytes) -> bytes:
    return data if b"\n" not in data else json.dumps(json.loads(data)).encode()


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
