"""Large scales: fast, and memory that does not grow with the scale."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from headwater.samples import build_classicmodels, writer
from headwater.samples.generate.keys import product_key


def _peak_bytes(url: str, scale: float) -> int:
    product_key.cache_clear()
    tracemalloc.start()
    try:
        build_classicmodels(url, scale=scale)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_memory_does_not_grow_with_the_scale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # small chunks, so that both scales fill them and only what grows with the scale shows
    monkeypatch.setattr(writer, "CHUNK_ROWS", 1000)
    build_classicmodels(f"sqlite:///{tmp_path / 'warm.db'}", scale=0.5)  # one-time allocations
    small = _peak_bytes(f"sqlite:///{tmp_path / 'small.db'}", 2)
    large = _peak_bytes(f"sqlite:///{tmp_path / 'large.db'}", 20)  # 10x the rows
    assert large < small + 2_000_000, (
        f"peak {small / 1e6:.1f} MB at scale 2, {large / 1e6:.1f} MB at 20"
    )


@pytest.mark.slow
def test_scale_100_into_sqlite_takes_well_under_a_minute(tmp_path: Path) -> None:
    started = time.perf_counter()
    built = build_classicmodels(f"sqlite:///{tmp_path / 'classicmodels.db'}", scale=100)
    elapsed = time.perf_counter() - started
    assert built["orderdetails"] > 290_000
    assert elapsed < 60, f"scale 100 took {elapsed:.1f} s"
