"""A person's data across every chat: what the bot holds about them (``collect``) and erasing it
(``forget``). No tables of its own; it reads and changes the features' tables.

``PERSON_COLUMNS`` lists every column, in any table, that holds a person's key, platform id or
name, and what ``forget`` does with it; ``tests/test_privacy.py`` fails when a table gets such a
column that is not listed here (so a new feature cannot keep personal data this module forgets).

What ``forget`` does (never commits):

- ideas stay, authored by "a former member" (``FORMER_MEMBER`` as the key, the label in the
  chat's language as the name); the same for their history, polls, meetings, experiments, steps
  and indicator values they made or recorded;
- supports (and the 👍 reactions behind them) are removed and the ideas' support counts lowered
  with them;
- official answers to ideas stay, given by a former member; the roles they held to answer ideas
  and an answer they had begun are removed;
- votes in named polls are removed (a closed poll's stored result stays: it is an anonymous
  aggregate); anonymous polls hold no person key;
- RSVPs, experiment memberships, Matrix reaction and poll-vote bookkeeping are removed;
- checklist answers stay as anonymous contributions: the person's key becomes a random token per
  round, the name is dropped;
- the weekly activity marks (hashes of chat, week and person) are dropped;
- the person row, their private chat's row, its jobs and delivery log are dropped;
- their link with their identity on another platform and their link codes are dropped (the
  other identity stays, unlinked);
- names and keys in stored digests and audit records are replaced by the label.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import (
    checklist,
    digest,
    experiments,
    idea_routing,
    idea_threads,
    ideas,
    links,
    matrix,
    meetings,
    polls,
)
from storage.core import Chat, Job, Person, ProcessedEvent, move_chat
from storage.outbox import Delivery

#: the author key of what a person who asked to be forgotten made (never a real person's key:
#: those are "platform:id")
FORMER_MEMBER = "former-member"

#: table -> {column: what forget does}: "key" (a person key, replaced or the row removed),
#: "name" (a name, replaced or emptied), "id" (a platform id), "hash" (a hash of the key),
#: "text" (free text in which the name may appear: scrubbed where the bot wrote it)
PERSON_COLUMNS: dict[str, dict[str, str]] = {
    "person": {"key": "key", "name": "name"},
    "chat": {"key": "key", "title": "name"},  # the person's private chat
    "idea": {"author_key": "key", "author_name": "name"},
    "ideasupport": {"person_key": "key"},
    "idea_reaction": {"person_key": "key"},  # the 👍 behind a support (storage/idea_threads.py)
    "ideaevent": {"actor_key": "key", "actor_name": "name"},
    "idearesponder": {"person_key": "key", "person_name": "name"},
    "ideaanswer": {"answerer_key": "key", "answerer_name": "name"},
    "ideaanswerdraft": {"person_key": "key"},
    "poll": {"creator_key": "key", "creator_name": "name", "closed_by": "key"},
    "pollvote": {"voter": "key", "voter_name": "name"},
    "meeting": {"created_by": "key", "created_by_name": "name"},
    "meetingrsvp": {"person_key": "key", "person_name": "name"},
    "timepoll": {"created_by": "key", "created_by_name": "name"},
    "timepollanswer": {"person_key": "key"},
    "checklistround": {"started_by": "key"},
    "checklistresponse": {"person_key": "key", "person_name": "name", "answer_chat": "key"},
    "checklistanswer": {"person_key": "key"},
    "experiment": {"owner_key": "key", "owner_name": "name", "created_by": "key"},
    "experimentmember": {"person_key": "key", "name": "name"},
    "experimentstep": {"actor_key": "key", "actor_name": "name"},
    "indicatorvalue": {"recorder_key": "key", "recorder_name": "name"},
    "activityperson": {"person": "hash"},
    "digest": {"content": "text", "text": "text"},
    "matrixreaction": {"sender": "id"},
    "matrixpollvote": {"voter": "id"},
    "delivery": {"chat_key": "key"},
    "job": {"chat_key": "key", "payload": "text"},
    "audit_event": {"actor_key": "key", "actor_name": "name", "before": "text", "after": "text"},
    "person_link": {"key": "key"},  # the link goes (the other identity stays, unlinked)
    "link_code": {"person_key": "key"},
}


#: a reminder time no reminder is due after: an anonymised respondent is not reminded
NEVER_AGAIN = datetime(9999, 12, 31, tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _audit_table():
    """The audit log's table, where the audit feature is installed."""
    return SQLModel.metadata.tables.get("audit_event")


async def _numbers(session: AsyncSession, table, ids: set[int]) -> dict[int, tuple[str, int]]:
    if not ids:
        return {}
    rows = await session.execute(select(table.id, table.chat_key, table.number).where(table.id.in_(ids)))
    return {i: (c, n) for i, c, n in rows}


async def collect(session: AsyncSession, person_key: str, platform_id: str,
                  private_chat: str | None = None) -> dict[str, Any]:
    """Everything stored about one person, across chats, as JSON-ready data."""
    person = await session.get(Person, person_key)
    out: dict[str, Any] = {
        "person": {"key": person_key, "name": person.name if person else "",
                   "language": person.language if person else None},
    }
    if private_chat:
        chat = await session.get(Chat, private_chat)
        if chat is not None:
            out["private_chat"] = {"key": chat.key, "language": chat.language,
                                   "settings": json.loads(chat.settings or "{}")}
    I = ideas.Idea  # noqa: E741
    out["ideas"] = [
        {"chat": i.chat_key, "number": i.number, "text": i.text, "tags": i.tag_list(), "status": i.status,
         "support": i.support_count, "created_at": _iso(i.created_at)}
        for i in (await session.execute(select(I).where(I.author_key == person_key).order_by(I.id))).scalars()]
    out["names"] = await names_of(session, person_key)
    rows = (await session.execute(select(ideas.IdeaSupport).where(ideas.IdeaSupport.person_key == person_key))).scalars().all()
    nums = await _numbers(session, I, {r.idea_id for r in rows})
    out["supports"] = [{"chat": nums[r.idea_id][0], "idea": nums[r.idea_id][1], "at": _iso(r.created_at)}
                       for r in rows if r.idea_id in nums]
    rows = (await session.execute(select(ideas.IdeaEvent).where(ideas.IdeaEvent.actor_key == person_key)
                                  .order_by(ideas.IdeaEvent.id))).scalars().all()
    nums = await _numbers(session, I, {r.idea_id for r in rows})
    out["idea_changes"] = [{"chat": nums[r.idea_id][0], "idea": nums[r.idea_id][1], "action": r.action,
                            "from": r.from_status, "to": r.to_status, "note": r.note, "at": _iso(r.at)}
                           for r in rows if r.idea_id in nums]
    RA, RH = idea_routing.IdeaAnswer, idea_routing.IdeaResponder
    rows = (await session.execute(select(RA).where(RA.answerer_key == person_key).order_by(RA.id))).scalars().all()
    nums = await _numbers(session, I, {r.idea_id for r in rows})
    out["idea_answers"] = [{"chat": nums[r.idea_id][0], "idea": nums[r.idea_id][1], "role": r.role, "text": r.text,
                            "moved_to": r.moved_to, "at": _iso(r.at)} for r in rows if r.idea_id in nums]
    out["idea_roles"] = [{"chat": r.chat_key, "role": r.role, "name": r.person_name, "since": _iso(r.assigned_at)}
                         for r in (await session.execute(select(RH).where(RH.person_key == person_key)
                                                         .order_by(RH.chat_key, RH.role))).scalars()]
    draft = await session.get(idea_routing.IdeaAnswerDraft, person_key)
    if draft is not None:
        nums = await _numbers(session, I, {draft.idea_id})
        if draft.idea_id in nums:
            out["idea_answer_begun"] = {"chat": nums[draft.idea_id][0], "idea": nums[draft.idea_id][1],
                                        "at": _iso(draft.started_at)}
    P = polls.Poll
    out["polls_created"] = [{"chat": p.chat_key, "number": p.number, "question": p.question,
                             "created_at": _iso(p.created_at)}
                            for p in (await session.execute(select(P).where(P.creator_key == person_key)
                                                            .order_by(P.id))).scalars()]
    votes = (await session.execute(select(polls.PollVote, P).join(P, P.id == polls.PollVote.poll_id)
                                   .where(polls.PollVote.voter == person_key, P.anonymous.is_(False)))).all()
    out["votes"] = [{"chat": p.chat_key, "poll": p.number, "question": p.question,
                     "choices": [p.option_list()[int(c)] for c in v.choices.split(",") if c.isdigit()
                                 and int(c) < len(p.option_list())]} for v, p in votes]
    M = meetings.Meeting
    out["meetings_created"] = [{"chat": m.chat_key, "number": m.number, "title": m.title}
                               for m in (await session.execute(select(M).where(M.created_by == person_key)
                                                               .order_by(M.id))).scalars()]
    rsvps = (await session.execute(select(meetings.MeetingRsvp, M).join(M, M.id == meetings.MeetingRsvp.meeting_id)
                                   .where(meetings.MeetingRsvp.person_key == person_key))).all()
    out["rsvps"] = [{"chat": m.chat_key, "meeting": m.number, "title": m.title, "occurrence": r.occurrence_local,
                     "answer": r.answer, "at": _iso(r.at)} for r, m in rsvps]
    TP, TA = meetings.TimePoll, meetings.TimePollAnswer
    out["time_polls_created"] = [{"chat": p.chat_key, "number": p.number, "title": p.title}
                                 for p in (await session.execute(select(TP).where(TP.created_by == person_key)
                                                                 .order_by(TP.id))).scalars()]
    out["time_answers"] = [{"chat": p.chat_key, "time_poll": p.number, "time": p.option_list()[a.option]
                            if a.option < len(p.option_list()) else None, "answer": a.answer, "at": _iso(a.at)}
                           for a, p in (await session.execute(select(TA, TP).join(TP, TP.id == TA.poll_id)
                                                              .where(TA.person_key == person_key))).all()]
    R, CR, CA = checklist.ChecklistRound, checklist.ChecklistResponse, checklist.ChecklistAnswer
    responses = (await session.execute(select(CR, R).join(R, R.id == CR.round_id)
                                       .where(CR.person_key == person_key).order_by(CR.id))).all()
    out["checklist"] = []
    for resp, rd in responses:
        answers = (await session.execute(select(CA).where(CA.round_id == rd.id, CA.person_key == person_key)
                                         .order_by(CA.question_id))).scalars()
        out["checklist"].append({
            "chat": rd.chat_key, "round": rd.id, "checklist": rd.checklist_id, "status": resp.status,
            "name_shown": resp.show_name,
            "answers": [{"question": a.question_id, "value": None if a.skipped else a.data(),
                         "at": _iso(a.answered_at)} for a in answers]})
    E, EM = experiments.Experiment, experiments.ExperimentMember
    roles: list[dict] = []
    for exp, member in (await session.execute(
            select(E, EM).outerjoin(EM, (EM.experiment_id == E.id) & (EM.person_key == person_key))
            .where(or_(E.owner_key == person_key, E.created_by == person_key, EM.person_key == person_key))
            .order_by(E.id))).all():
        role = ["owner"] if exp.owner_key == person_key else []
        role += ["started"] if exp.created_by == person_key else []
        role += ["member"] if member is not None else []
        idea = await session.get(I, exp.idea_id)
        roles.append({"chat": exp.chat_key, "idea": idea.number if idea else None, "roles": role})
    out["experiments"] = roles
    out["experiment_steps"] = len((await session.execute(
        select(experiments.ExperimentStep.id).where(experiments.ExperimentStep.actor_key == person_key))).all())
    out["indicator_values"] = len((await session.execute(
        select(experiments.IndicatorValue.id).where(experiments.IndicatorValue.recorder_key == person_key))).all())
    AP = digest.ActivityPerson
    marks = [(c, w) for c, w, p in (await session.execute(select(AP.chat_key, AP.week, AP.person))).all()
             if p == digest.activity_mark(c, w, person_key)]
    out["activity"] = [{"chat": c, "week": w} for c, w in sorted(marks)]
    out["links"] = await links.linked_keys(session, person_key)
    out["link_codes"] = [{"expires_at": _iso(c.expires_at)} for c in (await session.execute(
        select(links.LinkCode).where(links.LinkCode.person_key == person_key))).scalars()]
    audit = _audit_table()
    if audit is not None:
        out["audit"] = [{"chat": r.chat_key, "at": _iso(r.at), "action": r.action, "target": r.target}
                        for r in (await session.execute(select(audit).where(audit.c.actor_key == person_key)
                                                        .order_by(audit.c.id))).all()]
    return out


#: (table, key column, name column) of the rows that keep a person's name beside their key
_NAMED = (
    (ideas.Idea, "author_key", "author_name"), (ideas.IdeaEvent, "actor_key", "actor_name"),
    (idea_routing.IdeaAnswer, "answerer_key", "answerer_name"),
    (idea_routing.IdeaResponder, "person_key", "person_name"),
    (polls.Poll, "creator_key", "creator_name"), (polls.PollVote, "voter", "voter_name"),
    (meetings.Meeting, "created_by", "created_by_name"), (meetings.MeetingRsvp, "person_key", "person_name"),
    (meetings.TimePoll, "created_by", "created_by_name"),
    (checklist.ChecklistResponse, "person_key", "person_name"),
    (experiments.Experiment, "owner_key", "owner_name"), (experiments.ExperimentMember, "person_key", "name"),
    (experiments.ExperimentStep, "actor_key", "actor_name"),
    (experiments.IndicatorValue, "recorder_key", "recorder_name"),
    (Person, "key", "name"),
)


async def names_of(session: AsyncSession, person_key: str) -> list[str]:
    """The names a person is kept under, in any table."""
    names: set[str] = set()
    for table, key_col, name_col in _NAMED:
        names.update((await session.execute(
            select(getattr(table, name_col)).where(getattr(table, key_col) == person_key).distinct())).scalars())
    audit = _audit_table()
    if audit is not None:
        names.update((await session.execute(
            select(audit.c.actor_name).where(audit.c.actor_key == person_key).distinct())).scalars())
    return sorted(n for n in names if n and n.strip())


def _scrub(text: str, needles: list[str], label: str) -> str:
    """``text`` with each needle, as a whole word (not "Anna" in "Annankatu"), replaced."""
    for needle in needles:
        text = re.sub(rf"(?<!\w){re.escape(needle)}(?!\w)", lambda _m: label, text)
    return text


@dataclass
class Forgotten:
    #: rows changed per table
    changed: dict[str, int] = field(default_factory=dict)
    #: ideas whose support count went down, open polls that lost a vote (their messages show counts)
    ideas: list[int] = field(default_factory=list)
    polls: list[int] = field(default_factory=list)


async def forget(session: AsyncSession, person_key: str, platform_id: str, *, names: set[str],
                 private_chat: str | None, label: Callable[[str | None], str]) -> Forgotten:
    """Erase one person (see the module's doc). ``names``: the names they are known by (the
    store's are added); ``label(chat_language)``: "a former member" in that language. Never commits."""
    result = Forgotten()
    done = result.changed

    def count(table: str, result) -> None:
        if result.rowcount:
            done[table] = done.get(table, 0) + result.rowcount

    names = {n for n in names if n and n.strip()} | set(await names_of(session, person_key))
    languages = dict((await session.execute(select(Chat.key, Chat.language))).all())

    def said(chat_key: str | None) -> str:
        return label(languages.get(chat_key) if chat_key else None)

    # things they made stay, authored by a former member
    for table, key_col, name_col, lang_col in (
            (ideas.Idea, "author_key", "author_name", "card_language"),
            (polls.Poll, "creator_key", "creator_name", "lang"),
            (meetings.Meeting, "created_by", "created_by_name", None),
            (meetings.TimePoll, "created_by", "created_by_name", None)):
        for row in (await session.execute(select(table).where(getattr(table, key_col) == person_key))).scalars():
            setattr(row, key_col, FORMER_MEMBER)
            # in the language its message is in (an idea's card, a poll), else the chat's
            own = getattr(row, lang_col) if lang_col else None
            setattr(row, name_col, label(own) if own else said(row.chat_key))
            session.add(row)
            done[table.__tablename__] = done.get(table.__tablename__, 0) + 1
    count("poll", await session.execute(update(polls.Poll).where(polls.Poll.closed_by == person_key)
                                        .values(closed_by=FORMER_MEMBER)))
    for event, chat_key in (await session.execute(
            select(ideas.IdeaEvent, ideas.Idea.chat_key).join(ideas.Idea, ideas.Idea.id == ideas.IdeaEvent.idea_id)
            .where(ideas.IdeaEvent.actor_key == person_key))).all():
        event.actor_key, event.actor_name = FORMER_MEMBER, said(chat_key)
        session.add(event)
        done["ideaevent"] = done.get("ideaevent", 0) + 1

    # official answers stay, given by a former member; the roles they held and an answer begun go
    RA = idea_routing.IdeaAnswer
    for answer, chat_key in (await session.execute(
            select(RA, ideas.Idea.chat_key).join(ideas.Idea, ideas.Idea.id == RA.idea_id)
            .where(RA.answerer_key == person_key))).all():
        answer.answerer_key, answer.answerer_name = FORMER_MEMBER, said(chat_key)
        session.add(answer)
        done["ideaanswer"] = done.get("ideaanswer", 0) + 1
    count("idearesponder", await session.execute(delete(idea_routing.IdeaResponder).where(
        idea_routing.IdeaResponder.person_key == person_key)))
    count("ideaanswerdraft", await session.execute(delete(idea_routing.IdeaAnswerDraft).where(
        idea_routing.IdeaAnswerDraft.person_key == person_key)))

    # supports go, and the counts with them
    supported = list((await session.execute(
        select(ideas.IdeaSupport.idea_id).where(ideas.IdeaSupport.person_key == person_key))).scalars())
    count("ideasupport", await session.execute(delete(ideas.IdeaSupport).where(ideas.IdeaSupport.person_key == person_key)))
    count("idea_reaction", await session.execute(delete(idea_threads.IdeaReaction).where(
        idea_threads.IdeaReaction.person_key == person_key)))
    if supported:
        await session.execute(update(ideas.Idea).where(ideas.Idea.id.in_(supported))
                              .values(support_count=ideas.Idea.support_count - 1))

    # named votes, RSVPs, memberships
    named = select(polls.Poll.id).where(polls.Poll.anonymous.is_(False))
    result.ideas = sorted(set(supported))
    result.polls = sorted(set((await session.execute(
        select(polls.PollVote.poll_id).join(polls.Poll, polls.Poll.id == polls.PollVote.poll_id)
        .where(polls.PollVote.voter == person_key, polls.Poll.anonymous.is_(False),
               polls.Poll.status == polls.OPEN))).scalars()))
    count("pollvote", await session.execute(delete(polls.PollVote).where(
        polls.PollVote.voter == person_key, polls.PollVote.poll_id.in_(named))))
    count("meetingrsvp", await session.execute(delete(meetings.MeetingRsvp).where(
        meetings.MeetingRsvp.person_key == person_key)))
    count("timepollanswer", await session.execute(delete(meetings.TimePollAnswer).where(
        meetings.TimePollAnswer.person_key == person_key)))
    count("experimentmember", await session.execute(delete(experiments.ExperimentMember).where(
        experiments.ExperimentMember.person_key == person_key)))

    # experiments: no owner, started and recorded by a former member
    E = experiments.Experiment
    for exp in (await session.execute(select(E).where(or_(E.owner_key == person_key, E.created_by == person_key)))).scalars():
        if exp.owner_key == person_key:
            exp.owner_key, exp.owner_name = None, ""
        if exp.created_by == person_key:
            exp.created_by = FORMER_MEMBER
        session.add(exp)
        done["experiment"] = done.get("experiment", 0) + 1
    for table, key_col, name_col in ((experiments.ExperimentStep, "actor_key", "actor_name"),
                                     (experiments.IndicatorValue, "recorder_key", "recorder_name")):
        count(table.__tablename__, await session.execute(
            update(table).where(getattr(table, key_col) == person_key)
            .values({key_col: FORMER_MEMBER, name_col: label(None)})))

    # checklist answers stay as anonymous contributions: a random token per round, no name
    R, CR, CA = checklist.ChecklistRound, checklist.ChecklistResponse, checklist.ChecklistAnswer
    count("checklistround", await session.execute(update(R).where(R.started_by == person_key)
                                                  .values(started_by=FORMER_MEMBER)))
    for resp, round_chat in (await session.execute(
            select(CR, R.chat_key).join(R, R.id == CR.round_id).where(CR.person_key == person_key))).all():
        token = "anon:" + secrets.token_hex(8)
        count("checklistanswer", await session.execute(
            update(CA).where(CA.round_id == resp.round_id, CA.person_key == person_key)
            .values(person_key=token, event_key=None)))
        resp.person_key, resp.person_name, resp.show_name = token, "", False
        resp.answer_chat = round_chat  # not the private chat: it names the person
        if resp.status == "active":
            resp.status, resp.current = "stopped", None
        if resp.status != "done":
            resp.reminded_at = NEVER_AGAIN  # nobody is there to remind: never due again
        session.add(resp)
        done["checklistresponse"] = done.get("checklistresponse", 0) + 1
    count("checklistanswer", await session.execute(
        update(CA).where(CA.person_key == person_key).values(person_key="anon:" + secrets.token_hex(8))))

    # activity marks
    AP = digest.ActivityPerson
    for c, w, p in (await session.execute(select(AP.chat_key, AP.week, AP.person))).all():
        if p == digest.activity_mark(c, w, person_key):
            count("activityperson", await session.execute(
                delete(AP).where(AP.chat_key == c, AP.week == w, AP.person == p)))

    # platform bookkeeping about them
    count("matrixreaction", await session.execute(delete(matrix.MatrixReaction).where(
        matrix.MatrixReaction.sender == platform_id)))
    count("matrixpollvote", await session.execute(delete(matrix.MatrixPollVote).where(
        matrix.MatrixPollVote.voter == platform_id)))

    # the person, their private chat and what the bot keeps of it
    if private_chat:
        count("job", await session.execute(delete(Job).where(Job.chat_key == private_chat)))
        count("delivery", await session.execute(delete(Delivery).where(Delivery.chat_key == private_chat)))
        native = private_chat.split(":", 1)[-1]
        count("processedevent", await session.execute(delete(ProcessedEvent).where(
            ProcessedEvent.event_id.contains(f":{native}:", autoescape=True), ProcessedEvent.done_at.is_not(None))))
        # what else is kept under the private chat's key (counts, a checklist round asked there)
        # stays under a key that names nobody; the chat's row and settings go
        anonymous = "former:" + secrets.token_hex(8)
        for table, n in (await move_chat(session, private_chat, anonymous)).items():
            done[table] = done.get(table, 0) + n
        count("chat", await session.execute(delete(Chat).where(Chat.key.in_([private_chat, anonymous]))))
    count("job", await session.execute(delete(Job).where(Job.payload.contains(json.dumps(person_key), autoescape=True))))
    count("person", await session.execute(delete(Person).where(Person.key == person_key)))
    if n := await links.forget(session, person_key):
        done["person_link"] = done.get("person_link", 0) + n

    # names and keys in what the bot wrote down: digests and audit records
    # a bare numeric id (Telegram's) is not looked for in texts: it would hit any such number
    needles = sorted({person_key} | ({platform_id} if not platform_id.isdigit() else set())
                     | {n for n in names if len(n) > 1}, key=len, reverse=True)
    json_needles = sorted({json.dumps(n)[1:-1] for n in needles} | set(needles), key=len, reverse=True)
    D = digest.Digest
    likes = [col.contains(n, autoescape=True) for col in (D.content, D.text) for n in json_needles]
    for row in (await session.execute(select(D).where(or_(*likes)))).scalars():
        lab = label(row.language)
        row.content = _scrub(row.content, json_needles, json.dumps(lab)[1:-1])
        row.text = _scrub(row.text, json_needles, lab)
        session.add(row)
        done["digest"] = done.get("digest", 0) + 1
    audit = _audit_table()
    if audit is not None:
        rows = (await session.execute(select(audit).where(or_(
            audit.c.actor_key == person_key,
            *[col.contains(n, autoescape=True) for col in (audit.c.before, audit.c.after) for n in json_needles],
            *[audit.c.target.contains(n, autoescape=True) for n in needles])))).all()
        for row in rows:
            lab = label(languages.get(row.chat_key))
            values: dict[str, Any] = {}
            if row.actor_key == person_key:
                values.update(actor_key=FORMER_MEMBER, actor_name=lab)
            for col in ("before", "after"):
                if getattr(row, col):
                    values[col] = _scrub(getattr(row, col), json_needles, json.dumps(lab)[1:-1])
            if row.target:
                values["target"] = _scrub(row.target, needles, FORMER_MEMBER)
            await session.execute(update(audit).where(audit.c.id == row.id).values(**values))
            done["audit_event"] = done.get("audit_event", 0) + 1
    return result
