"""The store's schema revision, importable without SQLAlchemy or Alembic."""

# The newest migration; a test checks it against the migration scripts. Kept apart so that
# opening a store does not import Alembic (a tenth of a second on every command).
HEAD = "0005"
