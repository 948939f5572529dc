"""Experiments: an idea tried out through the double diamond (Explore, Define, Develop, Deliver),
with a volunteer team, indicators and their values over time, scheduled value requests,
charts, digest and exports."""

from __future__ import annotations

import calendar
import logging
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from babel.numbers import format_decimal

from core.events import Button, FileOut, Role
from core.i18n import N_, _, current_language, format_date, format_number, local, ngettext
from core.markup import b, esc
from handlers.base import Command, Context, Feature, Services, UserError
from handlers.ideas import parse_number, status_label
from handlers.when import HELSINKI, parse_when
from storage import experiments as store
from storage import ideas as idea_store
from storage.core import Job, cancel_jobs, schedule_job

log = logging.getLogger(__name__)

MAX_NOTE_CHARS = 500
MAX_INDICATORS = 10
MAX_NAME_CHARS, MAX_UNIT_CHARS = 60, 20
MAX_ABS_VALUE = 1e12
#: values older than this are refused (typos such as 1.1.1926)
MAX_VALUE_AGE_DAYS = 5 * 366
ASK_HOUR = 10  # value requests are sent at 10:00 Helsinki time

PHASE_LABELS = {"explore": N_("Explore"), "define": N_("Define"), "develop": N_("Develop"), "deliver": N_("Deliver")}
PHASE_WORDS = {
    "explore": ("explore", "tutki", "tutkiminen", "utforska"),
    "define": ("define", "tarkenna", "tarkentaminen", "määrittele", "definiera"),
    "develop": ("develop", "kehitä", "kehita", "kehittäminen", "utveckla"),
    "deliver": ("deliver", "toteuta", "toteutus", "leverera"),
}
#: the action words shown in examples, per language
DONE_WORD = {"fi": "valmis", "sv": "klar", "en": "done"}
START_WORD = {"fi": "aloita", "sv": "starta", "en": "start"}
ABANDON_WORD = {"fi": "keskeytä", "sv": "avbryt", "en": "abandon"}
NEXT_WORDS = ("next", "seuraava", "nästa", "nasta")
ACTION_WORDS = {
    "start": ("start", "begin", "aloita", "käynnistä", "kaynnista", "starta", "börja", "borja", "påbörja",
              "paborja"),
    "show": ("show", "view", "näytä", "nayta", "katso", "visa"),
    "done": ("done", "valmis", "klar", "färdig", "fardig"),
    "abandon": ("abandon", "abandoned", "keskeytä", "keskeyta", "lopeta", "avbryt", "överge", "overge"),
    "ask": ("ask", "remind", "kysy", "muistuta", "fråga", "fraga", "påminn", "paminn"),
}
EVERY_WORDS = {
    "weekly": ("weekly", "week", "viikoittain", "viikko", "viikon", "veckovis", "vecka", "varje"),
    "monthly": ("monthly", "month", "kuukausittain", "kuukausi", "kuukauden", "månadsvis", "manadsvis", "månad"),
    "": ("off", "never", "pois", "ei", "av", "aldrig"),
}
DIRECTION_WORDS = {
    store.MORE: ("more", "higher", "up", "enemmän", "enemman", "ylös", "mer", "högre", "hogre", "↑", "+"),
    store.LESS: ("less", "fewer", "lower", "down", "vähemmän", "vahemman", "alas", "mindre", "lägre", "lagre", "↓",
                 "-"),
}
TODAY_WORDS = ("today", "tänään", "tanaan", "idag")
YESTERDAY_WORDS = ("yesterday", "eilen", "igår", "igar")
STATUS_LABELS = {store.ACTIVE: N_("active"), store.DONE: N_("done"), store.ABANDONED: N_("abandoned")}

_NUMBER = re.compile(r"^([+-]?(?:\d+(?:[.,]\d+)?|[.,]\d+))((?![.,\d])\S*)$")
_DATE_DMY = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{2}|\d{4})?$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_RANGE = re.compile(r"\s+(?:[-–—]|until|till)\s+|\s*[–—]\s*", re.I)


def phase_label(phase: str) -> str:
    return _(PHASE_LABELS.get(phase, phase))


def _clean(text: str) -> str:
    return " ".join(text.split())


def _word_in(word: str, table: dict[str, tuple[str, ...]]) -> str | None:
    word = word.casefold()
    return next((key for key, words in table.items() if word in words), None)


# --- parsing (plain functions, unit-tested) ------------------------------------------------------


def parse_value(token: str) -> tuple[float, str]:
    """A number typed with a comma or a point and an optional unit glued on ("1,5", "12€", "3h")."""
    m = _NUMBER.match(token.strip())
    if not m or re.fullmatch(r"[eE][+-]?\d+", m[2]):
        raise UserError(_("“{text}” is not a number. Write for example 12 or 1,5.").format(text=token[:40]))
    value = float(m[1].replace(",", "."))
    if not math.isfinite(value) or abs(value) > MAX_ABS_VALUE:
        raise UserError(_("{text} is too large a number.").format(text=token[:40]))
    return value, m[2]


def looks_numeric(token: str) -> bool:
    return bool(_NUMBER.match(token)) or bool(re.fullmatch(r"[+-]?\d+[eE]\S*", token))


def parse_value_date(text: str, now: datetime) -> datetime:
    """The day a value was measured: today, yesterday, 1.11., 1.11.2026 or 2026-11-01 (noon, Helsinki).
    Future days and days more than five years back are refused."""
    word = text.strip().casefold()
    today = local(now).date()
    if word in TODAY_WORDS:
        day = today
    elif word in YESTERDAY_WORDS:
        day = today - timedelta(days=1)
    else:
        m, iso = _DATE_DMY.match(word), _DATE_ISO.match(word)
        try:
            if m:
                year = int(m[3]) if m[3] else today.year
                year = year + 2000 if year < 100 else year
                day = date(year, int(m[2]), int(m[1]))
                if not m[3] and day > today:  # "15.12." typed in January means last December
                    day = date(year - 1, day.month, day.day)
            elif iso:
                day = date(int(iso[1]), int(iso[2]), int(iso[3]))
            else:
                raise UserError(_("I don't understand the date “{text}”. Write for example 1.11.2026 or "
                                  "yesterday.").format(text=text[:40]))
        except ValueError:
            raise UserError(_("{text} is not a valid date.").format(text=text[:40])) from None
    moment = datetime.combine(day, time(12, 0), HELSINKI)
    if day > today:
        raise UserError(_("{date} is in the future; record values once they are measured.").format(
            date=format_date(moment)))
    if (today - day).days > MAX_VALUE_AGE_DAYS:
        raise UserError(_("{date} is too far back.").format(date=format_date(moment)))
    return moment


@dataclass(frozen=True)
class ExperimentArgs:
    number: int
    action: str = "show"  # show | start | done | abandon | ask
    text: str = ""


def parse_experiment(args: str) -> ExperimentArgs:
    """``N`` only shows (an idea that is no experiment yet is offered with a start button);
    starting is explicit: ``N start [dates]``, or dates alone (``N 1.12. - 31.1.``)."""
    head, _sep, rest = args.strip().partition(" ")
    number = parse_number(head)
    rest = rest.strip()
    if not rest:
        return ExperimentArgs(number)
    word, _sep, tail = rest.partition(" ")
    action = _word_in(word, ACTION_WORDS)
    if action:
        return ExperimentArgs(number, action, _clean(tail))
    return ExperimentArgs(number, "start", rest)


def parse_dates(text: str, now: datetime, lang: str | None = None) -> tuple[datetime | None, datetime | None]:
    """"<start> - <end>", "- <end>" or "<start>" with the shared fi/sv/en parser."""
    text = text.strip()
    if not text:
        return None, None
    parts = _RANGE.split(" " + text + " " if text.startswith(("-", "–")) else text, maxsplit=1)
    start_text, end_text = (parts + [""])[:2] if len(parts) > 1 else (parts[0], "")
    start = parse_when(start_text, now, lang) if start_text.strip() else None
    end = parse_when(end_text, now, lang) if end_text.strip() else None
    if start and end and end <= start:
        raise UserError(_("The end ({end}) must be after the start ({start}).").format(
            end=format_date(end), start=format_date(start)))
    return start, end


def _note_too_long() -> str:
    return ngettext("Keep the note under {limit} character.", "Keep the note under {limit} characters.",
                    MAX_NOTE_CHARS).format(limit=format_number(MAX_NOTE_CHARS))


def parse_phase(args: str) -> tuple[int, str, str]:
    head, _sep, rest = args.strip().partition(" ")
    number = parse_number(head)
    word, _sep, note = rest.strip().partition(" ")
    if not word:
        raise UserError(_("Say which phase: {phases}.").format(phases=", ".join(map(phase_label, store.PHASES))),
                        show_usage=True)
    phase = "next" if word.casefold() in NEXT_WORDS else _word_in(word, PHASE_WORDS)
    if phase is None:
        raise UserError(_("Unknown phase “{word}”. Choose one of: {phases}.").format(
            word=word[:40], phases=", ".join(map(phase_label, store.PHASES))))
    note = _clean(note)
    if len(note) > MAX_NOTE_CHARS:
        raise UserError(_note_too_long())
    return number, phase, note


@dataclass(frozen=True)
class IndicatorSpec:
    name: str
    unit: str = ""
    target: float | None = None
    direction: str = store.MORE


def parse_indicator(args: str) -> tuple[int, IndicatorSpec]:
    """<experiment> <name> | <unit> | <target> | <more/less>; everything after the name is optional."""
    head, _sep, rest = args.strip().partition(" ")
    number = parse_number(head)
    parts = [_clean(p) for p in rest.split("|")]
    name = parts[0]
    if not name:
        raise UserError(_("Give the indicator a name, for example: {example}").format(
            example=_("participants per event | people | 20 | more")), show_usage=True)
    if len(name) > MAX_NAME_CHARS or name.lstrip("#").isdigit():
        raise UserError(ngettext("An indicator's name must be words of at most {limit} character.",
                                 "An indicator's name must be words of at most {limit} characters.",
                                 MAX_NAME_CHARS).format(limit=format_number(MAX_NAME_CHARS)))
    unit = parts[1] if len(parts) > 1 else ""
    if len(unit) > MAX_UNIT_CHARS or looks_numeric(unit):
        raise UserError(_("The unit “{unit}” is not valid: use a short word such as people, € or h.").format(
            unit=unit[:40]))
    target = None
    if len(parts) > 2 and parts[2]:
        target, glued = parse_value(parts[2].split(" ", 1)[0])
        if glued and unit and glued.casefold() != unit.casefold():
            raise UserError(_("The target is in {given} but the unit is {unit}.").format(given=glued, unit=unit))
    direction = store.MORE
    if len(parts) > 3 and parts[3]:
        found = _word_in(parts[3], DIRECTION_WORDS)
        if found is None:
            raise UserError(_("Say “more” or “less”: which way is better for this indicator?"))
        direction = found
    if len(parts) > 4:
        raise UserError(_("Too many parts: name | unit | target | more/less."), show_usage=True)
    return number, IndicatorSpec(name, unit, target, direction)


@dataclass(frozen=True)
class Measurement:
    number: int
    indicator: str
    value: float
    unit: str
    when: str


def parse_measure(args: str) -> Measurement:
    """<experiment> <indicator name or number> <value>[unit] [unit] [date]"""
    tokens = args.split()
    if not tokens:
        raise UserError(_("Give the experiment's number, the indicator and the value."), show_usage=True)
    number = parse_number(tokens[0])
    tokens = tokens[1:]
    idx = next((i for i, t in enumerate(tokens) if i > 0 and looks_numeric(t)), None)
    if idx is None:
        if len(tokens) >= 2:
            # the last word was meant as the value
            parse_value(tokens[-1])
        raise UserError(_("Give the indicator and the value, for example: {example}").format(
            example="1 12"), show_usage=True)
    value, unit = parse_value(tokens[idx])
    rest = tokens[idx + 1:]
    when = ""
    if rest and not unit and not _looks_like_date(rest[0]):
        unit, rest = rest[0], rest[1:]
    if rest:
        when = " ".join(rest)
    return Measurement(number, " ".join(tokens[:idx]), value, unit, when)


def _looks_like_date(token: str) -> bool:
    word = token.casefold()
    return bool(_DATE_DMY.match(word) or _DATE_ISO.match(word)) or word in TODAY_WORDS + YESTERDAY_WORDS


def _same_unit(given: str, unit: str) -> bool:
    def norm(u: str) -> str:
        return u.casefold().replace(" ", "").rstrip(".")
    return norm(given) == norm(unit)


# --- presentation ----------------------------------------------------------------------------------


def fmt_value(value: float, unit: str = "") -> str:
    """1,5 in Finnish and Swedish, 1.5 in English; at most three decimals, no trailing zeros."""
    text = format_decimal(value, format="#,##0.###", locale=current_language())
    return f"{text} {unit}" if unit else text


def trend(values: list[float], direction: str) -> str:
    """An arrow for the last change and whether it is for the better."""
    if len(values) < 2:
        return ""
    delta = values[-1] - values[-2]
    if delta == 0:
        return "→"
    better = (delta > 0) == (direction == store.MORE)
    return ("↗" if delta > 0 else "↘") + (" ✓" if better else " ✗")


def target_reached(value: float, target: float | None, direction: str) -> bool:
    if target is None:
        return False
    return value >= target if direction == store.MORE else value <= target


def phase_bar(phase: str) -> str:
    current = store.PHASES.index(phase) if phase in store.PHASES else 0
    parts = []
    for i, p in enumerate(store.PHASES):
        label = phase_label(p)
        parts.append(b("▶ " + label) if i == current else esc(("✓ " if i < current else "") + label))
    return " → ".join(parts)


#: values listed one by one in a chart's text alternative (the latest; older ones are counted)
CHART_TEXT_VALUES = 10


def chart_figure(ind: store.Indicator, rows: list[store.IndicatorValue]):
    """The indicator's values over time; the target as a line over the measured days only."""
    from handlers import charts  # matplotlib is loaded only when a chart is drawn

    points = [(local(v.measured_at), v.value) for v in rows]
    better = _("more is better") if ind.direction == store.MORE else _("less is better")
    return charts.line_figure({ind.name: points}, title=f"{ind.name} ({better})", ylabel=ind.unit or _("value"),
                              date_label=lambda m: charts.day_label(local(m)),
                              targets={_("Target"): ind.target} if ind.target is not None else None)


def chart_png(ind: store.Indicator, rows: list[store.IndicatorValue]) -> bytes:
    from handlers import charts

    return charts.to_png(chart_figure(ind, rows))


def chart_text(ind: store.Indicator, rows: list[store.IndicatorValue]) -> str:
    """The chart's figures as a short list (sent with it: for screen readers and slow connections)."""
    better = _("more is better") if ind.direction == store.MORE else _("less is better")
    lines = ["📈 " + b(esc(f"{ind.name} ({better})"))]
    shown = rows[-CHART_TEXT_VALUES:]
    earlier = len(rows) - len(shown)
    if earlier:
        lines.append(esc(ngettext("{count} earlier value not shown.", "{count} earlier values not shown.",
                                  earlier).format(count=format_number(earlier))))
    for v in shown:
        lines.append("• " + esc(_("{date}: {value}").format(date=format_date(v.measured_at),
                                                            value=fmt_value(v.value, ind.unit))))
    if ind.target is not None:
        lines.append(esc(_("Target: {value}").format(value=fmt_value(ind.target, ind.unit))))
    return "\n".join(lines)


# --- access -------------------------------------------------------------------------------------


async def _load(ctx: Context, session, number: int) -> tuple[idea_store.Idea, store.Experiment]:
    idea = await idea_store.by_number(session, ctx.chat_key, number)
    if idea is None or idea.status == "withdrawn":
        raise UserError(_("There is no idea #{number} in this chat.").format(number=number))
    exp = await store.by_idea(session, idea.id)
    if exp is None:
        raise UserError(_not_an_experiment(ctx, number))
    return idea, exp


def _not_an_experiment(ctx: Context, number: int) -> str:
    return _("Idea #{number} is not an experiment. An admin can start one with {command}.").format(
        number=number, command=f"{ctx.cmd('experiment')} {number} {START_WORD.get(ctx.lang, 'start')}")


def _require_active(exp: store.Experiment, number: int) -> None:
    if exp.status != store.ACTIVE:
        raise UserError(_("Experiment #{number} is {status}.").format(
            number=number, status=_(STATUS_LABELS[exp.status])))


async def _require_team(ctx: Context, session, exp: store.Experiment, number: int) -> None:
    if not await store.is_member(session, exp.id, ctx.sender_key):
        raise UserError(_("Only the team of experiment #{number} may do this. Join it with {command} {number}.")
                        .format(number=number, command=ctx.cmd("join")))


def join_buttons(exp: store.Experiment) -> tuple[tuple[Button, ...], ...]:
    if exp.status != store.ACTIVE:
        return ()
    return ((Button("🙋 " + _("Join the team"), f"experiments:join:{exp.id}"),),)


# --- commands ---------------------------------------------------------------------------------


async def experiment_cmd(ctx: Context, args: ExperimentArgs) -> None:
    if args.action == "show":
        async with ctx.db.session() as session:
            idea = await idea_store.by_number(session, ctx.chat_key, args.number)
            exists = idea is not None and await store.by_idea(session, idea.id) is not None
        if exists or idea is None or idea.status == "withdrawn" or await ctx.role() < Role.ADMIN:
            await show(ctx, args.number)  # explains how an admin starts one
        else:
            await offer(ctx, idea)  # looking never starts one
    elif args.action == "start":
        await start(ctx, args.number, args.text)
    elif args.action in ("done", "abandon"):
        await finish(ctx, args.number, args.action, args.text)
    else:
        await ask_cmd(ctx, args.number, args.text)


def _startable(idea: idea_store.Idea) -> None:
    if idea.status not in ("new", "discussed", "experiment"):
        raise UserError(_("Idea #{number} is {status}; only new or discussed ideas can become experiments.")
                        .format(number=idea.number, status=status_label(idea.status)))


async def offer(ctx: Context, idea: idea_store.Idea) -> None:
    """An admin looking at an idea that is no experiment yet: how to start one, and a button."""
    _startable(idea)
    command = f"{ctx.cmd('experiment')} {idea.number} {START_WORD.get(ctx.lang, 'start')}"
    lines = ["💡 " + b(_("Idea #{number}").format(number=idea.number)) + " " + esc(idea.text[:200]),
             esc(_("Status: {status}").format(status=status_label(idea.status))),
             esc(_("It is not an experiment yet. Start one with the button or with {command} (dates optional, "
                   "for example {example}).").format(command=command, example=_("1 Dec - 31 Jan")))]
    await ctx.reply("\n".join(lines), ((Button("🧪 " + _("Start the experiment"), f"experiments:start:{idea.id}"),),))


def _again(ctx: Context, exp: store.Experiment) -> bool:
    """This very start handled again (its handling was cut short by a stop): the experiment found
    is the one it made, so it is answered as the first time."""
    return ctx.event.replay and exp.created_by == ctx.sender_key


async def start(ctx: Context, number: int, dates: str) -> None:
    await ctx.role()  # asked before the transaction; require() inside uses the answer
    async with ctx.db.transaction() as session:
        idea = await idea_store.by_number(session, ctx.chat_key, number)
        if idea is None or idea.status == "withdrawn":
            raise UserError(_("There is no idea #{number} in this chat.").format(number=number))
        await ctx.require(Role.ADMIN)
        starts_at, ends_at = parse_dates(dates, ctx.now(), ctx.lang)
        exp = await store.by_idea(session, idea.id)
        if exp is not None and not _again(ctx, exp):
            raise UserError(_("Idea #{number} is already an experiment.").format(number=number))
        if exp is None:
            _startable(idea)
            exp = await store.create(session, idea, actor_key=ctx.sender_key, actor_name=ctx.event.sender_name,
                                     now=ctx.now(), starts_at=starts_at or ctx.now(), ends_at=ends_at)
            if exp is None:
                raise UserError(_("Idea #{number} is already an experiment.").format(number=number))
            if idea.status != "experiment":  # the idea's history records it, in the same unit of work
                await idea_store.change_status(session, idea, "experiment", actor_key=ctx.sender_key,
                                               actor_name=ctx.event.sender_name, note="", now=ctx.now())
        ends_at = exp.ends_at
    lines = ["🧪 " + b(_("Idea #{number} is now an experiment.").format(number=number)) + " " + esc(idea.text[:80]),
             _("Phase: {phase}").format(phase=phase_bar(exp.phase))]
    if ends_at:
        lines.append(esc(_("From {start} to {end}.").format(start=format_date(exp.starts_at), end=format_date(ends_at))))
    lines.append(esc(_("Who will try it out? Join the team with the button or {command} {number}.").format(
        command=ctx.cmd("join"), number=number)))
    await ctx.reply("\n".join(lines), join_buttons(exp))


async def show(ctx: Context, number: int) -> None:
    async with ctx.db.session() as session:
        idea, exp = await _load(ctx, session, number)
        team = await store.members(session, exp.id)
        history = await store.steps(session, exp.id)
        inds = await store.indicators(session, exp.id)
        vals = await store.values(session, [i.id for i in inds])
    lines = ["🧪 " + b(_("Experiment #{number}").format(number=number)) + " " + esc(idea.text[:200])]
    if exp.status == store.ACTIVE:
        lines.append(_("Phase: {phase}").format(phase=phase_bar(exp.phase)))
        if idea.status != "experiment":  # moved on with the ideas' status command
            lines.append(esc(_("The idea is now {status}.").format(status=status_label(idea.status))))
    else:
        lines.append(esc(_("Status: {status}").format(status=_(STATUS_LABELS[exp.status]))))
    if exp.starts_at and exp.ends_at:
        lines.append(esc(_("From {start} to {end}.").format(start=format_date(exp.starts_at),
                                                           end=format_date(exp.ends_at))))
    elif exp.starts_at:
        lines.append(esc(_("Started {date}.").format(date=format_date(exp.starts_at))))
    if team:
        names = [m.name + (" " + _("(owner)") if m.person_key == exp.owner_key else "") for m in team]
        lines.append(esc(_("Team: {names}").format(names=", ".join(names))))
    else:
        lines.append(esc(_("No team yet.")))
    if exp.ask_every:
        lines.append(esc(_("The owner is asked for values {every}.").format(every=every_label(exp.ask_every))))
    if inds:
        lines.append(b(_("Indicators")))
        for ind in inds:
            lines.append("• " + indicator_line(ind, vals[ind.id]))
    lines.append(b(_("History")))
    for step in history:
        lines.append("• " + esc(step_text(step)))
    if exp.outcome:
        lines.append(esc(_("Outcome: {text}").format(text=exp.outcome)))
    await ctx.reply("\n".join(lines), join_buttons(exp))
    for ind in inds:
        if vals[ind.id]:
            png = chart_png(ind, vals[ind.id])
            await ctx.send_file(FileOut(f"experiment-{number}-{ind.number}.png", png, "image/png",
                                        caption_html=chart_text(ind, vals[ind.id]), is_image=True))


def indicator_line(ind: store.Indicator, rows: list[store.IndicatorValue]) -> str:
    text = f"{ind.number}. {ind.name}"
    if rows:
        latest = rows[-1]
        text += ": " + _("{value} ({date})").format(value=fmt_value(latest.value, ind.unit),
                                                     date=format_date(latest.measured_at))
        arrow = trend([r.value for r in rows], ind.direction)
        if arrow:
            text += " " + arrow
    else:
        text += ": " + _("no values yet")
    if ind.target is not None:
        text += " · " + _("target {value}").format(value=fmt_value(ind.target, ind.unit))
        if rows and target_reached(rows[-1].value, ind.target, ind.direction):
            text += " 🎯"
    text += " · " + (_("more is better") if ind.direction == store.MORE else _("less is better"))
    return esc(text)


def step_text(step: store.ExperimentStep) -> str:
    when, who = format_date(step.at), step.actor_name or "?"
    if step.action == "started":
        text = _("{when}: experiment started by {who}").format(when=when, who=who)
    elif step.action == "phase":
        text = _("{when}: {old} → {new} by {who}").format(when=when, who=who, old=phase_label(step.from_phase or ""),
                                                          new=phase_label(step.to_phase or ""))
    elif step.action == "done":
        text = _("{when}: done, marked by {who}").format(when=when, who=who)
    else:
        text = _("{when}: abandoned by {who}").format(when=when, who=who)
    if step.note:
        text += " — " + step.note
    return text


def every_label(every: str) -> str:
    return _("weekly") if every == "weekly" else _("monthly")


async def join_cmd(ctx: Context, number: int) -> None:
    async with ctx.db.transaction() as session:
        _idea, exp = await _load(ctx, session, number)
        _require_active(exp, number)
        added = await store.join(session, exp, ctx.sender_key, ctx.event.sender_name, ctx.now()) or ctx.event.replay
        owner = exp.owner_key == ctx.sender_key
    if not added:
        await ctx.reply(esc(_("You are already in the team of experiment #{number}.").format(number=number)))
    elif owner:
        await ctx.reply(esc(_("{name} joined experiment #{number} and is its owner.").format(
            name=ctx.event.sender_name, number=number)))
    else:
        await ctx.reply(esc(_("{name} joined the team of experiment #{number}.").format(
            name=ctx.event.sender_name, number=number)))


async def start_button(ctx: Context, args: list[str]) -> None:
    """The button under an idea that is no experiment yet: the explicit start (admins)."""
    if not args or not args[0].isdigit():
        raise UserError(_("This button no longer works."))
    async with ctx.db.session() as session:
        idea = await idea_store.by_id(session, int(args[0]))
    if idea is None or idea.chat_key != ctx.chat_key:
        raise UserError(_("This button no longer works."))
    await start(ctx, idea.number, "")
    await ctx.acknowledge(_("Idea #{number} is now an experiment.").format(number=idea.number))


async def join_button(ctx: Context, args: list[str]) -> None:
    if not args or not args[0].isdigit():
        raise UserError(_("This button no longer works."))
    async with ctx.db.transaction() as session:
        exp = await session.get(store.Experiment, int(args[0]))
        if exp is None or exp.chat_key != ctx.chat_key:
            raise UserError(_("This button no longer works."))
        idea = await idea_store.by_id(session, exp.idea_id)
        _require_active(exp, idea.number)
        added = await store.join(session, exp, ctx.sender_key, ctx.event.sender_name, ctx.now()) or ctx.event.replay
    if added:
        await ctx.acknowledge(_("You joined the team of experiment #{number}.").format(number=idea.number))
        await ctx.reply(esc(_("{name} joined the team of experiment #{number}.").format(
            name=ctx.event.sender_name, number=idea.number)))
    else:
        await ctx.acknowledge(_("You are already in the team of experiment #{number}.").format(number=idea.number))


async def leave_cmd(ctx: Context, number: int) -> None:
    async with ctx.db.transaction() as session:
        _idea, exp = await _load(ctx, session, number)
        left = await store.leave(session, exp, ctx.sender_key) or ctx.event.replay
        owner = exp.owner_name if left else ""
    if not left:
        await ctx.reply(esc(_("You are not in the team of experiment #{number}.").format(number=number)))
        return
    text = _("You left the team of experiment #{number}.").format(number=number)
    if owner:
        text += " " + _("Owner: {name}.").format(name=owner)
    await ctx.reply(esc(text))


async def phase_cmd(ctx: Context, parsed: tuple[int, str, str]) -> None:
    number, phase, note = parsed
    async with ctx.db.transaction() as session:
        _idea, exp = await _load(ctx, session, number)
        _require_active(exp, number)
        await _require_team(ctx, session, exp, number)
        done = (await store.steps(session, exp.id))[-1] if ctx.event.replay else None
        if (done is not None and done.action == "phase" and done.actor_key == ctx.sender_key and done.note == note
                and phase in ("next", done.to_phase)):
            # this very move handled again (cut short by a stop): made already, answered the same
            old, phase = done.from_phase or exp.phase, done.to_phase or exp.phase
        else:
            current = store.PHASES.index(exp.phase)
            if phase == "next":
                if current == len(store.PHASES) - 1:
                    raise UserError(_("Experiment #{number} is in its last phase. When it is over: {command} "
                                      "{number} {done} <outcome>").format(number=number, command=ctx.cmd("experiment"),
                                                                          done=DONE_WORD.get(ctx.lang, "done")))
                phase = store.PHASES[current + 1]
            if phase == exp.phase:
                raise UserError(_("Experiment #{number} is already in the phase {phase}.").format(
                    number=number, phase=phase_label(phase)))
            old = exp.phase
            await store.add_step(session, exp, "phase", actor_key=ctx.sender_key, actor_name=ctx.event.sender_name,
                                 note=note, now=ctx.now(), to_phase=phase)
    text = esc(_("Experiment #{number}: {old} → {new}.").format(number=number, old=phase_label(old),
                                                              new=phase_label(phase)))
    if note:
        text += "\n" + esc(_("What we learned: {note}").format(note=note))
    await ctx.reply(text + "\n" + phase_bar(phase))


async def indicator_cmd(ctx: Context, parsed: tuple[int, IndicatorSpec]) -> None:
    number, spec = parsed
    async with ctx.db.transaction() as session:
        _idea, exp = await _load(ctx, session, number)
        _require_active(exp, number)
        await _require_team(ctx, session, exp, number)
        if len(await store.indicators(session, exp.id)) >= MAX_INDICATORS:
            raise UserError(ngettext("An experiment can have at most {limit} indicator.",
                                     "An experiment can have at most {limit} indicators.",
                                     MAX_INDICATORS).format(limit=format_number(MAX_INDICATORS)))
        ind = await store.add_indicator(session, exp, name=spec.name, unit=spec.unit, target=spec.target,
                                        direction=spec.direction, now=ctx.now())
        if ind is None and ctx.event.replay:  # handled again after a stop: the one it defined
            ind = await store.find_indicator(session, exp.id, spec.name)
    if ind is None:
        raise UserError(_("Experiment #{number} already has an indicator called “{name}”.").format(
            number=number, name=spec.name))
    lines = [esc(_("Indicator {index} of experiment #{number}: {line}").format(
        index=ind.number, number=number, line=ind.name))]
    details = [_("unit: {unit}").format(unit=ind.unit)] if ind.unit else []
    if ind.target is not None:
        details.append(_("target {value}").format(value=fmt_value(ind.target, ind.unit)))
    details.append(_("more is better") if ind.direction == store.MORE else _("less is better"))
    lines.append(esc(" · ".join(details)))
    lines.append(esc(_("Record values with {command} {number} {index} <value> [date].").format(
        command=ctx.cmd("measure"), number=number, index=ind.number)))
    await ctx.reply("\n".join(lines))


async def measure_cmd(ctx: Context, m: Measurement) -> None:
    measured_at = parse_value_date(m.when, ctx.now()) if m.when else ctx.now()
    async with ctx.db.transaction() as session:
        _idea, exp = await _load(ctx, session, m.number)
        _require_active(exp, m.number)
        await _require_team(ctx, session, exp, m.number)
        ind = await store.find_indicator(session, exp.id, m.indicator)
        if ind is None:
            inds = await store.indicators(session, exp.id)
            if not inds:
                raise UserError(_("Experiment #{number} has no indicators yet. Define one with {command}.").format(
                    number=m.number, command=ctx.cmd("indicator")))
            raise UserError(_("Experiment #{number} has no indicator “{name}”. Its indicators: {names}.").format(
                number=m.number, name=m.indicator[:60], names=", ".join(f"{i.number}. {i.name}" for i in inds)))
        if m.unit and not _same_unit(m.unit, ind.unit):
            if ind.unit:
                raise UserError(_("{indicator} is measured in {unit}, not in {given}.").format(
                    indicator=ind.name, unit=ind.unit, given=m.unit[:20]))
            raise UserError(_("{indicator} has no unit; give the number only.").format(indicator=ind.name))
        last = await store.last_recorded(session, ind.id) if ctx.event.replay else None
        if not (last is not None and last.recorder_key == ctx.sender_key and last.value == m.value):
            # (handled again after a stop: the value it recorded is not recorded twice)
            await store.add_value(session, ind, m.value, measured_at=measured_at, recorder_key=ctx.sender_key,
                                  recorder_name=ctx.event.sender_name, now=ctx.now())
        rows = await store.latest_values(session, ind.id)
    await ctx.reply(esc(_("Recorded for experiment #{number}:").format(number=m.number)) + " "
                    + indicator_line(ind, rows))


async def finish(ctx: Context, number: int, action: str, note: str) -> None:
    await ctx.role()  # asked before the transaction; require() inside uses the answer
    step = "done" if action == "done" else "abandoned"
    async with ctx.db.transaction() as session:
        idea, exp = await _load(ctx, session, number)
        last = (await store.steps(session, exp.id))[-1] if ctx.event.replay and exp.status != store.ACTIVE else None
        # this very close handled again (cut short by a stop): made already, answered as the first time
        again = (last is not None and last.action == step and last.actor_key == ctx.sender_key
                 and last.note == note)
        if not again:
            await _close_experiment(ctx, session, idea, exp, number, action, note)
    if action == "done":
        text = _("✅ Experiment #{number} is done. Outcome: {note}").format(number=number, note=note)
    else:
        text = _("Experiment #{number} was abandoned and the idea archived. Reason: {note}").format(
            number=number, note=note)
    await ctx.reply(esc(text))


async def _close_experiment(ctx: Context, session, idea, exp: store.Experiment, number: int, action: str,
                            note: str) -> None:
    _require_active(exp, number)
    if exp.owner_key != ctx.sender_key:
        await ctx.require(Role.ADMIN)
    if not note:
        if action == "done":
            raise UserError(_("Tell what came out of it, for example: {example}").format(
                example=f"{ctx.cmd('experiment')} {number} {DONE_WORD.get(ctx.lang, 'done')} "
                + _("40 people came, the terrace continues next summer")))
        raise UserError(_("Give a reason for abandoning, for example: {example}").format(
            example=f"{ctx.cmd('experiment')} {number} {ABANDON_WORD.get(ctx.lang, 'abandon')} "
            + _("no space available")))
    if len(note) > MAX_NOTE_CHARS:
        raise UserError(_note_too_long())
    exp.status = store.DONE if action == "done" else store.ABANDONED
    exp.closed_at, exp.outcome, exp.ask_every = ctx.now(), note, ""
    await store.add_step(session, exp, "done" if action == "done" else "abandoned", actor_key=ctx.sender_key,
                         actor_name=ctx.event.sender_name, note=note, now=ctx.now())
    await cancel_jobs(session, f"experiments.ask:{exp.id}:")
    await idea_store.change_status(session, idea, "done" if action == "done" else "archived",
                                   actor_key=ctx.sender_key, actor_name=ctx.event.sender_name, note=note,
                                   now=ctx.now())


# --- scheduled value requests -----------------------------------------------------------------------


def next_ask(now: datetime, every: str) -> datetime:
    day = local(now).date()
    if every == "weekly":
        day += timedelta(days=7)
    else:
        month = day.month % 12 + 1
        year = day.year + (day.month == 12)
        day = date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
    return datetime.combine(day, time(ASK_HOUR), HELSINKI)


async def _schedule_ask(session, exp: store.Experiment, due: datetime) -> None:
    await schedule_job(session, "experiments.ask", due, chat_key=exp.chat_key,
                       payload={"experiment": exp.id, "every": exp.ask_every},
                       dedup_key=f"experiments.ask:{exp.id}:{due.date().isoformat()}")


async def ask_cmd(ctx: Context, number: int, text: str) -> None:
    every = _word_in(text.split()[0], EVERY_WORDS) if text else None
    if every is None:
        raise UserError(_("How often should I ask for values: weekly, monthly or off?"))
    role = await ctx.role()  # asked before the transaction
    async with ctx.db.transaction() as session:
        _idea, exp = await _load(ctx, session, number)
        _require_active(exp, number)
        if role < Role.ADMIN:
            await _require_team(ctx, session, exp, number)
        exp.ask_every = every
        session.add(exp)
        await cancel_jobs(session, f"experiments.ask:{exp.id}:")
        due = next_ask(ctx.now(), every) if every else None
        if due:
            await _schedule_ask(session, exp, due)
    if due is None:
        await ctx.reply(esc(_("I no longer ask for the values of experiment #{number}.").format(number=number)))
        return
    ctx.services.wake(due)
    await ctx.reply(esc(_("I will ask the owner for the values of experiment #{number} {every}; next time {date}.")
                        .format(number=number, every=every_label(every), date=format_date(due))))


async def ask_job(services: Services, job: Job) -> None:
    data = job.data()
    async with services.db.transaction() as session:
        exp = await session.get(store.Experiment, data.get("experiment"))
        if exp is None or exp.status != store.ACTIVE or not exp.ask_every or exp.ask_every != data.get("every"):
            return
        idea = await idea_store.by_id(session, exp.idea_id)
        if idea is None or idea.status != "experiment":
            return  # moved on with the ideas' /status; no more requests
        inds = await store.indicators(session, exp.id)
        vals = await store.values(session, [i.id for i in inds])
        # the next request first, so a failed send does not end the series
        due = next_ask(services.clock.now(), exp.ask_every)
        await _schedule_ask(session, exp, due)
    services.wake(due)
    lang = await services.chat_language(exp.chat_key)
    with services.locale(lang):
        command = services.command_text("measure", exp.chat_key.split(":", 1)[0], lang)
        who = exp.owner_name or _("team")
        lines = ["📏 " + esc(_("{name}, time to record the indicators of experiment #{number}:").format(
            name=who, number=idea.number)) + " " + esc(idea.text[:80])]
        for ind in inds:
            lines.append("• " + indicator_line(ind, vals[ind.id]))
        if not inds:
            lines.append(esc(_("No indicators yet. Define one with {command}.").format(
                command=services.command_text("indicator", exp.chat_key.split(":", 1)[0], lang))))
        else:
            lines.append(esc(_("Send {command} {number} <indicator> <value> [date].").format(
                command=command, number=idea.number)))
        await services.send(exp.chat_key, "\n".join(lines))


# --- digest and exports -----------------------------------------------------------------------------


async def digest(services: Services, chat_key: str, start: datetime, end: datetime) -> dict | None:
    async with services.db.session() as session:
        pairs = await store.for_chats(session, [chat_key])
        pairs = [(e, i) for e, i in pairs if e.created_at < end and (e.closed_at is None or e.closed_at >= start)]
        if not pairs:
            return None
        ids = [e.id for e, _i in pairs]
        steps = await store.steps_in(session, ids, start, end)
        inds = {e.id: await store.indicators(session, e.id) for e, _i in pairs}
        all_inds = [ind for lst in inds.values() for ind in lst]
        recorded = await store.values_recorded_in(session, [i.id for i in all_inds], start, end)
        latest = await store.values(session, [i.id for i in all_inds])
    out = []
    for exp, idea in pairs:
        out.append({
            "number": idea.number, "title": idea.text[:200], "status": exp.status, "phase": exp.phase,
            "steps": [{"action": s.action, "from": s.from_phase, "to": s.to_phase, "note": s.note,
                       "at": s.at.isoformat()} for s in steps if s.experiment_id == exp.id],
            "indicators": [
                {"indicator": ind.name, "unit": ind.unit, "target": ind.target, "direction": ind.direction,
                 "latest": latest[ind.id][-1].value if latest[ind.id] else None,
                 "new_values": [v.value for v in recorded if v.indicator_id == ind.id]}
                for ind in inds[exp.id]],
            "outcome": exp.outcome if exp.closed_at and exp.closed_at >= start else "",
        })
    return {"experiments": out}


def render_digest(facts: dict) -> list[str]:
    exps = facts.get("experiments", [])
    active = sum(1 for e in exps if e["status"] == store.ACTIVE)
    # the heading counts what is listed below it (also experiments ended or waiting this week)
    if active == len(exps):
        count = ngettext("{count} active", "{count} active", active).format(count=format_number(active))
    else:
        count = ngettext("{count} experiment", "{count} experiments", len(exps)).format(count=format_number(len(exps)))
    if active and active != len(exps):
        count += ", " + ngettext("{count} of them active", "{count} of them active", active).format(
            count=format_number(active))
    lines = ["🧪 " + b(_("Experiments")) + ": " + esc(count)]
    for e in exps:
        if e["status"] == store.ACTIVE:
            state = phase_label(e["phase"])
        else:
            state = _(STATUS_LABELS.get(e["status"], e["status"]))
        line = _("#{number} {title} — {state}").format(number=e["number"], title=e["title"][:80], state=state)
        moves = [s for s in e["steps"] if s["action"] == "phase"]
        if moves:
            line += "; " + ngettext("{count} phase change", "{count} phase changes", len(moves)).format(
                count=format_number(len(moves)))
        new = sum(len(i["new_values"]) for i in e["indicators"])
        if new:
            line += "; " + ngettext("{count} new value", "{count} new values", new).format(count=format_number(new))
        lines.append("• " + esc(line))
        for i in e["indicators"]:
            if i["new_values"] and i["latest"] is not None:
                text = f"{i['indicator']}: {fmt_value(i['latest'], i['unit'])}"
                if i["target"] is not None:
                    text += " / " + _("target {value}").format(value=fmt_value(i["target"], i["unit"]))
                lines.append("  ◦ " + esc(text))
        if e["outcome"]:
            lines.append("  ◦ " + esc(_("Outcome: {text}").format(text=e["outcome"][:200])))
    return lines


async def export_experiments(services: Services, chat_keys: list[str] | None, public: bool) -> list[dict]:
    async with services.db.session() as session:
        pairs = await store.for_chats(session, chat_keys)
        rows = []
        for exp, idea in pairs:
            inds = await store.indicators(session, exp.id)
            vals = await store.values(session, [i.id for i in inds])
            history = await store.steps(session, exp.id)
            row = {
                "chat": exp.chat_key, "idea_number": idea.number, "title": idea.text, "status": exp.status,
                "phase": exp.phase,
                "starts_at": exp.starts_at.isoformat() if exp.starts_at else None,
                "ends_at": exp.ends_at.isoformat() if exp.ends_at else None,
                "created_at": exp.created_at.isoformat(),
                "closed_at": exp.closed_at.isoformat() if exp.closed_at else None,
                "outcome": exp.outcome,
                "phases": [{"action": s.action, "from": s.from_phase, "to": s.to_phase, "at": s.at.isoformat(),
                            "note": s.note} for s in history],
                "indicators": [
                    # "indicator", not "name": the open-data export drops keys that look personal
                    {"number": ind.number, "indicator": ind.name, "unit": ind.unit, "target": ind.target,
                     "direction": ind.direction,
                     "values": [{"date": local(v.measured_at).date().isoformat(), "value": v.value}
                                | ({} if public else {"recorded_by": v.recorder_name}) for v in vals[ind.id]]}
                    for ind in inds],
                "team_size": len(await store.members(session, exp.id)),
            }
            if not public:
                row["owner"] = exp.owner_name
                row["team"] = [m.name for m in await store.members(session, exp.id)]
            rows.append(row)
    return rows


FEATURE = Feature(
    name="experiments",
    commands=[
        Command("experiment", experiment_cmd, {"fi": ("kokeilu",), "sv": ("forsok",), "en": ("experiment",)},
                help=N_("show experiment N; admins start one with start; also: done, abandon, ask"),
                usage=N_("<number> | <number> start [<start> - <end>] | <number> done <outcome> | "
                         "<number> abandon <reason> | <number> ask weekly/monthly/off"),
                parse=parse_experiment),
        Command("join", join_cmd, {"fi": ("mukaan",), "sv": ("delta",), "en": ("join",)},
                help=N_("join the team of an experiment"), usage=N_("<number>"), parse=parse_number),
        Command("leave", leave_cmd, {"fi": ("pois_kokeilusta",), "sv": ("lamna",), "en": ("leave",)},
                help=N_("leave the team of an experiment"), usage=N_("<number>"), parse=parse_number),
        Command("phase", phase_cmd, {"fi": ("vaihe",), "sv": ("fas",), "en": ("phase",)},
                help=N_("move an experiment to a phase, with what was learned (team)"),
                usage=N_("<number> <explore|define|develop|deliver|next> [note]"), parse=parse_phase),
        Command("indicator", indicator_cmd, {"fi": ("mittari",), "sv": ("indikator",), "en": ("indicator",)},
                help=N_("define an indicator for an experiment (team)"),
                usage=N_("<number> <name> | <unit> | <target> | more/less"), parse=parse_indicator),
        Command("measure", measure_cmd, {"fi": ("mittaa",), "sv": ("mata",), "en": ("measure",)},
                help=N_("record an indicator's value (team)"),
                usage=N_("<number> <indicator> <value> [date]"), parse=parse_measure),
    ],
    buttons={"join": join_button, "start": start_button},
    jobs={"experiments.ask": ask_job},
    digest=digest,
    render_digest=render_digest,
    exports={"experiments": export_experiments},
)
