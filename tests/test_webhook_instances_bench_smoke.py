"""A tiny run of bench/webhook_instances_bench.py: two `kehrabot run` processes in webhook mode
on PostgreSQL behind the balancer (the real benchmark, 1 then 2 processes, is not part of the
suite)."""

from dataclasses import replace

import pytest

from tests.conftest import PG_URL

pytestmark = pytest.mark.integration


async def test_webhook_instances_bench_smoke():
    from bench.webhook_instances_bench import report, run

    [two] = await run([2], groups=2, per_group=3, pg=PG_URL, connections=8, idle=0.2)
    assert two.ok, two  # each message answered exactly once, clean exits, every delivery taken
    assert two.replied == two.once == 6 and two.replies_per_s > 0 and all(c > 0 for c in two.bot_cpu)
    assert two.served == [3, 3]  # the balancer took turns
    one = replace(two, instances=1, bot_cpu=[sum(two.bot_cpu)], seconds=2 * two.seconds, served=[6])
    text = report([one, two])
    assert "answered exactly once: yes" in text
    assert "2 / 1 instances, replies/s as measured: 2.00x" in text
    assert "replies per bot CPU-second: 1.00 (projected with a core per process: 2.00x)" in text
