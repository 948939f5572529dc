"""The checklist's button data and job keys: the wire format of buttons already in chats, room
for the widest ids a checklist file may have, and cancels that touch one round only."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import select

from handlers.checklist.format import (
    OPTION_ID_CHARS,
    QUESTION_ID_CHARS,
    SCHEMA_FILE,
    check_text,
)
from handlers.checklist.keys import ANSWER, BACK, CLOSE, DONE, GO, NAME, REMIND, SKIP, STOP, TOGGLE
from handlers.keys import BUTTON_DATA_BYTES, INT_DIGITS
from storage.core import Job, schedule_job


def test_button_data_keeps_the_format_of_buttons_already_in_chats():
    assert ANSWER.data(round=1, question="r1", value=4) == "checklist:a:1:r1:4"
    assert ANSWER.data(round=1, question="y1", value="yes") == "checklist:a:1:y1:yes"
    assert TOGGLE.data(round=1, question="r2", option="schools") == "checklist:t:1:r2:schools"
    assert DONE.data(round=1, question="r2") == "checklist:d:1:r2"
    assert SKIP.data(round=3, question="t1") == "checklist:skip:3:t1"
    assert [k.data(round=12) for k in (BACK, STOP, GO)] == ["checklist:back:12", "checklist:stop:12",
                                                             "checklist:go:12"]
    assert NAME.data(round=1, show=0) == "checklist:name:1:0"
    assert ANSWER.read(["1", "r1", "4"]) == {"round": 1, "question": "r1", "value": "4"}
    assert NAME.read(["1", "1"]) == {"round": 1, "show": 1}


def test_the_widest_ids_the_schema_allows_fit_in_a_button():
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    ident = schema["$defs"]["ident"]["pattern"]
    option = schema["$defs"]["option"]["properties"]["id"]["pattern"]
    assert ident == f"^[a-z0-9_]{{1,{QUESTION_ID_CHARS}}}$"
    assert option == f"^[a-z0-9_]{{1,{OPTION_ID_CHARS}}}$"
    widest = ANSWER.data(round=int("9" * INT_DIGITS), question="q" * QUESTION_ID_CHARS, value="o" * OPTION_ID_CHARS)
    assert len(widest.encode()) <= BUTTON_DATA_BYTES
    assert len(TOGGLE.data(round=int("9" * INT_DIGITS), question="q" * QUESTION_ID_CHARS,
                           option="o" * OPTION_ID_CHARS).encode()) <= BUTTON_DATA_BYTES


T = "{fi: Teksti, sv: Text, en: Text}"


def _checklist(question: str, option: str) -> str:
    return f"""
id: wide
version: 1
title: {T}
dimensions:
  - id: dim
    title: {T}
    questions:
      - id: {question}
        type: single
        text: {T}
        options:
          - {{id: {option}, text: {T}}}
          - {{id: other, text: {T}}}
"""


def test_the_loader_refuses_ids_longer_than_a_button_carries():
    q, o = "q" * QUESTION_ID_CHARS, "o" * OPTION_ID_CHARS
    assert check_text(_checklist(q, o))[1] == []
    for question, option in ((q + "q", o), (q, o + "o")):
        checklist, problems = check_text(_checklist(question, option))
        assert checklist is None and any("must be 1–20 characters" in p.message for p in problems), problems


async def _jobs(bot) -> dict[str, bool]:
    async with bot.services.db.session() as s:
        return {j.dedup_key: j.cancelled for j in (await s.execute(select(Job))).scalars()}


async def test_closing_round_1_leaves_the_jobs_of_round_12_alone(bot):
    bot.make_admin("admin")
    out = await bot.say("/checklist start closes 7d", user="admin", lang="en")
    assert out[0].startswith("Self-assessment started:")
    later = bot.clock.now() + timedelta(days=3)
    async with bot.services.db.transaction() as s:  # round 12's jobs, as its start left them
        await schedule_job(s, CLOSE.kind, later, chat_key="fake:other", payload={"round": 12},
                           dedup_key=CLOSE.key(round=12))
        await schedule_job(s, REMIND.kind, later, chat_key="fake:other", payload={"round": 12},
                           dedup_key=REMIND.key(round=12, day=later.date().isoformat()))
    before = await _jobs(bot)
    assert before[CLOSE.key(round=1)] is False
    assert [k for k in before if k.startswith(REMIND.prefix(round=1))]
    await bot.say("/checklist close", user="admin", lang="en")
    after = await _jobs(bot)
    assert after[CLOSE.key(round=1)] is True
    assert all(after[k] for k in after if k.startswith(REMIND.prefix(round=1)))
    assert after[CLOSE.key(round=12)] is False
    assert after[REMIND.key(round=12, day=later.date().isoformat())] is False
