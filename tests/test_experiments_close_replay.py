"""'/kokeilu N valmis|keskeytä' handled again after a stop (stored, never answered) answers as the first
time instead of 'the experiment is done', and changes nothing twice."""

import pytest
from sqlalchemy import func, select

from handlers.base import Context
from storage import experiments as store
from tests.test_experiments_issue18 import _experiment, _status


def _event(text, key, *, replay=False, user="admin"):
    return dict(chat_id="group", sender_id=user, sender_name=user.capitalize(), text=text, message_id=f"msg-{key}",
                event_key=key, replay=replay, language_hint="fi", chat_title="group")


async def _steps(bot, action) -> int:
    async with bot.services.db.session() as s:
        return (await s.execute(select(func.count()).select_from(store.ExperimentStep)
                                .where(store.ExperimentStep.action == action))).scalar_one()


@pytest.mark.parametrize("word, step, status, answer", [
    ("valmis", "done", "done", "✅ Kokeilu #1 on valmis. Tulos: 40 tuli paikalle"),
    ("keskeytä", "abandoned", "archived", "Kokeilu #1 keskeytettiin ja idea arkistoitiin. Syy: 40 tuli paikalle"),
])
async def test_a_close_handled_again_answers_as_the_first_time(bot, monkeypatch, word, step, status, answer):
    from tests.test_replay import cut_short

    await _experiment(bot)
    event = _event(f"/kokeilu 1 {word} 40 tuli paikalle", "close-1")
    # stored and committed, then the bot stopped before it answered
    await cut_short(bot, monkeypatch, Context, "reply", event, after=False)
    assert await _steps(bot, step) == 1 and await _status(bot) == status
    again = await bot.event(**{**event, "replay": True})
    assert [s.plain for s in again] == [answer]
    assert await _steps(bot, step) == 1 and await _status(bot) == status
    # a new close is refused as before
    out = await bot.event(**_event(f"/kokeilu 1 {word} uudestaan", "close-2"))
    assert out[0].plain.startswith("Kokeilu #1 on ")
    assert out[0].plain != answer and await _steps(bot, step) == 1


async def test_a_replayed_close_by_someone_else_or_with_another_note_is_not_taken_for_it(bot, monkeypatch):
    from tests.test_replay import cut_short

    await _experiment(bot)
    await cut_short(bot, monkeypatch, Context, "reply", _event("/kokeilu 1 valmis hyvä tulos", "c1"), after=False)
    other = await bot.event(**_event("/kokeilu 1 keskeytä ei tilaa", "c2", replay=True))
    assert not other[0].plain.startswith("Kokeilu #1 keskeytettiin")
    assert await _steps(bot, "abandoned") == 0 and await _status(bot) == "done"
