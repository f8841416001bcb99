"""The project's own Python: task callables (``module:function``) and ``@pipeline`` definitions
under ``pipelines/``. The folder goes on ``sys.path`` (as Airflow's dags folder does) so user
modules can import each other; worker processes do the same before they run a task.
"""

from __future__ import annotations

import importlib
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.errors import ProjectError

if TYPE_CHECKING:
    from headwater.orchestrate.define import PipelineDefinition

PIPELINES = "pipelines"
_lock = threading.Lock()


def code_folder(root: Path) -> Path:
    return root / PIPELINES


def _on_path(root: Path, module: str) -> None:
    """Put this project's folder first on sys.path, and forget a module of the same name that
    another project (opened earlier in this process) loaded from its own folder."""
    folder = code_folder(root).resolve()
    with _lock:
        if str(folder) in sys.path:
            sys.path.remove(str(folder))
        sys.path.insert(0, str(folder))
        top = module.split(".")[0]
        loaded = sys.modules.get(top)
        origin = getattr(loaded, "__file__", None) if loaded is not None else None
        ours = (folder / f"{top}.py").exists() or (folder / top).is_dir()
        if origin and ours and not Path(origin).resolve().is_relative_to(folder):
            for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
                del sys.modules[name]
            importlib.invalidate_caches()


def forget(root: Path) -> None:
    """Drop the modules this project's code folder loaded, so that the next import reads the
    files again (a long-lived worker after the pipelines changed)."""
    folder = code_folder(root).resolve()
    with _lock:
        for name, module in list(sys.modules.items()):
            origin = getattr(module, "__file__", None)
            if origin and Path(origin).resolve().is_relative_to(folder):
                del sys.modules[name]
        importlib.invalidate_caches()


def _import(module: str, root: Path | None, what: str) -> Any:
    if root is not None:
        _on_path(root, module)
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            where = f" (looked in {code_folder(root)} and the installed packages)" if root else ""
            raise ProjectError(
                f"{what}: no module `{module}`{where}",
                hint=f"write it as {PIPELINES}/{module.replace('.', '/')}.py, or install it",
            ) from None
        raise _code_error(exc, what) from exc
    except Exception as exc:
        raise _code_error(exc, what) from exc


def _code_error(exc: BaseException, what: str) -> ProjectError:
    frames = traceback.extract_tb(exc.__traceback__)
    last = frames[-1] if frames else None
    where = f" at {last.filename}:{last.lineno}" if last else ""
    return ProjectError(
        f"{what}: importing failed{where}: {type(exc).__name__}: {exc}",
        hint="fix the module; `--debug` shows the whole traceback",
    )


def load_callable(ref: str, root: Path | None) -> Callable[..., Any]:
    """The function ``module:function`` names."""
    module_name, _, name = ref.partition(":")
    module = _import(module_name, root, f"task callable `{ref}`")
    function = getattr(module, name, None)
    if function is None:
        from headwater.errors import did_you_mean

        public = [n for n in vars(module) if not n.startswith("_")]
        raise ProjectError(
            f"task callable `{ref}`: module `{module_name}` has no `{name}`"
            f"{did_you_mean(name, public)}"
        )
    if not callable(function):
        raise ProjectError(f"task callable `{ref}` is a {type(function).__name__}, not a function")
    return getattr(function, "__wrapped_task__", function)


def discover_pipelines(root: Path) -> dict[str, PipelineDefinition]:
    """Every ``@pipeline`` defined at the top of a ``pipelines/*.py`` module."""
    from headwater.orchestrate.define import PipelineDefinition

    folder = code_folder(root)
    found: dict[str, PipelineDefinition] = {}
    if not folder.is_dir():
        return found
    for file in sorted(folder.glob("*.py")):
        if file.name.startswith("_"):
            continue
        module = _import(file.stem, root, f"pipelines file {file}")
        candidates: list[Any] = []
        for value in vars(module).values():
            # pipelines made from a template in a loop may be kept in a list
            candidates.extend(value if isinstance(value, list | tuple) else [value])
        for value in candidates:
            if isinstance(value, PipelineDefinition):
                if value.name in found and found[value.name] is not value:
                    raise ProjectError(
                        f"two pipelines named `{value.name}` ({found[value.name].origin} and "
                        f"{value.origin})",
                        hint="give one of them another name: @pipeline(name=...)",
                    )
                found[value.name] = value
    return found
