"""Streams: append-only, sharded logs of records on an embedded log or a broker, the
processors that transform and route their records, and the deliveries that move them into
tables or files (see docs/streams.md)."""
