"""Search latency of /ideat <words> on N ideas (default 100,000), on SQLite and with ``--pg URL``
on PostgreSQL, beside a baseline: the same query as before the full-text index (LIKE '%word%'
over ``idea.search``, a scan of the chat's ideas), on the same store in the same run.

Ideas are made from fi, sv and en sentences of neighbourhood topics with inflected words, in
``--chats`` chats (default 10: 10,000 ideas each; ``--chats 1`` is the worst case, one chat with
all of them). Each search is what the command does: the count and the first page of 10, best
match first. Queries: rare, common and two-word searches in each language.

    .venv/bin/python bench/search_bench.py [N] [--chats 10] [--pg postgresql+asyncpg://postgres@127.0.0.1/test]

Target: p99 under 50 ms on 100,000 ideas.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
warnings.filterwarnings("ignore", category=DeprecationWarning)  # SQLModel's nag about session.execute

from sqlalchemy import func, insert, select, text  # noqa: E402

from handlers.ideas.parse import parse_idea  # noqa: E402
from storage import ideas as store  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.ideas import Idea, IdeaTag  # noqa: E402

WORDS = {
    "fi": {
        "subject": ["Katuvalaistus", "Valaistus kadulla", "Kadun valaistus", "Penkkejä puistoon", "Kirjaston aukioloajat",
                    "Yhteinen kasvimaa", "Kirpputori pihalla", "Aurinkopaneelit katolle", "Leikkipuiston kunnostus",
                    "Kesäterassi kirjaston eteen", "Pyöräparkki aseman viereen", "Roska-astioita rannalle",
                    "Talkoot puistossa", "Senioreiden kahvila", "Esteetön kulku asemalle", "Koirapuisto metsän laitaan"],
        "tail": ["olisi hyvä", "ensi kesänä", "asukkaiden kanssa", "kaupungin tuella", "yhdessä yrittäjien kanssa",
                 "talvella pimeällä", "lasten iloksi", "Maunulassa", "Suutarilassa", "Kannelmäessä", "jo syksyllä"],
    },
    "sv": {
        "subject": ["Belysning på gatan", "Gatorna behöver bänkar", "Gatubelysningen är trasig", "Fler bänkar i parken",
                    "Bibliotekets öppettider", "Gemensam köksträdgård", "Loppis på gården", "Solpaneler på taket",
                    "Lekparken behöver renoveras", "Cykelparkering vid stationen", "Kafé för seniorer"],
        "tail": ["vore bra", "nästa sommar", "med invånarna", "med stadens stöd", "på vintern", "för barnen",
                 "i Månsas", "i Skomakarböle", "redan i höst"],
    },
    "en": {
        "subject": ["More lights in the park", "Street lighting at night", "Benches by the library",
                    "A shared vegetable garden", "Flea market in the yard", "Solar panels on the roof",
                    "Repair the playground", "Bike parking at the station", "A cafe for seniors"],
        "tail": ["would be great", "next summer", "with the residents", "with the city's support", "in winter",
                 "for the children", "in Maunula", "this autumn"],
    },
}
#: (words, languages) as the command passes them: the chat's language, then the reader's
QUERIES = [
    (["kadun", "valaistus"], ("fi", "fi")), (["katu"], ("fi", "fi")), (["kirjaston"], ("fi", "fi")),
    (["koirapuisto"], ("fi", "fi")), (["kasvimaa", "kesänä"], ("fi", "fi")), (["ja"], ("fi", "fi")),
    (["gatorna"], ("sv", "sv")), (["bänkar", "parken"], ("sv", "fi")), (["solpaneler"], ("fi", "sv")),
    (["lights"], ("en", "en")), (["lighting", "night"], ("en", "fi")), (["seniors"], ("en", "en")),
    (["olisi"], ("fi", "fi")),  # one of the commonest words: a fifth of the Finnish ideas
]
REPEATS = 15  # each query this many times per store and method


def make_rows(n: int, chats: int, rng: random.Random) -> list[tuple[dict, list[str]]]:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    rows, numbers = [], [0] * chats
    for i in range(n):
        lang = rng.choices(("fi", "sv", "en"), weights=(6, 3, 1))[0]
        words = WORDS[lang]
        sentence = f"{rng.choice(words['subject'])} {rng.choice(words['tail'])} ({i})"
        parsed = parse_idea(sentence)
        chat = i % chats
        numbers[chat] += 1
        rows.append((dict(chat_key=f"bench:{chat}", number=numbers[chat], text=parsed.text, search=parsed.search,
                          tags=" ".join(parsed.tags), author_key=f"bench:u{i % 50}", author_name="U", status="new",
                          support_count=rng.randrange(5), created_at=now, updated_at=now), list(parsed.tags)))
    return rows


async def load(db: Database, rows: list[tuple[dict, list[str]]]) -> float:
    start = time.perf_counter()
    async with db.engine.begin() as conn:
        for k in range(0, len(rows), 5000):
            batch = rows[k:k + 5000]
            ids = (await conn.execute(insert(Idea).returning(Idea.id), [r for r, _t in batch])).scalars().all()
            tags = [{"idea_id": i, "tag": t} for i, (_r, ts) in zip(ids, batch, strict=True) for t in ts]
            if tags:
                await conn.execute(insert(IdeaTag), tags)
    async with db.engine.connect() as conn:  # fresh statistics, as autovacuum / ANALYZE leave them
        await conn.execute(text("ANALYZE"))
        await conn.commit()
    return time.perf_counter() - start


async def baseline(session, chat_key: str, words: list[str]) -> tuple[list, int]:
    """The search before the full-text index (storage/ideas.py before 0015_ideas_search)."""
    query = select(Idea).where(Idea.chat_key == chat_key, Idea.status.not_in(("archived", "withdrawn")))
    for word in words:
        query = query.where(Idea.search.contains(word, autoescape=True))
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    ideas = list((await session.execute(query.order_by(Idea.number.desc()).limit(10))).scalars())
    return ideas, total


async def measure(db: Database, chats: int, rng: random.Random) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"full-text": [], "LIKE scan": []}
    per_query: dict[str, list[tuple[str, float, int]]] = {}
    plan = [(q, rng.randrange(chats)) for q in QUERIES for _ in range(REPEATS)]
    rng.shuffle(plan)
    async with db.session() as session:
        for (words, langs), chat in plan:
            chat_key = f"bench:{chat}"
            t0 = time.perf_counter()
            _ideas, total = await store.list_ideas(session, chat_key, words=words, languages=langs, order="rel")
            t1 = time.perf_counter()
            _b, btotal = await baseline(session, chat_key, words)
            t2 = time.perf_counter()
            times["full-text"].append(t1 - t0)
            times["LIKE scan"].append(t2 - t1)
            per_query.setdefault(" ".join(words), []).append((langs[0], (t1 - t0) * 1000, total))
    for words, hits in per_query.items():
        ms = sorted(h[1] for h in hits)
        print(f"    {words!r:24} {hits[0][0]}: {statistics.median(ms):6.2f} ms median, max {ms[-1]:6.2f}, "
              f"~{statistics.median(h[2] for h in hits):.0f} found in a chat")
    return times


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


async def run(name: str, url: str, n: int, chats: int) -> None:
    rng = random.Random(16)
    db = Database(url)
    await db.upgrade()
    rows = make_rows(n, chats, rng)
    seconds = await load(db, rows)
    print(f"{name}: {n:,} ideas in {chats} chats loaded in {seconds:.1f} s ({n / seconds:,.0f}/s, with the index)")
    for _ in range(2):  # warm the caches, as a running bot has them
        async with db.session() as session:
            for words, langs in QUERIES:
                await store.list_ideas(session, "bench:0", words=words, languages=langs, order="rel")
    times = await measure(db, chats, rng)
    for method, values in times.items():
        print(f"  {method:10} p50 {pct(values, 50):7.2f} ms   p99 {pct(values, 99):7.2f} ms   ({len(values)} searches)")
    await db.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, nargs="?", default=100_000)
    parser.add_argument("--chats", type=int, default=10)
    parser.add_argument("--pg", help="a PostgreSQL URL (a fresh database is made beside it and dropped)")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            await run("SQLite", f"sqlite+aiosqlite:///{tmp}/search.sqlite3", args.n, args.chats)
    if args.pg:
        import asyncpg

        admin_url = args.pg.replace("postgresql+asyncpg", "postgresql")
        name = "kehrabot_bench_" + uuid.uuid4().hex[:8]
        conn = await asyncpg.connect(admin_url)
        await conn.execute(f'CREATE DATABASE "{name}"')
        try:
            await run("PostgreSQL", args.pg.rsplit("/", 1)[0] + "/" + name, args.n, args.chats)
        finally:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
