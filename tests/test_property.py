"""Arbitrary text through the parser and router: nothing escapes, every reply is valid markup."""

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.testing import TestBot
from core.markup import split, to_matrix_html, validate
from handlers.router import parse_command

COMMANDS = ["/idea ", "/ideas ", "/tue ", "/help ", "/lang ", "/tila ", "/edit ", "/peru_idea ", "#idea ", "/", "!",
            "/idea@kehrabot ", "/status 1 ", ""]
texts = st.tuples(st.sampled_from(COMMANDS), st.text(max_size=300)).map("".join)


@given(st.text(max_size=500))
def test_parse_command_never_raises(text):
    parsed = parse_command(text, ("/", "!"))
    assert parsed is None or parsed.name.isascii()


@given(st.text(max_size=2000), st.integers(min_value=20, max_value=500))
def test_split_keeps_everything_and_respects_limit(text, limit):
    from core.markup import esc

    html = esc(text)
    parts = split(html, limit)
    assert all(len(p) <= limit for p in parts)
    assert "".join(parts).replace("\n", "") == html.replace("\n", "")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=st.lists(st.tuples(texts, st.sampled_from(["u1", "u2", "admin"]), st.sampled_from(["fi", "sv", "en", None])),
                         min_size=1, max_size=6))
def test_router_survives_anything_and_replies_are_valid_html(tmp_path_factory, messages):
    async def go():
        bot = await TestBot(tmp_path_factory.mktemp("p")).open()
        bot.make_admin("admin")
        try:
            for text, user, lang in messages:
                await bot.say(text, user=user, lang=lang)
            for sent in bot.transport.sent:
                if sent.reply is not None:
                    assert validate(sent.reply.html) == [], sent.reply.html
                    assert validate(to_matrix_html(sent.reply.html), matrix=True) == []
                    assert "Traceback" not in sent.plain
                    assert "Sorry, something went wrong" not in sent.plain and "Pahoittelen" not in sent.plain
                    assert "Förlåt" not in sent.plain
                    for row in sent.reply.buttons:
                        assert all(len(b.data.encode()) <= 64 for b in row)
        finally:
            await bot.close()

    asyncio.run(go())
