"""A tiny run of bench/checklist_bench.py so the benchmark keeps working."""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "checklist_bench.py"


async def test_bench_smoke():
    spec = importlib.util.spec_from_file_location("checklist_bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    figures = await bench.run(members=1, profile_reps=1, chart_reps=1)
    assert figures["answers"] == 28 and figures["respondents"] == 1
    assert figures["answers_per_s"] > 0 and figures["bar_chart_kb"] > 5
