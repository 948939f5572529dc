"""A tiny run of bench/scale_bench.py on SQLite, so the scale benchmark keeps working: every figure
is printed (the targets are the full run's business, not this one's)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = [
    "digest sweep, all chats", "sweep with nothing due (hourly)",
    "search, storage call p50", "search, storage call p99",
    "/ideat through the handler p50", "/ideat through the handler p99",
    "export a year of digests (json)", "its peak RSS",
    "start-up to ready (/readyz 200)", "start-up to first getUpdates", "its CPU time until ready", "RSS at ready",
]


def test_quick_run_prints_every_figure():
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "scale_bench.py"), "--quick", "--stores", "sqlite"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert out.startswith("SQLite: 10 chats, 500 ideas, 50 reminders"), out
    for name in FIGURES:
        line = next((line for line in out.splitlines() if line.strip().startswith(name)), None)
        assert line is not None, f"{name!r} missing from:\n{out}"
        assert re.search(r"\d+(\.\d+)? (ms|s|MB)\b", line), line
    assert "10 digests made, 10 posted" in out
    assert "520 digest records (52 weeks × 10 chats)" in out
    # a target line says PASS or MISS, and a missed one is explained
    assert len(re.findall(r"\b(PASS|MISS)\b", out)) == 4
    assert ("every target met" in out) != ("MISSED:" in out)
