"""A tiny run of bench/polls_bench.py: every result posted once, within the rate limit."""

from bench.polls_bench import run


async def test_bench_smoke_all_posted_once_within_the_limit(tmp_path):
    # all close at the same instant, so the limit binds: n calls need at least (n - 1)/30 s
    figures = await run(polls=10, scale=5, data_dir=tmp_path, limit=30.0, quiet=True, spread_seconds=0)
    assert figures["posted"] == 10
    assert figures["duplicates"] == 0
    assert figures["calls"] == 10  # one result each; the button edits come later
    assert figures["busy_s"] >= 9 / 30
    assert figures["ratio_to_limit"] <= 1.05
    assert figures["lateness_max_s"] < 30


async def test_bench_smoke_native(tmp_path):
    figures = await run(polls=4, scale=20, native=True, data_dir=tmp_path, quiet=True, spread_seconds=0)
    assert (figures["posted"], figures["duplicates"], figures["calls"]) == (4, 0, 8)  # close + result
