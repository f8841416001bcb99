"""Which catalog a table belongs to: each catalog's id, and the table property that carries it.

Two projects may point ``lake.warehouse`` at one folder on purpose. A table name both use then
has one folder for two tables, and orphan removal, which reads its own table's metadata only,
would take the other table's files for orphans. So every table Headwater creates or commits
carries its catalog's id (:data:`CATALOG_ID`), and orphan removal keeps every file of a folder
that also holds another catalog's metadata.

The id is made once and kept in the catalog's own database (``headwater_catalog``, beside
pyiceberg's tables): every project sharing one catalog (``lake.catalog_url``) shares it, and a
copied SQLite catalog carries it until ``headwater relocate`` gives the copy one of its own
(:func:`renew`; a catalog remembers the file it was made in to know it is a copy).
"""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path

import sqlalchemy as sa

from headwater.errors import LakeError
from headwater.lake.properties import CATALOG_ID

__all__ = ["CATALOG_ID", "catalog_id", "copied_from", "former_ids", "renew"]

_ID, _HOME, _FORMER = "id", "home", "former"

metadata = sa.MetaData()

identity_table = sa.Table(
    "headwater_catalog",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)


def catalog_id(engine: sa.Engine, catalog: Path | None) -> str:
    """The id of the catalog in ``engine``'s database, made on first use; ``catalog`` is its
    SQLite file (None for a catalog on a server)."""
    values = _values(engine)
    if _ID in values:
        return values[_ID]
    made = {_ID: uuid.uuid4().hex, _HOME: _home(catalog)}
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.insert(identity_table), [{"key": k, "value": v} for k, v in made.items()]
            )
    except sa.exc.IntegrityError:  # another process made it first: that one is the id
        pass
    return _values(engine)[_ID]


def copied_from(catalog: Path) -> str | None:
    """The SQLite file the id of the catalog in file ``catalog`` was made in, when that is
    another file: the catalog was copied (or moved) with its project, and it and the original
    would be one catalog writing the same shared folders (an S3 warehouse, or a configured
    absolute folder). Read with sqlite3, as every listing reads the catalog: no pyiceberg."""
    import sqlite3

    if not catalog.exists():
        return None
    with contextlib.closing(sqlite3.connect(f"file:{catalog}?mode=ro", uri=True)) as con:
        try:
            row = con.execute(
                f"SELECT value FROM {identity_table.name} WHERE key = ?", (_HOME,)
            ).fetchone()
        except sqlite3.OperationalError:  # no id yet: made on the first write
            return None
    home = row[0] if row else None
    return home if home and home != _home(catalog) else None


def former_ids(engine: sa.Engine) -> frozenset[str]:
    """The ids the catalog had before :func:`renew` gave it its own (those of its originals)."""
    return frozenset(_values(engine).get(_FORMER, "").split())


def renew(engine: sa.Engine, catalog: Path) -> str | None:
    """Give a copied or moved SQLite catalog an id of its own, once: returns the id it had,
    or None when its id was made in this very file (or it had none yet)."""
    values = _values(engine)
    if _ID not in values:
        catalog_id(engine, catalog)
        return None
    if values.get(_HOME) == _home(catalog):
        return None
    former = " ".join(sorted({*values.get(_FORMER, "").split(), values[_ID]}))
    with engine.begin() as conn:
        conn.execute(sa.delete(identity_table))
        conn.execute(
            sa.insert(identity_table),
            [
                {"key": _ID, "value": uuid.uuid4().hex},
                {"key": _HOME, "value": _home(catalog)},
                {"key": _FORMER, "value": former},
            ],
        )
    return values[_ID]


def _home(catalog: Path | None) -> str:
    return str(catalog.resolve()) if catalog is not None else ""


def _values(engine: sa.Engine) -> dict[str, str]:
    try:
        metadata.create_all(engine, checkfirst=True)
    except (sa.exc.IntegrityError, sa.exc.ProgrammingError, sa.exc.OperationalError) as exc:
        # another process created the table between the check and the create
        if not sa.inspect(engine).has_table(identity_table.name):
            raise LakeError(
                f"cannot create the table `{identity_table.name}`, which holds the catalog's id, "
                f"in the catalog database: {str(exc.orig).strip()}",
                hint="let the catalog's user create tables in its schema, or create it once as "
                f"its owner: CREATE TABLE {identity_table.name} (key VARCHAR(64) PRIMARY KEY, "
                "value TEXT NOT NULL)",
            ) from exc
    with engine.connect() as conn:
        return {key: value for key, value in conn.execute(sa.select(identity_table)).all()}
