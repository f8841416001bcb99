"""How DuckDB reads a group of files, as the registry stores it (no DuckDB import here)."""

from __future__ import annotations

from dataclasses import dataclass

Columns = tuple[tuple[str, str], ...]  # (name, DuckDB type), in file order


@dataclass(frozen=True)
class Layout:
    """How DuckDB reads a group of files: format, compression and dialect (CSV: the column
    names in file order too, since CSV columns are given by position)."""

    format: str
    compression: str | None = None
    options: tuple[tuple[str, str], ...] = ()  # reader option → SQL value
    names: tuple[str, ...] = ()

    def as_json(self) -> dict[str, object]:
        return {
            "format": self.format,
            "compression": self.compression,
            "options": [list(o) for o in self.options],
            "names": list(self.names),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Layout:
        options = data.get("options") or []
        names = data.get("names") or []
        assert isinstance(options, list) and isinstance(names, list)
        compression = data.get("compression")
        return cls(
            str(data["format"]),
            str(compression) if compression else None,
            tuple((str(k), str(v)) for k, v in options),
            tuple(str(n) for n in names),
        )
