"""The one retry policy: which failures are worth another attempt, and how long to wait first.

Retries happen at one layer only. A task that fails is run again by the orchestrator, as a
whole new attempt that starts from the last committed state (nothing of a failed attempt was
published), when :func:`retryable` says the failure may go away and the task's
:class:`RetryPolicy` has attempts left. Nothing below the task retries on its own: the SQL
readers and the HTTP client convert a raw driver error into the error hierarchy at the edge
(:class:`~headwater.errors.SourceUnreachable`, :class:`~headwater.errors.ConnectionLost`…)
and raise it. Spacing requests to respect an API's rate (``headwater.connect.http.limits``)
is not a retry and stays where it is.

The policy is tenacity's: ``stop_after_attempt``, exponential waits with jitter, and
``retry_if_exception(retryable)``. The runner asks it for a decision instead of sleeping in
a worker (it schedules the next attempt and goes on running other tasks); tenacity is
imported on the first failure only, not by every command.

:func:`retryable` is the one classification. Retryable: the hierarchy's ``TransientError``
(``SourceUnreachable``, ``ConnectionLost``, ``CommitConflict``, ``TaskTimedOut``…); connection
refused, reset or lost mid-read (MySQL 2002/2003/2006/2013, PostgreSQL "server closed the
connection" and "terminating connection due to administrator command", psycopg and PyMySQL
``OperationalError`` of those kinds, ConnectorX errors and Rust panics that say the connection
was lost, reset or closed, DuckDB's mysql/postgres scanner losing its connection); timeouts;
HTTP 408/425/429/5xx; deadlocks and serialization failures. Terminal: authentication, SQL
syntax, unknown database/table/column, schema and contract errors, ``QualityFailed``,
``ProjectError``, and everything else.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater.errors import HeadwaterError

if TYPE_CHECKING:
    from tenacity import Retrying

# HTTP statuses worth another attempt: the server is busy, restarting or overloaded
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})

# MySQL/MariaDB client and server error codes of a connection that failed or dropped, or of
# work the server gave up on for now (deadlock, lock wait, too many connections)
MYSQL_TRANSIENT = frozenset(
    {
        1040,  # too many connections
        1053,  # server shutdown in progress
        1159,  # net read timeout
        1161,  # net write timeout
        1205,  # lock wait timeout
        1213,  # deadlock
        1927,  # connection was killed (MariaDB)
        2002,  # can't connect through socket
        2003,  # can't connect to server (refused, unreachable)
        2006,  # server has gone away
        2013,  # lost connection during query
        2055,  # lost connection at '…', system error
        4031,  # disconnected by the server for inactivity
    }
)

# PostgreSQL SQLSTATEs (and classes) of a connection that failed or dropped, or of work the
# server refused for now
POSTGRES_TRANSIENT = frozenset({"57P01", "57P02", "57P03", "53300", "40001", "40P01", "55P03"})
POSTGRES_TRANSIENT_CLASSES = ("08",)  # connection exception

# Text that makes an error terminal even when it also mentions the connection: the login or
# the statement is wrong, and another attempt fails the same way. Checked first.
TERMINAL_TEXT = (
    "access denied",
    "authentication failed",
    "password authentication",
    "no password supplied",
    "permission denied",
    "does not exist",
    "doesn't exist",
    "unknown database",
    "unknown table",
    "unknown column",
    "syntax error",
    "error in your sql syntax",
    "unknown mysql server host",
    "name or service not known",
)

# Text of a connection refused, reset, closed or lost; of a timeout; of a server that is
# starting or stopping. Drivers without typed errors (ConnectorX, DuckDB's scanners) say
# only this.
TRANSIENT_TEXT = (
    "connection refused",
    "connectionrefused",
    "connection reset",
    "connectionreset",
    "reset by peer",
    "broken pipe",
    "brokenpipe",
    "connectionaborted",
    "lost connection",
    "server has gone away",
    "server closed the connection",
    "terminating connection",
    "connection to the server was lost",
    "connection was closed",
    "connection closed",
    "connection is closed",
    "connection already closed",
    "no connection to the server",
    "could not receive data",
    "could not send data",
    "can't connect to",
    "could not connect",
    "unable to connect",
    "failed to connect",
    "timed out",
    "timeout expired",
    "unexpected eof",
    "unexpectedeof",
    "eof detected",
    "ssl syscall error",
    "bytes remaining on stream",
    "failed to fetch result row",
    "failed to fetch header for copy",
    "unable to read binary copy data",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "too many connections",
    "kind: io",
    "io error: `",
)


def retryable(exc: BaseException) -> bool:
    """Whether another attempt may succeed where ``exc`` ended this one (see the module)."""
    return classify(exc) is True


def classify(exc: BaseException) -> bool | None:
    """True when another attempt may succeed, False when it will fail the same way, None
    when nothing says (an exception of a task's own code: its ``retries`` decide)."""
    if isinstance(exc, HeadwaterError):
        return exc.retryable
    for error in _causes(exc):
        verdict = _classify(error)
        if verdict is not None:
            return verdict
    return None


def transient_text(text: str) -> bool | None:
    """What an error's text alone says: True (connection trouble, a timeout), False (a login
    or statement that will fail again), or None (nothing known)."""
    lowered = text.lower()
    if any(marker in lowered for marker in TERMINAL_TEXT):
        return False
    if any(marker in lowered for marker in TRANSIENT_TEXT):
        return True
    return None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then what it wraps: a SQLAlchemy error's driver error, an explicit cause."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__


def _kinds(exc: BaseException) -> set[tuple[str, str]]:
    """(top-level module, class name) of every class of ``exc``: drivers are recognised by
    name, so classifying never imports them."""
    return {(c.__module__.split(".")[0], c.__name__) for c in type(exc).__mro__}


def _classify(exc: BaseException) -> bool | None:
    """True or False when ``exc`` is known; None to look at what it wraps."""
    if isinstance(exc, HeadwaterError):
        return exc.retryable
    kinds = _kinds(exc)
    modules = {module for module, _ in kinds}
    if getattr(exc, "connection_invalidated", False):  # SQLAlchemy saw the connection die
        return True
    if "sqlalchemy" in modules:
        return None  # the driver's error (``orig``) decides
    if modules & {"pymysql", "MySQLdb", "mysql"}:
        return _mysql(exc)
    if modules & {"psycopg", "psycopg2"}:
        return _postgres(exc)
    if "httpx" in modules:
        return _http(exc, kinds)
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    if ("pyo3_runtime", "PanicException") in kinds or modules & {"duckdb", "_duckdb"}:
        return bool(transient_text(str(exc)))  # ConnectorX panics, DuckDB scanner errors
    if isinstance(exc, OSError | RuntimeError):
        # ConnectorX raises RuntimeError; DuckDB's errors surface as OSError through Arrow
        return transient_text(str(exc))
    return None


def _mysql(exc: BaseException) -> bool:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    if code in MYSQL_TRANSIENT:
        return True
    if code == 0 and type(exc).__name__ == "InterfaceError":  # PyMySQL: the socket is gone
        return True
    if code is None or code < 2000:  # a server error: the statement or the login
        return False
    return bool(transient_text(str(exc)))


def _postgres(exc: BaseException) -> bool:
    state = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    if state:
        return state in POSTGRES_TRANSIENT or state.startswith(POSTGRES_TRANSIENT_CLASSES)
    # no SQLSTATE: the connection failed before the server said anything, or dropped
    if type(exc).__name__ in ("OperationalError", "InterfaceError"):
        return transient_text(str(exc)) is not False
    return bool(transient_text(str(exc)))


def _http(exc: BaseException, kinds: set[tuple[str, str]]) -> bool:
    names = {name for _, name in kinds}
    if "HTTPStatusError" in names:
        response = getattr(exc, "response", None)
        return getattr(response, "status_code", None) in RETRYABLE_STATUS
    if names & {"UnsupportedProtocol", "LocalProtocolError", "InvalidURL"}:
        return False
    return bool(names & {"TimeoutException", "NetworkError", "RemoteProtocolError", "ProxyError"})


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts of one task: ``retries`` after the first, waiting delay × backoff^(n-1)
    (capped at ``max_delay``; with ``jitter`` a random wait between half that and that), and
    never less than a server's ``Retry-After``. Only :func:`retryable` failures are retried,
    and, with ``unknown``, failures nothing classifies (what a task's own Python code or shell
    command raised: its ``retries`` are the user's call, as in Airflow)."""

    retries: int = 0  # attempts after the first
    delay: float = 1.0
    backoff: float = 2.0
    max_delay: float = 300.0
    jitter: bool = True
    unknown: bool = False

    def retries_after(self, exc: BaseException) -> bool:
        """Whether ``exc`` is a failure this policy runs again (attempts permitting)."""
        verdict = classify(exc)
        return verdict is True or (verdict is None and self.unknown)

    @property
    def attempts(self) -> int:
        return self.retries + 1

    def retrying(self) -> Retrying:
        """This policy as tenacity's ``Retrying`` (its stop, wait and retry strategies)."""
        from tenacity import (
            Retrying,
            retry_if_exception,
            stop_after_attempt,
            wait_exponential,
            wait_random_exponential,
        )

        if self.jitter:
            # half fixed, half random ("equal jitter"): tasks that failed together do not
            # come back together, yet each waits a sensible minimum
            half = {
                "multiplier": self.delay / 2,
                "exp_base": self.backoff,
                "max": self.max_delay / 2,
            }
            wait: Any = wait_exponential(**half) + wait_random_exponential(**half)
        else:
            wait = wait_exponential(
                multiplier=self.delay, exp_base=self.backoff, max=self.max_delay
            )
        return Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=_AtLeastRetryAfter(wait),
            retry=retry_if_exception(self.retries_after),
            reraise=True,
        )

    def next_wait(self, attempt: int, exc: BaseException) -> float | None:
        """Seconds to wait before running again after ``exc`` ended attempt ``attempt``
        (1 = the first); None when there is no next attempt (terminal, or none left)."""
        from tenacity import RetryCallState

        retrying = self.retrying()
        state = RetryCallState(retrying, None, (), {})
        state.attempt_number = attempt
        state.set_exception((type(exc), exc, exc.__traceback__))
        if not retrying.retry(state) or retrying.stop(state):
            return None
        return float(retrying.wait(state))


#: how a long-running worker (a delivery, a feed, a capture) waits for a server that went away
OUTAGE = RetryPolicy(delay=0.5, backoff=2.0, max_delay=30.0)


def until_stopped(
    stop: threading.Event,
    on: type[BaseException] | tuple[type[BaseException], ...] | None,
    waiting: Callable[[BaseException | None, float], None],
    policy: RetryPolicy = OUTAGE,
) -> Retrying:
    """``policy``'s backoff, retrying failures of type ``on`` (None: every failure the
    policy retries, see :func:`retryable`) without end until ``stop`` is set (the wait ends
    early then, and the last failure is raised); ``waiting`` is told each failure and the
    seconds until the next attempt."""
    from tenacity import retry_if_exception_type, stop_when_event_set

    def before_sleep(state: Any) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        waiting(error, float(state.upcoming_sleep))

    retrying = policy.retrying()
    return retrying.copy(
        stop=stop_when_event_set(stop),
        sleep=stop.wait,
        retry=retrying.retry if on is None else retry_if_exception_type(on),
        before_sleep=before_sleep,
        reraise=True,
    )


class _AtLeastRetryAfter:
    """A tenacity wait that is never shorter than the ``retry_after`` of the failure (a
    server's ``Retry-After``), and otherwise the wrapped wait's."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, state: Any) -> float:
        wait = float(self.inner(state))
        error = state.outcome.exception() if state.outcome is not None else None
        asked = getattr(error, "retry_after", None)
        return max(wait, float(asked)) if asked is not None else wait
