"""Console transport: talk to the bot in a terminal, in a simulated group chat.

Lines beginning with ":" control the simulation (see :help); everything else is a message
from the current speaker. With a script on standard input each message's replies are printed
as one block, so tests and newcomers can drive it the same way.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TextIO

from core.events import Button, FileOut, Incoming, Kind, PollOutcome, PollSpec, Reply, Role
from core.markup import to_plain
from core.transport import Capabilities, Dispatch, always_ready

META_HELP = """console commands:
  :user NAME         speak as NAME (created on first use)
  :chat NAME         switch to group chat NAME;  :private  talk to the bot in private
  :admin on|off      give the current speaker admin rights in this chat
  :press N           press button N of the last message that had buttons
  :react M [EMOJI]   react to message M (default 👍);  :unreact M [EMOJI]
  :vote M N [N…]     vote options N… in native poll message M (numbers from 1)
  :edit M TEXT       edit your message M to TEXT (as a platform edit: an idea follows its message)
  :lang CODE         the speaker's client language hint (fi, sv, en)
  :help              this text;  :quit  leave
files the bot sends (.ics, PNG, CSV…) are saved under the data folder's console-files/"""


@dataclass
class _Sent:
    chat_id: str
    reply: Reply
    message_id: str


@dataclass
class ConsoleTransport:
    out: TextIO = field(default_factory=lambda: sys.stdout)
    platform: str = "console"
    command_prefixes: tuple[str, ...] = ("/", "!")
    #: :vote, :react and :edit simulate a platform's; the console shows no vote of its own, so
    #: polls confirm a native vote with acknowledge()
    capabilities: ClassVar[Capabilities] = Capabilities(native_polls=True, shows_own_vote=False, reactions=True,
                                                        edits=True)
    bot_username: str = "kehrabot"
    user: str = "Aino"
    chat: str = "kehra"
    private: bool = False
    hint: str | None = None
    admins: dict[str, set[str]] = field(default_factory=dict)
    messages: dict[str, _Sent] = field(default_factory=dict)
    last_buttons: list[tuple[str, Button]] = field(default_factory=list)
    #: where message numbers and sent files are kept (the data folder); None: memory only
    data_dir: Path | None = None
    #: the app's services, to tell the speaker which stored language wins over :lang
    services: Any = None
    #: messages typed in this run: id -> (speaker, chat)
    typed: dict[str, tuple[str, str]] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _dispatch: Dispatch | None = None
    ready: asyncio.Event = field(default_factory=always_ready)

    @property
    def chat_id(self) -> str:
        return f"private-{self.user.lower()}" if self.private else self.chat

    # -- Transport ----------------------------------------------------------------------------

    async def start(self, dispatch: Dispatch) -> None:
        self._dispatch = dispatch
        # Message numbers go on from the last run: the store remembers messages by their ids
        # (an idea's card, a poll), so a new run must not call a new message "m1" again.
        last = 0
        if self._ids_file is not None and self._ids_file.exists():
            text = self._ids_file.read_text(encoding="utf-8").strip()
            last = int(text) if text.isdecimal() else 0
        self._ids = itertools.count(last + 1)

    @property
    def _ids_file(self) -> Path | None:
        return self.data_dir / "console-ids" if self.data_dir is not None else None

    async def stop(self) -> None:
        self._dispatch = None

    def _print(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _new_id(self) -> str:
        number = next(self._ids)
        if self._ids_file is not None:
            self._ids_file.parent.mkdir(parents=True, exist_ok=True)
            self._ids_file.write_text(str(number), encoding="utf-8")
        return f"m{number}"

    def _where(self, chat_id: str) -> str:
        return "" if chat_id == self.chat_id else f" → {chat_id}"

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        message_id = self._new_id()
        self.messages[message_id] = _Sent(chat_id, reply, message_id)
        self._print(f"[{message_id}{self._where(chat_id)}] " + to_plain(reply.html))
        self._show_buttons(message_id, reply)
        return message_id

    def _show_buttons(self, message_id: str, reply: Reply) -> None:
        if not reply.buttons:
            return
        self.last_buttons = [(message_id, btn) for row in reply.buttons for btn in row]
        labels = "  ".join(f"[{n}] {btn.label}" for n, (_m, btn) in enumerate(self.last_buttons, 1))
        self._print("    " + labels + "   (:press N)")

    async def edit(self, chat_id: str, message_id: str, reply: Reply) -> None:
        self.messages[message_id] = _Sent(chat_id, reply, message_id)
        self._print(f"[{message_id} edited{self._where(chat_id)}] " + to_plain(reply.html))
        self._show_buttons(message_id, reply)

    async def send_file(self, chat_id: str, file: FileOut) -> str | None:
        message_id = self._new_id()
        caption = f" — {to_plain(file.caption_html)}" if file.caption_html else ""
        self._print(f"[{message_id}{self._where(chat_id)}] 📎 {file.filename} ({len(file.data)} bytes, "
                    f"{file.mime}){caption}")
        if self.data_dir is not None:
            folder = self.data_dir / "console-files"
            folder.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^\w.-]+", "_", Path(file.filename).name).lstrip(".") or "file"
            path = folder / f"{message_id}-{name}"
            path.write_bytes(file.data)
            self._print(f"    saved: {path.resolve()}")
        return message_id

    async def send_poll(self, chat_id: str, poll: PollSpec) -> str | None:
        message_id = self._new_id()
        self._print(f"[{message_id}] 📊 {poll.question}")
        for n, option in enumerate(poll.options, 1):
            self._print(f"    {n}. {option}")
        self._print(f"    (:vote {message_id} N)")
        return message_id

    async def close_poll(self, chat_id: str, poll_ref: str, outcome: PollOutcome) -> None:
        self._print(f"[{poll_ref} closed]")

    #: the older name of ``not capabilities.shows_own_vote`` (polls confirm a native vote here)
    confirm_poll_votes: ClassVar[bool] = not capabilities.shows_own_vote

    async def acknowledge(self, event: Incoming, text: str) -> None:
        self._print(f"  ({text})")

    async def private_chat(self, user_id: str) -> str | None:
        return f"private-{user_id}"

    async def role_of(self, chat_id: str, user_id: str) -> Role:
        return Role.ADMIN if user_id in self.admins.get(chat_id, set()) else Role.MEMBER

    async def _stored_language_note(self) -> str:
        """Why the client language may not be heard: a language chosen with /kieli (the
        speaker's, then the chat's) wins over it."""
        if self.services is None:
            return ""
        from storage.core import languages_for

        try:
            async with self.services.db.session() as session:
                person, chat = await languages_for(session, f"{self.platform}:{self.user.lower()}",
                                                   f"{self.platform}:{self.chat_id}")
        except Exception:
            return ""
        if person and person != self.hint:
            return f"; but {self.user}'s language chosen with /kieli, {person}, wins: /kieli {self.hint} to change it"
        if chat and chat != self.hint:
            return (f"; but this chat's language chosen with /kieli ryhmä, {chat}, wins: "
                    f"/kieli {self.hint} sets yours")
        return ""

    # -- input --------------------------------------------------------------------------------

    def _event(self, **kw) -> Incoming:
        return Incoming(
            platform=self.platform, chat_id=self.chat_id, sender_id=self.user.lower(), sender_name=self.user,
            chat_title=self.chat if not self.private else self.user, is_private=self.private,
            language_hint=self.hint, **kw,
        )

    async def handle_line(self, line: str) -> bool:
        """Process one input line; False when the user asked to quit."""
        assert self._dispatch is not None, "start() first"
        line = line.rstrip("\n")
        if not line.strip():
            return True
        if line.startswith(":"):
            return await self._meta(line[1:].strip())
        message_id = self._new_id()
        self.typed[message_id] = (self.user, self.chat_id)
        await self._dispatch(self, self._event(text=line, message_id=message_id))
        return True

    async def _meta(self, line: str) -> bool:
        cmd, _sep, rest = line.partition(" ")
        args = rest.split()
        if cmd in ("quit", "exit", "q"):
            return False
        if cmd == "user" and args:
            self.user = rest.strip()
            self._print(f"  (you are now {self.user})")
        elif cmd == "chat" and args:
            self.chat, self.private = args[0], False
            self._print(f"  (in group chat {self.chat})")
        elif cmd == "private":
            self.private = True
            self._print(f"  (in a private chat with the bot as {self.user})")
        elif cmd == "admin" and args:
            admins = self.admins.setdefault(self.chat_id, set())
            if args[0] in ("on", "yes", "1"):
                admins.add(self.user.lower())
            else:
                admins.discard(self.user.lower())
            self._print(f"  ({self.user} is {'an admin' if self.user.lower() in admins else 'a member'} in {self.chat_id})")
        elif cmd == "press" and args and args[0].isdecimal():
            n = int(args[0])
            if not 1 <= n <= len(self.last_buttons):
                self._print("  (no such button)")
                return True
            message_id, button = self.last_buttons[n - 1]
            await self._dispatch(self, self._event(kind=Kind.BUTTON, button_data=button.data, target_id=message_id))
        elif cmd in ("react", "unreact") and args:
            emoji = args[1] if len(args) > 1 else "👍"
            await self._dispatch(self, self._event(kind=Kind.REACTION, reaction=emoji, target_id=args[0],
                                                   reaction_removed=cmd == "unreact"))
        elif cmd == "vote" and len(args) >= 2 and all(a.isdecimal() for a in args[1:]):
            choices = tuple(int(a) - 1 for a in args[1:])
            await self._dispatch(self, self._event(kind=Kind.POLL_VOTE, poll_ref=args[0], poll_choices=choices))
        elif cmd == "edit" and len(args) >= 2:
            target, text = args[0], rest.strip()[len(args[0]):].strip()
            if self.typed.get(target) != (self.user, self.chat_id):
                self._print(f"  (no message {target} of {self.user} in {self.chat_id} to edit)")
                return True
            self._print(f"  ({self.user} edited {target} in {self.chat_id})")
            await self._dispatch(self, self._event(kind=Kind.EDIT, text=text, target_id=target))
        elif cmd == "lang" and args:
            self.hint = args[0]
            self._print(f"  (client language {self.hint}{await self._stored_language_note()})")
        else:
            self._print(META_HELP)
        return True


async def run_console(app, transport: ConsoleTransport, stdin: TextIO = sys.stdin) -> None:
    """Read lines until EOF or :quit. Interactive when stdin is a terminal."""
    await app.open()
    await app.jobs.start()
    await transport.start(app.dispatch)
    interactive = stdin.isatty()
    if interactive:
        transport._print("kehrabot console — you are Aino in group chat 'kehra'. :help for console commands, "
                         "/help for the bot's.")
    loop = asyncio.get_running_loop()
    try:
        while True:
            if interactive:
                prompt = f"{transport.user}@{transport.chat_id}> "
                line = await loop.run_in_executor(None, input, prompt)
            else:
                line = await loop.run_in_executor(None, stdin.readline)
                if not line:
                    break
                if line.strip():
                    transport._print(f"> {line.rstrip()}")
            if not await transport.handle_line(line):
                break
            if not interactive and line.strip():
                transport._print("")
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        await app.close()


def create(settings, services) -> ConsoleTransport:
    return ConsoleTransport(data_dir=Path(settings.data_dir), services=services)
