"""Running several deliveries side by side: a thread each, stopped together when one fails or
when asked to stop (each flushes what it holds, commits it and gives its shards back)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from headwater.streams.delivery import DeliveryReport

# run one delivery: (name, stop, on_progress) → its report
RunOne = Callable[[str, threading.Event, Callable[[DeliveryReport], None]], DeliveryReport]


def run_deliveries(
    names: Sequence[str],
    run_one: RunOne,
    *,
    stop: threading.Event | None = None,
    progress: Callable[[list[DeliveryReport]], None] | None = None,
    every: float = 0.5,
) -> list[DeliveryReport]:
    """Run ``names`` until each returns (``once``) or ``stop`` is set; ``progress`` is called
    with every delivery's latest report about each ``every`` seconds. The first failure stops
    the others and is raised once they have flushed."""
    stop = stop or threading.Event()
    reports = {name: DeliveryReport(name) for name in names}
    failures: list[BaseException] = []

    def work(name: str) -> None:
        def seen(report: DeliveryReport) -> None:
            reports[name] = report

        try:
            reports[name] = run_one(name, stop, seen)
        except BaseException as exc:  # raised below, after the others stopped
            failures.append(exc)
            stop.set()

    threads = [threading.Thread(target=work, args=(n,), name=f"delivery-{n}") for n in names]
    try:
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(timeout=every)
            if progress is not None:
                progress(list(reports.values()))
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    if failures:
        raise failures[0]
    return list(reports.values())
