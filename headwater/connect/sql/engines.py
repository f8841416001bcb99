"""Engines that survive a fork: a forked task process must not share the parent's pooled
database connections (both would talk over one socket), so the child drops its copies."""

from __future__ import annotations

import os
import weakref

import sqlalchemy as sa


def fork_safe(engine: sa.Engine) -> sa.Engine:
    """After a fork, the child's ``engine`` opens its own connections (the parent's stay)."""
    ref = weakref.ref(engine)

    def forget() -> None:
        alive = ref()
        if alive is not None:
            alive.dispose(close=False)

    os.register_at_fork(after_in_child=forget)
    return engine
