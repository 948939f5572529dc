"""Checklist figures on SQLite with the fake transport, all in one run:

- answers per second through the whole pipeline (button -> router -> store -> next question),
  beside a plain /help round trip through the same router (the ratio is the checklist's own cost);
- building a round's profile from the store for many respondents;
- rendering the bar, radar and line charts; validating the shipped checklist.

    .venv/bin/python bench/checklist_bench.py [MEMBERS]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.testing import TestBot  # noqa: E402
from handlers import charts  # noqa: E402
from handlers.checklist.format import CHECKLIST_DIR, check_file, from_json  # noqa: E402
from handlers.checklist.render import profile_chart  # noqa: E402
from handlers.checklist.views import round_profiles  # noqa: E402
from storage import checklist as store  # noqa: E402


async def answer_all(bot: TestBot, user: str, rid: int) -> int:
    """Answer every question with its first choice (free text where asked); returns answers given."""
    await bot.press(f"checklist:go:{rid}", user=user)
    chat, given = f"private-{user}", 0
    while True:
        q = next(s for s in reversed(bot.transport.sent) if s.chat_id == chat and s.kind == "message")
        data = [b.data for row in q.reply.buttons for b in row]
        if any(d.startswith("checklist:name") for d in data):  # the thank-you message
            return given
        action = data[0].split(":")[1]
        if action == "t":
            await bot.press(data[0], user=user, chat=chat)
            await bot.press(next(d for d in data if d.startswith("checklist:d:")), user=user, chat=chat)
        elif action == "a":
            await bot.press(data[0], user=user, chat=chat)
        else:
            await bot.say(f"Vastaus {given}", user=user, chat=chat, private=True)
        given += 1


async def run(members: int = 20, profile_reps: int = 3, chart_reps: int = 3) -> dict[str, float]:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        bot = await TestBot(Path(tmp)).open()
        bot.make_admin("admin")
        await bot.say("/checklist start", user="admin")
        rid = 1
        started = time.perf_counter()
        answers = 0
        for i in range(members):
            answers += await answer_all(bot, f"m{i}", rid)
        elapsed = time.perf_counter() - started
        figures["answers"] = answers
        figures["answers_per_s"] = answers / elapsed
        started = time.perf_counter()
        n_help = max(50, members * 5)
        for i in range(n_help):
            await bot.say("/help", user=f"h{i % 10}")
        figures["help_per_s"] = n_help / (time.perf_counter() - started)
        figures["answer_vs_help_cost"] = figures["help_per_s"] / figures["answers_per_s"]

        times = []
        for _ in range(profile_reps):
            t = time.perf_counter()
            async with bot.services.db.session() as s:
                rd = await store.get_round(s, rid)
                profile = (await round_profiles(s, [rd]))[0]
            times.append(time.perf_counter() - t)
        figures["profile_ms"] = statistics.median(times) * 1000
        figures["respondents"] = profile.respondents
        cl = from_json(rd.definition)
        with bot.services.locale("fi"):
            for kind in ("bar", "radar"):
                times = []
                for _ in range(chart_reps):
                    t = time.perf_counter()
                    png = profile_chart(cl, {"2026": profile, "2027": profile}, radar=kind == "radar", title="Kehrä")
                    times.append(time.perf_counter() - t)
                figures[f"{kind}_chart_ms"] = statistics.median(times) * 1000
                figures[f"{kind}_chart_kb"] = len(png) / 1024
        t = time.perf_counter()
        base = datetime(2026, 1, 1, tzinfo=UTC)
        charts.line_chart({f"s{k}": [(base + timedelta(days=7 * d), d + k) for d in range(52)] for k in range(3)})
        figures["line_chart_ms"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        check_file(CHECKLIST_DIR / "kehra.yaml")
        figures["validate_ms"] = (time.perf_counter() - t) * 1000
        await bot.close()
    return figures


def main() -> None:
    members = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    figures = asyncio.run(run(members))
    print(f"members answering the Kehrä checklist: {members} ({figures['answers']:.0f} answers)")
    print(f"answers through the pipeline:   {figures['answers_per_s']:8.1f} /s")
    print(f"/help through the same router:  {figures['help_per_s']:8.1f} /s")
    print(f"ratio help/answer (checklist's own cost per event): {figures['answer_vs_help_cost']:.2f}x")
    print(f"profile of {figures['respondents']:.0f} respondents from the store: {figures['profile_ms']:.1f} ms")
    print(f"bar chart:   {figures['bar_chart_ms']:.0f} ms, {figures['bar_chart_kb']:.0f} KiB")
    print(f"radar chart: {figures['radar_chart_ms']:.0f} ms, {figures['radar_chart_kb']:.0f} KiB")
    print(f"line chart (3 series x 52 points): {figures['line_chart_ms']:.0f} ms")
    print(f"validate checklists/kehra.yaml: {figures['validate_ms']:.1f} ms")


if __name__ == "__main__":
    main()
