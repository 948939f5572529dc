"""A Telegram group that becomes a supergroup gets a new chat id: its ideas, polls, meetings and
settings go along, whether the bot learns it from the service message or from a failed send."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


async def test_the_chat_moves_with_the_service_message(emu, tg):
    group = emu.group("Kehrä Maunula", basic=True)
    admin, bertil = emu.user("Aino"), emu.user("Bertil")
    emu.set_admin(group, admin)
    emu.post(group, admin, "/idea Aurinkopaneelit kirjaston katolle #energia")
    emu.post(group, bertil, "/idea Penkkejä puistoon")
    emu.post(group, admin, "/lang chat sv")
    await emu.wait_idle()
    before = len(emu.sent_texts(group))
    supergroup = emu.upgrade(group, admin)
    await emu.wait_idle()
    sent = len(emu.calls_of("sendMessage"))
    emu.post(supergroup, bertil, "/ideat")
    await emu.wait_call("sendMessage", sent + 1)
    listing = emu.sent_texts(supergroup)[-1]
    assert "Aurinkopaneelit" in listing and "Penkkejä" in listing
    assert "Idéer" in listing or "idéer" in listing  # the chat's language went along
    emu.post(supergroup, bertil, "/idea Kolmas")
    await emu.wait_call("sendMessage", sent + 2)
    assert "#3" in emu.sent_texts(supergroup)[-1]  # numbering goes on
    assert len(emu.sent_texts(group)) == before  # nothing more went to the old id


async def test_a_send_to_the_old_id_follows_the_group(emu, clocked):
    app, clock = clocked
    group = emu.group("Kehrä Kontula", basic=True)
    admin = emu.user("Aino")
    emu.set_admin(group, admin)
    emu.post(group, admin, "/kysely Kokoontumispäivä? | ma | ti | sulkeutuu 1 h")
    await emu.wait_idle()
    supergroup = emu.upgrade(group, admin, announce=False)  # the bot missed the service messages
    clock.advance(hours=2)
    assert await app.jobs.run_due() >= 1
    await emu.wait_idle()
    failed = [c for c in emu.calls if int(c.params.get("chat_id", 0) or 0) == group["id"] and c.status == 400]
    assert failed  # Telegram said: migrated
    assert any("Kokoontumispäivä" in t for t in emu.sent_texts(supergroup))  # the result arrived anyway
    sent = len(emu.calls_of("sendMessage"))
    emu.post(supergroup, admin, "/kyselyt")
    await emu.wait_call("sendMessage", sent + 1)
    assert "Kokoontumispäivä" in emu.sent_texts(supergroup)[-1]  # the poll moved with the chat
