"""The Bot API emulator itself, over HTTP: HTML parse mode as strict as Telegram's, privacy mode,
callback queries answered once and in time, getUpdates confirmation and conflicts, faults after
the method took effect, raw updates."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from telegram.error import BadRequest, Conflict, NetworkError, TimedOut
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from tests.telegram.emulator import POLL_CONFLICT, QUERY_INVALID, BotApiEmulator

pytestmark = pytest.mark.integration


async def api(emu: BotApiEmulator, method: str, *, client_timeout: float = 10.0, **params) -> tuple[int, dict]:
    """One raw Bot API call: (HTTP status, JSON body)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=client_timeout)) as session:
        async with session.post(f"{emu.base_url}{emu.token}/{method}", json=params) as resp:
            return resp.status, await resp.json()


def known_group(emu: BotApiEmulator) -> tuple[dict, dict]:
    """A group the emulator knows (someone wrote there) and that someone."""
    group, aino = emu.group("Kehrä"), emu.user("Aino")
    emu.post(group, aino, "/start")
    return group, aino


async def ptb(emu: BotApiEmulator, read_timeout: float = 5.0) -> ExtBot:
    bot = ExtBot(emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url,
                 request=HTTPXRequest(read_timeout=read_timeout),
                 get_updates_request=HTTPXRequest(read_timeout=read_timeout))
    await bot.initialize()
    return bot


# -- HTML parse mode ------------------------------------------------------------------------------

REFUSED = [
    ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
    ("<br>", 'Unsupported start tag "br" at byte offset 0'),
    ("a < b", 'Unsupported start tag "" at byte offset 2'),
    ("x <b", "Unclosed start tag at byte offset 2"),
    ("<b>bold", "Can't find end tag corresponding to start tag b"),
    ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
    ("x</b>", "Unexpected end tag at byte offset 1"),
    ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ('<tg-emoji emoji-id="abc">👍</tg-emoji>', "Invalid custom emoji identifier specified"),
    ("🏟 <i   =aba>x</i>", 'Empty attribute name in the tag "i" at byte offset 5'),  # offsets count UTF-8 bytes
    # Telegram would ignore or show these other than meant; the emulator refuses them
    ('<b class="x">x</b>', 'Unsupported attribute "class" in the tag "b" at byte offset 0'),
    ('<a title="t" href="https://example.org">x</a>', 'Unsupported attribute "title" in the tag "a" at byte offset 0'),
    ("<a>x</a>", 'Tag "a" must have a non-empty attribute "href" at byte offset 0'),
    ("AT&T", 'Character "&" at byte offset 2 must be escaped as "&amp;"'),
    ("a&nbsp;b", 'Unsupported HTML entity "&nbsp;" at byte offset 1; only &lt; &gt; &amp; &quot; and numeric '
                 "ones are supported"),
    ("1 &lt 2", 'HTML entity at byte offset 2 must end with ";"'),
    ('<code class="language-py">x</code>', 'Tag "code" with a language must be directly inside "pre" at byte offset 0'),
    ('<pre><code class="python">x</code></pre>',
     'The class of the tag "code" must start with "language-" at byte offset 5'),
]


@pytest.mark.parametrize(("html", "reason"), REFUSED)
async def test_html_outside_telegrams_rules_is_refused(emu, html, reason):
    group, _aino = known_group(emu)
    status, body = await api(emu, "sendMessage", chat_id=group["id"], text=html, parse_mode="HTML")
    assert (status, body["description"]) == (400, f"Bad Request: can't parse entities: {reason}")
    assert emu.sent_texts(group) == []  # nothing was sent


async def test_every_documented_tag_is_accepted_with_its_entities(emu):
    group, _aino = known_group(emu)
    html = ('<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s><strike>t</strike><del>d</del>'
            '<span class="tg-spoiler">p</span><tg-spoiler>q</tg-spoiler><a href="https://example.org/x?a=1&amp;b=2">'
            'l</a><a href="tg://user?id=42">m</a><code>c</code><pre>p</pre>'
            '<pre><code class="language-python">x = 1</code></pre><blockquote>q</blockquote>'
            '<blockquote expandable>w</blockquote><tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
            " &lt;&gt;&amp;&quot;&#33;&#x21;")
    status, body = await api(emu, "sendMessage", chat_id=group["id"], text=html, parse_mode="HTML")
    assert status == 200, body
    msg = body["result"]
    assert msg["text"] == "bsieunstdpqlmcpx = 1qw👍 <>&\"!!"
    kinds = [(e["type"], e["offset"], e["length"]) for e in msg["entities"]]
    assert kinds == [("bold", 0, 1), ("bold", 1, 1), ("italic", 2, 1), ("italic", 3, 1), ("underline", 4, 1),
                     ("underline", 5, 1), ("strikethrough", 6, 1), ("strikethrough", 7, 1),
                     ("strikethrough", 8, 1), ("spoiler", 9, 1), ("spoiler", 10, 1), ("text_link", 11, 1),
                     ("text_mention", 12, 1), ("code", 13, 1), ("pre", 14, 1), ("pre", 15, 5),
                     ("blockquote", 20, 1), ("expandable_blockquote", 21, 1), ("custom_emoji", 22, 2)]
    by_type = {e["type"]: e for e in msg["entities"]}
    assert by_type["text_link"]["url"] == "https://example.org/x?a=1&b=2"
    assert by_type["text_mention"]["user"]["id"] == 42
    assert msg["entities"][15]["language"] == "python"


async def test_without_parse_mode_the_text_is_literal(emu):
    group, _aino = known_group(emu)
    status, body = await api(emu, "sendMessage", chat_id=group["id"], text="<div>AT&T &nbsp;</div>")
    assert status == 200 and body["result"]["text"] == "<div>AT&T &nbsp;</div>"
    assert "entities" not in body["result"]
    # the parse mode's name is not case-sensitive; the text's ends are trimmed
    status, _body = await api(emu, "sendMessage", chat_id=group["id"], text="<div>", parse_mode="html")
    assert status == 400
    status, body = await api(emu, "sendMessage", chat_id=group["id"], text="  <b> x</b>\n", parse_mode="HTML")
    assert body["result"]["text"] == "x" and body["result"]["entities"] == [{"offset": 0, "length": 1, "type": "bold"}]
    status, body = await api(emu, "sendMessage", chat_id=group["id"], text=" <b> </b> ", parse_mode="HTML")
    assert (status, body["description"]) == (400, "Bad Request: message text is empty")


async def test_edits_and_captions_are_checked_too(emu):
    group, _aino = known_group(emu)
    _status, body = await api(emu, "sendMessage", chat_id=group["id"], text="<b>ok</b>", parse_mode="HTML")
    message_id = body["result"]["message_id"]
    status, body = await api(emu, "editMessageText", chat_id=group["id"], message_id=message_id,
                             text="<p>new</p>", parse_mode="HTML")
    assert (status, body["description"]) == (400, 'Bad Request: can\'t parse entities: Unsupported start tag "p" '
                                                   "at byte offset 0")
    assert emu.messages[(group["id"], message_id)]["text"] == "ok"  # unchanged
    # only the entities differ: that is a change (Telegram compares text and entities)
    status, body = await api(emu, "editMessageText", chat_id=group["id"], message_id=message_id, text="ok")
    assert status == 200 and "entities" not in body["result"]

    bot = await ptb(emu)
    try:
        with pytest.raises(BadRequest, match="(?i)unsupported start tag \"x\""):
            await bot.send_document(group["id"], b"data", filename="a.csv", caption="<x>", parse_mode="HTML")
        with pytest.raises(BadRequest, match="(?i)must be escaped"):
            await bot.send_photo(group["id"], b"\x89PNG", filename="a.png", caption="R&D", parse_mode="HTML")
        plain = await bot.send_document(group["id"], b"data", filename="a.csv", caption="<x> R&D")
        assert plain.caption == "<x> R&D"  # no parse mode: nothing to parse
        fine = await bot.send_photo(group["id"], b"\x89PNG", filename="a.png", caption="<i>R&amp;D</i>",
                                    parse_mode="HTML")
        assert fine.caption == "R&D" and fine.caption_entities[0].type == "italic"
    finally:
        await bot.shutdown()


async def test_html_pedantic_off_is_as_lenient_as_telegram(emu):
    group, _aino = known_group(emu)
    emu.html_pedantic = False
    status, body = await api(emu, "sendMessage", chat_id=group["id"], parse_mode="HTML",
                             text='<b class="x">AT&T</b> &nbsp; 1 &lt 2 <a>no link</a>')
    assert status == 200, body
    assert body["result"]["text"] == "AT&T &nbsp; 1 < 2 no link"
    assert [e["type"] for e in body["result"]["entities"]] == ["bold"]
    status, _body = await api(emu, "sendMessage", chat_id=group["id"], parse_mode="HTML", text="<div>")
    assert status == 400  # what Telegram refuses stays refused


# -- privacy mode ---------------------------------------------------------------------------------


def _texts(updates: list[dict]) -> list[str]:
    return [u["message"].get("text") or next(k for k in u["message"] if k.startswith("migrate_"))
            for u in updates]


async def test_privacy_mode_hears_only_what_is_meant_for_the_bot(emu):
    emu.privacy = True
    group = emu.group("Kehrä", basic=True)
    aino = emu.user("Aino")
    withheld = emu.post(group, aino, "hello everyone #idea")
    assert withheld["update_id"] is None
    emu.post(group, aino, "/idea A bench")
    emu.post(group, aino, "/idea@kehra_test_bot A swing")
    emu.post(group, aino, "/idea@other_bot Not ours")
    emu.post(group, aino, "what do you think @kehra_test_bot")
    emu.post(group, aino, "not a command /idea")
    _status, body = await api(emu, "sendMessage", chat_id=group["id"], text="Bot here")
    emu.post(group, aino, "a reply to the bot", reply_to=body["result"]["message_id"])
    emu.post(group, aino, "a reply to Aino", reply_to=1)
    emu.upgrade(group, aino)  # service messages
    emu.post(emu.private(aino), aino, "hello bot")  # private chats get everything
    status, body = await api(emu, "getUpdates")
    assert status == 200
    assert _texts(body["result"]) == ["/idea A bench", "/idea@kehra_test_bot A swing",
                                      "what do you think @kehra_test_bot", "a reply to the bot",
                                      "migrate_to_chat_id", "migrate_from_chat_id", "hello bot"]
    assert [u["message"]["text"] for u in emu.withheld] == [
        "hello everyone #idea", "/idea@other_bot Not ours", "not a command /idea", "a reply to Aino"]
    _status, me = await api(emu, "getMe")
    assert me["result"]["can_read_all_group_messages"] is False


async def test_privacy_mode_off_or_bot_admin_hears_everything(emu):
    group, aino = emu.group(), emu.user("Aino")
    _status, me = await api(emu, "getMe")
    assert me["result"]["can_read_all_group_messages"] is True  # the default: privacy mode off
    emu.post(group, aino, "chatting")
    emu.privacy = True
    emu.post(group, aino, "chatting more")
    emu.set_admin(group, emu.bot_user)
    emu.post(group, aino, "the bot is an admin now")
    _status, body = await api(emu, "getUpdates")
    assert _texts(body["result"]) == ["chatting", "the bot is an admin now"]


# -- callback queries -----------------------------------------------------------------------------


async def _message_with_button(emu: BotApiEmulator) -> tuple[dict, dict, int]:
    group, aino = known_group(emu)
    keyboard = {"inline_keyboard": [[{"text": "Support", "callback_data": "ideas:sup:1"}]]}
    _status, body = await api(emu, "sendMessage", chat_id=group["id"], text="Idea #1", reply_markup=keyboard)
    return group, aino, body["result"]["message_id"]


async def test_a_callback_query_is_answered_once(emu):
    group, aino, message_id = await _message_with_button(emu)
    query = emu.press(group, aino, message_id, "ideas:sup:1")
    status, body = await api(emu, "answerCallbackQuery", callback_query_id=query, text="Thanks")
    assert (status, body["result"]) == (200, True)
    status, body = await api(emu, "answerCallbackQuery", callback_query_id=query, text="Thanks again")
    assert (status, body["description"]) == (400, QUERY_INVALID)
    status, body = await api(emu, "answerCallbackQuery", callback_query_id="123456")
    assert (status, body["description"]) == (400, QUERY_INVALID)
    assert [a["text"] for a in emu.answers] == ["Thanks"]


async def test_a_callback_query_too_old_cannot_be_answered(emu):
    group, aino, message_id = await _message_with_button(emu)
    emu.callback_timeout = 0.2
    fresh = emu.press(group, aino, message_id, "ideas:sup:1")
    old = emu.press(group, aino, message_id, "ideas:sup:1")
    status, _body = await api(emu, "answerCallbackQuery", callback_query_id=fresh)
    assert status == 200
    await asyncio.sleep(0.3)
    status, body = await api(emu, "answerCallbackQuery", callback_query_id=old)
    assert (status, body["description"]) == (400, QUERY_INVALID)
    bot = await ptb(emu)
    try:
        late = emu.press(group, aino, message_id, "ideas:sup:1")
        await asyncio.sleep(0.3)
        with pytest.raises(BadRequest, match="(?i)query is too old"):
            await bot.answer_callback_query(late)
    finally:
        await bot.shutdown()


# -- getUpdates -----------------------------------------------------------------------------------


async def test_updates_stay_until_a_greater_offset_confirms_them(emu):
    group, aino = emu.group(), emu.user("Aino")
    first = emu.post(group, aino, "one")["update_id"]
    second = emu.post(group, aino, "two")["update_id"]
    emu.fail("getUpdates", "502_after")  # fetched, but the answer is lost
    status, _body = await api(emu, "getUpdates")
    assert status == 502
    for _again in range(2):  # fetched but not confirmed: delivered again
        _status, body = await api(emu, "getUpdates")
        assert [u["update_id"] for u in body["result"]] == [first, second]
    _status, body = await api(emu, "getUpdates", limit=1)
    assert [u["update_id"] for u in body["result"]] == [first]
    _status, body = await api(emu, "getUpdates", offset=first + 1)
    assert [u["update_id"] for u in body["result"]] == [second]
    _status, body = await api(emu, "getUpdates", offset=second + 1, timeout=0)
    assert body["result"] == [] and emu.updates == []


async def test_a_negative_offset_keeps_the_last_updates_only(emu):
    group, aino = emu.group(), emu.user("Aino")
    ids = [emu.post(group, aino, text)["update_id"] for text in ("one", "two", "three")]
    _status, body = await api(emu, "getUpdates", offset=-1)
    assert [u["update_id"] for u in body["result"]] == [ids[2]]
    _status, body = await api(emu, "getUpdates")
    assert [u["update_id"] for u in body["result"]] == [ids[2]]  # the older ones are forgotten


async def test_a_newer_getupdates_terminates_the_waiting_one(emu):
    waiting = asyncio.create_task(api(emu, "getUpdates", timeout=5))
    await emu.wait_call("getUpdates")
    started = time.monotonic()
    status, body = await api(emu, "getUpdates", timeout=0)
    assert (status, body["result"]) == (200, [])
    status, body = await waiting
    assert (status, body["description"]) == (409, POLL_CONFLICT)
    assert time.monotonic() - started < 2  # ended at once, not after its 5 s
    bot = await ptb(emu)
    try:
        before = len(emu.calls_of("getUpdates"))
        waiting = asyncio.create_task(bot.get_updates(timeout=5))
        await emu.wait_call("getUpdates", before + 1)
        await api(emu, "getUpdates")
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await waiting
    finally:
        await bot.shutdown()


# -- faults after the method took effect ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["500_after", "502_after"])
async def test_an_error_after_the_send_leaves_the_message_sent(emu, kind):
    group, _aino = known_group(emu)
    emu.fail("sendMessage", kind)
    status, _body = await api(emu, "sendMessage", chat_id=group["id"], text="Idea #1 saved")
    assert status == int(kind[:3])
    assert emu.sent_texts(group) == ["Idea #1 saved"]  # it was sent all the same
    call = emu.calls_of("sendMessage")[0]
    assert call.status == int(kind[:3]) and call.effect
    assert emu.messages[(group["id"], call.result["message_id"])]["text"] == "Idea #1 saved"
    # a blind retry duplicates it
    status, _body = await api(emu, "sendMessage", chat_id=group["id"], text="Idea #1 saved")
    assert status == 200 and emu.sent_texts(group) == ["Idea #1 saved", "Idea #1 saved"]


async def test_a_fault_before_the_send_leaves_nothing_sent(emu):
    group, _aino = known_group(emu)
    emu.fail("sendMessage", "502")
    emu.fail("sendMessage", "drop")
    status, _body = await api(emu, "sendMessage", chat_id=group["id"], text="lost")
    assert status == 502
    with pytest.raises(aiohttp.ClientError):
        await api(emu, "sendMessage", chat_id=group["id"], text="lost")
    assert emu.sent_texts(group) == [] and len(emu.calls_of("sendMessage", ok=False)) == 2
    with pytest.raises(ValueError, match="unknown fault"):
        emu.fail("sendMessage", "slow")


async def test_a_dropped_connection_after_the_send(emu):
    group, _aino = known_group(emu)
    emu.fail("sendMessage", "drop_after")
    with pytest.raises(aiohttp.ClientError):
        await api(emu, "sendMessage", chat_id=group["id"], text="Sent, but who knows")
    assert emu.sent_texts(group) == ["Sent, but who knows"]
    assert emu.calls_of("sendMessage")[0].status == -1


async def test_no_answer_after_the_send_until_the_client_gives_up(emu):
    group, _aino = known_group(emu)
    emu.fail("sendMessage", "timeout_after")
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await api(emu, "sendMessage", chat_id=group["id"], text="Slow", client_timeout=0.5)
    assert 0.4 < time.monotonic() - started < 3
    assert emu.sent_texts(group) == ["Slow"] and emu.calls_of("sendMessage")[0].status == -2
    # with ``hold`` the connection closes after that long, answered or not
    emu.fail("sendMessage", "timeout_after", hold=0.3)
    started = time.monotonic()
    with pytest.raises(aiohttp.ClientError):
        await api(emu, "sendMessage", chat_id=group["id"], text="Held", client_timeout=10)
    assert 0.25 < time.monotonic() - started < 3
    # python-telegram-bot sees a timeout and a network error; both sends happened
    bot = await ptb(emu, read_timeout=0.5)
    try:
        emu.fail("sendMessage", "timeout_after")
        with pytest.raises(TimedOut):
            await bot.send_message(group["id"], "PTB slow")
        emu.fail("sendMessage", "502_after")
        with pytest.raises(NetworkError):
            await bot.send_message(group["id"], "PTB bad gateway")
    finally:
        await bot.shutdown()
    assert emu.sent_texts(group) == ["Slow", "Held", "PTB slow", "PTB bad gateway"]


# -- raw updates ----------------------------------------------------------------------------------


async def test_raw_updates_are_delivered_as_given(emu):
    aino = emu.user("Aino")
    poison = {"poll_answer": {"poll_id": "5000000001", "user": aino, "option_ids": [0]}}  # no persistent ids
    first = emu.inject_raw(poison)
    weird = emu.inject_raw({"something_new": {"x": 1}})  # a kind nobody asked for
    given = emu.inject_raw({"update_id": weird + 10, "message": {"message_id": 1}})  # malformed message
    assert weird == first + 1 and given == weird + 10
    query = {"callback_query": {"id": "777", "from": aino, "chat_instance": "1", "data": "x"}}
    emu.inject_raw(query)
    status, body = await api(emu, "getUpdates", allowed_updates=["message"])
    assert status == 200
    assert body["result"] == [{"update_id": first, **poison}, {"update_id": weird, "something_new": {"x": 1}},
                              {"update_id": given, "message": {"message_id": 1}},
                              {"update_id": given + 1, **query}]
    status, _body = await api(emu, "answerCallbackQuery", callback_query_id="777")
    assert status == 200  # a raw callback query can be answered like a pressed one
    assert emu.calls_of("getUpdates")[0].params["allowed_updates"] == ["message"]
