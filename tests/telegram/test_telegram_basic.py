"""The Telegram transport with the real App against the Bot API emulator: ideas, buttons,
roles, command menus, files."""

from __future__ import annotations

from core.events import FileOut, Reply
from core.markup import esc

pytestmark = __import__("pytest").mark.integration


async def test_idea_by_command_and_hashtag(tg, emu):
    group = emu.group("Kehrä Maunula")
    alice, bob = emu.user("Alice", lang="en"), emu.user("Bob", lang="en")
    emu.post(group, alice, "/idea Kesäterassi kirjaston eteen")
    call = await emu.wait_call("sendMessage")
    assert int(call.params["chat_id"]) == group["id"]
    assert call.params["parse_mode"] == "HTML"
    assert emu.sent_texts(group)[0].startswith("💡 Idea #1 saved. Kesäterassi kirjaston eteen")
    # the reply quotes the command message and carries the support button
    assert '"message_id": 1' in call.params["reply_parameters"]
    assert emu.buttons(group, call.result["message_id"])[0]["callback_data"] == "ideas:sup:1"

    emu.post(group, bob, "We should have a swap day #idea")
    await emu.wait_call("sendMessage", 2)
    assert emu.sent_texts(group)[1].startswith("💡 Idea #2 saved. We should have a swap day")
    # the Telegram client's language picks the reply language; none given means Finnish
    emu.post(group, emu.user("Britt", lang="sv-SE"), "/ide Bytesdag i parken")
    await emu.wait_call("sendMessage", 3)
    assert emu.sent_texts(group)[2].startswith("💡 Idé #3 sparad. Bytesdag i parken")
    emu.post(group, emu.user("Aino", lang=None), "/idea Penkki lammen rantaan")
    await emu.wait_call("sendMessage", 4)
    assert emu.sent_texts(group)[3].startswith("💡 Idea #4 tallennettu. Penkki lammen rantaan")


async def test_command_addressed_to_this_bot_or_another(tg, emu):
    group, alice = emu.group(), emu.user("Alice", lang="en")
    emu.post(group, alice, "/idea@other_bot not for us")
    emu.post(group, alice, "/idea@kehra_test_bot A bench by the pond")
    await emu.wait_call("sendMessage")
    await emu.wait_idle()
    texts = emu.sent_texts(group)
    assert len(texts) == 1 and texts[0].startswith("💡 Idea #1 saved.")
    assert "A bench by the pond" in texts[0]


async def test_support_button_toast_and_edit(tg, emu):
    group, alice, bob = emu.group(), emu.user("Alice", lang="en"), emu.user("Bob", lang="en")
    emu.post(group, alice, "/idea Yhteinen kompostori")
    sent = await emu.wait_call("sendMessage")
    message_id = sent.result["message_id"]
    query = emu.press(group, bob, message_id, "ideas:sup:1")
    edit = await emu.wait_call("editMessageText")
    await emu.wait_call("answerCallbackQuery")
    answers = [a for a in emu.answers if a["callback_query_id"] == query]
    assert len(answers) == 1 and "support idea #1" in answers[0]["text"]
    assert int(edit.params["message_id"]) == message_id
    assert emu.buttons(group, message_id)[0]["text"].endswith("(1)")
    # pressing again: one answer ("already"), the count stays
    query2 = emu.press(group, bob, message_id, "ideas:sup:1")
    await emu.wait_call("answerCallbackQuery", 2)
    await emu.wait_idle()
    again = [a for a in emu.answers if a["callback_query_id"] == query2]
    assert len(again) == 1 and "already" in again[0]["text"]
    assert emu.buttons(group, message_id)[0]["text"].endswith("(1)")


async def test_reaction_supports_and_removal_withdraws(tg, emu):
    group, alice, bob = emu.group(), emu.user("Alice"), emu.user("Bob")
    emu.set_admin(group, emu.bot_user)  # Telegram sends reactions only to a bot that is an admin
    emu.post(group, alice, "/idea Kirjaston terassi")
    sent = await emu.wait_call("sendMessage")
    message_id = sent.result["message_id"]
    emu.react(group, bob, message_id, ["👍"])
    await emu.wait_call("editMessageText")
    assert emu.buttons(group, message_id)[0]["text"].endswith("(1)")
    emu.react(group, bob, message_id, [])
    await emu.wait_call("editMessageText", 2)
    assert emu.buttons(group, message_id)[0]["text"].endswith("(0)")


async def test_non_admin_refused_admin_allowed(tg, emu):
    group, alice, boss = emu.group(), emu.user("Alice", lang="en"), emu.user("Boss", lang="en")
    emu.set_admin(group, boss, "creator")
    emu.post(group, alice, "/idea Bench")
    await emu.wait_call("sendMessage")
    emu.post(group, alice, "/status 1 discussed")
    await emu.wait_call("sendMessage", 2)
    assert emu.sent_texts(group)[1] == "Only the chat's admins may do this."
    emu.post(group, boss, "/status 1 discussed")
    await emu.wait_call("sendMessage", 3)
    assert "discussed" in emu.sent_texts(group)[2]
    # the admin list was fetched once and cached
    assert len(emu.calls_of("getChatAdministrators")) == 1


async def test_command_menus_per_language(tg, emu):
    await emu.wait_call("setMyCommands", 12)
    fi = {c["command"]: c["description"] for c in emu.commands[("default", "fi")]}
    sv = {c["command"]: c["description"] for c in emu.commands[("default", "sv")]}
    en = {c["command"]: c["description"] for c in emu.commands[("default", "en")]}
    assert "idea" in fi and "apua" in fi and "hjalp" in sv and "help" in en
    assert emu.commands[("default", "")] == emu.commands[("default", "fi")]
    catalogs = tg.app.services.catalogs
    help_cmd = tg.app.services.command("help")
    assert fi["apua"] == catalogs.get("fi").gettext(help_cmd.help) != en["help"]
    assert sv["hjalp"] == catalogs.get("sv").gettext(help_cmd.help)
    assert en["help"] == "list the commands, or explain one"
    assert "start" not in en  # hidden
    admin = {c["command"] for c in emu.commands[("all_chat_administrators", "en")]}
    assert "status" in admin and "status" not in en


async def test_document_photo_long_reply_and_private_chat(tg, emu):
    group, alice = emu.group(), emu.user("Alice")
    emu.post(group, alice, "/apua")
    await emu.wait_call("sendMessage")
    t = tg.transport
    chat = str(group["id"])
    doc_id = await t.send_file(chat, FileOut("ideas.csv", b"id,text\n1,bench\n", "text/csv",
                                             caption_html="<b>Ideas</b> " + esc("<all>")))
    photo_id = await t.send_file(chat, FileOut("chart.png", b"\x89PNG fake", "image/png", is_image=True))
    doc = emu.calls_of("sendDocument")[0]
    assert doc.params["document"]["filename"] == "ideas.csv"
    assert doc.params["document"]["data"] == b"id,text\n1,bench\n"
    assert emu.messages[(group["id"], int(doc_id))]["caption"] == "Ideas <all>"
    assert emu.calls_of("sendPhoto")[0].params["photo"]["data"] == b"\x89PNG fake"
    assert int(photo_id) == int(doc_id) + 1
    # a reply longer than 4096 characters is split at line boundaries
    long_html = "\n".join(f"<b>{n}</b> " + "x" * 90 for n in range(100))
    last_id = await t.send(chat, Reply(html=long_html))
    parts = emu.calls_of("sendMessage")[-3:]
    assert [len(p.params["text"]) <= 4096 for p in parts] == [True] * 3
    assert "".join(p.params["text"] + "\n" for p in parts).rstrip("\n") == long_html
    assert int(last_id) == parts[-1].result["message_id"]
    assert await t.private_chat(str(alice["id"])) == str(alice["id"])


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_webhook_mode(start_bot, emu):
    import aiohttp

    port = _free_port()
    url = f"http://127.0.0.1:{port}/tg-hook"
    bot = await start_bot(webhook_url=url, webhook_port=port, webhook_secret="s3cret")
    assert emu.webhook == {"url": url, "secret_token": "s3cret"}
    group, alice = emu.group(), emu.user("Alice", lang="en")
    update = emu.post(group, alice, "/idea Via webhook")
    await emu.wait_call("sendMessage")
    assert emu.sent_texts(group)[0].startswith("💡 Idea #1 saved. Via webhook")
    # a forged request without the secret is refused; a redelivery is not handled twice
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=update) as resp:
            assert resp.status == 403
        async with session.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"}) as resp:
            assert resp.status == 200
    await emu.wait_idle()
    assert len(emu.sent_texts(group)) == 1
    assert not emu.calls_of("getUpdates")
    await bot.stop()


async def test_create_builds_the_transport_from_settings(tmp_path, emu):
    from bot.app import App, build_transports
    from bot.config import Settings
    from bot.telegram import TelegramTransport
    from core.transport import Transport
    from tests.telegram.conftest import telegram_settings

    settings = Settings.model_construct(**{**dict(Settings.model_construct()), "data_dir": tmp_path,
                                           "telegram": telegram_settings(emu)})
    app = App(settings)
    (transport,) = build_transports(settings, app.services, ["telegram"])
    assert isinstance(transport, TelegramTransport) and isinstance(transport, Transport)
    assert transport.platform == "telegram" and transport.command_prefixes == ("/",)
    await app.open()
    message_id = await transport.send("4242", __import__("core.events").events.Reply("hi <b>there</b>"))
    assert transport.bot_username == "kehra_test_bot"  # from getMe, fetched on first use
    assert emu.calls_of("sendMessage")[0].params["chat_id"] == "4242" and message_id == "1"
    await transport.stop()
    await app.db.close()


async def test_bad_html_is_refused_like_telegram_and_user_text_is_escaped(tg, emu):
    from telegram.error import BadRequest

    group, alice = emu.group(), emu.user("Alice", lang="en")
    emu.post(group, alice, "/idea <div>Tags</div> & <b>more")
    await emu.wait_call("sendMessage")
    assert "<div>Tags</div> & <b>more" in emu.sent_texts(group)[0]
    with __import__("pytest").raises(BadRequest, match="(?i)unsupported start tag"):
        await tg.transport.send(str(group["id"]), Reply("<div>raw</div>"))


async def test_app_run_with_telegram_until_cancelled(tmp_path, emu):
    """The composition root as `kehrabot run` uses it: App.run() with the Telegram transport."""
    import asyncio
    import contextlib

    from bot.app import App, build_transports
    from bot.config import Settings
    from tests.telegram.conftest import telegram_settings

    settings = Settings.model_construct(**{**dict(Settings.model_construct()), "data_dir": tmp_path,
                                           "telegram": telegram_settings(emu)})
    app = App(settings)
    for transport in build_transports(settings, app.services, ["telegram"]):
        app.add_transport(transport)
    run = asyncio.create_task(app.run())
    group, alice = emu.group(), emu.user("Alice", lang="en")
    emu.post(group, alice, "/idea Run me")
    await emu.wait_call("sendMessage")
    assert emu.sent_texts(group)[0].startswith("💡 Idea #1 saved. Run me")
    run.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await run
    assert app.services.transports["telegram"]._runner is None  # stopped, nothing left polling


async def test_editing_the_message_edits_the_idea(tg, emu):
    group, alice = emu.group(), emu.user("Alice", lang="en")
    posted = emu.post(group, alice, "/idea A bench by the pnod")
    call = await emu.wait_call("sendMessage")
    emu.edit(group, alice, posted["message"]["message_id"], "/idea A bench by the pond #kortteli")
    edit = await emu.wait_call("editMessageText")
    assert int(edit.params["message_id"]) == call.result["message_id"]  # the bot's own message follows
    assert "A bench by the pond" in edit.params["text"] and "#kortteli" in edit.params["text"]
    await emu.wait_idle()
    assert len(emu.calls_of("sendMessage")) == 1  # and nothing new is posted
