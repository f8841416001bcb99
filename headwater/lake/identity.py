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

import uuid
from pathlib import Path

import sqlalchemy as sa

from headwater.lake.properties import CATALOG_ID

__all__ = ["CATALOG_ID", "catalog_id", "former_ids", "renew"]

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
    except (sa.exc.IntegrityError, sa.exc.ProgrammingError, sa.exc.OperationalError):
        # another process created the table between the check and the create
        if not sa.inspect(engine).has_table(identity_table.name):
            raise
    with engine.connect() as conn:
        return {key: value for key, value in conn.execute(sa.select(identity_table)).all()}
