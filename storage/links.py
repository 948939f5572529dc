"""Linked people: one person's identities on several platforms (a Telegram account and a Matrix
user), joined with a one-time code so that an area poll and the area's figures count them once.

``PersonLink`` maps each linked person key to the link it belongs to (``"link:<random>"``, which
names nobody); a link has at most one identity per platform. ``LinkCode`` is a short code valid
for ``CODE_VALID``, given in a private chat on one platform and sent back from another."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import delete, select
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.types import UTCDateTime

CODE_VALID = timedelta(minutes=10)
#: no 0/O, 1/I/L: read aloud or copied by hand without mistakes
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 6


class PersonLink(SQLModel, table=True):
    __tablename__ = "person_link"

    key: str = Field(primary_key=True, max_length=255)  # "platform:id"
    link: str = Field(max_length=64, index=True)  # "link:<random>", the same for each identity
    linked_at: datetime = Field(sa_type=UTCDateTime)


class LinkCode(SQLModel, table=True):
    __tablename__ = "link_code"

    code: str = Field(primary_key=True, max_length=16)
    person_key: str = Field(max_length=255, index=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class Redeemed(Enum):
    LINKED = "linked"
    UNKNOWN = "unknown"  # no such code, or expired
    SAME_PLATFORM = "same_platform"  # the code was made on this platform
    TAKEN = "taken"  # one side is linked to another identity on this platform already


def platform_of(person_key: str) -> str:
    return person_key.split(":", 1)[0]


def normalise_code(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


async def new_code(session: AsyncSession, person_key: str, now: datetime) -> tuple[str, datetime]:
    """A fresh code for this person (their earlier codes stop working) and when it expires."""
    await session.execute(delete(LinkCode).where((LinkCode.person_key == person_key) | (LinkCode.expires_at < now)))
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    expires = now + CODE_VALID
    session.add(LinkCode(code=code, person_key=person_key, expires_at=expires))
    return code, expires


async def current_code(session: AsyncSession, person_key: str, now: datetime) -> LinkCode | None:
    return (await session.execute(select(LinkCode).where(LinkCode.person_key == person_key,
                                                         LinkCode.expires_at >= now))).scalars().first()


async def link_of(session: AsyncSession, person_key: str) -> str | None:
    row = await session.get(PersonLink, person_key)
    return row.link if row else None


async def linked_keys(session: AsyncSession, person_key: str) -> list[str]:
    """Every identity linked with this person (not themself), in key order."""
    link = await link_of(session, person_key)
    if link is None:
        return []
    keys = (await session.execute(select(PersonLink.key).where(PersonLink.link == link))).scalars()
    return sorted(k for k in keys if k != person_key)


async def redeem(session: AsyncSession, code: str, person_key: str, now: datetime) -> tuple[Redeemed, str | None]:
    """Link ``person_key`` with whoever made ``code``; the other identity's key when linked."""
    row = await session.get(LinkCode, normalise_code(code)[:16])
    if row is None or row.expires_at < now:
        return Redeemed.UNKNOWN, None
    other = row.person_key
    if platform_of(other) == platform_of(person_key):
        return Redeemed.SAME_PLATFORM, None
    mine, theirs = await link_of(session, person_key), await link_of(session, other)
    if mine is not None and mine == theirs:
        await session.delete(row)
        return Redeemed.LINKED, other
    # a link holds one identity per platform: the redeemer's side must not already have one of the other's
    for link, newcomer in ((mine, other), (theirs, person_key)):
        if link is not None:
            keys = (await session.execute(select(PersonLink.key).where(PersonLink.link == link))).scalars()
            if any(platform_of(k) == platform_of(newcomer) for k in keys):
                return Redeemed.TAKEN, None
    link = mine or theirs or "link:" + secrets.token_hex(8)
    if mine is not None and theirs is not None:  # two links become one
        for key in (await session.execute(select(PersonLink).where(PersonLink.link == theirs))).scalars():
            key.link = link
            session.add(key)
    for key in (person_key, other):
        if await session.get(PersonLink, key) is None:
            session.add(PersonLink(key=key, link=link, linked_at=now))
    await session.delete(row)
    return Redeemed.LINKED, other


async def unlink(session: AsyncSession, person_key: str) -> list[str]:
    """Take this person out of their link; the identities they were linked with (a link left
    with one identity goes too)."""
    link = await link_of(session, person_key)
    if link is None:
        return []
    others = await linked_keys(session, person_key)
    await session.execute(delete(PersonLink).where(PersonLink.key == person_key))
    if len(others) <= 1:
        await session.execute(delete(PersonLink).where(PersonLink.link == link))
    return others


async def canonical(session: AsyncSession, keys: list[str]) -> dict[str, str]:
    """Each key -> the one identity it counts as (its link, or itself)."""
    out = {k: k for k in keys}
    if not keys:
        return out
    for chunk in range(0, len(keys), 500):
        part = keys[chunk:chunk + 500]
        for key, link in (await session.execute(
                select(PersonLink.key, PersonLink.link).where(PersonLink.key.in_(part)))).all():
            out[key] = link
    return out


async def forget(session: AsyncSession, person_key: str) -> int:
    """A forgotten person's links and codes go (the other identity stays, unlinked)."""
    n = len(await unlink(session, person_key))
    result = await session.execute(delete(LinkCode).where(LinkCode.person_key == person_key))
    return n + (result.rowcount or 0)


async def counted_before(session: AsyncSession, chat_key: str, earlier: list[str], week: str) -> int:
    """Linked people active in ``chat_key`` in ``week`` (by its activity marks) who were active, as
    any of their identities, in one of the ``earlier`` chats that week too: an area's figures count
    them there, once."""
    from storage.digest import ActivityPerson, activity_mark

    if not earlier:
        return 0
    groups: dict[str, list[str]] = {}
    for key, link in (await session.execute(select(PersonLink.key, PersonLink.link))).all():
        groups.setdefault(link, []).append(key)
    groups = {k: v for k, v in groups.items() if len(v) > 1}
    if not groups:
        return 0
    chats = [chat_key, *earlier]
    marks: dict[str, set[str]] = {c: set() for c in chats}
    for chat, person in (await session.execute(select(ActivityPerson.chat_key, ActivityPerson.person).where(
            ActivityPerson.week == week, ActivityPerson.chat_key.in_(chats)))).all():
        marks[chat].add(person)
    found = 0
    for keys in groups.values():
        here = any(activity_mark(chat_key, week, k) in marks[chat_key] for k in keys)
        if here and any(activity_mark(c, week, k) in marks[c] for c in earlier for k in keys):
            found += 1
    return found
