"""A resident process that runs ``headwater`` commands from warm imports.

``headwater agent start`` starts it; from then on each ``headwater`` command hands its
arguments, environment, folder and standard streams to the agent, which forks a child that
already has Headwater, pyarrow, DuckDB, SQLAlchemy and the connectors imported. The child runs
the command exactly as a fresh process would (its own globals, environment, folder and exit
code), so a command starts in milliseconds instead of about a second.

    address   where the agent listens (a Unix socket per interpreter and install)
    wire      length-prefixed JSON messages, with file descriptors alongside
    client    what the ``headwater`` command does first: hand over, or fall back to running
    child     what a forked child does: become the caller's process, run, report the exit
    server    the agent itself: preload, accept, fork, reap, report
    control   start, stop and ask the agent (the ``headwater agent`` commands)
"""
