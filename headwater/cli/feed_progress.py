"""Live progress of running feeds: one line per feed with messages put, rate and errors."""

from __future__ import annotations

import threading
import time
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table

from headwater.streams.mqtt_feed import FeedReport


class FeedProgress:
    """A feed progress callback that draws a live table on a terminal (nothing otherwise:
    the command prints each feed's totals at the end)."""

    def __init__(self, feeds: list[str], console: Console) -> None:
        self.console = console
        self.started = time.monotonic()
        self.reports: dict[str, FeedReport | None] = dict.fromkeys(feeds)
        self._lock = threading.Lock()
        self._live: Live | None = None

    def __enter__(self) -> FeedProgress:
        if self.console.is_terminal:
            self._live = Live(
                self._render(), console=self.console, refresh_per_second=4, transient=True
            )
            self._live.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.__exit__(kind, error, traceback)

    def __call__(self, report: FeedReport) -> None:
        with self._lock:
            self.reports[report.feed] = report
        if self._live is not None:
            self._live.update(self._render())

    def _render(self) -> Table:
        view = Table(header_style="bold", title="feeding (Ctrl-C stops)", title_justify="left")
        for column in ("feed", "stream", "messages", "per second", "errors", "reconnects"):
            view.add_column(column, justify="left" if column in ("feed", "stream") else "right")
        with self._lock:
            reports = dict(self.reports)
        for feed, report in reports.items():
            if report is None:
                view.add_row(feed, "", "0", "", "", "")
                continue
            view.add_row(
                feed,
                report.stream,
                f"{report.messages:,}",
                f"{report.rate:,.0f}",
                f"{report.errors:,}",
                f"{report.reconnects:,}",
            )
        return view
