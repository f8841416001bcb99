"""What a processor did: records read, outputs per stream, failures, records dropped."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ProcessorReport:
    """Counts of one processor's work in one run (of this process)."""

    name: str
    stream: str
    records_in: int = 0
    outputs: dict[str, int] = field(default_factory=dict)  # per output stream
    errors: int = 0  # input records sent to the error stream (late ones included)
    late: int = 0  # windows: records whose window had closed
    dropped: int = 0  # input records the transform made nothing of
    unrouted: int = 0  # outputs no route took
    batches: int = 0
    seconds: float = 0.0
    shards: tuple[str, ...] = ()  # held at the end (or last)
    lost_leases: int = 0  # shards another worker took over in the middle

    @property
    def records_out(self) -> int:
        return sum(self.outputs.values())

    @property
    def rate(self) -> float:
        """Input records per second."""
        return self.records_in / self.seconds if self.seconds > 0 else 0.0
