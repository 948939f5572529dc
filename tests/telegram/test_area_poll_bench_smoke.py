"""A short run of bench/area_poll_bench.py (the real benchmark, 60 s, is not part of the suite)."""

import pytest

pytestmark = pytest.mark.integration


async def test_area_poll_bench_smoke():
    from bench.area_poll_bench import report, run

    r = await run(6, 200, tail=11)
    assert r["votes"] == 20 and r["telegram_429"] == 0 and r["matrix_refused"] == 0
    for name in ("telegram", "matrix"):
        assert r[name]["never_shown"] == 0 and r[name]["shown"] == 20
    assert r["telegram"]["edits"] <= 4 and r["matrix"]["edits"] <= 3  # one per 5 s / 10 s window, and a trailing one
    assert "tally lag" in report(r)
