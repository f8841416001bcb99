"""Run the app with uvicorn so that SIGTERM or Ctrl-C stops the server within seconds.

uvicorn's graceful shutdown waits for the requests in flight, and a query may compute for
``serve.query_timeout`` seconds: the server would linger that long. Here the signal first
stops every query being computed (its client gets a 503 to ask again), then uvicorn shuts
down as usual, waiting at most ``GRACE_SECONDS`` for what is left.
"""

from __future__ import annotations

import threading
from types import FrameType

import uvicorn
from fastapi import FastAPI

from headwater.errors import ServerBusy
from headwater.sql.cursors import Cursors

GRACE_SECONDS = 5


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, cursors: Cursors) -> None:
        super().__init__(config)
        self.cursors = cursors

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # a signal handler runs on the event loop's thread, which may hold a lock stop_all
        # takes (a request watching its client): stopping the queries is another thread's job
        threading.Thread(target=self.cursors.stop_all, args=(_stopping,), daemon=True).start()
        super().handle_exit(sig, frame)


def _stopping() -> ServerBusy:
    return ServerBusy("the server is stopping", hint="ask again once it is back", retry_after=5)


def run(app: FastAPI, host: str, port: int, *, debug: bool = False) -> None:
    """Serve ``app`` on ``host:port`` until SIGINT or SIGTERM."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info" if debug else "warning",
        timeout_graceful_shutdown=GRACE_SECONDS,
    )
    cursors: Cursors = app.state.cursors
    _Server(config, cursors).run()
