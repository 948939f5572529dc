"""Ideas: tables and queries."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Index,
    Select,
    Text,
    UniqueConstraint,
    bindparam,
    case,
    column,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    table,
    text,
    update,
)
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.core import add_unique
from storage.db import WRITER_MEMO, Database
from storage.types import UTCDateTime

STATUSES = ("new", "discussed", "experiment", "project", "done", "archived", "withdrawn")


class Idea(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("chat_key", "number", name="uq_idea_chat_number"),
        # one idea per posting event: an event handled again after a restart finds its idea
        Index("uq_idea_chat_source_event", "chat_key", "source_event", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    chat_key: str = Field(max_length=255, index=True)
    number: int  # short number within the chat
    text: str = Field(sa_type=Text)
    search: str = Field(default="", sa_type=Text)  # casefolded text and tags, for searching
    tags: str = Field(default="", max_length=1000)  # space-separated, also in IdeaTag
    author_key: str = Field(max_length=255)
    author_name: str = Field(default="", max_length=255)
    status: str = Field(default="new", max_length=16, index=True)
    support_count: int = Field(default=0)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    source_message_id: str | None = Field(default=None, max_length=255)
    #: the transport's idempotency key of the event that posted it (Incoming.event_key); None
    #: where the platform gives none (the console): message ids alone repeat there
    source_event: str | None = Field(default=None, max_length=255)
    bot_message_id: str | None = Field(default=None, max_length=255)
    #: the language of the bot's message about it (the card): it stays in it when refreshed
    card_language: str | None = Field(default=None, max_length=8)

    def tag_list(self) -> list[str]:
        return self.tags.split() if self.tags else []


class IdeaTag(SQLModel, table=True):
    idea_id: int = Field(foreign_key="idea.id", primary_key=True, ondelete="CASCADE")
    tag: str = Field(primary_key=True, max_length=64, index=True)


class IdeaSupport(SQLModel, table=True):
    idea_id: int = Field(foreign_key="idea.id", primary_key=True, ondelete="CASCADE")
    person_key: str = Field(primary_key=True, max_length=255)
    created_at: datetime = Field(sa_type=UTCDateTime)


class IdeaEvent(SQLModel, table=True):
    """History of an idea: created, edited, status changes, withdrawal."""

    id: int | None = Field(default=None, primary_key=True)
    idea_id: int = Field(foreign_key="idea.id", index=True, ondelete="CASCADE")
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    actor_key: str = Field(max_length=255)
    actor_name: str = Field(default="", max_length=255)
    action: str = Field(max_length=16)  # edited | status | withdrawn (and "created" in older stores)
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str | None = Field(default=None, max_length=16)
    note: str = Field(default="", sa_type=Text)


@dataclass(frozen=True)
class NewIdea:
    id: int
    number: int
    support_count: int = 0
    #: False when the posting event had made this idea before (handled again after a restart)
    created: bool = True


# Built once: the hot path's statements.
# max() of one chat is a single seek in the (chat_key, number) index; grouped over several chats it
# would scan them.
_LAST_NUMBER = select(func.max(Idea.number)).where(Idea.chat_key == bindparam("chat"))
# Without sort_by_parameter_order, SQLAlchemy sends a batch as one INSERT … RETURNING (with it, one
# statement per row on SQLite); the rows are matched back by their (chat, number).
_INSERT_IDEAS = insert(Idea).returning(Idea.id, Idea.chat_key, Idea.number)
_INSERT_TAGS = insert(IdeaTag)


_LOCK_CHAT_NUMBERS = select(func.pg_advisory_xact_lock(func.hashtext("idea-number:" + bindparam("chat"))))


def insert_ideas(conn: Connection, items: list[tuple[dict, list[str]]]) -> list[NewIdea]:
    """Batch write of new ideas (row values, tags): each gets its chat's next number and its tags.
    (The posting itself is the idea row's author and time; history events are the changes after.)"""
    if conn.dialect.name == "postgresql":
        # Concurrent transactions take a chat's numbers one after the other (held to the commit).
        # On SQLite the writer's BEGIN IMMEDIATE already excludes every other writer.
        for chat in sorted({row["chat_key"] for row, _tags in items}):
            conn.execute(_LOCK_CHAT_NUMBERS, {"chat": chat})
    return _insert_ideas(conn, items)


# One seek in the unique (chat_key, source_event) index per key: a row-value IN list would scan it.
_BY_SOURCE_EVENT = select(Idea.id, Idea.number, Idea.support_count).where(
    Idea.chat_key == bindparam("chat"), Idea.source_event == bindparam("event"))


def _existing(conn: Connection, items: list[tuple[dict, list[str]]]) -> dict[tuple[str, str], NewIdea]:
    """Ideas already made by the posting events of these items, by (chat, event)."""
    found = {}
    for key in {(row["chat_key"], row["source_event"]) for row, _tags in items if row.get("source_event")}:
        hit = conn.execute(_BY_SOURCE_EVENT, {"chat": key[0], "event": key[1]}).first()
        if hit is not None:
            found[key] = NewIdea(hit[0], hit[1], hit[2], created=False)
    return found


def _insert_ideas(conn: Connection, items: list[tuple[dict, list[str]]]) -> list[NewIdea]:
    # An item whose posting event made an idea before (the event is handled again after a
    # restart) gets that idea back, and nothing is inserted; so does a second item of one event.
    earlier = _existing(conn, items)
    # The SQLite writer is the only one inserting ideas, so it remembers each chat's last number
    # (its memo is dropped whenever a batch fails; a stale one could only cause a unique clash).
    memo = conn.info.get(WRITER_MEMO)
    last: dict[str, int] = memo.setdefault("idea-numbers", {}) if memo is not None else {}
    rows, fresh, seen = [], [], {}
    for n, (row, tags) in enumerate(items):
        event = (row["chat_key"], row["source_event"]) if row.get("source_event") else None
        if event is not None and (event in earlier or event in seen):
            continue
        if event is not None:
            seen[event] = n
        chat = row["chat_key"]
        if chat not in last:
            last[chat] = conn.execute(_LAST_NUMBER, {"chat": chat}).scalar() or 0
        last[chat] += 1
        rows.append({"source_event": None, **row, "number": last[chat]})
        fresh.append((n, tags))
    made: dict[int, NewIdea] = {}
    if rows:
        by_number = {(chat, number): idea_id for idea_id, chat, number in conn.execute(_INSERT_IDEAS, rows)}
        ids = [by_number[row["chat_key"], row["number"]] for row in rows]
        tags = [{"idea_id": idea_id, "tag": t} for idea_id, (_n, tags) in zip(ids, fresh, strict=True) for t in tags]
        if tags:
            conn.execute(_INSERT_TAGS, tags)
        made = {n: NewIdea(idea_id, row["number"]) for idea_id, row, (n, _tags) in zip(ids, rows, fresh, strict=True)}
    results = []
    for n, (row, _tags) in enumerate(items):
        if n in made:
            results.append(made[n])
            continue
        event = (row["chat_key"], row["source_event"])
        first = earlier.get(event) or made[seen[event]]
        results.append(NewIdea(first.id, first.number, first.support_count, created=False))
    return results


async def create_idea(
    db: Database,
    *,
    chat_key: str,
    author_key: str,
    author_name: str,
    text: str,
    tags: list[str],
    search: str,
    now: datetime,
    source_message_id: str | None,
    source_event: str | None = None,
) -> NewIdea:
    """Store a new idea and commit; returns its id and number — or, when the posting event
    ``source_event`` made an idea before, that idea (``created`` False) and nothing is stored.
    The bot's hottest write, so it goes through the store's batch writer (see ``Database.write``)."""
    row = dict(
        chat_key=chat_key, text=text, search=search, tags=" ".join(tags), author_key=author_key,
        author_name=author_name[:255], status="new", support_count=0, created_at=now, updated_at=now,
        source_message_id=source_message_id, source_event=source_event[:255] if source_event else None,
    )
    return await db.write(insert_ideas, (row, tags))


async def by_number(session: AsyncSession, chat_key: str, number: int) -> Idea | None:
    return (
        await session.execute(select(Idea).where(Idea.chat_key == chat_key, Idea.number == number))
    ).scalar_one_or_none()


async def by_id(session: AsyncSession, idea_id: int) -> Idea | None:
    return await session.get(Idea, idea_id)


async def by_message(session: AsyncSession, chat_key: str, message_id: str) -> Idea | None:
    return (
        await session.execute(
            select(Idea).where(
                Idea.chat_key == chat_key,
                (Idea.bot_message_id == message_id) | (Idea.source_message_id == message_id),
            )
        )
    ).scalars().first()


_SET_BOT_MESSAGE = update(Idea).where(Idea.id == bindparam("idea"))


def set_bot_messages(conn: Connection, items: list[tuple[int, str, str | None]]) -> list[None]:
    conn.execute(_SET_BOT_MESSAGE, [{"idea": idea_id, "bot_message_id": message_id, "card_language": language}
                                    for idea_id, message_id, language in items])
    return [None] * len(items)


async def set_bot_message(db: Database, idea_id: int, message_id: str | None, language: str | None = None) -> None:
    """Remember the bot's message of an idea (so a 👍 on it supports the idea) and its language.
    Written soon, not waited for: a reaction to the person's own message works as well, should
    this be lost."""
    if message_id:
        await db.write_soon(set_bot_messages, (idea_id, message_id, language))


async def add_support(session: AsyncSession, idea: Idea, person_key: str, now: datetime) -> bool:
    """True if the support is new."""
    if await session.get(IdeaSupport, (idea.id, person_key)) is not None:
        return False
    if not await add_unique(session, IdeaSupport(idea_id=idea.id, person_key=person_key, created_at=now)):
        return False
    await session.execute(update(Idea).where(Idea.id == idea.id).values(support_count=Idea.support_count + 1))
    await session.refresh(idea)
    return True


async def remove_support(session: AsyncSession, idea: Idea, person_key: str) -> bool:
    result = await session.execute(
        delete(IdeaSupport).where(IdeaSupport.idea_id == idea.id, IdeaSupport.person_key == person_key)
    )
    if not result.rowcount:
        return False
    await session.execute(update(Idea).where(Idea.id == idea.id).values(support_count=Idea.support_count - 1))
    await session.refresh(idea)
    return True


async def change_status(
    session: AsyncSession, idea: Idea, status: str, *, actor_key: str, actor_name: str, note: str, now: datetime
) -> None:
    action = "withdrawn" if status == "withdrawn" else "status"
    session.add(IdeaEvent(idea_id=idea.id, at=now, actor_key=actor_key, actor_name=actor_name[:255],
                          action=action, from_status=idea.status, to_status=status, note=note))
    idea.status = status
    idea.updated_at = now
    session.add(idea)


async def edit_text(
    session: AsyncSession, idea: Idea, text: str, tags: list[str], search: str, *, actor_key: str,
    actor_name: str, now: datetime,
) -> None:
    session.add(IdeaEvent(idea_id=idea.id, at=now, actor_key=actor_key, actor_name=actor_name[:255],
                          action="edited", note=idea.text))
    idea.text, idea.tags, idea.search, idea.updated_at = text, " ".join(tags), search, now
    session.add(idea)
    await session.execute(delete(IdeaTag).where(IdeaTag.idea_id == idea.id))
    for tag in tags:
        session.add(IdeaTag(idea_id=idea.id, tag=tag))


async def history(session: AsyncSession, idea_id: int) -> list[IdeaEvent]:
    return list(
        (await session.execute(select(IdeaEvent).where(IdeaEvent.idea_id == idea_id).order_by(IdeaEvent.at, IdeaEvent.id)))
        .scalars()
    )


# --- search -----------------------------------------------------------------------------------
#
# /ideat <words>: every word must match (stem or prefix, docs/search.md), in the chat's ideas only.
# PostgreSQL: one GIN expression index per configuration (migration 0015_ideas_search) rather than
# a stored tsvector column: the chat's language can change at any time and a chat's ideas come in
# several languages, so the configuration is picked at query time, never baked into the rows; an
# expression index is only used when the query repeats its expression with the same literal
# configuration, hence the literal below (never a bound parameter). The price: three index entries
# per idea written, and ts_rank computes the matched rows' vectors again (bench/search_bench.py).
# SQLite has no stemmer: FTS5 (unicode61 remove_diacritics 2) indexes the words as they are, and the
# query stems each word with the same Snowball stemmer PostgreSQL uses and matches it as a prefix.

PG_CONFIGS = {"fi": "finnish", "sv": "swedish", "en": "english"}
#: words shorter than this match only whole words on SQLite (a prefix of two letters is most words)
MIN_PREFIX = 3
#: at most this many words of a search are used
MAX_WORDS = 10
#: a search on PostgreSQL ranks at most this many of its matches, the newest
RANKED = 1000
_SEARCH_WORD = re.compile(r"[^\W_]+")  # letters and digits: nothing of any query syntax survives
_FTS = table("idea_fts", column("rowid"), column("rank"))


def search_words(words: Iterable[str]) -> list[str]:
    """The words of a search as the stores see them: casefolded runs of letters and digits (quotes,
    operators and punctuation are separators), each once, at most ``MAX_WORDS``."""
    out: list[str] = []
    for word in words:
        for part in _SEARCH_WORD.findall(word.casefold()):
            if part not in out:
                out.append(part[:100])
    return out[:MAX_WORDS]


@cache
def _stemmer(lang: str):
    import snowballstemmer  # its package loads thirty languages' stemmers: on the first search, not at start

    return snowballstemmer.stemmer(PG_CONFIGS[lang])


def _fts5_query(words: list[str], languages: tuple[str, ...]) -> str:
    """An FTS5 expression: each word as a prefix of its stem in each language, all words required.
    (Quoted: FTS5 takes what is inside as words, never as its syntax.)"""
    terms = []
    for word in words:
        if len(word) < MIN_PREFIX:
            terms.append(f'"{word}"')
            continue
        # a stem is mostly a prefix of its word; where it is not (library → librari), what they share
        stems = {os.path.commonprefix([word, _stemmer(lang).stemWord(word)]) for lang in languages}
        prefixes = sorted({s if len(s) >= MIN_PREFIX else word for s in stems})
        terms.append("(" + " OR ".join(f'"{p}"*' for p in prefixes) + ")")
    return " AND ".join(terms)


def _pg_vector(lang: str):
    return func.to_tsvector(literal_column(f"'{PG_CONFIGS[lang]}'::regconfig"), Idea.search)


def _pg_query(lang: str, words: list[str]):
    # to_tsquery stems each "word:*" and matches the stem as a prefix; the words are letters and
    # digits only, so nothing in them is query syntax. A stop word ("ja", "och", "the") drops out.
    return func.to_tsquery(literal_column(f"'{PG_CONFIGS[lang]}'::regconfig"),
                           " & ".join(f"{w}:*" for w in words))


def _match(query: Select, dialect: str, words: list[str], languages: tuple[str, ...]) -> tuple[Select, Any]:
    """The query narrowed to ideas matching all words; and the relevance to order by (higher first,
    None last)."""
    if dialect == "postgresql":
        query = query.where(or_(*(_pg_vector(lang).op("@@")(_pg_query(lang, words)) for lang in languages)))
        # ts_rank computes each matched idea's vector again (~10 µs an idea: 8,000 matches, 80 ms),
        # so only the newest RANKED matches are ranked, best first; older ones follow, newest first.
        # A search that broad is not read by relevance past a page or two. (SQLite's bm25 costs
        # about the same for any number of matches: its statistics are the whole index's.)
        newest = func.row_number().over(order_by=Idea.number.desc())
        rank = func.ts_rank(_pg_vector(languages[0]), _pg_query(languages[0], words))
        return query, case((newest <= RANKED, rank), else_=None)
    # The FTS5 rowids first, then each idea by its key (the plan SQLite picks): the cost grows with the
    # matches in all chats, not with the number of the chat's ideas.
    query = query.join(_FTS, _FTS.c.rowid == Idea.id).where(
        literal_column("idea_fts").op("MATCH")(_fts5_query(words, languages)))
    return query, -_FTS.c.rank  # bm25: lower is better


async def list_ideas(
    session: AsyncSession,
    chat_key: str,
    *,
    order: str = "new",
    tag: str | None = None,
    status: str | None = None,
    words: list[str] | None = None,
    languages: Sequence[str] = ("fi",),
    offset: int = 0,
    limit: int = 10,
) -> tuple[list[Idea], int]:
    """A page of a chat's ideas and how many there are in all. ``words``: all must match, searched
    in the ``languages`` (the chat's first: it also ranks); ``order`` "new", "top", or "rel" (the
    best match first, newest among equals; "new" when there are no words)."""
    query = select(Idea).where(Idea.chat_key == chat_key)
    if status:
        query = query.where(Idea.status == status)
    else:
        query = query.where(Idea.status.not_in(("archived", "withdrawn")))
    if tag:
        query = query.where(Idea.id.in_(select(IdeaTag.idea_id).where(IdeaTag.tag == tag)))
    relevance = None
    wanted = search_words(words or [])
    if wanted:
        langs = tuple(dict.fromkeys(lang for lang in languages if lang in PG_CONFIGS)) or ("fi",)
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        query, relevance = _match(query, dialect, wanted, langs)
        if dialect == "postgresql":
            # a statement prepared once runs with a generic plan after five runs, made for no chat
            # in particular: it scans the chat's ideas and computes every text vector (0.7 s in a
            # chat of 20,000 ideas, 0.1 ms with a plan for the values at hand)
            await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    elif words:  # nothing searchable in them ("!!!", "*"): nothing matches
        return [], 0
    if order == "top":
        ordered = query.order_by(Idea.support_count.desc(), Idea.number.desc())
    elif order == "rel" and relevance is not None:
        ordered = query.order_by(relevance.desc().nulls_last(), Idea.number.desc())
    else:
        ordered = query.order_by(Idea.number.desc())
    if relevance is None:
        total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
        return list((await session.execute(ordered.offset(offset).limit(limit))).scalars()), total
    # A search counts its matches in the same statement (a window over them): matched once, not twice.
    rows = (await session.execute(ordered.add_columns(func.count().over()).offset(offset).limit(limit))).all()
    if rows:
        return [idea for idea, _total in rows], rows[0][1]
    return [], (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()


# --- digest and export ------------------------------------------------------------------------


async def created_between(session: AsyncSession, chat_key: str, start: datetime, end: datetime) -> list[Idea]:
    return list((await session.execute(
        select(Idea).where(Idea.chat_key == chat_key, Idea.created_at >= start, Idea.created_at < end,
                           Idea.status != "withdrawn").order_by(Idea.number)
    )).scalars())


async def status_changes_between(
    session: AsyncSession, chat_key: str, start: datetime, end: datetime
) -> list[tuple[IdeaEvent, Idea]]:
    rows = await session.execute(
        select(IdeaEvent, Idea).join(Idea, Idea.id == IdeaEvent.idea_id).where(
            Idea.chat_key == chat_key, IdeaEvent.action == "status", IdeaEvent.at >= start, IdeaEvent.at < end
        ).order_by(IdeaEvent.at, IdeaEvent.id)
    )
    return [(ev, idea) for ev, idea in rows.all()]


async def supports_between(session: AsyncSession, chat_key: str, start: datetime, end: datetime) -> int:
    return (await session.execute(
        select(func.count()).select_from(IdeaSupport).join(Idea, Idea.id == IdeaSupport.idea_id).where(
            Idea.chat_key == chat_key, IdeaSupport.created_at >= start, IdeaSupport.created_at < end)
    )).scalar_one()


async def most_supported(session: AsyncSession, chat_key: str, limit: int = 3) -> list[Idea]:
    return list((await session.execute(
        select(Idea).where(Idea.chat_key == chat_key, Idea.support_count > 0,
                           Idea.status.not_in(("archived", "withdrawn", "done")))
        .order_by(Idea.support_count.desc(), Idea.number).limit(limit)
    )).scalars())


async def for_export(session: AsyncSession, chat_keys: list[str] | None) -> list[Idea]:
    query = select(Idea)
    if chat_keys is not None:
        query = query.where(Idea.chat_key.in_(chat_keys))
    return list((await session.execute(query.order_by(Idea.chat_key, Idea.number))).scalars())
