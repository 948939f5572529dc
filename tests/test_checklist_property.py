"""Arbitrary /checklist arguments, free text and button data: never an apology, always valid markup."""

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.testing import TestBot
from core.markup import validate

ARGS = ["", "start ", "start kehra closes ", "close", "stop", "back", "skip", "profile ", "compare", "areas",
        "export ", "share ", "mode ", "list", "aloita sulkeutuu ", "starta stängs "]
BUTTONS = ["checklist:a:1:r1:", "checklist:a:1:", "checklist:t:1:r2:", "checklist:d:1:", "checklist:skip:1:",
           "checklist:back:", "checklist:stop:", "checklist:go:", "checklist:name:1:", "checklist:"]
actions = st.one_of(
    st.tuples(st.just("say"), st.tuples(st.sampled_from(ARGS), st.text(max_size=40)).map(lambda t: "/checklist " + "".join(t))),
    st.tuples(st.just("text"), st.text(max_size=80)),
    st.tuples(st.just("press"), st.tuples(st.sampled_from(BUTTONS), st.text(max_size=20)).map("".join)),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(actions, st.sampled_from(["u1", "admin"]), st.sampled_from(["fi", "sv", "en"])),
                      min_size=1, max_size=8))
def test_checklist_survives_anything(tmp_path_factory, steps):
    async def go():
        bot = await TestBot(tmp_path_factory.mktemp("c")).open()
        bot.make_admin("admin")
        try:
            await bot.say("/checklist start", user="admin")
            await bot.press("checklist:go:1", user="u1")
            for (kind, payload), user, lang in steps:
                if kind == "say":
                    await bot.say(payload, user=user, lang=lang)
                elif kind == "text":
                    await bot.say(payload, user=user, chat=f"private-{user}", private=True, lang=lang)
                else:
                    await bot.press(payload[:64], user=user, chat=f"private-{user}", lang=lang)
            for sent in bot.transport.sent:
                text = sent.plain
                assert "Pahoittelen" not in text and "Sorry, something went wrong" not in text and "Förlåt" not in text
                if sent.reply is not None:
                    assert validate(sent.reply.html) == [], sent.reply.html
                    assert all(len(b.data.encode()) <= 64 for row in sent.reply.buttons for b in row)
        finally:
            await bot.close()

    asyncio.run(go())
