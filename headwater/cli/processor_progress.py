"""Progress of running processors: a live line each on a terminal (records in and out, rate,
shards held), and a summary line each at the end."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from headwater.cli.output import counted
from headwater.streams.processor_report import ProcessorReport

REFRESH = 0.25  # seconds between redraws


class ProcessorProgress:
    """Draws the reports it is given (see the module docstring)."""

    def __init__(self, console: Console, once: bool) -> None:
        self.console = console
        self.once = once
        self._live: Live | None = None
        self._drawn = 0.0

    def __enter__(self) -> ProcessorProgress:
        if self.console.is_terminal:
            self._live = Live(Text(""), console=self.console, transient=True, auto_refresh=False)
            self._live.__enter__()
        else:
            self.console.print(
                "processing until Ctrl-C or SIGTERM"
                if not self.once
                else "processing the records there now"
            )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.__exit__(kind, exc, tb)

    def update(self, reports: list[ProcessorReport]) -> None:
        if self._live is None or time.monotonic() - self._drawn < REFRESH:
            return
        self._drawn = time.monotonic()
        lines = [
            Text(f"{self.line(r)} · {r.rate:,.0f} records/s · {counted(len(r.shards), 'shard')}")
            for r in reports
        ]
        self._live.update(Group(*lines), refresh=True)

    @staticmethod
    def line(report: ProcessorReport) -> str:
        outs = ", ".join(f"{stream} {n:,}" for stream, n in sorted(report.outputs.items()))
        return (
            f"{report.name}: {counted(report.records_in, 'record')} from {report.stream}"
            f" → {outs or 'nothing'}; {counted(report.errors, 'error')}"
        )

    def summary(self, report: ProcessorReport) -> str:
        extra = []
        if report.late:
            extra.append(f"{report.late:,} late (to the error stream)")
        if report.dropped:
            extra.append(f"{report.dropped:,} dropped by the transform")
        if report.unrouted:
            extra.append(f"{report.unrouted:,} outputs matched no route")
        rate = f" in {report.seconds:.1f} s ({report.rate:,.0f} records/s)"
        return self.line(report) + rate + "".join(f"; {e}" for e in extra)
