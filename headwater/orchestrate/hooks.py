"""What happens when a task fails, retries or succeeds, or a run misses its deadline: an event
in the metadata store, a log line, and optionally a webhook POST (sent off the runner's thread).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from headwater.state.store import Store

EventKind = Literal[
    "task_failed",
    "task_retry",
    "task_succeeded",
    "run_failed",
    "run_succeeded",
    "sla_missed",
    "schedule_missed",
]

log = logging.getLogger("headwater.orchestrate")
# the log record's attribute naming the event, for a display that shows some events itself
EVENT_FIELD = "headwater_event"


@dataclass(frozen=True)
class Hooks:
    """Webhooks per event kind (``on_failure`` covers task and run failures and SLA misses)."""

    on_failure: Sequence[str] = ()
    on_retry: Sequence[str] = ()
    on_success: Sequence[str] = ()
    timeout: float = 10.0
    record: Sequence[str] = field(
        default=("task_failed", "task_retry", "run_failed", "sla_missed", "schedule_missed")
    )

    @classmethod
    def of(cls, settings: Any) -> Hooks:
        """The hooks of a pipeline's settings (``project.pipelines.Hooks``)."""
        return cls(settings.on_failure, settings.on_retry, settings.on_success)

    def urls(self, kind: str) -> Sequence[str]:
        if kind in ("task_failed", "run_failed", "sla_missed", "schedule_missed"):
            return self.on_failure
        if kind == "task_retry":
            return self.on_retry
        return self.on_success


def emit(
    store: Store | None,
    hooks: Hooks,
    kind: EventKind,
    message: str,
    pipeline: str | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
) -> None:
    """Record and announce one event."""
    if kind in hooks.record:
        log.warning("%s: %s", kind, message, extra={EVENT_FIELD: kind})
        if store is not None:
            store.add_event(kind, message, pipeline, run_id, task_id)
    urls = hooks.urls(kind)
    if urls:
        payload = {
            "event": kind,
            "message": message,
            "pipeline": pipeline,
            "run_id": run_id,
            "task_id": task_id,
            "at": datetime.now(UTC).isoformat(),
        }
        threading.Thread(
            target=_post, args=(urls, payload, hooks.timeout), daemon=True, name="headwater-hook"
        ).start()


def _post(urls: Sequence[str], payload: Mapping[str, Any], timeout: float) -> None:
    import httpx

    for url in urls:
        try:
            httpx.post(url, json=dict(payload), timeout=timeout)
        except httpx.HTTPError as exc:
            log.warning("webhook %s failed: %s", url, exc)
