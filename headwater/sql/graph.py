"""The models' dependency graph, derived from the tables each model reads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from headwater.errors import ModelError, did_you_mean
from headwater.sql.models import Model


@dataclass(frozen=True)
class ModelGraph:
    """Models by table name, and for each the models it depends on."""

    models: Mapping[str, Model]
    upstream: Mapping[str, frozenset[str]]

    @classmethod
    def build(
        cls,
        models: Iterable[Model],
        known_tables: Iterable[str],
        root: Path | None = None,
        open_namespaces: Iterable[str] = (),
    ) -> ModelGraph:
        """Check every reference (a model, or a known table) and that there is no cycle.

        ``known_tables`` are tables that exist or that the project's sources will write;
        any table of ``open_namespaces`` may exist (a crawl decides their names when it runs).
        """
        open_ = set(open_namespaces)
        by_name: dict[str, Model] = {}
        for model in models:
            if model.name in by_name:
                raise ModelError(f"two models build `{model.name}`", file=model.display_path(root))
            by_name[model.name] = model
        known = set(known_tables) | set(by_name)
        upstream: dict[str, frozenset[str]] = {}
        for model in by_name.values():
            deps = set()
            for ref in model.references:
                if not ref.qualified:
                    raise ModelError(
                        f"table `{ref.name}` must be qualified with its namespace",
                        file=model.display_path(root),
                        line=ref.line,
                        hint=f"write NAMESPACE.{ref.name}, e.g. raw.{ref.name}",
                    )
                if ref.name not in known and ref.name.split(".")[0] not in open_:
                    raise ModelError(
                        f"unknown table `{ref.name}`{did_you_mean(ref.name, known)}",
                        file=model.display_path(root),
                        line=ref.line,
                        hint="it is neither built by a model nor loaded by a source; "
                        "check the name, or add the source/model that makes it",
                    )
                if ref.name in by_name:
                    deps.add(ref.name)
            upstream[model.name] = frozenset(deps)
        graph = cls(models=by_name, upstream=upstream)
        graph.order()  # raises on cycles
        return graph

    def order(self) -> list[str]:
        """Model names so that each comes after those it reads."""
        try:
            return list(TopologicalSorter(self.upstream).static_order())
        except CycleError as exc:
            cycle = exc.args[1]
            files = " → ".join(str(self.models[n].path.name) for n in cycle if n in self.models)
            raise ModelError(
                f"models depend on each other in a cycle: {' → '.join(cycle)} ({files})",
                hint="break the cycle: one of these models must not read the other",
            ) from None

    def select(self, selectors: Iterable[str]) -> list[str]:
        """Model names matching namespaces (`gold`), names (`gold.x`) or globs (`gold.dim_*`)."""
        from fnmatch import fnmatchcase

        chosen: list[str] = []
        for selector in selectors:
            matches = [
                n
                for n in self.models
                if n == selector or n.split(".")[0] == selector or fnmatchcase(n, selector)
            ]
            if not matches:
                names = {*self.models, *(n.split(".")[0] for n in self.models)}
                raise ModelError(
                    f"no model matches `{selector}`{did_you_mean(selector, names)}",
                    hint=f"models: {', '.join(sorted(self.models)) or 'none (add models/<namespace>/<name>.sql)'}",
                )
            chosen.extend(m for m in matches if m not in chosen)
        return chosen
