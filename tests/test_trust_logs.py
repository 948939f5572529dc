"""Issue 17 "Trust": logs at the default level carry no message texts, names or tokens."""

from __future__ import annotations

import logging
import sys

from bot.config import LimitSettings
from bot.logs import RedactingFormatter

SECRET_WORDS = ("Salakasvimaa", "Vaiettu", "Meikäläinen", "Kuiskaus")


async def test_commands_leave_no_text_or_name_in_the_log(make_bot, caplog):
    caplog.set_level(logging.INFO)
    bot = await make_bot(limits=LimitSettings(per_person_per_minute=3))
    name = "Maija Meikäläinen"
    for text in ("/idea Salakasvimaa kirjaston taakse", "Vaiettu terassi #idea", "/ideat",
                 "/kysely Kuiskaus? | kyllä | ei", "/tuntematon Salakasvimaa", "/idea " + "Vaiettu " * 3000,
                 "/idea Salakasvimaa 2", "/idea Salakasvimaa 3"):  # the last ones are over the rate limit
        await bot.say(text, user="maija", name=name, lang="fi")
    assert any("rate limit" in r.getMessage() for r in caplog.records)  # something was logged at INFO
    for record in caplog.records:
        if record.levelno < logging.INFO:
            continue
        line = logging.Formatter("%(message)s").format(record)
        for word in (*SECRET_WORDS, name):
            assert word not in line, (word, line)


async def test_a_failing_write_logs_no_parameter_values(bot, caplog):
    """A store error's message names the SQL, not the values (a message's text) bound to it."""
    from sqlalchemy import text

    caplog.set_level(logging.INFO)
    value = "".join(reversed("aamivsakalaS"))  # not in this source either (a traceback quotes it)
    try:
        async with bot.services.db.transaction() as session:
            await session.execute(text("INSERT INTO no_such_table VALUES (:v)"), {"v": value})
    except Exception as err:  # noqa: BLE001 - the error's text is what is checked
        logging.getLogger("test").exception("failed: %r", err)
    lines = "\n".join(logging.Formatter("%(message)s").format(r) for r in caplog.records)
    assert "no_such_table" in lines and value not in lines


def test_tokens_are_redacted_from_tracebacks_too():
    token = "123456:ABCDEF-secret-token"
    formatter = RedactingFormatter("%(message)s", [token])
    try:
        raise RuntimeError(f"GET https://api.telegram.org/bot{token}/getUpdates failed")
    except RuntimeError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "polling failed", (), exc_info=sys.exc_info())
    line = formatter.format(record)
    assert "getUpdates" in line and token not in line and "[redacted]" in line
