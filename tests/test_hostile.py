"""Hostile input (issue 17): known nasty strings (tests/data/nasty_strings.txt) and generated text
through every command's parser and handler and through the exports. The promise: no exception
escapes, no log record at ERROR or above, a reply where the product gives one (silence where it is
the rule), every reply valid for Telegram's HTML parse mode and for a Matrix ``formatted_body``
(whole and as the transports split it), every file valid for its type with a safe name.

Every declared parser gets every string, alone and after a number, in fi, sv and en directly. The
bot's pass is a rotation, to stay well under a minute: a fifth of the (command or subcommand,
nasty string) pairs is sent, as ``/cmd [sub] <nasty>`` or ``/cmd [sub] 1 <nasty>``, by one of five
people (a member and an admin in a group; a member, an admin and a coordinator in their private
chats), the names of the command and its subcommand in turn; every command meets every form and
person over the strings, and every string every form and person over the commands. Every string
also goes whole and as ``#idea <nasty>``, by the people in turn.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.matrix.sending import MAX_HTML, Sending
from bot.telegram.sending import MESSAGE_LIMIT
from bot.testing import Sent, TestBot
from core.events import Reply
from core.i18n import Catalogs, use_locale
from core.markup import esc, neutralise, split, to_matrix_html, to_plain, validate
from handlers import load_features
from handlers.base import Command, Subcommand, UserError
from handlers.ideas.parse import has_idea_marker
from handlers.router import MAX_MESSAGE_CHARS, parse_command
from storage import exports

# -- the nasty strings ---------------------------------------------------------------------------

NASTY_FILE = Path(__file__).parent / "data" / "nasty_strings.txt"
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|x[0-9a-fA-F]{2}|[nrt0s\\])")
_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", "0": "\0", "s": " ", "\\": "\\"}
_REPEAT = re.compile(r"\\\*(\d+)$")


def decode(line: str) -> str:
    """One line of the file as its string (the escapes are described at the file's top)."""
    times = 1
    if m := _REPEAT.search(line):
        times, line = int(m[1]), line[: m.start()]
    return _ESCAPE.sub(lambda m: _SIMPLE.get(m[1]) or chr(int(m[1][1:], 16)), line) * times


def nasty_strings() -> list[str]:
    lines = NASTY_FILE.read_text(encoding="utf-8").split("\n")
    return [decode(line) for line in lines if line and not line.startswith("# ")]


NASTY = nasty_strings()


def test_the_nasty_strings_cover_their_kinds():
    have = set(NASTY)
    joined = "".join(s for s in NASTY if len(s) < 5000)
    for ch in [*map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A)), "\u200b", "\u200c", "\u200d",
               "\ufeff", "\0", "\r", "\x1b", "\x85", "\x9b", "\ud800", "\u0301", "\u05e9", "\u0645"]:
        assert ch in joined, f"U+{ord(ch):04X}"
    for s in ("<b>", "</i>", "&amp;", "&#0;", "{name}", "%s", "{{7*7}}", "${x}", "'; DROP TABLE idea;--",
              "../../etc/passwd", "CON", "=cmd|' /C calc'!A0", "+SUM(1)", "-1", "@x", "#idea", "0",
              "99999999999999999999", "1e309", "31.2.", "29.2.2027", "25:61", " ", "\n\n\n"):
        assert s in have, s
    assert any(s.startswith('<a href="javascript:') for s in NASTY)
    assert any(4096 < len(s) < MAX_MESSAGE_CHARS for s in NASTY) and any(len(s) >= 100_000 for s in NASTY)
    assert any(s.count("\n") > 1000 for s in NASTY)


# -- what every reply and file must be -----------------------------------------------------------

APOLOGIES = ("Sorry, something went wrong", "Pahoittelen", "Förlåt")
_NOT_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_WINDOWS_DEVICES = {"con", "prn", "aux", "nul", *(f"com{n}" for n in range(10)), *(f"lpt{n}" for n in range(10))}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?(?:[eE][+-]?\d+)?")


def html_problems(reply: Reply) -> list[str]:
    """Why Telegram or Matrix would refuse or misrender this reply, as each transport sends it."""
    html = reply.html
    found = [f"telegram: {p}" for p in validate(html)]
    for part in split(html, MESSAGE_LIMIT):
        if len(part) > MESSAGE_LIMIT:
            found.append(f"telegram: a part of {len(part)} characters")
        found += [f"telegram part: {p}" for p in validate(part)]
    with_keys, _keys = Sending._with_buttons(reply)  # Matrix shows the buttons as numbered lines
    for part in split(with_keys, MAX_HTML):
        found += [f"matrix: {p}" for p in validate(to_matrix_html(part), matrix=True)]
    plain = to_plain(html)
    found += [f"apology: {plain[:80]!r}" for a in APOLOGIES if a in plain]
    for row in reply.buttons:
        for button in row:
            if len(button.data.encode()) > 64:
                found.append(f"button data over 64 bytes: {button.data!r}")
            if not button.label.strip() or _NOT_TEXT.search(button.label):
                found.append(f"button label {button.label!r}")
    return found


def filename_problems(name: str) -> list[str]:
    if not _SAFE_NAME.match(name) or ".." in name:
        return [f"unsafe file name {name!r}"]
    if name.split(".")[0].casefold() in _WINDOWS_DEVICES:
        return [f"file name {name!r} is a Windows device"]
    return []


def csv_problems(data: bytes) -> list[str]:
    text = data.decode("utf-8-sig")
    header = text.split("\r\n", 1)[0]
    separator = ";" if header.count(";") >= header.count(",") else ","
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=separator))
    found = [f"row {n} has {len(row)} cells, the header {len(rows[0])}" for n, row in enumerate(rows) if len(row) != len(rows[0])]
    for row in rows:
        for cell in row:
            if cell.startswith(_FORMULA_START) and not _NUMBER.fullmatch(cell):
                found.append(f"cell a spreadsheet runs as a formula: {cell[:40]!r}")
    return found


def json_problems(data: bytes) -> list[str]:
    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")

    try:
        json.loads(data.decode("utf-8"), parse_constant=refuse)
    except ValueError as err:
        return [f"invalid JSON: {err}"]
    return []


_UNESCAPED_MD = re.compile(r"(?<!\\)[<>`\[\]]")
_PIPE = re.compile(r"(?<!\\)\|")


def markdown_problems(data: bytes) -> list[str]:
    """User text in the Markdown exports is escaped: no raw HTML, code or link syntax, and every
    row of a table has its header's cells."""
    found, columns = [], None
    for line in data.decode("utf-8").split("\n"):
        if m := _UNESCAPED_MD.search(line):
            found.append(f"unescaped {m.group()!r} in {line[:60]!r}")
        if line.startswith("|"):
            cells = len(_PIPE.findall(line))
            columns = columns or cells
            if cells != columns:
                found.append(f"table row of {cells - 1} cells, header {columns - 1}: {line[:60]!r}")
        else:
            columns = None
    return found


def ics_problems(data: bytes) -> list[str]:
    from icalendar import Calendar

    from tests import libical
    from tests.test_meetings import rfc5545_problems

    found = rfc5545_problems(data) + libical.problems(data)
    unfolded = data.replace(b"\r\n ", b"").replace(b"\r\n\t", b"").decode("utf-8")
    # RFC 5545 3.1: no control character but HTAB in a content line
    found += [f"control character in {line[:40]!r}" for line in unfolded.split("\r\n")
              if re.search("[\x00-\x08\x0a-\x1f\x7f]", line)]
    try:
        Calendar.from_ical(data)
    except ValueError as err:
        found.append(f"icalendar cannot read it: {err}")
    return found


def file_problems(sent: Sent) -> list[str]:
    file = sent.file
    found = filename_problems(file.filename)
    if file.caption_html:
        found += [f"caption: {p}" for p in html_problems(Reply(html=file.caption_html))]
    kind = file.filename.rsplit(".", 1)[-1]
    checks = {"json": json_problems, "csv": csv_problems, "md": markdown_problems, "ics": ics_problems,
              "png": lambda data: [] if data.startswith(b"\x89PNG\r\n\x1a\n") else ["not a PNG"]}
    found += checks[kind](file.data) if kind in checks else [f"unknown kind of file {file.filename!r}"]
    return found


def sent_problems(sent: list[Sent]) -> list[str]:
    found = []
    for s in sent:
        if s.reply is not None:
            found += html_problems(s.reply)
        if s.file is not None:
            found += file_problems(s)
        if s.poll is not None:
            texts = [s.poll.question, *s.poll.options]
            found += [f"poll text {t[:40]!r}" for t in texts if not t.strip() or _NOT_TEXT.search(t)]
    return found


def reply_expected(text: str, private: bool) -> bool | None:
    """The product's rule: a command to this bot is answered (a refusal, a usage line or an error is
    an answer too), a command to another bot is not; a message with an idea marker is answered; a
    message over the router's limit is answered in a private chat or when it starts as a command,
    else ignored; other chatter in a group is ignored; in a private chat it may be an answer to a
    question of a conversation (None: either)."""
    seen = neutralise(text)
    if len(seen) > MAX_MESSAGE_CHARS:
        return bool(parse_command(seen[:100], ("/",))) or private
    command = parse_command(seen, ("/",))
    if command is not None:
        return command.addressee is None or command.addressee.casefold() == "kehrabot"
    if has_idea_marker(seen):
        return True
    return None if private else False


# -- the commands --------------------------------------------------------------------------------

def _names(declared: Command | Subcommand) -> list[str]:
    return list(dict.fromkeys(declared.names()))


@dataclass(frozen=True)
class Target:
    command: Command
    sub: Subcommand | None

    @property
    def label(self) -> str:
        return self.command.name + (f" {self.sub.name}" if self.sub else "")

    def message(self, turn: int, argument: str, *, numbered: bool) -> str:
        """``/name [lead] [sub] [1] argument``, the names taken in turn."""
        names = _names(self.command)
        words = [names[turn % len(names)]]
        if self.sub is not None:
            if self.command.leading:
                words.append("1")
            subs = _names(self.sub)
            words.append(subs[turn % len(subs)])
        if numbered:
            words.append("1")
        return "/" + " ".join(words) + " " + argument


TARGETS = [Target(cmd, sub) for feature in load_features() for cmd in feature.commands
           for sub in (None, *cmd.subcommands)]


@dataclass(frozen=True)
class Person:
    user: str
    chat: str
    private: bool


MEMBER, ADMIN = Person("member", "group", False), Person("admin", "group", False)
PEOPLE = (MEMBER, ADMIN, Person("member", "private-member", True), Person("admin", "private-admin", True),
          Person("coord", "private-coord", True))
COORDINATOR = "fake:coord"
SEED = ("/idea Yhteinen kasvimaa #idea", "/kysely Milloin talkoot? | ti | ke", "/kokous huomenna klo 18 Kehräkokous @ talo",
        "/kokeilu 1 aloita", "/mittari 1 osallistujat | hlö | 20 | enemmän", "/mittaa 1 1 12", "/alue Maunula",
        "/itsearviointi aloita")


class Run:
    """One bot, the error records of its log, and what went wrong, per message."""

    def __init__(self, bot: TestBot, caplog) -> None:
        self.bot, self.caplog = bot, caplog
        self.problems: list[str] = []
        self.longest = 0

    async def send(self, text: str, person: Person, *, lang: str | None = None, expect: bool = True,
                   name: str | None = None, title: str | None = None) -> list[Sent]:
        before = len(self.caplog.records)
        try:
            sent = await self.bot.event(chat_id=person.chat, sender_id=person.user, sender_name=name or person.user.title(),
                                        text=text, is_private=person.private, language_hint=lang,
                                        message_id=f"in{next(self.bot.messages)}", chat_title=title or person.chat)
        except Exception as err:  # dispatch promises never to raise
            self.problems.append(f"{text[:60]!r} by {person.user}: raised {err!r}")
            return []
        where = f"{text[:60]!r} by {person.user} in {person.chat}"
        for record in self.caplog.records[before:]:
            if record.levelno >= logging.ERROR:
                self.problems.append(f"{where}: logged {record.levelname} {record.getMessage()[:120]}")
        self.problems += [f"{where}: {p}" for p in sent_problems(sent)]
        answered = [s for s in sent if s.kind in ("message", "edit", "file", "poll")]
        wanted = reply_expected(text, person.private) if expect else None
        if wanted is True and not answered:
            self.problems.append(f"{where}: no reply")
        if wanted is False and answered:
            self.problems.append(f"{where}: replied to what it should ignore: {answered[0].plain[:60]!r}")
        self.longest = max([self.longest, *(len(s.reply.html) for s in sent if s.reply is not None)])
        return sent


async def _open(tmp_path: Path, **kw) -> TestBot:
    bot = await TestBot(tmp_path, coordinators=[COORDINATOR], **kw).open()
    bot.make_admin("admin")
    return bot


async def _seed(run: Run) -> None:
    for person in (ADMIN, *PEOPLE[2:]):
        for text in SEED:
            await run.send(text, person, expect=False)


def _report(run: Run) -> str:
    unique = list(dict.fromkeys(run.problems))
    return f"{len(unique)} problems:\n" + "\n".join(unique[:40])


@dataclass(frozen=True)
class Step:
    text: str
    person: Person
    lang: str
    nasty: int  # index in NASTY
    target: int | None = None  # index in TARGETS; None: the string whole or as an idea
    numbered: bool = False


def rotation() -> list[Step]:
    """(message, person, language) of the bot's pass (see the module's docstring): the pairs of
    string i and command j with i + j a multiple of 5; each command meets every form and person
    over the strings, each string every form and person over the commands."""
    plan = []
    for i, nasty in enumerate(NASTY):
        for j, target in enumerate(TARGETS):
            if (i + j) % 5:
                continue
            turn = (i + j) // 5
            person = PEOPLE[(turn // 2 + j) % len(PEOPLE)]
            numbered = turn % 2 == 1
            plan.append(Step(target.message(turn, nasty, numbered=numbered), person, ("fi", "sv", "en")[(turn // 2) % 3],
                             i, j, numbered))
    for i, nasty in enumerate(NASTY):  # whole, and as an idea
        plan.append(Step(nasty, PEOPLE[i % len(PEOPLE)], ("fi", "sv", "en")[i % 3], i))
        plan.append(Step("#idea " + nasty, PEOPLE[(i + 2) % len(PEOPLE)], ("en", "fi", "sv")[i % 3], i))
    return plan


ROTATION = rotation()


@pytest.mark.parametrize("who", PEOPLE, ids=[f"{p.user}-{p.chat}" for p in PEOPLE])
async def test_every_command_takes_every_nasty_string(tmp_path, caplog, who):
    """The rotation's messages of one person, on a bot where every person has seeded an idea, a
    poll, a meeting, an experiment with an indicator and a value, an area and a self-assessment."""
    caplog.set_level(logging.ERROR)
    bot = await _open(tmp_path)
    run = Run(bot, caplog)
    try:
        await _seed(run)
        for step in ROTATION:
            if step.person is who:
                await run.send(step.text, step.person, lang=step.lang)
    finally:
        await bot.close()
    assert run.problems == [], _report(run)
    assert run.longest > 0


def test_the_rotation_meets_every_person_and_form():
    every = {(numbered, person) for numbered in (False, True) for person in PEOPLE}
    by_target, by_string = {}, {}
    for step in ROTATION:
        if step.target is not None:
            by_target.setdefault(step.target, set()).add((step.numbered, step.person))
            by_string.setdefault(step.nasty, set()).add((step.numbered, step.person))
    assert len(by_target) == len(TARGETS) and all(seen == every for seen in by_target.values())
    assert len(by_string) == len(NASTY) and all(seen == every for seen in by_string.values())
    assert {step.nasty for step in ROTATION if step.target is None} == set(range(len(NASTY)))


def test_every_parser_takes_every_nasty_string():
    """Every declared parser, alone: a value or a UserError with a message to show (the router
    escapes it), never anything else, for every string with and without a number before it, in
    each language."""
    catalogs = Catalogs()
    parsers = {(t.sub or t.command).parse for t in TARGETS}
    problems = []
    for lang in ("fi", "sv", "en"):
        with use_locale(catalogs, lang):
            for parse in parsers:
                for nasty in map(neutralise, NASTY):  # as the router hands it on
                    for argument in (nasty.strip(), f"1 {nasty}".strip()):
                        try:
                            parse(argument)
                        except UserError as err:
                            if validate(esc(err.message)):  # as the router shows it
                                problems.append(f"{parse.__qualname__}({argument[:40]!r}): message {err.message!r}")
                        except Exception as err:
                            problems.append(f"{parse.__qualname__}({argument[:40]!r}): {err!r}")
    assert problems == [], "\n".join(dict.fromkeys(problems))


# -- escaping: what a person typed is shown as they typed it --------------------------------------

MARKUP_NASTY = [s for s in NASTY if re.search(r"[<>\"']", s) and "&" not in s and len(s) < 200]


async def test_markup_typed_is_shown_once_escaped(tmp_path, caplog):
    """A reply that shows text a person typed with < > " ' shows those characters, not their
    entities (escaped twice). Seeded: an indicator, whose name is shown, for /mittari 1 <nasty>."""
    caplog.set_level(logging.ERROR)
    bot = await _open(tmp_path)
    run = Run(bot, caplog)
    doubled = []
    try:
        await _seed(run)
        for j, target in enumerate(TARGETS):
            for i in range(j % 4, len(MARKUP_NASTY), 4):
                text = target.message(i + j, MARKUP_NASTY[i], numbered=i % 8 >= 4)
                for s in await run.send(text, ADMIN, lang=("fi", "sv", "en")[(i + j) % 3]):
                    if re.search(r"&(amp|lt|gt|quot|#x27|#\d+);", s.plain):
                        doubled.append(f"{text[:50]!r}: {s.plain[:100]!r}")
    finally:
        await bot.close()
    assert run.problems == [], _report(run)
    assert doubled == [], "\n".join(doubled[:20])


def test_nothing_is_escaped_twice():
    """The whole class of the double escape above, in the code: a UserError's message is plain text
    (the router escapes it), and b(), i(), code() and esc() escape their argument themselves."""
    import ast

    escaping = ("esc", "b", "i", "code")
    found = []
    for path in sorted(Path("handlers").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or getattr(node.func, "id", "") not in ("UserError", *escaping):
                continue
            inside = [n for arg in node.args for n in ast.walk(arg)] if node.func.id in escaping else ast.walk(node)
            if any(isinstance(n, ast.Call) and n is not node and getattr(n.func, "id", "") in escaping for n in inside):
                found.append(f"{path}:{node.lineno}")
    assert found == []


# -- buttons, edits, reactions and votes ---------------------------------------------------------

async def test_nasty_buttons_edits_reactions_and_votes(tmp_path, caplog):
    """What a client sends besides messages carries text a person (or a changed client) chose: a
    button's data after every feature's prefix, an edit of the message that posted an idea, a
    reaction's key, a vote's poll reference and choices. Answers and acknowledgements are valid and
    nothing is logged as an error."""
    from core.events import Kind

    caplog.set_level(logging.ERROR)
    bot = await _open(tmp_path)
    bot.transport.native_polls = True
    run = Run(bot, caplog)
    try:
        await _seed(run)
        prefixes = sorted({f"{f.name}:{action}" for f in load_features() for action in f.buttons})
        targets = [s.message_id for s in bot.transport.sent if s.message_id][:12]
        polls = [s.message_id for s in bot.transport.sent if s.kind == "poll"]
        assert prefixes and targets and polls
        for i, nasty in enumerate(NASTY):
            short, target = nasty[:64], targets[i % len(targets)]
            args = (short, f"1:{short}", f"{short}:1", "-1:99999999999999999999", f"1:1:{short}", "2147483648")
            events = [dict(kind=Kind.BUTTON, button_data=f"{prefix}:{args[(i + k) % len(args)]}"[:64], target_id=target)
                      for k, prefix in enumerate(prefixes) if (i + k) % 4 == 0]  # each prefix a quarter of the strings
            events += [dict(kind=Kind.EDIT, text=nasty, target_id="in1"),
                       dict(kind=Kind.REACTION, reaction=short or "👍", target_id=target),
                       dict(kind=Kind.REACTION, reaction=short or "👍", target_id=target, reaction_removed=True),
                       *(dict(kind=Kind.POLL_VOTE, poll_ref=ref, poll_choices=(i - 5, 10 ** 20 if i % 2 else 0))
                         for ref in (*polls, short or "x"))]
            for n, event in enumerate(events):
                person = PEOPLE[(i + n) % 2]  # in the group, where the seeds are
                before = len(caplog.records)
                sent = await bot.event(chat_id=person.chat, sender_id=person.user, sender_name=nasty[:50], **event)
                where = f"{event['kind']} {str(event.get('button_data') or event.get('text', ''))[:40]!r}"
                run.problems += [f"{where}: logged {r.getMessage()[:100]}" for r in caplog.records[before:]]
                run.problems += [f"{where}: {p}" for p in sent_problems(sent)]
                run.problems += [f"{where}: acknowledged with {s.text!r}" for s in sent
                                 if s.kind == "ack" and (not s.text.strip() or _NOT_TEXT.search(s.text))]
    finally:
        await bot.close()
    assert run.problems == [], _report(run)


# -- PostgreSQL ----------------------------------------------------------------------------------

@pytest.mark.postgres
async def test_nasty_strings_on_postgresql(tmp_path, caplog, pg_url):
    """PostgreSQL refuses what SQLite keeps (a NUL in text, an int over 32 bits) and searches ideas
    its own way: every nasty string as an idea or a search, and as a poll, a meeting, an area or an
    indicator, in turn; as the sender's name, and in what a client chooses (a reaction's key, a button's
    data, a poll's reference and choices)."""
    from core.events import Kind

    caplog.set_level(logging.ERROR)
    bot = await _open(tmp_path, database_url=pg_url)
    run = Run(bot, caplog)
    try:
        await _seed(run)
        for i, nasty in enumerate(NASTY):
            person = (MEMBER, ADMIN)[i % 2]
            forms = ((f"#idea {nasty}", f"/ideat {nasty}")[i % 2], (f"/kysely {nasty} | a | b", f"/kokous huomenna klo 18 {nasty}",
                                                                   f"/alue {nasty}", f"/mittari 1 {nasty}")[i % 4])
            for text in forms:
                await run.send(text, person, name=nasty[:60] or "x", lang=("fi", "sv", "en")[i % 3])
            for event in (dict(kind=Kind.REACTION, reaction=nasty[:20] or "x", target_id="b1"),
                          dict(kind=Kind.BUTTON, button_data=f"ideas:sup:{nasty}"[:64], target_id="b1"),
                          dict(kind=Kind.POLL_VOTE, poll_ref=nasty[:40] or "x", poll_choices=(0,)),
                          dict(kind=Kind.POLL_VOTE, poll_ref="1", poll_choices=(2**31, 10**20, -1))):
                before = len(caplog.records)
                sent = await bot.event(chat_id=person.chat, sender_id=person.user, sender_name="X", **event)
                run.problems += [f"{event['kind']} {nasty[:30]!r}: logged {r.getMessage()[:100]}" for r in caplog.records[before:]]
                run.problems += [f"{event['kind']} {nasty[:30]!r}: {p}" for p in sent_problems(sent)]
    finally:
        await bot.close()
    assert run.problems == [], _report(run)


# -- the console ---------------------------------------------------------------------------------

def test_console_takes_nasty_lines(tmp_path):
    """The console chat (./run) reads a script: every nasty line, as a message and after its own
    controls (:press, :vote, :edit, :react, :user, :chat, :lang). It neither fails nor prints a
    control character of the input (a terminal escape) in the bot's answers."""
    import os
    import subprocess
    import sys

    lines = [s for s in (neutralise(n).replace("\n", " ") for n in NASTY) if s.strip() and len(s) < 300]
    script = [":admin on", *SEED]
    for n, line in enumerate(lines):
        script += [line, f"/idea {line}", (f":press {line}", f":vote m{n} {line}", f":react m{n} {line}",
                                            f":edit m{n} {line}")[n % 4]]
    script += [":press ²", ":vote m5 ² 1"]
    script += [f":user {lines[7]}", "/help", f":chat {lines[9]}", "/ideat", f":lang {lines[3]}", "/ideat", ":quit"]
    env = {**os.environ, "KEHRABOT_DATA_DIR": str(tmp_path / "data"), "KEHRABOT_LIMITS__PER_PERSON_PER_MINUTE": "100000",
           "KEHRABOT_LIMITS__PER_CHAT_PER_MINUTE": "100000"}
    result = subprocess.run([sys.executable, "-m", "bot.cli", "console"], input="\n".join(script) + "\n",
                            capture_output=True, text=True, timeout=240, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stdout + result.stderr
    answers = [line for line in result.stdout.split("\n") if line.startswith("[")]
    assert len(answers) > len(lines)
    assert [a for a in answers if re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", a)] == []


# -- generated text ------------------------------------------------------------------------------

ANY_CHARACTER = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
FRAGMENTS = [s for s in NASTY if len(s) <= 200]
COMMAND_WORDS = sorted({"/" + n for t in TARGETS for n in _names(t.command)}
                       | {n for t in TARGETS if t.sub for n in _names(t.sub)} | {"1", "#idea", "|", "@"})
MIXED = st.lists(st.one_of(st.sampled_from(COMMAND_WORDS), st.sampled_from(FRAGMENTS), st.text(ANY_CHARACTER, max_size=30)),
                 min_size=1, max_size=8).map(" ".join)


def _hypothesis_run(tmp_path: Path, strategy, examples: int) -> None:
    """A hypothesis run against one bot (opening a store per example would take most of the time)."""
    loop = asyncio.new_event_loop()
    handler = _ErrorRecords()
    logging.getLogger().addHandler(handler)
    bot = loop.run_until_complete(_open(tmp_path))
    run = Run(bot, handler)
    try:
        loop.run_until_complete(_seed(run))

        @settings(max_examples=examples, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
        @given(text=strategy, who=st.sampled_from(PEOPLE), lang=st.sampled_from(["fi", "sv", "en", None]))
        def one(text, who, lang):
            run.problems.clear()
            loop.run_until_complete(run.send(text, who, lang=lang))
            assert run.problems == [], run.problems

        one()
    finally:
        logging.getLogger().removeHandler(handler)
        loop.run_until_complete(bot.close())
        loop.close()


class _ErrorRecords(logging.Handler):
    """The records caplog would have, for a test that runs its own loop."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_any_unicode_text_is_survived(tmp_path):
    _hypothesis_run(tmp_path, st.text(ANY_CHARACTER, max_size=300), 80)


def test_commands_mixed_with_nasty_fragments_are_survived(tmp_path):
    _hypothesis_run(tmp_path, MIXED, 120)


# -- the exports ---------------------------------------------------------------------------------

W48, W48_DUE = "2026-W48", datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
#: strings that make a record when written into one (the others are refused as records, which the
#: rotation above covers): every kind of character, markup, formula and path, and the long ones an
#: idea may be, whose escaped text is longer than a Telegram message (the transport splits it)
RECORD_NASTY = [s for s in NASTY if s.strip() and (len(s) <= 60 or len(s) <= 1000 and "\n" not in s)]


async def test_nasty_records_are_shown_and_exported_valid(tmp_path, caplog):
    """Records full of nasty text (ideas with their tags and supporters, polls, meetings, an area,
    indicators, people's names and the chat's own title) are shown valid (each one, every list page,
    the digest, the audit log) and go out valid: every in-chat file (calendars, my data, the
    self-assessment answers, the coordinators' digests) and every export of the command line in md,
    csv and json, personal and public. The scheduled jobs post them too: reminders, results, digests."""
    caplog.set_level(logging.ERROR)
    bot = await _open(tmp_path)
    run = Run(bot, caplog)
    title = "Kehrä \x07=cmd|' /C calc'!A0 <b>\u202e CON ../../x"
    sent: list[Sent] = []

    async def say(text: str, who: Person = ADMIN, name: str | None = None) -> None:
        sent.extend(await run.send(text, who, name=name, title=title if who.chat == "group" else None))

    try:
        for text in SEED:
            await say(text)
        await say("/julkaise ideat kyselyt kokoukset")
        for n, nasty in enumerate(RECORD_NASTY):
            tag = nasty.split()[0][:20] if nasty.split() else "x"
            text = nasty if len(nasty) > 60 else f"{nasty} kasvimaa #{tag}"
            await say(f"/idea {text}", Person(f"p{n}", "group", False), name=nasty)
            if n % 3 == 0:
                await say(f"/tue {n + 2}", Person(f"q{n}", "group", False), name=f"Aino {nasty}")
        for nasty in RECORD_NASTY[:60:2]:
            await say(f"/kysely {nasty}? | {nasty} a | b")
            await say(f"/kokous huomenna klo 18 {nasty} kokous @ {nasty}")
            await say(f"/mittari 1 {nasty[:40]} mittari | {nasty[:10]}")
        await say("/alue Maunula =HYPERLINK(\"x\") <i>")
        for n, nasty in enumerate(RECORD_NASTY, 2):  # the records shown (the long ones all), every list page
            if n % 3 == 0 or len(nasty) > 60:
                await say(f"/idea {n}")
        for n in range(1, 32):
            await say(f"/kysely {n}")
            await say(f"/kokous {n}")
        for n in range(1, len(RECORD_NASTY) // 10 + 3):
            await say(f"/ideat sivu {n}")
            await say(f"/loki sivu {n}")
        for text in ("/kyselyt", "/kokoukset", "/kokeilu 1", "/kooste", "/alue", "/julkaise", "/kalenteri", "/kalenteri 1",
                     "/itsearviointi vie csv", "/itsearviointi vie json"):
            await say(text)
        for device in ("CON", "nul", "Com1"):  # a chat named as a Windows device: its calendar's file
            bot.make_admin("admin", device)
            await say(SEED[2], Person("admin", device, False))
            await say("/kalenteri", Person("admin", device, False))
        for nasty in RECORD_NASTY[:30]:
            await say("/omattiedot", Person("p3", "private-p3", True), name=nasty)
        before, jobs_sent = len(caplog.records), len(bot.transport.sent)
        await bot.run_due(W48_DUE)  # reminders, polls' results and the weekly digests, with nasty text
        run.problems += [f"jobs: logged {r.getMessage()[:100]}" for r in caplog.records[before:]]
        run.problems += [f"jobs: {p}" for p in sent_problems(bot.transport.sent[jobs_sent:])]
        assert len(bot.transport.sent) > jobs_sent + 20
        await say("/yhteenveto", PEOPLE[4])
        files = [s for s in sent if s.kind == "file"]
        assert {f.file.filename.rsplit(".", 1)[-1] for f in files} >= {"ics", "json", "csv", "md"}
        from handlers.digest import export_names, render_export

        problems = []
        for what in ["digests", *export_names(bot.services)]:
            for fmt, lang in (("md", "fi"), ("md", "en"), ("csv", "fi"), ("csv", "en"), ("json", "fi")):
                for public in (False, True):
                    data = await render_export(bot.services, what, fmt, first=W48, last=W48, public=public, lang=lang)
                    check = {"md": markdown_problems, "csv": csv_problems, "json": json_problems}[fmt]
                    problems += [f"export {what} {fmt} public={public} {lang}: {p}" for p in check(data)]
    finally:
        await bot.close()
    assert run.problems == [], _report(run)
    assert problems == [], "\n".join(problems[:30])
    assert run.longest > MESSAGE_LIMIT  # a reply the Telegram transport splits was among them


def test_safe_cell_defuses_every_formula_start():
    for nasty in NASTY:
        cell = exports.safe_cell(nasty)
        assert not str(cell).startswith(_FORMULA_START), nasty
    stored = [neutralise(s) for s in NASTY]  # what the store can hold: no lone surrogate
    for separator in exports.SEPARATORS:
        assert csv_problems(exports.to_csv([{"a": s, "b": -1, "c": 1.5} for s in stored], separator=separator)) == []


def test_esc_makes_every_nasty_string_valid_markup():
    for nasty in NASTY:
        html = esc(nasty)
        if to_plain(html).strip():
            assert validate(html) == [] and validate(to_matrix_html(html), matrix=True) == [], repr(nasty[:60])
