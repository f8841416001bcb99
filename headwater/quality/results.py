"""What evaluating a check yields; a separate policy decides whether it blocks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CheckResult:
    """One check on one table: how many rows it looked at, how many failed, what it saw."""

    table: str
    check: str  # the check's name
    kind: str
    severity: str  # warn | error
    passed: bool
    evaluated: int = 0  # rows the check looked at (after `where`, NULLs skipped by value checks)
    failing: int = 0
    observed: Any = None  # the value compared: a count, a mean, the newest timestamp…
    expected: str = ""  # the rule, in words
    sample: tuple[dict[str, Any], ...] = ()  # some failing rows
    error: str | None = None  # the check could not run (bad column, bad regex…)

    @property
    def blocking(self) -> bool:
        return not self.passed and self.severity == "error"

    @property
    def failing_fraction(self) -> float:
        return self.failing / self.evaluated if self.evaluated else 0.0


@dataclass(frozen=True)
class SuiteResult:
    """Every check of one evaluation, in the order they were declared."""

    results: tuple[CheckResult, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return not any(r.blocking for r in self.results)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed]
