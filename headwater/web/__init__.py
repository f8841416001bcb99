"""``headwater serve``: a query service, table metadata and an Iceberg REST catalog over HTTP.

Build the app with :func:`create_app` from a :class:`~headwater.Workspace`; every route calls
the Workspace (or ``headwater.sql``) and only translates between HTTP and Python.
"""

from headwater.web.app import create_app

__all__ = ["create_app"]
