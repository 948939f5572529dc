"""Scheduled value requests: the owner is asked for the indicators' values weekly or monthly, at
10:00 Helsinki time; each request schedules the next before it is sent."""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta

from core.i18n import _, local
from core.markup import esc
from handlers.base import Services
from handlers.experiments.keys import ASK
from handlers.experiments.render import indicator_line
from handlers.when import HELSINKI
from storage import experiments as store
from storage import ideas as idea_store
from storage.core import Job, cancel_jobs, schedule_job

ASK_HOUR = 10  # value requests are sent at 10:00 Helsinki time


def next_ask(now: datetime, every: str) -> datetime:
    day = local(now).date()
    if every == "weekly":
        day += timedelta(days=7)
    else:
        month = day.month % 12 + 1
        year = day.year + (day.month == 12)
        day = date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
    return datetime.combine(day, time(ASK_HOUR), HELSINKI)


async def schedule_ask(session, exp: store.Experiment, due: datetime) -> None:
    await schedule_job(session, ASK.kind, due, chat_key=exp.chat_key,
                       payload={"experiment": exp.id, "every": exp.ask_every},
                       dedup_key=ASK.key(experiment=exp.id, day=due.date().isoformat()))


async def cancel_asks(session, exp: store.Experiment) -> None:
    """Every request of this experiment not yet sent (never those of experiment 12 for 1)."""
    await cancel_jobs(session, ASK.prefix(experiment=exp.id))


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
        await schedule_ask(session, exp, due)
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
