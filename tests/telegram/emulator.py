"""A Telegram Bot API emulator for tests: an aiohttp server on 127.0.0.1 that answers the
methods the bot uses with replies shaped as Telegram's (python-telegram-bot parses them
strictly), a test-side API to act as users, fault injection and a log of every call.

    emu = await BotApiEmulator().start()
    ... ExtBot(emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url) ...
    alice = emu.user("Alice"); group = emu.group("Kehrä Maunula")
    emu.post(group, alice, "/idea A summer terrace")
    call = await emu.wait_call("sendMessage")

It is as strict as the Bot API where the bot could get it wrong:

- parse_mode=HTML is parsed like Telegram's parser (TDLib's ``parse_html``), with its error
  texts ("Bad Request: can't parse entities: Unsupported start tag "div" at byte offset 0").
  With ``html_pedantic`` (the default) it also refuses what Telegram accepts but shows other
  than meant: attributes Telegram ignores, ``<a>`` without href, a ``&`` that does not start
  ``&lt; &gt; &amp; &quot;`` or a numeric reference, ``&nbsp;`` and other named entities
  (Telegram shows them literally).
- privacy mode (``privacy = True``): in groups only commands for this bot, replies to the
  bot, mentions of it and service messages reach it.
- callback queries can be answered once, within ``callback_timeout`` seconds.
- getUpdates forgets an update only when a later call confirms it with a greater offset; a
  newer getUpdates ends one still waiting with 409 Conflict.
- forum topics: a supergroup made with ``group(forum=True)`` has ``is_forum``; a topic
  (``open_topic`` by a person, ``createForumTopic`` by the bot, which must be an admin with
  ``can_manage_topics``) begins with a ``forum_topic_created`` service message whose id is the
  topic's ``message_thread_id``; messages in it carry that id and ``is_topic_message``, and are
  replies to that service message unless they reply to another one. A send with
  ``message_thread_id`` to a thread that does not exist (or outside a forum) fails with
  400 "Bad Request: message thread not found".
- reactions: ``message_reaction`` updates (old_reaction / new_reaction of one person) reach
  the bot only where it is an admin of the group (or in a private chat), when it asked for
  them in ``allowed_updates``; never for reactions set by bots.
- faults before a method runs ("429", "500", "502", "403", "drop") and after it took effect
  ("500_after", "502_after", "drop_after", "timeout_after"), and raw (malformed) updates.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

BOT_ID = 7000000001


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float  # time.monotonic() when the request arrived
    #: the HTTP status the client saw; -1: the connection was closed without an answer,
    #: -2: the answer was held back until the client gave up ("timeout_after")
    status: int = 200
    result: Any = None
    #: the method was carried out (also when an "…_after" fault then hid the answer)
    effect: bool = False


#: fault kinds that hit after the method was carried out (the message exists, the client
#: does not know): an error status, a closed connection, or no answer until the client gives up
AFTER_FAULTS = frozenset({"500_after", "502_after", "drop_after", "timeout_after"})


@dataclass
class Fault:
    kind: str  # "429" | "500" | "502" | "403" | any status | "drop" | one of AFTER_FAULTS
    retry_after: int = 1
    count: int = 1
    hold: float | None = None  # "timeout_after": seconds to hold the answer (None: until the client gives up)

    @property
    def after(self) -> bool:
        return self.kind in AFTER_FAULTS


_ERROR_TEXTS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden: bot can't initiate conversation with a user",
                404: "Not Found", 409: "Conflict", 500: "Internal Server Error", 502: "Bad Gateway"}

QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
POLL_CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"


# -- Telegram's HTML parse mode ---------------------------------------------------------------

#: the tags Telegram's HTML parse mode accepts
TELEGRAM_TAGS = frozenset({"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
                           "tg-spoiler", "span", "blockquote", "tg-emoji"})
#: the attributes Telegram reads; with ``pedantic`` any other attribute is refused
TELEGRAM_ATTRIBUTES = {"a": {"href"}, "code": {"class"}, "span": {"class"}, "tg-emoji": {"emoji-id"},
                       "blockquote": {"expandable"}}
_NAMED_ENTITIES = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}
_SPACES = frozenset(b" \t\r\n\v")
_ENTITY_TYPES = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
                 "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
                 "tg-spoiler": "spoiler", "span": "spoiler"}


class TelegramHtmlError(ValueError):
    """Why Telegram refuses the text: the part after "can't parse entities: "."""


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _utf16_slice(text: str, offset: int, length: int) -> str:
    return text.encode("utf-16-le")[2 * offset: 2 * (offset + length)].decode("utf-16-le", "replace")


class _HtmlParser:
    """Telegram's HTML parse mode, byte by byte as TDLib's ``parse_html`` reads it (so the
    byte offsets in the errors are Telegram's), plus the ``pedantic`` checks."""

    def __init__(self, html: str, pedantic: bool) -> None:
        self.data = html.encode("utf-8")
        self.pedantic = pedantic
        self.out = bytearray()
        self.utf16 = 0  # UTF-16 length of ``out``
        self.entities: list[dict] = []
        self.open: list[tuple[str, dict[str, str], int, int]] = []  # (tag, attributes, utf16 offset, byte offset)

    def at(self, i: int) -> int:
        return self.data[i] if i < len(self.data) else 0

    def space(self, i: int) -> bool:
        return i >= len(self.data) or self.data[i] in _SPACES

    def append(self, text: str) -> None:
        raw = text.encode("utf-8")
        self.out += raw
        self.utf16 += _utf16_len(text)

    # entities: "&lt;" "&#60;" "&#x3c;"; like TDLib the ";" may be missing
    def entity(self, i: int) -> tuple[str | None, int, bytes, bool]:
        """(the character or None, the index after the reference, the name, ";" seen)"""
        j = i + 1
        name = b""
        char: str | None = None
        if self.at(j) == ord("#"):
            j += 1
            digits = "0123456789abcdefABCDEF" if self.at(j) == ord("x") else "0123456789"
            base = 16 if self.at(j) == ord("x") else 10
            if base == 16:
                j += 1
            start = j
            while j < len(self.data) and chr(self.data[j]) in digits:
                j += 1
            value = int(self.data[start:j], base) if j > start else 0
            if 0 < value < 0x10FFFF and j - i < 10:
                if 0xD800 <= value <= 0xDFFF:
                    raise TelegramHtmlError("Text contains invalid Unicode characters after decoding HTML entities, "
                                            "check for unmatched surrogate code units")
                char = chr(value)
        else:
            while j < len(self.data) and chr(self.data[j]).isascii() and chr(self.data[j]).isalpha():
                j += 1
            name = self.data[i + 1:j]
            char = _NAMED_ENTITIES.get(name)
        semicolon = self.at(j) == ord(";")
        return char, j + 1 if semicolon and char is not None else j, name, semicolon

    def ampersand(self, i: int) -> tuple[str | None, int]:
        char, end, name, semicolon = self.entity(i)
        if self.pedantic:
            if char is None and name and semicolon:
                raise TelegramHtmlError(f"Unsupported HTML entity \"&{name.decode()};\" at byte offset {i}; "
                                        "only &lt; &gt; &amp; &quot; and numeric ones are supported")
            if char is None:
                raise TelegramHtmlError(f"Character \"&\" at byte offset {i} must be escaped as \"&amp;\"")
            if not semicolon:
                raise TelegramHtmlError(f"HTML entity at byte offset {i} must end with \";\"")
        return char, end

    def parse(self) -> tuple[str, list[dict]]:
        data, n, i = self.data, len(self.data), 0
        while i < n:
            c = data[i]
            if c == ord("&"):
                char, end = self.ampersand(i)
                if char is not None:
                    self.append(char)
                    i = end
                    continue
            if c != ord("<"):
                self.out.append(c)
                if c & 0xC0 != 0x80:  # the first byte of a character
                    self.utf16 += 2 if c >= 0xF0 else 1
                i += 1
                continue
            i = self.end_tag(i) if self.at(i + 1) == ord("/") else self.start_tag(i)
        if self.open:
            raise TelegramHtmlError(f"Can't find end tag corresponding to start tag {self.open[-1][0]}")
        for entity in self.entities:
            if entity["type"] == "code":
                entity.pop("language", None)
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return self.out.decode("utf-8"), self.entities

    def start_tag(self, begin: int) -> int:
        i = begin + 1
        while not self.space(i) and self.at(i) != ord(">"):
            i += 1
        if i >= len(self.data):
            raise TelegramHtmlError(f"Unclosed start tag at byte offset {begin}")
        tag = self.data[begin + 1:i].decode("utf-8", "replace").lower()
        if tag not in TELEGRAM_TAGS:
            raise TelegramHtmlError(f"Unsupported start tag \"{tag}\" at byte offset {begin}")
        attrs: dict[str, str] = {}
        while self.at(i) != ord(">"):
            while i < len(self.data) and self.space(i):
                i += 1
            if self.at(i) == ord(">"):
                break
            name_start = i
            while not self.space(i) and self.at(i) not in (ord("="), ord(">")):
                i += 1
            name = self.data[name_start:i].decode("utf-8", "replace")
            if not name:
                raise TelegramHtmlError(f"Empty attribute name in the tag \"{tag}\" at byte offset {begin}")
            while i < len(self.data) and self.space(i):
                i += 1
            if self.at(i) != ord("="):
                if tag == "blockquote" and name == "expandable":  # the one attribute without a value
                    attrs[name] = ""
                    if i >= len(self.data):
                        raise TelegramHtmlError(f"Unclosed start tag at byte offset {begin}")
                    continue
                raise TelegramHtmlError("Expected equal sign in declaration of an attribute of the tag "
                                        f"\"{tag}\" at byte offset {begin}")
            i += 1
            while i < len(self.data) and self.space(i):
                i += 1
            if i >= len(self.data):
                raise TelegramHtmlError(f"Unclosed start tag \"{tag}\" at byte offset {begin}")
            quote = self.at(i)
            if quote not in (ord("'"), ord('"')):  # a name token: letters, digits, "." and "-"
                token_start = i
                while i < len(self.data) and (chr(self.data[i]).isascii() and chr(self.data[i]).isalnum()
                                              or self.data[i] in b".-"):
                    i += 1
                value = self.data[token_start:i].decode().lower()
                if not self.space(i) and self.at(i) != ord(">"):
                    raise TelegramHtmlError(f"Unexpected end of name token at byte offset {token_start}")
            else:
                i += 1
                parts: list[str] = []
                chunk = bytearray()
                while i < len(self.data) and self.data[i] != quote:
                    if self.data[i] == ord("&"):
                        char, end = self.ampersand(i)
                        if char is not None:
                            parts.append(chunk.decode("utf-8", "replace") + char)
                            chunk.clear()
                            i = end
                            continue
                    chunk.append(self.data[i])
                    i += 1
                parts.append(chunk.decode("utf-8", "replace"))
                value = "".join(parts)
                if i < len(self.data):
                    i += 1  # the closing quote
            if i >= len(self.data):
                raise TelegramHtmlError(f"Unclosed start tag at byte offset {begin}")
            if self.pedantic and name not in TELEGRAM_ATTRIBUTES.get(tag, ()):
                raise TelegramHtmlError(f"Unsupported attribute \"{name}\" in the tag \"{tag}\" at byte offset {begin}")
            attrs[name] = value
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise TelegramHtmlError(f"Tag \"span\" must have class \"tg-spoiler\" at byte offset {begin}")
        if self.pedantic:
            if tag == "a" and not attrs.get("href"):
                raise TelegramHtmlError(f"Tag \"a\" must have a non-empty attribute \"href\" at byte offset {begin}")
            if tag == "code" and "class" in attrs:
                if not attrs["class"].startswith("language-"):
                    raise TelegramHtmlError(f"The class of the tag \"code\" must start with \"language-\" "
                                            f"at byte offset {begin}")
                if not self.open or self.open[-1][0] != "pre":
                    raise TelegramHtmlError(f"Tag \"code\" with a language must be directly inside \"pre\" "
                                            f"at byte offset {begin}")
        self.open.append((tag, attrs, self.utf16, len(self.out)))
        return i + 1

    def end_tag(self, begin: int) -> int:
        if not self.open:
            raise TelegramHtmlError(f"Unexpected end tag at byte offset {begin}")
        i = begin + 2
        while not self.space(i) and self.at(i) != ord(">"):
            i += 1
        name = self.data[begin + 2:i].decode("utf-8", "replace").lower()
        while i < len(self.data) and self.space(i):
            i += 1
        if self.at(i) != ord(">"):
            raise TelegramHtmlError(f"Unclosed end tag at byte offset {begin}")
        tag, attrs, offset, start = self.open[-1]
        if name and name != tag:
            raise TelegramHtmlError(f"Unmatched end tag at byte offset {begin}, expected \"</{tag}>\", "
                                    f"found \"</{name}>\"")
        self.open.pop()
        length = self.utf16 - offset
        if length > 0:
            self.add_entity(tag, attrs, offset, length, self.out[start:].decode("utf-8", "replace"))
        return i + 1

    def add_entity(self, tag: str, attrs: dict[str, str], offset: int, length: int, inner: str) -> None:
        entity: dict[str, Any] = {"offset": offset, "length": length}
        if tag in _ENTITY_TYPES:
            entity["type"] = _ENTITY_TYPES[tag]
        elif tag == "tg-emoji":
            emoji_id = attrs.get("emoji-id", "")
            if not emoji_id.isdigit() or int(emoji_id) == 0:
                raise TelegramHtmlError("Invalid custom emoji identifier specified")
            entity.update(type="custom_emoji", custom_emoji_id=emoji_id)
        elif tag == "a":
            url = attrs.get("href") or inner  # without href the text is the link
            user = re.fullmatch(r"tg://user\?id=(\d+)", url)
            if user:
                entity.update(type="text_mention", user={"id": int(user.group(1)), "is_bot": False,
                                                         "first_name": f"User{user.group(1)}"})
            elif re.fullmatch(r"(?i)([a-z][a-z0-9+.-]*://)?[^\s/$.?#]+\.[^\s]*|tg://\S+", url):
                entity.update(type="text_link", url=url if "://" in url else f"http://{url}")
            else:
                return  # Telegram drops a link it cannot read
        elif tag == "code":
            entity["type"] = "code"
            if attrs.get("class", "").startswith("language-"):
                entity["language"] = attrs["class"][len("language-"):]
        elif tag == "pre":
            last = self.entities[-1] if self.entities else None
            if (last and last["type"] == "code" and last["offset"] == offset and last["length"] == length
                    and last.get("language")):
                last["type"] = "pre"  # <pre><code class="language-x">…</code></pre>
                return
            entity["type"] = "pre"
        elif tag == "blockquote":
            entity["type"] = "expandable_blockquote" if "expandable" in attrs else "blockquote"
        self.entities.append(entity)


def parse_html(html: str, *, pedantic: bool = True) -> tuple[str, list[dict]]:
    """The text and the entities Telegram makes of ``html`` in HTML parse mode; raises
    :class:`TelegramHtmlError` where Telegram (or, with ``pedantic``, a careful reader) refuses it."""
    return _HtmlParser(html, pedantic).parse()


class _LenientHtml(HTMLParser):
    """Plain text of any HTML, for looking at what the bot sent (never refuses)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(html: str, *, strict: bool = False) -> str:
    """The text Telegram shows for ``html``; with ``strict`` an error (ValueError) where
    Telegram refuses it."""
    try:
        return parse_html(html, pedantic=strict)[0]
    except TelegramHtmlError:
        if strict:
            raise
    p = _LenientHtml()
    p.feed(html)
    p.close()
    return "".join(p.parts)


def _strip(text: str, entities: list[dict]) -> tuple[str, list[dict]]:
    """Telegram trims the text's ends; the entities follow (and end inside the text)."""
    stripped = text.strip()
    if not entities or stripped == text:
        return stripped, entities
    lead = _utf16_len(text[: len(text) - len(text.lstrip())])
    size = _utf16_len(stripped)
    kept = []
    for e in entities:
        start, end = max(e["offset"] - lead, 0), min(e["offset"] + e["length"] - lead, size)
        if end > start:
            kept.append({**e, "offset": start, "length": end - start})
    return stripped, kept


def _entities(text: str) -> list[dict]:
    """bot_command, hashtag and mention entities as Telegram reports them (UTF-16 offsets)."""
    out = []
    for kind, pattern in (("bot_command", r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@\w+)?"),
                          ("hashtag", r"(?<![\w#])#\w+"), ("mention", r"(?<!\w)@\w{5,32}")):
        for m in re.finditer(pattern, text):
            offset = len(text[: m.start()].encode("utf-16-le")) // 2
            length = len(m.group(0).encode("utf-16-le")) // 2
            out.append({"type": kind, "offset": offset, "length": length})
    return sorted(out, key=lambda e: e["offset"])


#: message fields that make it a service message (privacy mode lets them through)
SERVICE_FIELDS = frozenset({
    "new_chat_members", "left_chat_member", "new_chat_title", "new_chat_photo", "delete_chat_photo",
    "group_chat_created", "supergroup_chat_created", "channel_chat_created", "migrate_to_chat_id",
    "migrate_from_chat_id", "pinned_message", "message_auto_delete_timer_changed", "forum_topic_created",
    "video_chat_started", "video_chat_ended", "chat_shared", "users_shared", "write_access_allowed",
})


def max_in_window(stamps: list[float], period: float) -> int:
    """The largest number of stamps (call times) inside any window of ``period`` seconds."""
    stamps = sorted(stamps)
    best, start = 0, 0
    for end, t in enumerate(stamps):
        while t - stamps[start] >= period:
            start += 1
        best = max(best, end - start + 1)
    return best


class BotApiEmulator:
    def __init__(self, token: str = "7000000001:TEST-token", username: str = "kehra_test_bot", *,
                 privacy: bool = False) -> None:
        self.token = token
        self.bot_user = {"id": BOT_ID, "is_bot": True, "first_name": "Kehräbot", "username": username,
                         "can_join_groups": True, "can_read_all_group_messages": not privacy,
                         "supports_inline_queries": False}
        self.port = 0
        self.calls: list[Call] = []
        self.updates: list[dict] = []  # fetched or not, until a getUpdates offset confirms them
        self.allowed_updates: list[str] | None = None
        self.commands: dict[tuple[str, str], list[dict]] = {}  # (scope type, language) -> commands
        self.messages: dict[tuple[int, int], dict] = {}
        self.polls: dict[str, dict] = {}  # poll id -> poll object
        self.poll_messages: dict[str, tuple[int, int]] = {}
        self.admins: dict[int, dict[int, str]] = {}  # chat id -> user id -> creator|administrator
        self.reactions: dict[tuple[int, int, int], list[str]] = {}
        #: chat id -> message_thread_id -> the topic (name, icon_color) of forum supergroups
        self.topics: dict[int, dict[int, dict]] = {}
        #: (chat id, user id) -> administrator rights that differ from all-granted
        self.rights: dict[tuple[int, int], dict[str, bool]] = {}
        self.chats: dict[int, dict] = {}  # groups made by group()
        self.withheld_reactions: list[dict] = []  # reactions Telegram would not send this bot
        self.answers: list[dict] = []  # params of the answerCallbackQuery calls that were accepted
        self.webhook: dict | None = None
        self.members: dict[int, set[int]] = {}  # chat id -> user ids (joined by acting there)
        self.webhook_deliveries: list[tuple[int, int]] = []  # (update id, HTTP status)
        self.migrated: dict[int, int] = {}  # group id -> its supergroup's id
        self.supergroups: dict[int, dict] = {}  # made by upgrade()
        self.withheld: list[dict] = []  # group messages privacy mode kept from the bot
        self._deliveries: set[asyncio.Task] = set()
        self.faults: dict[str, list[Fault]] = {}
        self.latency = 0.0  # seconds added to every reply
        #: HTML parse mode also refuses what Telegram accepts but shows other than meant
        self.html_pedantic = True
        #: seconds after the press within which a callback query can be answered
        self.callback_timeout = 15.0
        self._queries: dict[str, float] = {}  # callback query id -> time.monotonic() of the press
        self._answered: set[str] = set()
        self._raw_ids: set[int] = set()  # injected updates: delivered whatever allowed_updates says
        self._poll_generation = 0  # the newest getUpdates; older ones still waiting end with 409
        self._update_ids = itertools.count(100001)
        self._message_ids: dict[int, itertools.count] = {}
        self._user_ids = itertools.count(1001)
        self._group_ids = itertools.count(1)
        self._poll_ids = itertools.count(5000000001)
        self._file_ids = itertools.count(1)
        self._callback_ids = itertools.count(900000001)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None

    @property
    def privacy(self) -> bool:
        """Privacy mode (BotFather's /setprivacy): in groups where the bot is no admin it gets
        only commands (``/cmd``, ``/cmd@thisbot``; not ``/cmd@otherbot``), replies to its own
        messages, messages mentioning ``@username`` and service messages. Private chats, button
        presses, votes and reactions are not affected."""
        return not self.bot_user["can_read_all_group_messages"]

    @privacy.setter
    def privacy(self, on: bool) -> None:
        self.bot_user["can_read_all_group_messages"] = not on

    # -- server ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def start(self, port: int | None = None) -> BotApiEmulator:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.2, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port if port is not None else self.port, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        """Go away (connections refused until :meth:`start` again; the state is kept)."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            async with self._changed:
                self._changed.notify_all()
            await runner.cleanup()

    # -- test-side API: people and chats ---------------------------------------------------------

    def user(self, first_name: str, *, lang: str | None = "fi", username: str | None = None) -> dict:
        user = {"id": next(self._user_ids), "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        if lang:
            user["language_code"] = lang
        return user

    def group(self, title: str = "Kehrä", *, basic: bool = False, forum: bool = False) -> dict:
        """A supergroup, or with ``basic`` a plain group (small ids; it can become a supergroup);
        with ``forum`` a supergroup with topics (``is_forum``)."""
        n = next(self._group_ids)
        if basic:
            chat = {"id": -n, "type": "group", "title": title}
        else:
            chat = {"id": -1000000000000 - n, "type": "supergroup", "title": title}
            if forum:
                chat["is_forum"] = True
                self.topics[chat["id"]] = {}
        self.chats[chat["id"]] = chat
        return chat

    def _new_topic(self, chat: dict, creator: dict, name: str, icon_color: int = 0x6FB9F0) -> dict:
        """A topic and its forum_topic_created service message (the thread's id is the message's)."""
        msg = {"message_id": self._next_message_id(chat["id"]), "date": int(time.time()), "chat": chat,
               "from": creator, "is_topic_message": True,
               "forum_topic_created": {"name": name, "icon_color": icon_color}}
        msg["message_thread_id"] = msg["message_id"]
        self.messages[(chat["id"], msg["message_id"])] = msg
        topic = {"message_thread_id": msg["message_id"], "name": name, "icon_color": icon_color}
        self.topics[chat["id"]][msg["message_id"]] = topic
        return msg

    def open_topic(self, chat: dict, user: dict, name: str) -> int:
        """``user`` opens a topic in the forum ``chat``; returns its message_thread_id."""
        assert chat.get("is_forum"), "topics are for forum supergroups"
        self.join(chat, user)
        msg = self._new_topic(chat, user, name)
        self._push("message", msg)
        return msg["message_thread_id"]

    def _thread(self, chat: dict, thread: int | None) -> None:
        if thread is not None and thread not in self.topics.get(chat["id"], {}):
            raise _ApiError(400, "Bad Request: message thread not found")

    def upgrade(self, chat: dict, user: dict, *, announce: bool = True) -> dict:
        """``user`` turns the group into a supergroup with a new id, as Telegram does: service
        messages in both chats (unless ``announce`` is False), and calls to the old id fail with
        ``migrate_to_chat_id``. Returns the new chat."""
        new = {"id": -1000000000000 - next(self._group_ids), "type": "supergroup", "title": chat["title"]}
        self.migrated[chat["id"]] = new["id"]
        self.supergroups[new["id"]] = new
        self.members[new["id"]] = set(self.members.get(chat["id"], set()))
        self.admins[new["id"]] = dict(self.admins.get(chat["id"], {}))
        if announce:
            for where, field_name, other in ((chat, "migrate_to_chat_id", new), (new, "migrate_from_chat_id", chat)):
                msg = {"message_id": self._next_message_id(where["id"]), "date": int(time.time()), "chat": where,
                       "from": user, field_name: other["id"]}
                self.messages[(where["id"], msg["message_id"])] = msg
                self._push("message", msg)
        return new

    @staticmethod
    def private(user: dict) -> dict:
        return {"id": user["id"], "type": "private", "first_name": user["first_name"]}

    def join(self, chat: dict, user: dict) -> None:
        self.members.setdefault(chat["id"], set()).add(user["id"])

    def set_admin(self, chat: dict, user: dict, status: str = "administrator", **rights: bool) -> None:
        """``user`` becomes an admin of ``chat`` (``emu.bot_user`` too: an admin bot hears
        everything, privacy mode or not, and gets reactions); ``rights`` that are not granted
        (``can_manage_topics=False``); every other right is."""
        self.admins.setdefault(chat["id"], {})[user["id"]] = status
        self.rights[(chat["id"], user["id"])] = dict(rights)

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _hears(self, msg: dict) -> bool:
        """Whether the bot gets ``msg`` (privacy mode)."""
        chat = msg.get("chat", {})
        if not self.privacy or chat.get("type") not in ("group", "supergroup"):
            return True
        if self.admins.get(chat.get("id"), {}).get(BOT_ID) or SERVICE_FIELDS & msg.keys():
            return True
        if (msg.get("reply_to_message") or {}).get("from", {}).get("id") == BOT_ID:
            return True
        text = msg.get("text") or msg.get("caption") or ""
        me = self.bot_user["username"].lower()
        for e in msg.get("entities") or msg.get("caption_entities") or []:
            part = _utf16_slice(text, e["offset"], e["length"])
            if e["type"] == "bot_command" and e["offset"] == 0:
                _command, _at, target = part.partition("@")
                if not target or target.lower() == me:
                    return True
            if e["type"] == "mention" and part[1:].lower() == me:
                return True
        return False

    def _push(self, kind: str, payload: dict) -> dict:
        if kind in ("message", "edited_message") and not self._hears(payload):
            update = {"update_id": None, kind: payload}
            self.withheld.append(update)
            return update
        update = {"update_id": next(self._update_ids), kind: payload}
        self._enqueue(update)
        return update

    def _enqueue(self, update: dict) -> None:
        loop = asyncio.get_running_loop()
        if self.webhook:
            task = loop.create_task(self._deliver(update))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)
        else:
            self.updates.append(update)
            loop.create_task(self._notify())

    async def _deliver(self, update: dict) -> None:
        """Webhook mode: POST the update to the bot, retrying a failed delivery like Telegram."""
        import aiohttp

        assert self.webhook is not None
        headers = {}
        if self.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
        async with aiohttp.ClientSession() as session:
            for _attempt in range(5):
                try:
                    async with session.post(self.webhook["url"], json=update, headers=headers) as resp:
                        self.webhook_deliveries.append((update["update_id"], resp.status))
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    self.webhook_deliveries.append((update["update_id"], -1))
                await asyncio.sleep(0.2)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def post(self, chat: dict, user: dict, text: str, *, reply_to: int | None = None,
             thread: int | None = None) -> dict:
        """The person writes ``text`` in ``chat`` (in the forum topic ``thread``); returns the
        update (its update_id is None when privacy mode kept the message from the bot)."""
        self.join(chat, user)
        if thread is not None:
            assert thread in self.topics.get(chat["id"], {}), f"no topic {thread} in {chat['id']}"
        msg = {"message_id": self._next_message_id(chat["id"]), "date": int(time.time()), "chat": chat,
               "from": user, "text": text}
        entities = _entities(text)
        if entities:
            msg["entities"] = entities
        if thread is not None:
            msg.update(message_thread_id=thread, is_topic_message=True)
            msg["reply_to_message"] = self.messages[(chat["id"], thread)]  # the topic's first message
        if reply_to is not None:
            msg["reply_to_message"] = self.messages[(chat["id"], reply_to)]
        self.messages[(chat["id"], msg["message_id"])] = msg
        return self._push("message", msg)

    def edit(self, chat: dict, user: dict, message_id: int, text: str) -> dict:
        """The person edits their message ``message_id`` to ``text``; returns the update."""
        msg = dict(self.messages[(chat["id"], message_id)], text=text, edit_date=int(time.time()))
        assert msg["from"]["id"] == user["id"], "only the author edits"
        msg.pop("entities", None)
        entities = _entities(text)
        if entities:
            msg["entities"] = entities
        self.messages[(chat["id"], message_id)] = msg
        return self._push("edited_message", msg)

    def redeliver(self, update: dict) -> dict:
        """Deliver an update again under a new update id (as after a lost confirmation)."""
        kind = next(k for k in update if k != "update_id")
        return self._push(kind, update[kind])

    def inject_raw(self, update: dict) -> int:
        """Queue ``update`` exactly as given (any shape, e.g. a poll_answer without
        option_persistent_ids), past privacy mode and allowed_updates; an update_id is added
        unless given. A callback query in it can be answered. Returns the update_id."""
        update = dict(update)
        if update.get("update_id") is None:
            update = {"update_id": next(self._update_ids), **update}
        else:  # later ids stay greater
            self._update_ids = itertools.count(max(next(self._update_ids), int(update["update_id"]) + 1))
        query = update.get("callback_query")
        if isinstance(query, dict) and isinstance(query.get("id"), str):
            self._queries[query["id"]] = time.monotonic()
        self._raw_ids.add(update["update_id"])
        self._enqueue(update)
        return update["update_id"]

    def press(self, chat: dict, user: dict, message_id: int, data: str) -> str:
        """The person presses the inline button with ``data`` on the bot's message; returns
        the callback query id (answerable once, within ``callback_timeout`` seconds)."""
        msg = self.messages[(chat["id"], message_id)]
        rows = msg.get("reply_markup", {}).get("inline_keyboard", [])
        if not any(b.get("callback_data") == data for row in rows for b in row):
            raise AssertionError(f"message {message_id} has no button {data!r}: {rows}")
        query_id = str(next(self._callback_ids))
        self._queries[query_id] = time.monotonic()
        self._push("callback_query", {"id": query_id, "from": user, "message": msg,
                                      "chat_instance": str(-chat["id"]), "data": data})
        return query_id

    def buttons(self, chat: dict, message_id: int) -> list[dict]:
        msg = self.messages[(chat["id"], message_id)]
        return [b for row in msg.get("reply_markup", {}).get("inline_keyboard", []) for b in row]

    def answer_poll(self, user: dict, poll_id: str, option_ids: list[int]) -> None:
        poll = self.polls[poll_id]
        self.members.setdefault(self.poll_messages[poll_id][0], set()).add(user["id"])
        if poll["is_closed"]:
            return  # Telegram ignores votes in a closed poll
        self._push("poll_answer", {
            "poll_id": poll_id, "user": user, "option_ids": option_ids,
            "option_persistent_ids": [poll["options"][i]["persistent_id"] for i in option_ids],
        })

    def react(self, chat: dict, user: dict, message_id: int, emojis: list[str]) -> None:
        """The person's reactions on the message become ``emojis`` (empty = removed). The update
        reaches the bot only where it is an admin (private chats: always), never for a bot's
        reaction (and only when allowed_updates asks for message_reaction, see getUpdates)."""
        assert (chat["id"], message_id) in self.messages, f"no message {message_id} in {chat['id']}"
        key = (chat["id"], message_id, user["id"])
        old = self.reactions.get(key, [])
        self.reactions[key] = list(emojis)
        update = {
            "chat": chat, "message_id": message_id, "user": user, "date": int(time.time()),
            "old_reaction": [{"type": "emoji", "emoji": e} for e in old],
            "new_reaction": [{"type": "emoji", "emoji": e} for e in emojis],
        }
        admin = chat.get("type") == "private" or self.admins.get(chat["id"], {}).get(BOT_ID)
        if not admin or user.get("is_bot"):
            self.withheld_reactions.append(update)
            return
        self._push("message_reaction", update)

    # -- test-side API: faults and observation --------------------------------------------------

    def fail(self, method: str, kind: str, *, count: int = 1, retry_after: int = 1,
             hold: float | None = None) -> None:
        """The next ``count`` calls of ``method`` ("*" = any but getUpdates) fail with ``kind``:
        before the method runs, "429" (with ``retry_after``), another status ("500", "502",
        "403", …) or "drop" (the connection closes unanswered); after it took effect (the
        message is sent and stored, the call counts in :meth:`calls_of`), "500_after",
        "502_after", "drop_after" or "timeout_after" (no answer until the client gives up, or
        for ``hold`` seconds, then the connection closes). A call the method itself refuses
        (400 …) uses an "…_after" fault up without effect."""
        if kind not in AFTER_FAULTS and kind != "drop" and not re.fullmatch(r"[1-5]\d\d", kind):
            raise ValueError(f"unknown fault kind {kind!r}")
        self.faults.setdefault(method, []).append(Fault(kind, retry_after, count, hold))

    def calls_of(self, method: str, *, ok: bool = True) -> list[Call]:
        """The calls of ``method``; with ``ok`` those not refused: in flight (a getUpdates that
        waits), answered 200, or carried out before an "…_after" fault hid the answer."""
        return [c for c in self.calls if c.method == method and (not ok or c.effect or c.status == 200)]

    def sent_texts(self, chat: dict | None = None) -> list[str]:
        """The texts of the messages the bot really sent (to ``chat``), duplicates included."""
        return [html_to_text(c.params["text"]) for c in self.calls_of("sendMessage")
                if chat is None or int(c.params["chat_id"]) == chat["id"]]

    async def wait_call(self, method: str, count: int = 1, *, within: float = 10.0, where=None) -> Call:
        """Wait until ``count`` calls of ``method`` (matching ``where``) were made and not refused
        (see :meth:`calls_of`); return the last of them."""
        deadline = time.monotonic() + within
        while True:
            found = [c for c in self.calls_of(method) if where is None or where(c)]
            if len(found) >= count:
                return found[count - 1]
            if time.monotonic() > deadline:
                raise TimeoutError(f"{method}: {len(found)} of {count} calls after {within}s; "
                                   f"calls: {[c.method for c in self.calls[-20:]]}")
            await asyncio.sleep(0.01)

    async def wait_idle(self, quiet: float = 0.3, within: float = 20.0) -> None:
        """Wait until every update was fetched and confirmed and no call but getUpdates came
        for ``quiet`` s."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            busy = [c for c in self.calls if c.method != "getUpdates"]
            last = busy[-1].at if busy else 0.0
            if not self.updates and time.monotonic() - last >= quiet:
                return
            await asyncio.sleep(0.02)
        raise TimeoutError("the bot did not go idle")

    # -- the API --------------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        ctype = request.content_type
        if ctype == "application/json":
            params.update(await request.json())
        elif ctype == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if part.filename:
                    params[part.name] = {"filename": part.filename, "data": await part.read()}
                else:
                    params[part.name] = await part.text()
        elif request.can_read_body:
            params.update(dict(await request.post()))
        return params

    @staticmethod
    def _json(params: dict, name: str, default: Any = None) -> Any:
        value = params.get(name, default)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    @staticmethod
    def _error(call: Call, code: int, description: str, parameters: dict | None = None) -> web.Response:
        call.status = code
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=code)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = await self._params(request)
        call = Call(method, params, time.monotonic())
        self.calls.append(call)
        if request.match_info["token"] != self.token:
            return self._error(call, 401, "Unauthorized")
        fault = self._take_fault(method)
        if fault is not None and not fault.after:
            if fault.kind == "drop":
                return self._hang_up(call, request)
            if fault.kind == "429":
                return self._error(call, 429, f"Too Many Requests: retry after {fault.retry_after}",
                                   {"retry_after": fault.retry_after})
            code = int(fault.kind)
            return self._error(call, code, _ERROR_TEXTS.get(code, "Error"))
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return self._error(call, 404, "Not Found: method not found")
        if self.latency:
            await asyncio.sleep(self.latency)
        try:
            result = await handler(params)
        except _ApiError as err:
            return self._error(call, err.code, err.description, err.parameters)
        call.result = result
        call.effect = True
        if fault is not None:  # it took effect, but the client is not told
            if fault.kind == "drop_after":
                return self._hang_up(call, request)
            if fault.kind == "timeout_after":
                call.status = -2
                until = time.monotonic() + (fault.hold if fault.hold is not None else 120.0)
                while time.monotonic() < until and self._runner is not None:
                    transport = request.transport
                    if transport is None or transport.is_closing():  # the client gave up
                        break
                    await asyncio.sleep(0.02)
                return self._hang_up(call, request)
            code = int(fault.kind[:3])
            return self._error(call, code, _ERROR_TEXTS[code])
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _hang_up(call: Call, request: web.Request) -> web.Response:
        """The connection goes away without an answer."""
        if call.status == 200:
            call.status = -1
        if request.transport is not None:
            request.transport.close()
        return web.Response()

    def _take_fault(self, method: str) -> Fault | None:
        for key in (method, "*"):
            if key == "*" and method == "getUpdates":
                continue
            queue = self.faults.get(key)
            if queue:
                fault = queue[0]
                fault.count -= 1
                if fault.count <= 0:
                    queue.pop(0)
                return fault
        return None

    def _chat(self, params: dict) -> dict:
        chat_id = int(params["chat_id"])
        if chat_id in self.migrated:
            raise _ApiError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                            {"migrate_to_chat_id": self.migrated[chat_id]})
        for msg in self.messages.values():
            if msg["chat"]["id"] == chat_id:
                return msg["chat"]
        if chat_id in self.supergroups:
            return self.supergroups[chat_id]
        if chat_id in self.chats:
            return self.chats[chat_id]
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "User"}
        raise _ApiError(400, "Bad Request: chat not found")

    def _bot_message(self, params: dict, **content) -> dict:
        chat = self._chat(params)
        thread = int(params["message_thread_id"]) if params.get("message_thread_id") else None
        self._thread(chat, thread)
        msg = {"message_id": self._next_message_id(chat["id"]), "date": int(time.time()), "chat": chat,
               "from": self.bot_user, **{k: v for k, v in content.items() if v}}
        if thread is not None:
            msg.update(message_thread_id=thread, is_topic_message=True)
        markup = self._json(params, "reply_markup")
        if markup:
            msg["reply_markup"] = markup
        reply = self._json(params, "reply_parameters")
        if reply and (chat["id"], reply["message_id"]) in self.messages:
            msg["reply_to_message"] = self.messages[(chat["id"], reply["message_id"])]
        self.messages[(chat["id"], msg["message_id"])] = msg
        return msg

    def _formatted(self, params: dict, name: str = "text") -> tuple[str, list[dict]]:
        """The text (or caption) of a call as Telegram reads it: parsed when parse_mode is HTML,
        trimmed; the entities it makes."""
        text = params.get(name) or ""
        if isinstance(text, str) and re.search(r"[\ud800-\udfff]", text):
            raise _ApiError(400, "Bad Request: strings must be encoded in UTF-8")
        entities: list[dict] = []
        if str(params.get("parse_mode") or "").upper() == "HTML":
            try:
                text, entities = parse_html(text, pedantic=self.html_pedantic)
            except TelegramHtmlError as exc:
                raise _ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        return _strip(text, entities)

    async def _api_getMe(self, params: dict) -> dict:
        return self.bot_user

    async def _api_deleteWebhook(self, params: dict) -> bool:
        self.webhook = None
        return True

    async def _api_setWebhook(self, params: dict) -> bool:
        self.webhook = {"url": params.get("url"), "secret_token": params.get("secret_token")}
        return True

    def _kind(self, update: dict) -> str | None:
        return next((k for k in update if k != "update_id"), None)

    async def _api_getUpdates(self, params: dict) -> list[dict]:
        """Long polling as Telegram does it: an update stays until a getUpdates with a greater
        offset confirms it; a negative offset keeps only the last -offset updates; a newer
        getUpdates ends this one with 409 while it waits."""
        if self.webhook:
            raise _ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                 "use deleteWebhook to delete the webhook first")
        self._poll_generation += 1
        me = self._poll_generation
        await self._notify()  # an older getUpdates still waiting is terminated by this one
        offset = int(params.get("offset") or 0)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        allowed = self._json(params, "allowed_updates")
        if allowed is not None:
            self.allowed_updates = list(allowed)
        if offset > 0:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        elif offset < 0:
            self.updates = self.updates[offset:]
        deadline = time.monotonic() + timeout
        while True:
            if self._poll_generation != me:
                raise _ApiError(409, POLL_CONFLICT)
            wanted = self.allowed_updates or ["message", "callback_query", "poll_answer"]
            # updates of kinds not asked for are never delivered (injected ones always are)
            self.updates = [u for u in self.updates if u["update_id"] in self._raw_ids or self._kind(u) in wanted]
            if self.updates or time.monotonic() >= deadline or self._runner is None:
                return self.updates[:limit]
            async with self._changed:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
                # cancellation that arrives as the wait ends, and this loop would go on
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(deadline - time.monotonic()):
                        await self._changed.wait()

    async def _api_sendMessage(self, params: dict) -> dict:
        text = params.get("text") or ""
        if len(text) > 4096 * 2:
            raise _ApiError(400, "Bad Request: message is too long")
        plain, entities = self._formatted(params)
        if not plain:
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(plain) > 4096:
            raise _ApiError(400, "Bad Request: message is too long")
        return self._bot_message(params, text=plain, entities=entities)

    def _existing(self, params: dict) -> dict:
        key = (int(params["chat_id"]), int(params["message_id"]))
        if key not in self.messages:
            raise _ApiError(400, "Bad Request: message to edit not found")
        return self.messages[key]

    async def _api_editMessageText(self, params: dict) -> dict:
        msg = self._existing(params)
        plain, entities = self._formatted(params)
        if not plain:
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(plain) > 4096:
            raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        markup = self._json(params, "reply_markup")
        if (plain == msg.get("text") and entities == msg.get("entities", [])
                and (markup or None) == msg.get("reply_markup")):
            raise _ApiError(400, "Bad Request: message is not modified: specified new message content and reply "
                                 "markup are exactly the same as a current content and reply markup of the message")
        msg["text"] = plain
        msg.pop("entities", None)
        if entities:
            msg["entities"] = entities
        msg["edit_date"] = int(time.time())
        if markup:
            msg["reply_markup"] = markup
        else:
            msg.pop("reply_markup", None)
        return msg

    async def _api_editMessageReplyMarkup(self, params: dict) -> dict:
        msg = self._existing(params)
        markup = self._json(params, "reply_markup")
        if markup:
            msg["reply_markup"] = markup
        else:
            msg.pop("reply_markup", None)
        return msg

    async def _api_deleteMessage(self, params: dict) -> bool:
        msg = self._existing(params)
        del self.messages[(msg["chat"]["id"], msg["message_id"])]
        return True

    async def _api_answerCallbackQuery(self, params: dict) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        pressed = self._queries.get(query_id)
        if pressed is None or query_id in self._answered or time.monotonic() - pressed > self.callback_timeout:
            raise _ApiError(400, QUERY_INVALID)
        if len(params.get("text") or "") > 200:
            raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._answered.add(query_id)
        self.answers.append(params)
        return True

    async def _api_sendPoll(self, params: dict) -> dict:
        options = self._json(params, "options")
        if not 2 <= len(options) <= 12:
            raise _ApiError(400, "Bad Request: poll must have 2-12 options")
        poll_id = str(next(self._poll_ids))
        poll = {
            "id": poll_id, "question": params["question"],
            "options": [{"text": o if isinstance(o, str) else o["text"], "voter_count": 0,
                         "persistent_id": f"{poll_id}-{n}"} for n, o in enumerate(options)],
            "total_voter_count": 0, "is_closed": False,
            "is_anonymous": self._json(params, "is_anonymous", True) is not False,
            "type": params.get("type", "regular"),
            "allows_multiple_answers": self._json(params, "allows_multiple_answers", False) is True,
            "allows_revoting": True, "members_only": False,
        }
        self.polls[poll_id] = poll
        msg = self._bot_message(params, poll=poll)
        self.poll_messages[poll_id] = (msg["chat"]["id"], msg["message_id"])
        return msg

    async def _api_stopPoll(self, params: dict) -> dict:
        msg = self._existing(params)
        if "poll" not in msg:
            raise _ApiError(400, "Bad Request: message with poll to stop not found")
        poll = msg["poll"]
        if poll["is_closed"]:
            raise _ApiError(400, "Bad Request: poll has already been closed")
        poll["is_closed"] = True
        return poll

    def _file_message(self, params: dict, field_name: str) -> dict:
        upload = params.get(field_name)
        if not isinstance(upload, dict):
            raise _ApiError(400, "Bad Request: there is no file in the request")
        caption, caption_entities = self._formatted(params, "caption")
        if len(caption) > 1024:
            raise _ApiError(400, "Bad Request: message caption is too long")
        n = next(self._file_ids)
        content: dict[str, Any] = {"caption": caption, "caption_entities": caption_entities}
        if field_name == "photo":
            content["photo"] = [{"file_id": f"photo{n}", "file_unique_id": f"uphoto{n}", "width": 320,
                                 "height": 240, "file_size": len(upload["data"])}]
        else:
            content["document"] = {"file_id": f"doc{n}", "file_unique_id": f"udoc{n}",
                                   "file_name": upload["filename"], "file_size": len(upload["data"])}
        return self._bot_message(params, **content)

    async def _api_sendDocument(self, params: dict) -> dict:
        return self._file_message(params, "document")

    async def _api_sendPhoto(self, params: dict) -> dict:
        return self._file_message(params, "photo")

    def _member(self, chat_id: int, user: dict) -> dict:
        status = self.admins.get(chat_id, {}).get(user["id"], "member")
        if status == "creator":
            return {"status": "creator", "user": user, "is_anonymous": False}
        if status == "administrator":
            rights = dict.fromkeys(
                ("can_manage_chat", "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
                 "can_change_info", "can_invite_users", "can_post_stories", "can_edit_stories",
                 "can_delete_stories", "can_pin_messages", "can_manage_topics"), True)
            rights.update(self.rights.get((chat_id, user["id"]), {}))
            return {"status": "administrator", "user": user, "can_be_edited": False, "is_anonymous": False,
                    "can_promote_members": False, **rights}
        return {"status": "member", "user": user}

    def _known_user(self, user_id: int) -> dict:
        for msg in self.messages.values():
            if msg.get("from", {}).get("id") == user_id:
                return msg["from"]
        return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}

    async def _api_getChatAdministrators(self, params: dict) -> list[dict]:
        chat_id = int(params["chat_id"])
        if chat_id > 0:
            raise _ApiError(400, "Bad Request: there are no administrators in the private chat")
        return [self._member(chat_id, self._known_user(uid)) for uid in self.admins.get(chat_id, {})]

    async def _api_getChatMember(self, params: dict) -> dict:
        return self._member(int(params["chat_id"]), self._known_user(int(params["user_id"])))

    async def _api_createForumTopic(self, params: dict) -> dict:
        chat = self._chat(params)
        if not chat.get("is_forum"):
            raise _ApiError(400, "Bad Request: the chat is not a forum")
        member = self._member(chat["id"], self.bot_user)
        if member["status"] != "creator" and not member.get("can_manage_topics"):
            raise _ApiError(400, "Bad Request: not enough rights to create a topic")
        name = params.get("name") or ""
        if not 1 <= len(name) <= 128:
            raise _ApiError(400, "Bad Request: TOPIC_TITLE_EMPTY" if not name else "Bad Request: TOPIC_TITLE_TOO_LONG")
        color = int(params.get("icon_color") or 0x6FB9F0)
        msg = self._new_topic(chat, self.bot_user, name, color)
        return dict(self.topics[chat["id"]][msg["message_thread_id"]])

    async def _api_getChatMemberCount(self, params: dict) -> int:
        chat_id = int(params["chat_id"])
        if chat_id > 0:
            return 2
        return len(self.members.get(chat_id, set()) | set(self.admins.get(chat_id, {})) | {BOT_ID})

    async def _api_setMyCommands(self, params: dict) -> bool:
        commands = self._json(params, "commands")
        for cmd in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", cmd["command"]) or not 1 <= len(cmd["description"]) <= 256:
                raise _ApiError(400, f"Bad Request: BOT_COMMAND_INVALID {cmd}")
        scope = (self._json(params, "scope") or {"type": "default"})["type"]
        self.commands[(scope, params.get("language_code") or "")] = commands
        return True


@dataclass
class _ApiError(Exception):
    code: int
    description: str = field(default="")
    parameters: dict | None = field(default=None)
