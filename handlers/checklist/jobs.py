"""Scheduled work: the close job posts the round's profile, the daily reminder nudges whoever left
a round unfinished; at start the checklists are loaded once to log what there is."""

from __future__ import annotations

import logging

from core.events import Button
from core.i18n import _, format_number, ngettext
from core.markup import esc
from handlers.base import Services
from handlers.checklist.flow import send
from handlers.checklist.format import from_json
from handlers.checklist.keys import GO, REMIND
from handlers.checklist.render import tr, values_of
from handlers.checklist.rounds import REMIND_AFTER, close_round
from storage import checklist as store
from storage.core import Job, languages_for, schedule_job

log = logging.getLogger(__name__)


async def close_job(services: Services, job: Job) -> None:
    # a run again (its lease ran out in a stop) posts the closing message the first run may not have
    await close_round(services, int(job.data()["round"]), again=job.attempts > 1, by_job=True)


async def remind_job(services: Services, job: Job) -> None:
    rid = int(job.data()["round"])
    now = services.clock.now()
    async with services.db.session() as session:
        rd = await store.get_round(session, rid)
        if rd is None or rd.closed_at is not None:
            return
        cl = from_json(rd.definition)
        due = await store.to_remind(session, rid, now - REMIND_AFTER, now - REMIND_AFTER)
    for resp in due:
        async with services.db.transaction() as session:
            if not await store.claim_reminder(session, resp.id, now, now - REMIND_AFTER, now - REMIND_AFTER):
                continue
            person_lang, chat_lang = await languages_for(session, resp.person_key, rd.chat_key)
            answers = await store.answers_of(session, rid, resp.person_key)
        with services.locale(person_lang or chat_lang or "fi"):
            total = len(cl.visible(values_of(answers)))
            html = esc(ngettext("A reminder: you have answered {done}/{total} question of {title}. Continue where "
                                "you left off?",
                                "A reminder: you have answered {done}/{total} questions of {title}. Continue where "
                                "you left off?", total).format(done=format_number(len(answers)),
                                                               total=format_number(total), title=tr(cl.title)))
            if resp.answer_chat == rd.chat_key and resp.person_name:  # answering in the group: say whom
                html = esc(resp.person_name) + ": " + html
            try:
                # named: who is reminded depends on the state (each reminder is claimed before it is sent)
                await send(services, resp.answer_chat, html, ((Button(_("▶ Continue"), GO.data(round=rid)),),),
                            key=f"checklist:remind:{resp.id}:{now.isoformat()}")
            except Exception:
                log.warning("could not remind %s in round %s", resp.person_key, rid, exc_info=True)
    nxt = now + REMIND_AFTER
    if rd.closes_at is None or nxt < rd.closes_at:
        async with services.db.transaction() as session:
            await schedule_job(session, REMIND.kind, nxt, chat_key=rd.chat_key, payload={"round": rid},
                               dedup_key=REMIND.key(round=rid, day=nxt.date().isoformat()))
        services.wake(nxt)
