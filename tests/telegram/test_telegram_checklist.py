"""One member answers the whole Kehrä checklist in a private chat with buttons, through the real
Telegram transport (python-telegram-bot) and the Bot API emulator."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def _last_to(emu, chat_id: int):
    return [c for c in emu.calls_of("sendMessage") if int(c.params["chat_id"]) == chat_id]


async def test_member_answers_whole_checklist_in_private_chat(tg, emu):
    group = emu.group("Kehrä Maunula")
    boss, alice = emu.user("Boss", lang="en"), emu.user("Alice", lang="en")
    emu.set_admin(group, boss, "creator")
    emu.post(group, boss, "/checklist start closes 7d")
    start = await emu.wait_call("sendMessage")
    assert "Self-assessment started: Kehrä self-assessment" in emu.sent_texts(group)[0]
    start_id = start.result["message_id"]

    # Alice has not opened a private chat yet: Telegram refuses, the bot tells her how
    emu.fail("sendMessage", "403")
    emu.press(group, alice, start_id, "checklist:go:1")
    await emu.wait_call("sendMessage", 2)
    assert "I cannot write to you first" in emu.sent_texts(group)[-1] and "/start" in emu.sent_texts(group)[-1]

    private = emu.private(alice)
    emu.post(private, alice, "/start")
    await emu.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == alice["id"])
    emu.press(group, alice, start_id, "checklist:go:1")
    await emu.wait_call("answerCallbackQuery", 2)
    for _step in range(80):
        await emu.wait_idle(quiet=0.05)
        sent = _last_to(emu, alice["id"])
        seen = len(sent)
        msg_id = sent[-1].result["message_id"]
        data = [b["callback_data"] for b in emu.buttons(private, msg_id)]
        if any(d.startswith("checklist:name:") for d in data):
            break
        action = data[0].split(":")[1] if data else "text"
        if action == "t":
            emu.press(private, alice, msg_id, data[0])
            await emu.wait_call("editMessageText", where=lambda c, m=msg_id: int(c.params["message_id"]) == m)
            emu.press(private, alice, msg_id, next(d for d in data if d.startswith("checklist:d:")))
        elif action == "a":
            emu.press(private, alice, msg_id, data[0])
        else:
            emu.post(private, alice, "Kirjaston kokoushuone")
        await emu.wait_call("sendMessage", seen + 1, where=lambda c: int(c.params["chat_id"]) == alice["id"])
    texts = emu.sent_texts(private)
    assert "Thank you! Your self-assessment is complete." in texts[-1]
    assert "You answered 28 questions." in texts[-1]
    assert any("Question 28/28" in t for t in texts)

    # one respondent: the group sees how many answered, not what (min_respondents, default 3)
    before = len(emu.sent_texts(group))
    emu.post(group, alice, "/checklist profile")
    await emu.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == group["id"]
                        and "Profile:" in c.params.get("text", ""))
    await emu.wait_idle(quiet=0.2)
    assert len(emu.sent_texts(group)) == before + 1 and not emu.calls_of("sendPhoto")
    profile = emu.sent_texts(group)[-1]
    assert "Respondents: 1 (finished 1)" in profile and "Alice" not in profile
    assert "at least 3 people have answered" in profile and "Kirjaston kokoushuone" not in profile
