"""What a processor's transform makes of one micro-batch: the outputs, each tied to the input
record it came from and the route it takes, and the records it failed on.

A failure of the whole batch is narrowed down by halving it until the records that fail on
their own are found (a few extra runs per poison record, none while all goes well): they go
to the error stream, and the rest of the batch goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from headwater.streams.records import Record

NO_ROUTE = -1  # an output no route takes: dropped


@dataclass(frozen=True, slots=True)
class Output:
    """One output record: the batch index of the input it came from, the index of the route
    it takes (:data:`NO_ROUTE`: none), its JSON data, and its partition key (None: the
    input's)."""

    source: int
    route: int
    data: bytes
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    """An input record the transform failed on, with the error."""

    source: int
    error_type: str
    message: str

    @staticmethod
    def of(source: int, exc: BaseException) -> Failure:
        return Failure(source, type(exc).__name__, str(exc) or repr(exc))


@dataclass
class Applied:
    """What a transform made of a batch (indexes into the batch it was given)."""

    outputs: list[Output] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    def shifted(self, offset: int) -> Applied:
        return Applied(
            [Output(o.source + offset, o.route, o.data, o.key) for o in self.outputs],
            [Failure(f.source + offset, f.error_type, f.message) for f in self.failures],
        )


Apply = Callable[[Sequence[Record]], Applied]


def isolating(apply: Apply, records: Sequence[Record]) -> Applied:
    """``apply(records)``; when it raises, the halves on their own, down to single records,
    which fail alone (see the module docstring)."""
    try:
        return apply(records)
    except Exception as exc:
        if len(records) == 1:
            return Applied(failures=[Failure.of(0, exc)])
    middle = len(records) // 2
    left = isolating(apply, records[:middle])
    right = isolating(apply, records[middle:]).shifted(middle)
    return Applied(left.outputs + right.outputs, left.failures + right.failures)
