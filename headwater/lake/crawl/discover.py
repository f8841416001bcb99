"""Find the data files under a folder or S3 prefix and tell each one's format by its content.

Names starting with ``_`` or ``.`` (``_SUCCESS``, ``_tmp/``, ``.crc``) are not data, as for
Spark and Hive. Heads are read on a few threads: on S3 each one is a request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from headwater.connect.storage import FileEntry, Storage
from headwater.errors import HeadwaterError, SourceError
from headwater.lake.crawl.detect import Detected, NotData, detect

READ_THREADS = 8


def listing(storage: Storage) -> list[FileEntry]:
    """Every file under the storage root, sorted by path; an empty root is an error."""
    entries = list(storage.list("**"))
    if not entries:
        raise SourceError(
            f"no files under {storage.root}",
            hint="check the path or prefix; names starting with `.` are not listed",
        )
    return entries


def hidden(path: str) -> bool:
    return any(part.startswith(("_", ".")) for part in path.split("/"))


def detect_all(
    storage: Storage,
    entries: Sequence[FileEntry],
    skip: Callable[[str, str], None],
    progress: Callable[[int], None] | None = None,
) -> list[tuple[FileEntry, Detected]]:
    """The format of each file; unreadable ones and those of no known format are skipped."""

    def one(entry: FileEntry) -> Detected | str:
        if entry.size == 0:
            return "the file is empty"
        try:
            with storage.open(entry.path) as stream:
                return detect(stream, entry.path)
        except NotData as exc:
            return str(exc)
        except (OSError, HeadwaterError) as exc:
            return f"unreadable: {str(exc).strip().splitlines()[0]}"

    found: list[tuple[FileEntry, Detected]] = []
    with ThreadPoolExecutor(READ_THREADS) as pool:
        for entry, result in zip(entries, pool.map(one, entries), strict=True):
            if isinstance(result, str):
                skip(entry.path, result)
            else:
                found.append((entry, result))
            if progress:
                progress(1)
    return found
