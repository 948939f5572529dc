"""The experiments' handlers: parse → store → render → reply. Show, offer and start an
experiment, its team (join, leave, the join button), phases, indicators and values, closing it
(done, abandoned) and how often its owner is asked for values.

A little over 400 lines on purpose: its dozen handlers share the access checks at the top (the
experiment of a number, active, its team), which split across modules would be private helpers
imported back and forth."""

from __future__ import annotations

from core.events import Button, FileOut
from core.i18n import _, format_date, format_number, ngettext
from core.markup import b, esc
from handlers.base import Context, UserError
from handlers.experiments.jobs import cancel_asks, next_ask, schedule_ask
from handlers.experiments.keys import JOIN, START
from handlers.experiments.parse import (
    ABANDON_WORD,
    DONE_WORD,
    EVERY_WORDS,
    MAX_NOTE_CHARS,
    START_WORD,
    STATUS_LABELS,
    ExperimentArgs,
    IndicatorSpec,
    Measurement,
    note_too_long,
    parse_dates,
    parse_value_date,
    phase_label,
    same_unit,
    word_in,
)
from handlers.experiments.render import (
    chart_png,
    chart_text,
    every_label,
    fmt_value,
    indicator_line,
    join_buttons,
    phase_bar,
    step_text,
)
from handlers.ideas import status_label
from storage import audit
from storage import experiments as store
from storage import ideas as idea_store

MAX_INDICATORS = 10


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
    """The permission table's team rule (handlers/permissions.py), with whether this person is in it."""
    await ctx.permit(owner=await store.is_member(session, exp.id, ctx.sender_key), number=number,
                     command=ctx.cmd("join"))



# --- commands ---------------------------------------------------------------------------------


# The actions after an experiment's number (commands.ACTIONS): each takes the parsed ExperimentArgs.


async def show_cmd(ctx: Context, args: ExperimentArgs) -> None:
    async with ctx.db.session() as session:
        idea = await idea_store.by_number(session, ctx.chat_key, args.number)
        exists = idea is not None and await store.by_idea(session, idea.id) is not None
    if exists or idea is None or idea.status == "withdrawn" or not await ctx.allowed("/experiment start"):
        await show(ctx, args.number)  # explains how an admin starts one
    else:
        await offer(ctx, idea)  # looking never starts one


async def start_cmd(ctx: Context, args: ExperimentArgs) -> None:
    await start(ctx, args.number, args.text)


async def done_cmd(ctx: Context, args: ExperimentArgs) -> None:
    await finish(ctx, args.number, "done", args.text)


async def abandon_cmd(ctx: Context, args: ExperimentArgs) -> None:
    await finish(ctx, args.number, "abandon", args.text)


async def ask_cmd(ctx: Context, args: ExperimentArgs) -> None:
    await ask(ctx, args.number, args.text)


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
    await ctx.reply("\n".join(lines), ((Button("🧪 " + _("Start the experiment"), START.data(idea=idea.id)),),))


def _again(ctx: Context, exp: store.Experiment) -> bool:
    """This very start handled again (its handling was cut short by a stop): the experiment found
    is the one it made, so it is answered as the first time."""
    return ctx.event.replay and exp.created_by == ctx.sender_key


async def start(ctx: Context, number: int, dates: str) -> None:
    """Start an experiment of idea ``number`` (its callers have required an admin)."""
    async with ctx.db.transaction() as session:
        idea = await idea_store.by_number(session, ctx.chat_key, number)
        if idea is None or idea.status == "withdrawn":
            raise UserError(_("There is no idea #{number} in this chat.").format(number=number))
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
            await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="experiment.start", target=f"experiment:{number}",
                               after={"phase": exp.phase, "starts_at": exp.starts_at, "ends_at": exp.ends_at}, at=ctx.now())
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
    pressed = START.read(args)
    async with ctx.db.session() as session:
        idea = await idea_store.by_id(session, pressed["idea"])
    if idea is None or idea.chat_key != ctx.chat_key:
        raise UserError(_("This button no longer works."))
    await start(ctx, idea.number, "")
    await ctx.acknowledge(_("Idea #{number} is now an experiment.").format(number=idea.number))


async def join_button(ctx: Context, args: list[str]) -> None:
    pressed = JOIN.read(args)
    async with ctx.db.transaction() as session:
        exp = await session.get(store.Experiment, pressed["experiment"])
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
            await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="experiment.phase", target=f"experiment:{number}",
                               before={"phase": old}, after={"phase": phase, "note": note or None}, at=ctx.now())
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
        if m.unit and not same_unit(m.unit, ind.unit):
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
    await ctx.permit(owner=exp.owner_key == ctx.sender_key)  # the router asked the role before the transaction
    if not note:
        if action == "done":
            raise UserError(_("Tell what came out of it, for example: {example}").format(
                example=f"{ctx.cmd('experiment')} {number} {DONE_WORD.get(ctx.lang, 'done')} "
                + _("40 people came, the terrace continues next summer")))
        raise UserError(_("Give a reason for abandoning, for example: {example}").format(
            example=f"{ctx.cmd('experiment')} {number} {ABANDON_WORD.get(ctx.lang, 'abandon')} "
            + _("no space available")))
    if len(note) > MAX_NOTE_CHARS:
        raise UserError(note_too_long())
    await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action=f"experiment.{action}", target=f"experiment:{number}",
                       before={"status": exp.status}, after={"status": store.DONE if action == "done" else store.ABANDONED,
                                                             "outcome": note}, at=ctx.now())
    exp.status = store.DONE if action == "done" else store.ABANDONED
    exp.closed_at, exp.outcome, exp.ask_every = ctx.now(), note, ""
    await store.add_step(session, exp, "done" if action == "done" else "abandoned", actor_key=ctx.sender_key,
                         actor_name=ctx.event.sender_name, note=note, now=ctx.now())
    await cancel_asks(session, exp)
    await idea_store.change_status(session, idea, "done" if action == "done" else "archived",
                                   actor_key=ctx.sender_key, actor_name=ctx.event.sender_name, note=note,
                                   now=ctx.now())


async def ask(ctx: Context, number: int, text: str) -> None:
    every = word_in(text.split()[0], EVERY_WORDS) if text else None
    if every is None:
        raise UserError(_("How often should I ask for values: weekly, monthly or off?"))
    async with ctx.db.transaction() as session:
        _idea, exp = await _load(ctx, session, number)
        _require_active(exp, number)
        await _require_team(ctx, session, exp, number)  # or an admin: the router asked the role
        exp.ask_every = every
        session.add(exp)
        await cancel_asks(session, exp)
        due = next_ask(ctx.now(), every) if every else None
        if due:
            await schedule_ask(session, exp, due)
    if due is None:
        await ctx.reply(esc(_("I no longer ask for the values of experiment #{number}.").format(number=number)))
        return
    ctx.services.wake(due)
    await ctx.reply(esc(_("I will ask the owner for the values of experiment #{number} {every}; next time {date}.")
                        .format(number=number, every=every_label(every), date=format_date(due))))
