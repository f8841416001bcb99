"""A task's failure, wherever it ran: its text, its type, and a form that crosses processes.

Worker processes and Dask workers send back the exception itself (Headwater's errors pickle
with their type, hint and context), so the run record and the retry decision are the same
as for a task run in this process. An exception that cannot make the trip (a user's class
that does not pickle) is replaced by a :class:`TaskError` that keeps its type's name, text
and retryability.
"""

from __future__ import annotations

import pickle
import traceback
from typing import Any

from headwater.errors import HeadwaterError
from headwater.retry import classify


class TaskError(HeadwaterError):
    """A task's exception that could not be sent from its worker as it was."""

    def __init__(self, message: str, *, kind: str, retryable: bool | None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.kind = kind  # the original exception's qualified type name
        self.retryable = retryable


def describe_error(exc: BaseException, note: str = "") -> str:
    """The user-facing text of a task's failure: our message, or type and message otherwise;
    ``note`` (how many attempts were made) goes after the message, before the hint."""
    if isinstance(exc, HeadwaterError):
        if exc.hint and str(exc) == f"{exc.message} — {exc.hint}":
            return f"{exc.message}{note} — {exc.hint}"
        return f"{exc}{note}"
    return "".join(traceback.format_exception_only(exc)).strip() + note


def error_type(exc: BaseException) -> str:
    """The failure's qualified type name, e.g. ``headwater.errors.SourceUnreachable``."""
    if isinstance(exc, TaskError):
        return exc.kind
    kind = type(exc)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def error_details(exc: BaseException) -> dict[str, Any]:
    """What the run record keeps of a failure beside its text."""
    return {
        "type": error_type(exc),
        "retryable": classify(exc),
        "hint": exc.hint if isinstance(exc, HeadwaterError) else None,
    }


def portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling as itself (type, text and retryability: a cause the
    classification looked at is not pickled), else a :class:`TaskError` standing for it."""
    try:
        copy = pickle.loads(pickle.dumps(exc))
    except Exception:  # what fails to pickle or to unpickle varies by class
        copy = None
    if type(copy) is type(exc) and str(copy) == str(exc) and classify(copy) == classify(exc):
        return exc
    return TaskError(describe_error(exc), kind=error_type(exc), retryable=classify(exc))
