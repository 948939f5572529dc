"""The bot on a real Synapse: invites, commands, hashtags, reactions, roles, files."""

from __future__ import annotations

import pytest

from core.events import FileOut, Kind
from tests.matrix.conftest import body, content

pytestmark = pytest.mark.integration


async def _room_with_bot(user, bot) -> str:
    room = await user.create_room(invite=[bot.user_id])
    await user.wait_joined(room, bot.user_id)
    return room


async def test_invite_join_idea_by_command_hashtag_and_mention(matrix_bot, matrix_users):
    bot = await matrix_bot()
    aino = await matrix_users("aino")
    room = await _room_with_bot(aino, bot)

    cmd = await aino.say(room, "!idea Kesäterassi kirjaston eteen")
    [reply] = await aino.expect(room, bot.user_id)
    saved = bot.tr("Idea #{number} saved.")
    assert body(reply).startswith("💡 " + saved.format(number=1) + " Kesäterassi kirjaston eteen")
    assert content(reply)["msgtype"] == "m.notice"
    assert "<b>" in content(reply)["formatted_body"] and "<br>" in content(reply)["formatted_body"]
    assert content(reply)["m.relates_to"] == {"m.in_reply_to": {"event_id": cmd}}
    # the support button is offered as reaction 1️⃣ on the reply
    [key] = await aino.expect(room, bot.user_id, types=("m.reaction",))
    assert content(key)["m.relates_to"]["key"] == "1️⃣"
    assert content(key)["m.relates_to"]["event_id"] == reply.event_id

    await aino.say(room, "Ruokaosuuskunta Maunulaan #idea")
    [reply] = await aino.expect(room, bot.user_id)
    assert body(reply).startswith("💡 " + saved.format(number=2) + " Ruokaosuuskunta Maunulaan")

    await aino.say(room, f"{bot.localpart}: idea Penkkejä puistoon")
    [reply] = await aino.expect(room, bot.user_id)
    assert body(reply).startswith("💡 " + saved.format(number=3) + " Penkkejä puistoon")
    assert [e.mentions_bot for e in bot.seen if e.kind == Kind.MESSAGE][-1] is True

    # a plain message gets no answer
    await aino.say(room, "hyvää huomenta")
    assert await aino.quiet(room, bot.user_id, 1.0) == []


async def test_history_before_the_bot_joined_is_not_handled(matrix_bot, matrix_users):
    bot = await matrix_bot()
    aino = await matrix_users("aino")
    room = await aino.create_room(invite=[])
    for n in range(15):  # more than one timeline slice
        await aino.say(room, f"Vanha ehdotus {n} #idea")
    await aino.client.room_invite(room, bot.user_id)
    await aino.wait_joined(room, bot.user_id)
    await aino.say(room, "!idea Uusi ehdotus")
    [reply] = await aino.expect(room, bot.user_id)
    assert bot.tr("Idea #{number} saved.").format(number=1) in body(reply)
    assert "Uusi ehdotus" in body(reply)


async def test_invite_from_other_server_declined(matrix_bot, matrix_users):
    bot = await matrix_bot(allowed_inviters=["@nobody:localhost"])
    aino = await matrix_users("aino")
    room = await aino.create_room(invite=[bot.user_id])
    for _ in range(40):
        await aino.sync(200)
        members = await aino.client.room_get_state_event(room, "m.room.member", bot.user_id)
        if content_of(members).get("membership") == "leave":
            break
    assert content_of(members).get("membership") == "leave"
    assert room not in bot.transport.client.rooms


def content_of(resp) -> dict:
    return getattr(resp, "content", {}) or {}


async def test_support_by_reaction_button_and_withdrawal(matrix_bot, matrix_users):
    bot = await matrix_bot()
    aino = await matrix_users("aino")
    room = await _room_with_bot(aino, bot)
    await aino.say(room, "!idea Yhteinen aurinkovoimala")
    [reply] = await aino.expect(room, bot.user_id)
    await aino.expect(room, bot.user_id, types=("m.reaction",))

    thumbs = await aino.react(room, reply.event_id, "👍")
    [edit] = await aino.expect(room, bot.user_id)
    assert content(edit)["m.relates_to"] == {"rel_type": "m.replace", "event_id": reply.event_id}
    assert "1" in content(edit)["m.new_content"]["body"].splitlines()[-2]
    await aino.client.room_redact(room, thumbs)
    [edit] = await aino.expect(room, bot.user_id)
    assert "0" in content(edit)["m.new_content"]["body"].splitlines()[-2]
    removed = [e for e in bot.seen if e.kind == Kind.REACTION]
    assert [(e.reaction, e.reaction_removed, e.target_id) for e in removed] == [
        ("👍", False, reply.event_id), ("👍", True, reply.event_id)]

    # the button: react with 1️⃣ on the bot's message
    await aino.react(room, reply.event_id, "1️⃣")
    ack, edit = await aino.expect(room, bot.user_id, 2)
    assert bot.tr("👍 You support idea #{number}.").format(number=1) in body(ack)
    assert content(edit)["m.relates_to"]["event_id"] == reply.event_id
    [press] = [e for e in bot.seen if e.kind == Kind.BUTTON]
    assert press.button_data.startswith("ideas:sup:") and press.target_id == reply.event_id


async def test_member_refused_admin_command_creator_allowed(matrix_bot, matrix_users):
    bot = await matrix_bot()
    aino = await matrix_users("aino")  # creates the room: room version 12 creator, not in power_levels
    bertil = await matrix_users("bertil")
    room = await aino.create_room(invite=[bot.user_id, bertil.user_id])
    await aino.wait_joined(room, bot.user_id)
    await bertil.join(room)
    await aino.wait_joined(room, bertil.user_id)
    version = await aino.client.room_get_state_event(room, "m.room.create")
    assert content_of(version).get("room_version") == "12"
    assert "creator" not in content_of(version)

    await aino.say(room, "!idea Esteetön sisäänkäynti")
    await aino.expect(room, bot.user_id)
    await bertil.say(room, "!tila 1 käsitelty")
    [refusal] = await aino.expect(room, bot.user_id)
    assert body(refusal) == bot.tr("Only the chat's admins may do this.")
    await aino.say(room, "!tila 1 käsitelty")
    [done] = await aino.expect(room, bot.user_id)
    assert body(done).startswith(bot.tr("Idea #{number}: {old} → {new}.").split(":")[0].format(number=1))
    assert body(done) != body(refusal)


async def test_file_and_image_uploaded(matrix_bot, matrix_users):
    bot = await matrix_bot()
    aino = await matrix_users("aino")
    room = await _room_with_bot(aino, bot)
    data = "numero;idea\n1;Kesäterassi\n".encode()
    await bot.transport.send_file(room, FileOut("ideat.csv", data, "text/csv", caption_html="<b>Ideat</b>"))
    [msg] = await aino.expect(room, bot.user_id)
    assert content(msg)["msgtype"] == "m.file"
    assert content(msg)["filename"] == "ideat.csv" and body(msg) == "Ideat"
    downloaded = await aino.client.download(mxc=content(msg)["url"])
    assert downloaded.body == data
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 64
    await bot.transport.send_file(room, FileOut("kaavio.png", png, "image/png", is_image=True))
    [img] = await aino.expect(room, bot.user_id)
    assert content(img)["msgtype"] == "m.image" and content(img)["info"]["size"] == len(png)


async def test_private_chat_found_or_created(matrix_bot, matrix_users):
    bot = await matrix_bot()
    aino = await matrix_users("aino")
    room = await bot.transport.private_chat(aino.user_id)
    assert room
    await aino.join(room)
    assert await bot.transport.private_chat(aino.user_id) == room  # found again, not a new room
    await aino.say(room, "!idea Yksityinen ajatus")
    [reply] = await aino.expect(room, bot.user_id)
    assert "Yksityinen ajatus" in body(reply)
    assert [e.is_private for e in bot.seen if e.kind == Kind.MESSAGE] == [True]


async def test_an_upgraded_room_keeps_its_ideas(matrix_bot, matrix_users):
    bot = await matrix_bot()
    aino = await matrix_users("aino")
    room = await _room_with_bot(aino, bot)
    await aino.say(room, "!idea Kesäterassi kirjaston eteen")
    await aino.expect(room, bot.user_id)
    new_room = await aino.create_room(invite=[bot.user_id])  # the room upgrade: a new room …
    await aino.wait_joined(new_room, bot.user_id)
    await aino.client.room_put_state(room, "m.room.tombstone",  # … and the old one points to it
                                     {"body": "This room has been replaced", "replacement_room": new_room})
    for _ in range(100):  # the tombstone reaches the bot with its next sync
        if any(e.kind == Kind.CHAT_MOVED for e in bot.seen):
            break
        await aino.sync(100)
    await aino.say(new_room, "!ideas")
    [reply] = await aino.expect(new_room, bot.user_id)
    assert "Kesäterassi kirjaston eteen" in body(reply)
    await aino.say(new_room, "!idea Toinen")
    [reply] = await aino.expect(new_room, bot.user_id)
    assert bot.tr("Idea #{number} saved.").format(number=2) in body(reply)


async def test_editing_the_message_edits_the_idea(matrix_bot, matrix_users):
    bot = await matrix_bot()
    aino = await matrix_users("aino")
    room = await _room_with_bot(aino, bot)
    posted = await aino.say(room, "!idea Penkki lammen rantaa")
    [reply] = await aino.expect(room, bot.user_id)
    await aino.send(room, "m.room.message", {
        "msgtype": "m.text", "body": "* !idea Penkki lammen rantaan",
        "m.new_content": {"msgtype": "m.text", "body": "!idea Penkki lammen rantaan"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": posted}})
    [edit] = await aino.expect(room, bot.user_id)  # the bot edits its own message in turn
    assert content(edit)["m.relates_to"] == {"rel_type": "m.replace", "event_id": reply.event_id}
    assert "Penkki lammen rantaan" in content(edit)["m.new_content"]["body"]
