"""Closing a self-assessment round handled or run again after a stop answers as the first time: the
closing profile is posted (once: it is keyed by the round), never 'no round is open'."""

from datetime import timedelta

from handlers.checklist import rounds as checklist_handlers
from tests.test_replay import _message, cut_short


def _closings(sent):
    """The closing messages (in the language of whoever closed: the admin's, else the chat's)."""
    return [s for s in sent if s.kind == "message" and s.plain.startswith(("Self-assessment closed:",
                                                                             "Itsearviointi päättyi:"))]


async def _round(bot, *args):
    bot.make_admin("admin")
    out = await bot.say("/checklist start " + " ".join(args), user="admin", lang="en")
    assert out[0].startswith("Self-assessment started:")
    await bot.press("checklist:go:1", user="u1", lang="en")
    await bot.press("checklist:a:1:r1:5", user="u1", chat="private-u1")


async def test_a_close_cut_short_before_its_message_posts_it_when_handled_again(bot, monkeypatch):
    await _round(bot)
    event = _message("/checklist close", "close-1", user="admin")
    # the round is closed and committed, then the bot stopped before the closing message left
    await cut_short(bot, monkeypatch, checklist_handlers, "send", event, after=False)
    assert _closings(bot.transport.sent) == []
    again = await bot.event(**{**event, "replay": True})
    [closing] = _closings(again)
    assert closing.chat_id == "group" and "Respondents: 1 (finished 0)" in closing.plain
    assert not [s for s in again if "No self-assessment round is open" in s.plain]
    # handled once more (a second stop after it): the delivery log keeps it from going out twice
    assert _closings(await bot.event(**{**event, "replay": True})) == []
    # a new close is answered as before
    out = await bot.event(**_message("/checklist close", "close-2", user="admin"))
    assert [s.plain for s in out] == ["No self-assessment round is open here."]


async def test_a_close_whose_message_went_out_sends_nothing_more_when_handled_again(bot, monkeypatch):
    await _round(bot)
    event = _message("/checklist close", "close-1", user="admin")
    await cut_short(bot, monkeypatch, checklist_handlers, "send", event, after=True)
    assert len(_closings(bot.transport.sent)) == 1
    again = await bot.event(**{**event, "replay": True})
    assert again == []  # neither the profile twice nor 'no round is open'


async def test_a_close_job_whose_message_failed_posts_it_when_run_again(bot):
    await _round(bot, "closes", "1d")
    bot.transport.fail_sends = 1  # the platform refuses the closing message: the job is retried
    await bot.run_due(bot.clock.now() + timedelta(days=1, minutes=1))
    assert _closings(bot.transport.sent) == []
    await bot.run_due(bot.clock.now() + timedelta(hours=1))
    assert len(_closings(bot.transport.sent)) == 1
    await bot.run_due(bot.clock.now() + timedelta(days=1))
    assert len(_closings(bot.transport.sent)) == 1
