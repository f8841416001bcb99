"""Small projects for orchestration tests: a headwater.yaml and modules under pipelines/."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

from headwater import Workspace


def make_project(root: Path, yaml: str, modules: dict[str, str] | None = None) -> Path:
    """Write ``headwater.yaml`` (``name`` added if missing) and ``pipelines/<name>.py`` files.

    Each test gets its own module names (a ``pipelines/`` folder goes on sys.path, and Python
    caches modules by name), so pass names unique to the test."""
    root.mkdir(parents=True, exist_ok=True)
    text = textwrap.dedent(yaml)
    if not text.lstrip().startswith("name:"):
        text = f"name: {root.name.replace('-', '_')}\n" + text
    (root / "headwater.yaml").write_text(text)
    for name, source in (modules or {}).items():
        path = root / "pipelines" / f"{name}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return root


def statuses(ws: Workspace, run_id: str) -> dict[str, str]:
    return {t.task_id: t.status.value for t in ws.store.run(run_id).tasks}


def unique(prefix: str) -> str:
    """A module name no other test uses (modules are cached by name for the whole session)."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"
