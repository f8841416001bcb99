"""Where a project's metadata store is: ``state.url``, or ``.headwater/state.db``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headwater.project import Project


def store_url(project: Project) -> str:
    """The metadata store's URL: ``state.url`` (a relative SQLite path is relative to the
    project folder), or ``.headwater/state.db``."""
    if project.config.state.url:
        from headwater.connect.sql.database import resolve_url

        url = resolve_url(project.config.state.url, project.root)
        return url.render_as_string(hide_password=False)
    return f"sqlite:///{project.state_dir / 'state.db'}"
