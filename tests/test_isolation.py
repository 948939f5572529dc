"""Isolation: nothing of one chat can be read, changed or inferred from another.

Chat A ("alfachat") has ideas, polls, meetings, experiments and a self-assessment round, every text
and name of it carrying the marker "alfa"; chat B ("beetachat") a little of its own. From B, as a
member and as an admin, every command that takes a number (found by walking the command tables)
is sent with A's numbers, every button of A (its data, from the bot's messages for A) is pressed,
every message of A is reacted to and edited by its id. Nothing B is told mentions A, A's store rows
and listings are unchanged, nothing is sent to A, and a command with A's number is answered as one
with a number that exists nowhere. (Area roll-ups and coordinators' exports span chats on purpose;
they are not tried here.)"""

from __future__ import annotations

import re

from sqlalchemy import or_, select
from sqlmodel import SQLModel

from bot.testing import Sent, TestBot
from core.events import Kind
from handlers import load_features
from handlers.digest.activity import flush_activity
from storage.core import CHAT_KEY_COLUMNS

A, B = "alfachat", "beetachat"
MARK = "alfa"
A_ADMIN, A_PEOPLE = "alfaadmin", ("alfa1", "alfa2")
B_MEMBER, B_ADMIN = "beeta1", "beetaadmin"
#: the numbers tried: one of many in A, one of A's highest, and one that exists nowhere
A_NUMBERS, NOWHERE = (2, 13), 97
#: of A's things numbered 1..13, B has only number 1: A's numbers name nothing in B
COUNT = 13

#: what follows the number for each command and subcommand that takes one ((command, None) for
#: the command itself); the test fails for one missing here, so a new command is tried too
TAILS: dict[tuple[str, str | None], str] = {
    ("idea", None): "",
    ("support", None): "",
    ("unsupport", None): "",
    ("edit", None): "Beetan uusi teksti",
    ("withdraw", None): "",
    ("status", None): "discussed Beetan syy",
    ("answer", None): "Beetan vastaus",
    ("ideas", None): "",  # a page number
    ("auditlog", None): "",  # a page number
    ("experiment", None): "",
    ("experiment", "show"): "",
    ("experiment", "start"): "",
    ("experiment", "done"): "Beetan tulos",
    ("experiment", "abandon"): "Beetan syy",
    ("experiment", "ask"): "weekly",
    ("join", None): "",
    ("leave", None): "",
    ("phase", None): "next Beetan opit",
    ("indicator", None): "Beetamittari | hlö | 20 | more",
    ("measure", None): "1 5",
    ("meeting", None): "",
    ("rsvp", None): "yes",
    ("skipmeeting", None): "",
    ("movemeeting", None): "huomenna klo 19",
    ("cancelmeeting", None): "",
    ("calendar", None): "",
    ("meeting", "show"): "",
    ("meeting", "pick"): "1",  # a time poll's number, then the time's
    ("poll", None): "",
    ("poll", "show"): "",
    ("poll", "close"): "",
    ("poll", "extend"): "2 päivää",
    ("poll", "cancel"): "",
}
#: commands whose number is not one of a chat's things
NOT_NUMBERED = {("summary", None)}  # a week, for coordinators (their exports span chats)


def _en(named) -> str:
    return (named.aliases.get("en") or (named.name,))[0]


def numbered_commands() -> list[tuple[tuple[str, str | None], str]]:
    """(key, the command text before the number and its tail) of every command or subcommand whose
    arguments hold a number, from the tables."""
    found = []
    for feature in load_features():
        for cmd in feature.commands:
            own = cmd.usage or ""
            # a number alone may pick a subcommand (``/poll 3``, Command.numbered): tried as well
            if any(word in own for word in ("number", "page")) or getattr(cmd, "numbered", None):
                found.append(((cmd.name, None), f"/{_en(cmd)}"))
            for sub in cmd.subcommands:
                if cmd.leading and "number" in (cmd.leading_usage or ""):
                    found.append(((cmd.name, sub.name), f"/{_en(cmd)} {{n}} {_en(sub)}"))
                elif "number" in (sub.usage or ""):
                    found.append(((cmd.name, sub.name), f"/{_en(cmd)} {_en(sub)}"))
    return found


def texts(sent: list[Sent]) -> list[str]:
    """Everything the bot sent: message texts, buttons' labels and data, files, toasts."""
    out = []
    for s in sent:
        out.append(s.plain)
        if s.reply is not None:
            out += [f"{b.label} {b.data}" for row in s.reply.buttons for b in row]
        if s.file is not None:
            out.append(s.file.data.decode("utf-8", "replace") if isinstance(s.file.data, bytes) else str(s.file.data))
        if s.poll is not None:
            out += [s.poll.question, *s.poll.options]
    return out


def leaks(sent: list[Sent]) -> list[str]:
    return [t for t in texts(sent) if MARK in t.casefold()]


async def seed_a(bot: TestBot) -> None:
    bot.make_admin(A_ADMIN, A)
    one, two = A_PEOPLE
    say = bot.say
    for n in range(1, COUNT + 1):
        await say(f"/idea Alfaidea {n}: kompostikatos Alfarantaan", user=one if n % 2 else two, chat=A)
    await say("/tue 2", user=two, chat=A)
    await say("/tue 13", user=one, chat=A)
    await say("/tila 2 käsitelty Alfaperustelu", user=A_ADMIN, chat=A)
    for n in range(1, COUNT + 1):
        extra = " | nimetön" if n == 12 else ""
        await say(f"/kysely Alfakysely {n}? | Alfakyllä | Alfaei{extra} | sulkeutuu 2 päivän päästä", user=one, chat=A)
    for data in _buttons(bot, A, "polls:vote:"):
        await bot.press(data, user=two, chat=A)
    await say("/kysely sulje 2", user=A_ADMIN, chat=A)
    await say("/kysely peru 11", user=A_ADMIN, chat=A)
    for n in range(1, COUNT + 1):
        await say(f"/kokous huomenna klo 18 Alfakokous {n} @ Alfatalo", user=A_ADMIN, chat=A)
    await say("/osallistun 13 kyllä", user=one, chat=A)
    await say("/osallistun 2 ehkä", user=two, chat=A)
    for n in (2, 13):
        await say(f"/kokeilu {n} aloita", user=A_ADMIN, chat=A)
        await say(f"/mukaan {n}", user=one, chat=A)
        await say(f"/mittari {n} Alfakävijät | hlö | 20", user=one, chat=A)
        await say(f"/mittaa {n} 1 5", user=one, chat=A)
        await say(f"/vaihe {n} seuraava Alfaopit", user=one, chat=A)
    await say("/itsearviointi aloita", user=A_ADMIN, chat=A)
    [go] = _buttons(bot, A, "checklist:go:")
    await bot.press(go, user=one, chat=A)
    [first] = _buttons(bot, f"private-{one}", "checklist:a:")[:1]
    await bot.press(first, user=one, chat=f"private-{one}")
    await say("/ideat", user=A_ADMIN, chat=A)  # the list and its page buttons


def _buttons(bot: TestBot, chat: str, prefix: str = "") -> list[str]:
    seen: dict[str, None] = {}
    for s in bot.transport.sent:
        if s.chat_id == chat and s.reply is not None:
            for row in s.reply.buttons:
                for b in row:
                    if b.data.startswith(prefix):
                        seen[b.data] = None
    return list(seen)


async def seed_b(bot: TestBot) -> None:
    bot.make_admin(B_ADMIN, B)
    await bot.say("/idea Beetaidea: penkki puistoon", user=B_MEMBER, chat=B)
    await bot.say("/kysely Beetakysely? | kyllä | ei", user=B_MEMBER, chat=B)
    await bot.say("/kokous huomenna klo 17 Beetakokous @ Beetatalo", user=B_ADMIN, chat=B)


async def snapshot(bot: TestBot) -> dict[str, list[tuple]]:
    """Every stored row of chat A: rows with A's chat key, and the rows that hang on them."""
    await flush_activity(bot.services)
    key = f"{bot.transport.platform}:{A}"
    ids: dict[str, set] = {}
    out: dict[str, list[tuple]] = {}
    async with bot.services.db.session() as s:
        for table in SQLModel.metadata.sorted_tables:
            cols = {c.name: c for c in table.columns}
            where = [cols[c] == key for c in CHAT_KEY_COLUMNS if c in cols]
            if table.name == "chat":
                where = [cols["key"] == key]
            for c in table.columns:
                for fk in c.foreign_keys:
                    parent = fk.column.table.name
                    if parent in ids:
                        where.append(c.in_(ids[parent]))
            if not where or table.name == "delivery":  # sends to A are counted from the transport
                continue
            rows = (await s.execute(select(table).where(or_(*where)))).all()
            out[table.name] = sorted(tuple(r) for r in rows)
            if "id" in cols:
                ids[table.name] = {r._mapping["id"] for r in rows}
    return out


LISTINGS = ["/ideat", "/ideat sivu 2", "/kyselyt", "/kokoukset", "/loki", "/itsearviointi profiili",
            *(f"/{what} {n}" for n in A_NUMBERS for what in ("idea", "kysely", "kokous", "kokeilu"))]


async def listings(bot: TestBot) -> list[list[str]]:
    return [await bot.say(text, user=A_ADMIN, chat=A) for text in LISTINGS]


def same_but_number(reply: list[str], n: int, other: list[str], m: int) -> bool:
    def norm(lines: list[str], k: int) -> list[str]:
        return [re.sub(rf"(?<![\d.,:]){k}(?![\d.,:]\d)", "N", line) for line in lines]
    return norm(reply, n) == norm(other, m)


async def test_nothing_of_one_chat_is_read_changed_or_inferred_from_another(tmp_path):
    bot = await TestBot(tmp_path).open()
    await seed_a(bot)
    await seed_b(bot)
    a_chats = {A, *(f"private-{p}" for p in (*A_PEOPLE, A_ADMIN))}
    a_buttons = sorted({d for chat in a_chats for d in _buttons(bot, chat)})
    a_messages = sorted({s.message_id for s in bot.transport.sent if s.chat_id in a_chats and s.message_id}
                        | {f"in{n}" for n in range(1, next(bot.messages))})
    assert len(a_buttons) > 40 and {d.split(":")[0] for d in a_buttons} >= {
        "ideas", "polls", "meetings", "experiments", "checklist"}
    shown_before, stored_before = await listings(bot), await snapshot(bot)
    assert any(MARK in line.casefold() for lines in shown_before for line in lines)
    assert all(stored_before[t] for t in ("idea", "poll", "pollvote", "meeting", "meetingrsvp", "experiment",
                                          "indicatorvalue", "checklistround", "checklistanswer", "audit_event"))
    sent_to_a = sum(1 for s in bot.transport.sent if s.chat_id in a_chats)

    commands = numbered_commands()
    assert {key for key, _ in commands} - NOT_NUMBERED == set(TAILS), "say what to try after the number"
    found: list[str] = []
    inferred: list[str] = []
    for user in (B_MEMBER, B_ADMIN):
        for key, head in commands:
            if key in NOT_NUMBERED:
                continue
            template = head + (" {n}" if "{n}" not in head else "") + (" " + TAILS[key] if TAILS[key] else "")
            nowhere = await bot.event(**_said(bot, template.format(n=NOWHERE), user))
            for n in A_NUMBERS:
                text = template.format(n=n)
                sent = await bot.event(**_said(bot, text, user))
                found += [f"{user} {text}: {t}" for t in leaks(sent)]
                if n == max(A_NUMBERS) and not same_but_number([s.plain for s in sent], n,
                                                               [s.plain for s in nowhere], NOWHERE):
                    inferred.append(f"{user} {text}: {[s.plain for s in sent]} vs {[s.plain for s in nowhere]}")
        b_message = next(s.message_id for s in reversed(bot.transport.sent) if s.chat_id == B and s.message_id)
        for data in a_buttons:
            for target in (None, b_message):
                sent = await bot.press(data, user=user, chat=B, target_id=target)
                found += [f"{user} pressed {data}: {t}" for t in leaks(sent)]
        for message_id in a_messages:
            sent = await bot.react(message_id, user=user, chat=B)
            sent += await bot.event(chat_id=B, sender_id=user, sender_name=user.capitalize(), kind=Kind.EDIT,
                                    text="Beetan muokkaus #idea", target_id=message_id, message_id=message_id,
                                    chat_title=B)
            found += [f"{user} reacted to / edited {message_id}: {t}" for t in leaks(sent)]
    assert found == []
    assert inferred == []
    assert sum(1 for s in bot.transport.sent if s.chat_id in a_chats) == sent_to_a  # nothing went to A
    stored_after = await snapshot(bot)
    changed = {t: (stored_before[t], stored_after.get(t)) for t in stored_before if stored_before[t] != stored_after.get(t)}
    assert changed == {}, f"chat A's rows changed from chat B: {sorted(changed)}"
    assert await listings(bot) == shown_before
    await bot.close()


def _said(bot: TestBot, text: str, user: str) -> dict:
    return dict(chat_id=B, sender_id=user, sender_name=user.capitalize(), text=text,
                message_id=f"in{next(bot.messages)}", chat_title=B)
