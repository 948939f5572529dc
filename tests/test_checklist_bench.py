"""A tiny run of bench/checklist_bench.py so the benchmark keeps working."""

from bench import checklist_bench as bench


async def test_bench_smoke():
    figures = await bench.run(members=1, profile_reps=1, chart_reps=1)
    assert figures["answers"] == 28 and figures["respondents"] == 1
    assert figures["answers_per_s"] > 0 and figures["bar_chart_kb"] > 5
