"""A tiny run of bench/telegram_bench.py (the real benchmark is not part of the suite)."""

import pytest

pytestmark = pytest.mark.integration


async def test_bench_smoke():
    from bench.telegram_bench import report, run

    results = await run(3)
    assert set(results) == {"sequential", "burst, Telegram limits", "burst, limits lifted"}
    for r in results.values():
        assert r["n"] == 3 and r["ok"] and r["p50_ms"] > 0 and r["replies_per_s"] > 0
    assert "replies/s" in report(results)
