"""Polls: create with settings in one message, vote (native or buttons), close on time once,
post the result, list, digest and export."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.events import Button, PollOutcome, PollSpec, Reply, Role
from core.i18n import N_, _, format_datetime, format_number, format_percent, ngettext
from core.markup import b, esc
from core.scope import send_scope
from handlers.base import Command, Context, Feature, Services, UserError
from handlers.when import parse_duration, parse_when
from storage import ideas as idea_store
from storage import polls as store
from storage.core import (
    Job,
    cancel_jobs,
    effect_of,
    ensure_chat,
    languages_for,
    record_effect,
    schedule_job,
    set_chat_setting,
)

log = logging.getLogger(__name__)

MIN_OPTIONS, MAX_OPTIONS = 2, 12
MAX_QUESTION_CHARS, MAX_OPTION_CHARS = 300, 100
DEFAULT_OPEN = timedelta(hours=24)
MIN_OPEN, MAX_OPEN = timedelta(minutes=1), timedelta(days=60)
RECENT = timedelta(days=14)
TIDY_AFTER = timedelta(minutes=2)
EDIT_EVERY = timedelta(seconds=5)
BAR_WIDTH = 10
NAMES_SHOWN = 10
SETTING = "polls.create"  # chat setting: "everyone" | "admins"

# --- settings words, accepted in every language -------------------------------------------------

ANON_WORDS = frozenset({"nimetön", "nimeton", "anonyymi", "anonym", "anonymous", "anon"})
NAMED_WORDS = frozenset({"nimellinen", "avoin", "named", "public", "öppen", "namngiven"})
HIDDEN_PHRASES = frozenset({
    "tulokset piiloon", "piilota tulokset", "piilotetut tulokset", "tulokset piilossa",
    "dolda resultat", "resultat dolda", "dölj resultat", "hidden results", "hide results", "results hidden",
})
_MULTI = re.compile(r"^(?:monivalinta|monta|flerval|flera|multiple(?: choice)?|multi)(?:\s+(\d{1,3}))?$")
# "monivalinta x", "multiple two": the setting with a count that is not one (the words of the first
# group are never an option's start; "multiple"/"monta"/"flera" only with one short word after them)
_MULTI_BAD = re.compile(r"^(?P<word>monivalinta|flerval|multiple choice)\s+(?P<rest>.+)$|"
                        r"^(?P<word2>multiple|multi|monta|flera)\s+(?P<rest2>\S+)$")
_COUNT_WORDS = {"kaksi": 2, "kolme": 3, "neljä": 4, "viisi": 5, "kuusi": 6, "two": 2, "three": 3, "four": 4,
                "five": 5, "six": 6, "två": 2, "tre": 3, "fyra": 4, "fem": 5, "sex": 6}
_ALL_WORDS = {"kaikki", "all", "alla"}
_CLOSE = re.compile(
    r"^(?:sulkeutuu|suljetaan|päättyy|closes|closing|stängs|stänger|slutar)\s+(.+)$")
_OPEN_FOR = re.compile(r"^(?:auki|open|öppen|öppet)\s+(\d.*)$")
_IDEA = re.compile(r"^(?:idea|idé|ide|aloite|förslag)\s*#?(\d{1,9})$")

ACTIONS = {
    "close": ("close", "end", "sulje", "lopeta", "stäng", "avsluta"),
    "extend": ("extend", "jatka", "pidennä", "förläng"),
    "cancel": ("cancel", "peru", "peruuta", "avbryt"),
    "settings": ("settings", "setting", "asetukset", "asetus", "inställningar", "inställning"),
}
WHO_WORDS = {
    "everyone": ("everyone", "all", "members", "kaikki", "jäsenet", "alla", "medlemmar"),
    "admins": ("admins", "admin", "administrators", "ylläpitäjät", "ylläpito", "adminit",
               "administratörer", "admin"),
}


@dataclass(frozen=True)
class NewPoll:
    question: str
    options: tuple[str, ...]
    multiple: bool = False
    max_choices: int = 1
    anonymous: bool = False
    hide_results: bool = False
    close_text: str | None = None
    idea_number: int | None = None


@dataclass(frozen=True)
class PollAction:
    action: str  # show | close | extend | cancel | settings
    number: int | None = None
    rest: str = ""


def _open_at_most() -> str:
    days = MAX_OPEN.days
    return ngettext("A poll can stay open at most {days} day.", "A poll can stay open at most {days} days.",
                    days).format(days=format_number(days))


def _example() -> str:
    return _("Which evening suits? | Tuesday | Wednesday | Thursday | closes Friday 18:00")


def _clean(text: str) -> str:
    return " ".join(text.split())


def _setting(segment: str) -> dict | None:
    """The settings one trailing segment holds ("anonymous, multiple 2"), or None if it is an option."""
    found: dict = {}
    for part in (p.strip() for p in segment.split(",")):
        low = part.casefold()
        if not low:
            return None
        if low in ANON_WORDS:
            found["anonymous"] = True
        elif low in NAMED_WORDS:
            found["anonymous"] = False
        elif low in HIDDEN_PHRASES:
            found["hide_results"] = True
        elif m := _MULTI.match(low):
            found["multiple"] = int(m.group(1)) if m.group(1) else None  # None: as many as there are options
        elif m := _MULTI_BAD.match(low):
            word, rest = (m["word"], m["rest"]) if m["word"] else (m["word2"], m["rest2"])
            if m["word2"] and not (rest in _COUNT_WORDS or rest in _ALL_WORDS or len(rest) <= 3
                                   or rest[0] in "-0123456789"):
                return None  # "Multiple times", "Monta kertaa": an option
            if rest in _COUNT_WORDS:
                found["multiple"] = _COUNT_WORDS[rest]
            elif rest in _ALL_WORDS:
                found["multiple"] = None
            else:
                raise UserError(_("“{text}”: after “{word}” write how many options each person may choose, "
                                  "for example “{example}”.").format(text=part, word=word, example=f"{word} 2"),
                                show_usage=True)
        elif m := _CLOSE.match(low) or _OPEN_FOR.match(low):
            found["close_text"] = part[len(part) - len(m.group(1)):].strip()
        else:
            return None
    return found


def parse_poll(args: str) -> NewPoll | PollAction:
    text = args.strip()
    if not text:
        raise UserError(_("Write the question and at least two options separated by |, for example: {example}")
                        .format(example=_example()), show_usage=True)
    if "|" not in text:
        words = text.split()
        first = words[0].casefold().lstrip("#")
        if first.isdigit() and len(words) == 1:
            return PollAction("show", int(first[:9]))
        for action, names in ACTIONS.items():
            if first in names:
                if action == "settings":
                    return PollAction(action, None, " ".join(words[1:]))
                if len(words) < 2 or not words[1].lstrip("#").isdigit():
                    raise UserError(_("Give the poll's number, for example: {example}").format(
                        example=f"{words[0]} 3"), show_usage=True)
                return PollAction(action, int(words[1].lstrip("#")[:9]), " ".join(words[2:]))
        raise UserError(_("Separate the question and the options with |, for example: {example}")
                        .format(example=_example()), show_usage=True)
    segments = [_clean(s) for s in text.split("|")]
    idea_number = None
    if m := _IDEA.match(segments[0].casefold()):
        idea_number = int(m.group(1))
        segments = segments[1:]
    settings: dict = {}
    while len(segments) > 1 and (found := _setting(segments[-1])) is not None:
        segments.pop()
        for key, value in found.items():
            settings.setdefault(key, value)  # the later one in the message wins
    question, options = segments[0], [s for s in segments[1:]]
    if not question:
        raise UserError(_("The question is missing. Write it before the first |, for example: {example}")
                        .format(example=_example()), show_usage=True)
    if len(question) > MAX_QUESTION_CHARS:
        raise UserError(ngettext("The question is too long: {count} character, at most {limit}.",
                                 "The question is too long: {count} characters, at most {limit}.",
                                 len(question)).format(count=format_number(len(question)),
                                                       limit=format_number(MAX_QUESTION_CHARS)))
    if any(not o for o in options):
        raise UserError(_("One of the options is empty. Check that there is text between every two |."),
                        show_usage=True)
    if len(options) < MIN_OPTIONS:
        raise UserError(ngettext("A poll needs at least {min} option, for example: {example}",
                                 "A poll needs at least {min} options, for example: {example}",
                                 MIN_OPTIONS).format(min=format_number(MIN_OPTIONS), example=_example()),
                        show_usage=True)
    if len(options) > MAX_OPTIONS:
        raise UserError(_("Too many options: {count}, at most {max}.").format(
            count=format_number(len(options)), max=format_number(MAX_OPTIONS)))
    for option in options:
        if len(option) > MAX_OPTION_CHARS:
            raise UserError(ngettext("The option “{option}…” is too long: at most {limit} character.",
                                     "The option “{option}…” is too long: at most {limit} characters.",
                                     MAX_OPTION_CHARS).format(option=option[:30],
                                                              limit=format_number(MAX_OPTION_CHARS)))
    folded = [o.casefold() for o in options]
    if len(set(folded)) != len(folded):
        dup = next(o for i, o in enumerate(options) if folded.index(o.casefold()) != i)
        raise UserError(_("The option “{option}” appears twice.").format(option=dup))
    multiple = "multiple" in settings
    max_choices = 1
    if multiple:
        max_choices = len(options) if settings["multiple"] is None else settings["multiple"]
        if not 2 <= max_choices <= len(options):
            raise UserError(ngettext(
                "Multiple choice allows from 2 to {max} choice here (there is {max} option), for example: multiple 2",
                "Multiple choice allows from 2 to {max} choices here (there are {max} options), for example: multiple 2",
                len(options)).format(max=format_number(len(options))))
    return NewPoll(question=question, options=tuple(options), multiple=multiple, max_choices=max_choices,
                   anonymous=settings.get("anonymous", False), hide_results=settings.get("hide_results", False),
                   close_text=settings.get("close_text"), idea_number=idea_number)


# --- closing time ---------------------------------------------------------------------------------


def close_time(text: str | None, now: datetime, lang: str) -> datetime:
    if text is None:
        return now + DEFAULT_OPEN
    duration = parse_duration(text)  # a bare "2 päivää" / "3 h" means open for that long
    when = now + duration if duration is not None else parse_when(text, now, lang)
    if when < now + MIN_OPEN:
        raise UserError(_("The closing time {when} is not in the future.").format(when=format_datetime(when)))
    if when > now + MAX_OPEN:
        raise UserError(_open_at_most())
    return when


def extended_close(text: str, poll: store.Poll, now: datetime, lang: str) -> datetime:
    """The new closing time of an extended poll: a length ("2 päivää") is added to the current
    closing time; a time ("pe klo 18") must be later than it."""
    duration = parse_duration(text)
    when = poll.close_at + duration if duration is not None else parse_when(text, now, lang)
    if when <= poll.close_at:
        raise UserError(_("Poll #{number} already closes {current}, which is later than {when}. To extend it, "
                          "give a later time or a length to add, for example “{example}”.").format(
            number=poll.number, current=format_datetime(poll.close_at), when=format_datetime(when),
            example=_("2 days")))
    if when > now + MAX_OPEN:
        raise UserError(_open_at_most())
    return when


# --- rendering ------------------------------------------------------------------------------------


def _bar(share: float) -> str:
    full = round(share * BAR_WIDTH)
    return "▓" * full + "░" * (BAR_WIDTH - full)


def _settings_line(poll: store.Poll) -> str:
    parts = []
    if poll.multiple:
        parts.append(ngettext("up to {count} choice", "up to {count} choices", poll.max_choices)
                     .format(count=format_number(poll.max_choices)))
    parts.append(_("anonymous") if poll.anonymous else _("named"))
    if poll.hide_results:
        parts.append(_("results hidden until closed"))
    return " · ".join(parts)


def _title(poll: store.Poll) -> str:
    title = _("Poll #{number}").format(number=poll.number)
    if poll.idea_id is not None:
        title += " (" + _("about an idea") + ")"
    return title


def _count_lines(options: list[str], counts: list[int], voters: int,
                 names: list[list[str]] | None = None) -> list[str]:
    lines = []
    for n, (option, count) in enumerate(zip(options, counts, strict=True), 1):
        share = count / voters if voters else 0.0
        lines.append(f"{n}. {esc(option)}\n   {_bar(share)} {count} ({esc(format_percent(share))})")
        who = names[n - 1] if names else []
        if who:
            lines.append("   " + esc(", ".join(who[:NAMES_SHOWN]) + (" …" if len(who) > NAMES_SHOWN else "")))
    return lines


def render_open(poll: store.Poll, counts: list[int], voters: int, *, closed: bool = False) -> str:
    """The poll message: options with live counts (unless hidden), settings, closing time."""
    lines = ["📊 " + b(_title(poll)) + " " + b(poll.question)]
    options = poll.option_list()
    if poll.hide_results and not closed:
        lines += [f"{n}. {esc(o)}" for n, o in enumerate(options, 1)]
    else:
        lines += _count_lines(options, counts, voters)
    lines.append(esc(_settings_line(poll)))
    if not voters:
        votes = esc(_("Nobody voted.") if closed else _("Nobody has voted yet."))
    else:
        votes = esc(ngettext("{count} has voted.", "{count} have voted.", voters).format(
            count=format_number(voters)))
    if closed:
        lines.append(esc(_("Closed.")) + " " + votes)
    else:
        lines.append(esc(_("Closes {when}.").format(when=format_datetime(poll.close_at))) + " " + votes)
    return "\n".join(lines)


def vote_buttons(poll: store.Poll) -> tuple[tuple[Button, ...], ...]:
    rows = []
    for n, option in enumerate(poll.option_list()):
        label = option if len(option) <= 40 else option[:39] + "…"
        rows.append((Button(f"{n + 1}. {label}", f"polls:vote:{poll.id}:{n}"),))
    return tuple(rows)


def winners(counts: list[int]) -> list[int]:
    top = max(counts, default=0)
    return [i for i, c in enumerate(counts) if c == top] if top else []


def render_result(poll: store.Poll, counts: list[int], voters: int, members: int | None,
                  names: list[list[str]] | None = None) -> str:
    options = poll.option_list()
    lines = ["📊 " + b(_("Poll #{number} closed:").format(number=poll.number)) + " " + b(poll.question)]
    lines += _count_lines(options, counts, voters, None if poll.anonymous else names)
    won = winners(counts)
    known = bool(members and members >= voters)  # a count below the voters is stale or wrong: say nothing
    if not voters:  # one sentence, not "Nobody voted. 0 voters."
        lines.append(esc(ngettext("The chat's only member did not vote.", "None of the chat's {count} members voted.",
                                  members).format(count=format_number(members)) if known
                         else _("Nobody voted.")))
        return "\n".join(lines)
    if len(won) == 1:
        lines.append("🏆 " + esc(_("Winner: {option}").format(option=options[won[0]])))
    else:
        lines.append("🤝 " + esc(_("Tie: {options}").format(options=", ".join(options[i] for i in won))))
    if known:
        lines.append(esc(ngettext("Turnout: {voters} of {members} member ({share}).",
                                  "Turnout: {voters} of {members} members ({share}).", members).format(
            voters=format_number(voters), members=format_number(members),
            share=format_percent(min(1.0, voters / members)))))
    else:
        lines.append(esc(ngettext("{count} person voted.", "{count} people voted.", voters).format(
            count=format_number(voters))))
    return "\n".join(lines)


# --- creating ---------------------------------------------------------------------------------------


async def _may_create(ctx: Context) -> None:
    async with ctx.db.transaction() as session:
        chat = await ensure_chat(session, ctx.chat_key, ctx.event.platform, ctx.event.chat_title, ctx.now())
        who = chat.setting(SETTING, "everyone")
    if who == "admins" and await ctx.role() < Role.ADMIN:
        raise UserError(_("In this chat only admins may start polls."))


async def _new_poll(ctx: Context, new: NewPoll, now: datetime, close_at: datetime) -> store.Poll:
    """The poll and its close, in one transaction with the record that this event made it."""
    async with ctx.db.transaction() as session:
        idea_id = None
        if new.idea_number is not None:
            idea = await idea_store.by_number(session, ctx.chat_key, new.idea_number)
            if idea is None or idea.status == "withdrawn":
                raise UserError(_("There is no idea #{number} in this chat.").format(number=new.idea_number))
            idea_id = idea.id
        poll = await store.create_poll(
            session, chat_key=ctx.chat_key, question=new.question, options=_json(new.options),
            multiple=new.multiple, max_choices=new.max_choices, anonymous=new.anonymous,
            hide_results=new.hide_results, lang=ctx.lang, creator_key=ctx.sender_key,
            creator_name=ctx.event.sender_name[:255], idea_id=idea_id, created_at=now, close_at=close_at,
        )
        await schedule_job(session, "polls.close", close_at, chat_key=ctx.chat_key, payload={"poll": poll.id},
                           dedup_key=f"polls.close:{poll.id}")
        record_effect(session, ctx.event.event_key, "polls.create", poll.id, now)
    return poll


async def create(ctx: Context, new: NewPoll) -> None:
    await _may_create(ctx)
    now = ctx.now()
    close_at = close_time(new.close_text, now, ctx.lang)
    async with ctx.db.session() as session:
        earlier = await effect_of(session, ctx.event.event_key, "polls.create")
        poll = await store.by_id(session, int(earlier)) if earlier is not None else None
    if poll is not None:  # this command was handled before a restart: the same poll (its sends are keyed)
        close_at = poll.close_at
    else:
        poll = await _new_poll(ctx, new, now, close_at)
    ctx.services.wake(close_at)
    try:
        spec = PollSpec(question=new.question, options=new.options, multiple=new.multiple,
                        max_choices=new.max_choices, anonymous=new.anonymous, hide_results=new.hide_results)
        # Anonymous polls always use buttons: a platform's anonymous native poll (Telegram) tells the
        # bot no votes at all, and with buttons the one-vote-per-person hash stays ours.
        ref = None if new.anonymous else await ctx.transport.send_poll(ctx.event.chat_id, spec)
        if ref is not None:
            info = "📊 " + b(_title(poll)) + " · " + esc(_settings_line(poll)) + "\n" + esc(
                _("Closes {when}. Results are posted here then.").format(when=format_datetime(close_at)))
            message_id = await ctx.reply(info)
        else:
            message_id = await ctx.reply(render_open(poll, [0] * len(new.options), 0), vote_buttons(poll))
    except Exception:
        # Nobody saw the poll: do not close it later either.
        async with ctx.db.transaction() as session:
            await store.cancel(session, poll.id, ctx.now(), ctx.sender_key)
            await cancel_jobs(session, f"polls.close:{poll.id}")
        raise
    async with ctx.db.transaction() as session:
        row = await store.by_id(session, poll.id)
        row.native_ref, row.message_id = ref, message_id
        session.add(row)


def _json(options: tuple[str, ...]) -> str:
    return json.dumps(list(options), ensure_ascii=False)


# --- voting ----------------------------------------------------------------------------------------


def _accepting(poll: store.Poll, now: datetime) -> bool:
    return poll.status == store.OPEN and now < poll.close_at


async def vote_button(ctx: Context, args: list[str]) -> None:
    if len(args) != 2 or not all(a.isdigit() for a in args):
        raise UserError(_("This button no longer works."))
    poll_id, choice = int(args[0]), int(args[1])
    async with ctx.db.transaction() as session:
        poll = await store.by_id(session, poll_id)
        if poll is None or poll.chat_key != ctx.chat_key or poll.status == store.CANCELLED:
            raise UserError(_("This poll is no longer available."))
        if not _accepting(poll, ctx.now()):
            raise UserError(_("This poll is closed."))
        options = poll.option_list()
        if choice >= len(options):
            raise UserError(_("This button no longer works."))
        current = await store.get_vote(session, poll, ctx.sender_key) or ()
        chosen: tuple[int, ...] | None = None
        unchanged = False
        if ctx.event.replay and await store.vote_counted(session, poll, ctx.event.event_key):
            # handled again after a stop: counted already; answer as the first time, change nothing
            if not poll.multiple:
                note = _("Your vote: “{option}”.").format(option=options[choice])
            elif choice in current:
                note = _("Added “{option}” to your choices.").format(option=options[choice])
            else:
                note = _("Removed “{option}” from your choices.").format(option=options[choice])
        elif not poll.multiple:
            if current == (choice,):
                unchanged = True
                note = _("You already voted for “{option}”.").format(option=options[choice])
            else:
                chosen = (choice,)
                note = _("Your vote: “{option}”.").format(option=options[choice])
        elif choice in current:
            chosen = tuple(c for c in current if c != choice)
            note = _("Removed “{option}” from your choices.").format(option=options[choice])
        else:
            if len(current) >= poll.max_choices:
                raise UserError(ngettext("You can choose at most {count} option. Remove one first.",
                                         "You can choose at most {count} options. Remove one first.",
                                         poll.max_choices).format(count=format_number(poll.max_choices)))
            chosen = (*current, choice)
            note = _("Added “{option}” to your choices.").format(option=options[choice])
        if chosen is not None:
            await store.set_vote(session, poll, ctx.sender_key, ctx.event.sender_name, chosen, ctx.event.event_key)
    await ctx.acknowledge(note)
    if not unchanged:
        await refresh(ctx.services, poll.id)


async def refresh(services: Services, poll_id: int) -> None:
    """Show the live counts in the poll message, at most once per EDIT_EVERY (Telegram allows a
    group about 20 messages a minute, edits included); a vote inside the window schedules one
    trailing edit at its end, so the message always ends up current."""
    now = services.clock.now()
    trailing = None
    async with services.db.transaction() as session:
        poll = await store.by_id(session, poll_id)
        if poll is None or poll.status != store.OPEN or not poll.message_id:
            return
        if await store.claim_edit(session, poll_id, now, EDIT_EVERY):
            counts, voters, _names = await store.tally(session, poll)
            _person, chat_lang = await languages_for(session, "", poll.chat_key)
        else:
            trailing = poll.edited_at + EDIT_EVERY
            await schedule_job(session, "polls.refresh", trailing, chat_key=poll.chat_key,
                               payload={"poll": poll_id}, dedup_key=f"polls.refresh:{poll_id}:{int(trailing.timestamp())}")
    if trailing is not None:
        services.wake(trailing)
        return
    with services.locale(chat_lang or poll.lang):  # the poll's language, not the voter's
        reply = Reply(html=render_open(poll, counts, voters), buttons=vote_buttons(poll))
    try:
        await services.transport_for(poll.chat_key).edit(poll.chat_key.split(":", 1)[1], poll.message_id, reply)
    except Exception:  # the vote is stored; a stale message is not worth an error
        log.warning("could not update poll message %s", poll.message_id, exc_info=True)


async def refresh_job(services: Services, job: Job) -> None:
    await refresh(services, int(job.data()["poll"]))


async def on_poll_vote(ctx: Context) -> None:
    ref = ctx.event.poll_ref
    if not ref:
        return
    async with ctx.db.transaction() as session:
        poll = await store.by_native_ref(session, ctx.chat_key, ref)
        if poll is None or not _accepting(poll, ctx.now()):
            return  # not ours, or votes after the close are ignored
        choices = tuple(sorted(set(ctx.event.poll_choices)))
        size = len(poll.option_list())
        limit = poll.max_choices if poll.multiple else 1
        if any(c < 0 or c >= size for c in choices) or len(choices) > limit:
            log.info("refused an invalid native vote on poll %s: %s", poll.id, choices)
            raise UserError(_invalid_vote(poll, ctx.event.sender_name or ctx.event.sender_id, limit))
        await store.set_vote(session, poll, ctx.sender_key, ctx.event.sender_name, choices)
    # Telegram and Matrix show the person their own vote; where the platform does not (the
    # console), the bot says what it counted.
    if not ctx.transport.capabilities.shows_own_vote:
        await ctx.acknowledge(_vote_note(poll, choices))


def _vote_note(poll: store.Poll, choices: tuple[int, ...]) -> str:
    options = poll.option_list()
    if not choices:
        return _("Your vote in poll #{number} was withdrawn.").format(number=poll.number)
    if len(choices) == 1:
        return _("Your vote: “{option}”.").format(option=options[choices[0]])
    return _("Your choices: {options}.").format(options=", ".join(options[c] for c in choices))


def _invalid_vote(poll: store.Poll, name: str, limit: int) -> str:
    """A native vote the poll does not allow (Telegram's multiple-answer polls have no maximum)."""
    return ngettext("{name}, your vote in poll #{number} was not counted: choose at most {count} option. "
                    "Your earlier vote, if any, still counts.",
                    "{name}, your vote in poll #{number} was not counted: choose at most {count} options. "
                    "Your earlier vote, if any, still counts.", limit).format(
        name=name, number=poll.number, count=format_number(limit))


# --- closing ---------------------------------------------------------------------------------------


async def _member_count(services: Services, chat_key: str) -> int | None:
    """Members of the chat if the transport can tell (``capabilities.member_count``)."""
    transport = services.transport_for(chat_key)
    if not transport.capabilities.member_count:
        return None
    try:
        count = await transport.member_count(chat_key.split(":", 1)[1])
    except Exception:
        log.warning("member count of %s failed", chat_key, exc_info=True)
        return None
    # the bot itself is a member but not a voter
    return count - 1 if count and count > 1 else None


async def finish(services: Services, poll_id: int, by: str | None = None) -> bool:
    """Close the poll (if open) and post its result once, however often it is asked for (the
    close job, an admin's close, either run again after a crash): the result is kept with the
    close, and its messages are keyed by the poll (bot/outbox.py), so a second post of them is
    not delivered. True unless the result was posted before this call."""
    now = services.clock.now()
    async with services.db.transaction() as session:
        poll = await store.by_id(session, poll_id)
        if poll is None or poll.status == store.CANCELLED or poll.result_posted_at is not None:
            return False
        if poll.status == store.OPEN:
            await store.close(session, poll_id, now, by)
            await session.refresh(poll)
        counts, voters, names = await store.tally(session, poll)
        person_lang, chat_lang = await languages_for(session, "", poll.chat_key)
    members = poll.members if poll.counts is not None else await _member_count(services, poll.chat_key)
    if poll.counts is None:  # kept before anything is posted: a retry posts the same figures
        async with services.db.transaction() as session:
            poll = await store.by_id(session, poll_id)
            await store.store_result(session, poll, counts, voters, members)
    chat_id = poll.chat_key.split(":", 1)[1]
    transport = services.transport_for(poll.chat_key)
    with send_scope(f"polls:{poll_id}:result", replay=True):
        if poll.native_ref:
            outcome = PollOutcome(tuple(poll.option_list()), tuple(counts), tuple(winners(counts)))
            try:
                await transport.close_poll(chat_id, poll.native_ref, outcome)
            except Exception:  # e.g. closed already by an earlier attempt; the result still goes out
                log.warning("closing native poll %s failed", poll.native_ref, exc_info=True)
        with services.locale(chat_lang or poll.lang):
            html = render_result(poll, counts, voters, members, names)
            await transport.send(chat_id, Reply(html=html, reply_to_id=poll.message_id))  # raises: retried
    async with services.db.transaction() as session:
        await store.mark_result_posted(session, poll_id, services.clock.now())
    if poll.message_id and not poll.native_ref:
        # Removing the vote buttons is cosmetic (presses after the close are refused anyway): do it a
        # little later, so that when many polls close at once the results go out first.
        async with services.db.transaction() as session:
            await schedule_job(session, "polls.tidy", now + TIDY_AFTER, chat_key=poll.chat_key,
                               payload={"poll": poll.id}, dedup_key=f"polls.tidy:{poll.id}")
        services.wake(now + TIDY_AFTER)
    return True


async def tidy_job(services: Services, job: Job) -> None:
    """Show the closed poll's final counts in its message, without buttons."""
    async with services.db.session() as session:
        poll = await store.by_id(session, int(job.data()["poll"]))
        person_lang, chat_lang = await languages_for(session, "", poll.chat_key) if poll else (None, None)
    if poll is None or poll.counts is None or not poll.message_id:
        return
    with services.locale(chat_lang or poll.lang):
        html = render_open(poll, poll.count_list(), poll.voters, closed=True)
    try:
        await services.transport_for(poll.chat_key).edit(poll.chat_key.split(":", 1)[1], poll.message_id,
                                                         Reply(html=html))
    except Exception:  # the message may be gone; nothing to retry
        log.warning("could not remove the vote buttons of poll %s", poll.id, exc_info=True)


async def close_job(services: Services, job: Job) -> None:
    await finish(services, int(job.data()["poll"]))


# --- managing ---------------------------------------------------------------------------------------


async def _managed(ctx: Context, session, number: int, *, closing: bool = False) -> store.Poll:
    """The poll an admin or its creator manages; ``closing`` also takes a closed poll whose
    result never got posted (the platform failed for too long): closing it again posts it.
    Inside a transaction: ask ``ctx.role()`` before opening it (the answer is kept)."""
    poll = await store.by_number(session, ctx.chat_key, number)
    if poll is None:
        raise UserError(_("There is no poll #{number} in this chat.").format(number=number))
    if poll.creator_key != ctx.sender_key and await ctx.role() < Role.ADMIN:
        raise UserError(_("Only the poll's creator and the chat's admins may do this."))
    if poll.status != store.OPEN and not (closing and poll.status == store.CLOSED and poll.result_posted_at is None):
        raise UserError(_("Poll #{number} is already closed.").format(number=number))
    return poll


async def action(ctx: Context, act: PollAction) -> None:
    if act.action == "settings":
        await settings_cmd(ctx, act.rest)
        return
    if act.action == "show":
        await show(ctx, act.number)
        return
    await ctx.role()  # who may manage the poll is the platform's to say: ask before the transaction
    async with ctx.db.transaction() as session:
        poll = await _managed(ctx, session, act.number, closing=act.action == "close")
        if act.action == "extend":
            text = act.rest
            m = _CLOSE.match(text.casefold()) or _OPEN_FOR.match(text.casefold())
            if m:
                text = text[len(text) - len(m.group(1)):]
            if not text.strip():
                raise UserError(_("Say until when, for example: {example}").format(
                    example=_("{command} extend {number} 2 days").format(command=ctx.cmd("poll"), number=act.number)))
            when = extended_close(text.strip(), poll, ctx.now(), ctx.lang)
            await store.extend(session, poll, when)
            await schedule_job(session, "polls.close", when, chat_key=ctx.chat_key, payload={"poll": poll.id},
                               dedup_key=f"polls.close:{poll.id}")
        elif act.action == "cancel":
            await store.cancel(session, poll.id, ctx.now(), ctx.sender_key)
            await cancel_jobs(session, f"polls.close:{poll.id}")
        else:
            # close now: the job stays as a fallback in case posting fails
            await schedule_job(session, "polls.close", ctx.now(), chat_key=ctx.chat_key, payload={"poll": poll.id},
                               dedup_key=f"polls.close:{poll.id}")
    if act.action == "extend":
        ctx.services.wake(when)
        await ctx.reply(esc(_("Poll #{number} now closes {when}.").format(
            number=poll.number, when=format_datetime(when))))
        if not poll.native_ref:  # the poll message says when it closes
            await refresh(ctx.services, poll.id)
        return
    if act.action == "cancel":
        if poll.native_ref:
            outcome = PollOutcome(tuple(poll.option_list()), (0,) * len(poll.option_list()), ())
            try:
                await ctx.transport.close_poll(ctx.event.chat_id, poll.native_ref, outcome)
            except Exception:
                log.warning("closing cancelled native poll %s failed", poll.native_ref, exc_info=True)
        elif poll.message_id:
            try:
                await ctx.edit(poll.message_id, "📊 " + b(_title(poll)) + " " + b(poll.question) + "\n"
                               + esc(_("Cancelled.")))
            except Exception:
                log.warning("could not update cancelled poll %s", poll.id, exc_info=True)
        await ctx.reply(esc(_("Poll #{number} was cancelled; no result will be posted.").format(
            number=poll.number)))
        return
    if not await finish(ctx.services, poll.id, by=ctx.sender_key):
        await ctx.reply(esc(_("Poll #{number} is already closed.").format(number=poll.number)))


async def settings_cmd(ctx: Context, rest: str) -> None:
    if await ctx.role() < Role.ADMIN:
        raise UserError(_("Only the chat's admins may change who may start polls."))
    word = rest.strip().casefold()
    who = next((w for w, names in WHO_WORDS.items() if word in names), None)
    async with ctx.db.transaction() as session:
        chat = await ensure_chat(session, ctx.chat_key, ctx.event.platform, ctx.event.chat_title, ctx.now())
        if who is None:
            current = chat.setting(SETTING, "everyone")
            raise UserError(_("Who may start polls here: {current}. Change it with {example}.").format(
                current=_("everyone") if current == "everyone" else _("admins only"),
                example=ctx.cmd("poll") + " " + _("settings everyone|admins")))
        await set_chat_setting(session, chat, SETTING, who)
    await ctx.reply(esc(_("From now on everyone may start polls here.") if who == "everyone"
                        else _("From now on only admins may start polls here.")))


async def poll_cmd(ctx: Context, parsed: NewPoll | PollAction) -> None:
    if isinstance(parsed, PollAction):
        await action(ctx, parsed)
    else:
        await create(ctx, parsed)


# --- listing ------------------------------------------------------------------------------------------


async def show(ctx: Context, number: int | None) -> None:
    async with ctx.db.session() as session:
        poll = await store.by_number(session, ctx.chat_key, number or 0)
        if poll is None or poll.status == store.CANCELLED:
            raise UserError(_("There is no poll #{number} in this chat.").format(number=number))
        closed = poll.status == store.CLOSED and poll.counts is not None
        if not closed:
            counts, voters, _names = await store.tally(session, poll)
    if closed:
        await ctx.reply(render_result(poll, poll.count_list(), poll.voters, poll.members))
        return
    buttons = vote_buttons(poll) if not poll.native_ref and _accepting(poll, ctx.now()) else ()
    await ctx.reply(render_open(poll, counts, voters), buttons)


async def polls_cmd(ctx: Context, args: str) -> None:
    async with ctx.db.session() as session:
        polls = await store.list_polls(session, ctx.chat_key, ctx.now() - RECENT)
    if not polls:
        await ctx.reply(esc(_("No open or recent polls. Start one with {command} {example}").format(
            command=ctx.cmd("poll"), example=_example())))
        return
    open_lines, closed_lines = [], []
    for poll in polls:
        if poll.status == store.OPEN:
            open_lines.append(esc(_("#{number} {question} — closes {when}").format(
                number=poll.number, question=poll.question, when=format_datetime(poll.close_at))))
        else:
            outcome = _outcome(poll.option_list(), poll.count_list() or [])
            closed_lines.append(esc(_("#{number} {question} — {outcome}").format(
                number=poll.number, question=poll.question, outcome=outcome)))
    lines = []
    if open_lines:
        lines += [b(_("Open polls")), *open_lines]
    if closed_lines:
        lines += [b(_("Recently closed")), *closed_lines]
    lines.append(esc(_("Details: {command} <number>").format(command=ctx.cmd("poll"))))
    await ctx.reply("\n".join(lines))


# --- digest and exports -------------------------------------------------------------------------------


async def digest(services: Services, chat_key: str, start: datetime, end: datetime) -> dict | None:
    """Polls opened and polls closed (with results) in [start, end). No personal data."""
    async with services.db.session() as session:
        opened, closed = await store.in_period(session, chat_key, start, end)
    if not opened and not closed:
        return None
    return {
        "counts": {"opened": len(opened), "closed": len(closed), "votes": sum(p.voters for p in closed)},
        "opened": [{"number": p.number, "question": p.question, "close_at": p.close_at.isoformat()} for p in opened],
        "closed": [
            {"number": p.number, "question": p.question, "options": p.option_list(), "counts": p.count_list() or [],
             "voter_count": p.voters, "member_count": p.members, "winners": winners(p.count_list() or [])}
            for p in closed
        ],
    }


def _outcome(options: list[str], counts: list[int]) -> str:
    won = winners(counts)
    if not won:
        return _("nobody voted")
    if len(won) == 1:
        return _("winner: {option}").format(option=options[won[0]])
    return _("tie: {options}").format(options=", ".join(options[i] for i in won))


def render_digest(facts: dict) -> list[str]:
    counts = facts.get("counts", {})
    opened, closed = counts.get("opened", 0), counts.get("closed", 0)
    lines = ["📊 " + b(_("Polls")) + " " + esc(
        ngettext("{count} opened", "{count} opened", opened).format(count=format_number(opened)) + ", "
        + ngettext("{count} closed", "{count} closed", closed).format(count=format_number(closed)))]
    for poll in facts.get("closed", []):
        voters = poll.get("voter_count", 0)
        line = "• " + esc(_("#{number} {question} — {outcome}").format(
            number=poll["number"], question=poll["question"], outcome=_outcome(poll["options"], poll["counts"])))
        if voters:  # "nobody voted" says it already
            line += " " + esc(ngettext("({count} voter)", "({count} voters)", voters).format(
                count=format_number(voters)))
        lines.append(line)
    return lines


async def export_polls(services: Services, chat_keys: list[str] | None, public: bool) -> list[dict]:
    """One row per poll. Results of open polls are not published early; votes are never exported;
    public rows leave out the chat and the creator."""
    async with services.db.session() as session:
        polls = await store.for_export(session, chat_keys)
    rows = []
    for p in polls:
        if public and p.status == store.CANCELLED:
            continue
        closed = p.status == store.CLOSED
        options, counts = p.option_list(), p.count_list() if closed else None
        row = {
            "number": p.number, "question": p.question, "options": options,
            "multiple": p.multiple, "max_choices": p.max_choices, "anonymous": p.anonymous,
            "hide_results": p.hide_results, "idea_number": None, "status": p.status,
            "created_at": p.created_at.isoformat(), "close_at": p.close_at.isoformat(),
            "closed_at": p.closed_at.isoformat() if p.closed_at else None,
            "counts": counts,
            # the same as one CSV-friendly text: "Tue 3 | Wed 1"
            "result": " | ".join(f"{o} {c}" for o, c in zip(options, counts, strict=True)) if counts else None,
            "voter_count": p.voters if closed else None, "member_count": p.members,
        }
        if p.idea_id is not None:
            row["idea_number"] = await _idea_number(services, p.idea_id)
        if not public:
            row = {"chat_key": p.chat_key, **row, "creator_name": p.creator_name, "creator_key": p.creator_key}
        rows.append(row)
    return rows


async def _idea_number(services: Services, idea_id: int) -> int | None:
    async with services.db.session() as session:
        idea = await idea_store.by_id(session, idea_id)
    return idea.number if idea else None


FEATURE = Feature(
    name="polls",
    commands=[
        Command(
            "poll", poll_cmd, {"fi": ("kysely", "aanestys"), "sv": ("omrostning", "enkat"), "en": ("poll",)},
            help=N_("start a poll; also: close, extend, cancel, settings"),
            usage=N_("<question> | <option> | <option> … [| closes <when>] [| multiple <n>] [| anonymous] "
                     "[| hidden results]"),
            parse=parse_poll,
        ),
        Command(
            "polls", polls_cmd, {"fi": ("kyselyt",), "sv": ("omrostningar", "enkater"), "en": ("polls",)},
            help=N_("list open and recently closed polls"),
        ),
    ],
    buttons={"vote": vote_button},
    on_poll_vote=on_poll_vote,
    jobs={"polls.close": close_job, "polls.tidy": tidy_job, "polls.refresh": refresh_job},
    digest=digest,
    render_digest=render_digest,
    exports={"polls": export_polls},
)
