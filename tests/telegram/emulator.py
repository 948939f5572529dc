"""A Telegram Bot API emulator for tests: an aiohttp server on 127.0.0.1 that answers the
methods the bot uses with replies shaped as Telegram's (python-telegram-bot parses them
strictly), a test-side API to act as users, fault injection and a log of every call.

    emu = await BotApiEmulator().start()
    ... ExtBot(emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url) ...
    alice = emu.user("Alice"); group = emu.group("Kehrä Maunula")
    emu.post(group, alice, "/idea A summer terrace")
    call = await emu.wait_call("sendMessage")
"""

from __future__ import annotations

import asyncio
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
    status: int = 200
    result: Any = None


@dataclass
class Fault:
    kind: str  # "429" | "500" | "502" | "drop"
    retry_after: int = 1
    count: int = 1


#: the tags Telegram's HTML parse mode accepts
TELEGRAM_TAGS = frozenset({"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
                           "tg-spoiler", "span", "blockquote", "tg-emoji"})


class _TelegramHtml(HTMLParser):
    """Parses like Telegram's HTML mode: unsupported or unbalanced tags and stray "<" are errors."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in TELEGRAM_TAGS:
            self.errors.append(f"Unsupported start tag \"{tag}\"")
        self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"Can't find end tag corresponding to start tag \"{tag}\"")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(html: str, *, strict: bool = False) -> str:
    p = _TelegramHtml()
    p.feed(html)
    p.close()
    if strict:
        if p.stack:
            p.errors.append(f"Can't find end tag corresponding to start tag \"{p.stack[-1]}\"")
        if p.errors:
            raise ValueError(p.errors[0])
    return "".join(p.parts)


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


class BotApiEmulator:
    def __init__(self, token: str = "7000000001:TEST-token", username: str = "kehra_test_bot") -> None:
        self.token = token
        self.bot_user = {"id": BOT_ID, "is_bot": True, "first_name": "Kehräbot", "username": username,
                         "can_join_groups": True, "can_read_all_group_messages": False,
                         "supports_inline_queries": False}
        self.port = 0
        self.calls: list[Call] = []
        self.updates: list[dict] = []
        self.allowed_updates: list[str] | None = None
        self.commands: dict[tuple[str, str], list[dict]] = {}  # (scope type, language) -> commands
        self.messages: dict[tuple[int, int], dict] = {}
        self.polls: dict[str, dict] = {}  # poll id -> poll object
        self.poll_messages: dict[str, tuple[int, int]] = {}
        self.admins: dict[int, dict[int, str]] = {}  # chat id -> user id -> creator|administrator
        self.reactions: dict[tuple[int, int, int], list[str]] = {}
        self.answers: list[dict] = []  # answerCallbackQuery params
        self.webhook: dict | None = None
        self.members: dict[int, set[int]] = {}  # chat id -> user ids (joined by acting there)
        self.webhook_deliveries: list[tuple[int, int]] = []  # (update id, HTTP status)
        self.migrated: dict[int, int] = {}  # group id -> its supergroup's id
        self.supergroups: dict[int, dict] = {}  # made by upgrade()
        self._deliveries: set[asyncio.Task] = set()
        self.faults: dict[str, list[Fault]] = {}
        self.latency = 0.0  # seconds added to every reply
        self._update_ids = itertools.count(100001)
        self._message_ids: dict[int, itertools.count] = {}
        self._user_ids = itertools.count(1001)
        self._group_ids = itertools.count(1)
        self._poll_ids = itertools.count(5000000001)
        self._file_ids = itertools.count(1)
        self._callback_ids = itertools.count(900000001)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None

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

    def group(self, title: str = "Kehrä", *, basic: bool = False) -> dict:
        """A supergroup, or with ``basic`` a plain group (small ids; it can become a supergroup)."""
        n = next(self._group_ids)
        if basic:
            return {"id": -n, "type": "group", "title": title}
        return {"id": -1000000000000 - n, "type": "supergroup", "title": title}

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

    def set_admin(self, chat: dict, user: dict, status: str = "administrator") -> None:
        self.admins.setdefault(chat["id"], {})[user["id"]] = status

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _push(self, kind: str, payload: dict) -> dict:
        update = {"update_id": next(self._update_ids), kind: payload}
        loop = asyncio.get_running_loop()
        if self.webhook:
            task = loop.create_task(self._deliver(update))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)
        else:
            self.updates.append(update)
            loop.create_task(self._notify())
        return update

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

    def post(self, chat: dict, user: dict, text: str, *, reply_to: int | None = None) -> dict:
        """The person writes ``text`` in ``chat``; returns the update."""
        self.join(chat, user)
        msg = {"message_id": self._next_message_id(chat["id"]), "date": int(time.time()), "chat": chat,
               "from": user, "text": text}
        entities = _entities(text)
        if entities:
            msg["entities"] = entities
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

    def press(self, chat: dict, user: dict, message_id: int, data: str) -> str:
        """The person presses the inline button with ``data`` on the bot's message."""
        msg = self.messages[(chat["id"], message_id)]
        rows = msg.get("reply_markup", {}).get("inline_keyboard", [])
        if not any(b.get("callback_data") == data for row in rows for b in row):
            raise AssertionError(f"message {message_id} has no button {data!r}: {rows}")
        query_id = str(next(self._callback_ids))
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
        """The person's reactions on the message become ``emojis`` (empty = removed)."""
        key = (chat["id"], message_id, user["id"])
        old = self.reactions.get(key, [])
        self.reactions[key] = list(emojis)
        self._push("message_reaction", {
            "chat": chat, "message_id": message_id, "user": user, "date": int(time.time()),
            "old_reaction": [{"type": "emoji", "emoji": e} for e in old],
            "new_reaction": [{"type": "emoji", "emoji": e} for e in emojis],
        })

    # -- test-side API: faults and observation --------------------------------------------------

    def fail(self, method: str, kind: str, *, count: int = 1, retry_after: int = 1) -> None:
        """The next ``count`` calls of ``method`` ("*" = any but getUpdates) fail with ``kind``."""
        self.faults.setdefault(method, []).append(Fault(kind, retry_after, count))

    def calls_of(self, method: str, *, ok: bool = True) -> list[Call]:
        return [c for c in self.calls if c.method == method and (not ok or c.status == 200)]

    def sent_texts(self, chat: dict | None = None) -> list[str]:
        return [html_to_text(c.params["text"]) for c in self.calls_of("sendMessage")
                if chat is None or int(c.params["chat_id"]) == chat["id"]]

    async def wait_call(self, method: str, count: int = 1, *, within: float = 10.0, where=None) -> Call:
        """Wait until ``count`` successful calls of ``method`` (matching ``where``) were made;
        return the last of them."""
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
        """Wait until every update was fetched and no call but getUpdates came for ``quiet`` s."""
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

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = await self._params(request)
        call = Call(method, params, time.monotonic())
        self.calls.append(call)
        if request.match_info["token"] != self.token:
            call.status = 401
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        fault = self._take_fault(method)
        if fault is not None:
            if fault.kind == "drop":
                call.status = -1
                request.transport.close()  # the connection goes away without an answer
                return web.Response()
            if fault.kind == "429":
                call.status = 429
                return web.json_response({"ok": False, "error_code": 429,
                                          "description": f"Too Many Requests: retry after {fault.retry_after}",
                                          "parameters": {"retry_after": fault.retry_after}}, status=429)
            call.status = int(fault.kind)
            return web.json_response({"ok": False, "error_code": call.status, "description": "Internal Server Error"},
                                     status=call.status)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            call.status = 404
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found: method not found"},
                                     status=404)
        if self.latency:
            await asyncio.sleep(self.latency)
        try:
            result = await handler(params)
        except _ApiError as err:
            call.status = err.code
            body = {"ok": False, "error_code": err.code, "description": err.description}
            if err.parameters:
                body["parameters"] = err.parameters
            return web.json_response(body, status=err.code)
        call.result = result
        return web.json_response({"ok": True, "result": result})

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
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "User"}
        raise _ApiError(400, "Bad Request: chat not found")

    def _bot_message(self, params: dict, **content) -> dict:
        chat = self._chat(params)
        msg = {"message_id": self._next_message_id(chat["id"]), "date": int(time.time()), "chat": chat,
               "from": self.bot_user, **content}
        markup = self._json(params, "reply_markup")
        if markup:
            msg["reply_markup"] = markup
        reply = self._json(params, "reply_parameters")
        if reply and (chat["id"], reply["message_id"]) in self.messages:
            msg["reply_to_message"] = self.messages[(chat["id"], reply["message_id"])]
        self.messages[(chat["id"], msg["message_id"])] = msg
        return msg

    @staticmethod
    def _check_html(text: str) -> str:
        if params_text := text.strip():
            try:
                plain = html_to_text(params_text, strict=True)
            except Exception as exc:
                raise _ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
            return plain
        raise _ApiError(400, "Bad Request: message text is empty")

    async def _api_getMe(self, params: dict) -> dict:
        return self.bot_user

    async def _api_deleteWebhook(self, params: dict) -> bool:
        self.webhook = None
        return True

    async def _api_setWebhook(self, params: dict) -> bool:
        self.webhook = {"url": params.get("url"), "secret_token": params.get("secret_token")}
        return True

    async def _api_getUpdates(self, params: dict) -> list[dict]:
        if self.webhook:
            raise _ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        allowed = self._json(params, "allowed_updates")
        if allowed is not None:
            self.allowed_updates = list(allowed)
        if offset:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        while True:
            allowed_now = self.allowed_updates or ["message", "callback_query", "poll_answer"]
            # updates of kinds not asked for are never delivered
            self.updates = [u for u in self.updates if next(k for k in u if k != "update_id") in allowed_now]
            if self.updates or time.monotonic() >= deadline or self._runner is None:
                return self.updates[:limit]
            async with self._changed:
                try:
                    await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
                except TimeoutError:
                    pass

    async def _api_sendMessage(self, params: dict) -> dict:
        text = params.get("text", "")
        if len(text) > 4096 * 2:
            raise _ApiError(400, "Bad Request: message is too long")
        plain = self._check_html(text) if params.get("parse_mode") == "HTML" else text
        if len(plain) > 4096:
            raise _ApiError(400, "Bad Request: message is too long")
        return self._bot_message(params, text=plain)

    def _existing(self, params: dict) -> dict:
        key = (int(params["chat_id"]), int(params["message_id"]))
        if key not in self.messages:
            raise _ApiError(400, "Bad Request: message to edit not found")
        return self.messages[key]

    async def _api_editMessageText(self, params: dict) -> dict:
        msg = self._existing(params)
        plain = self._check_html(params.get("text", "")) if params.get("parse_mode") == "HTML" else params["text"]
        markup = self._json(params, "reply_markup")
        if plain == msg.get("text") and markup == msg.get("reply_markup"):
            raise _ApiError(400, "Bad Request: message is not modified: specified new message content and reply "
                                 "markup are exactly the same as a current content and reply markup of the message")
        msg["text"] = plain
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
        n = next(self._file_ids)
        content: dict[str, Any] = {}
        if field_name == "photo":
            content["photo"] = [{"file_id": f"photo{n}", "file_unique_id": f"uphoto{n}", "width": 320,
                                 "height": 240, "file_size": len(upload["data"])}]
        else:
            content["document"] = {"file_id": f"doc{n}", "file_unique_id": f"udoc{n}",
                                   "file_name": upload["filename"], "file_size": len(upload["data"])}
        if params.get("caption"):
            content["caption"] = self._check_html(params["caption"])
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
