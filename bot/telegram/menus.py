"""The command menus (setMyCommands): per language, for members in groups, chat admins in groups,
private chats, and each configured coordinator's and operator's private chat — each lists what that
person may use there (handlers/permissions.py, as /help does). Published in the background and
retried with back-off, never holding up polling.

A part of :class:`bot.telegram.transport.TelegramTransport`, whose ``__init__`` makes the state
used here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BotCommandScopeDefault,
)

from bot.telegram.errors import Refused, neutral_errors
from bot.telegram.limits import SendHook
from core.events import Role
from core.i18n import DEFAULT_LANGUAGE, LANGUAGES
from core.transport import TransportError
from handlers.permissions import usable_commands

log = logging.getLogger("bot.telegram")


class Menus:
    """The command menus in each language."""

    def command_menu(self, lang: str, *, role: Role, private: bool) -> list[BotCommand]:
        """The command menu in ``lang`` of what someone of ``role`` may use in a group or a
        private chat: the name in that language and the translated help."""
        translations = self.services.catalogs.get(lang)
        menu = []
        for cmd in usable_commands(self.services.features, role, private=private):
            description = translations.gettext(cmd.help).strip() or cmd.name
            menu.append(BotCommand(cmd.shown_name(lang), description[:256]))
        return menu[:100]

    def _personal(self) -> list[tuple[Any, Role]]:
        """The private chats of the configured Telegram coordinators and operators (a private
        chat's id is the person's): their menus add what only they may use."""
        roles: dict[str, Role] = {}
        for keys, role in ((self.services.coordinators, Role.COORDINATOR), (self.services.operators, Role.OPERATOR)):
            for key in keys:
                platform, _sep, user_id = key.partition(":")
                if platform == "telegram" and user_id.lstrip("-").isdecimal():
                    roles[user_id] = max(role, roles.get(user_id, role))
        return [(BotCommandScopeChat(chat_id=int(user_id)), role) for user_id, role in sorted(roles.items())]

    def _menus(self) -> Iterator[tuple[Any, str | None, list[BotCommand]]]:
        scopes = [
            (BotCommandScopeDefault(), Role.MEMBER, False),
            (BotCommandScopeAllPrivateChats(), Role.ADMIN, True),  # a person administers their private chat
            (BotCommandScopeAllChatAdministrators(), Role.ADMIN, False),
            *((scope, role, True) for scope, role in self._personal()),
        ]
        for scope, role, private in scopes:
            for lang in (None, *LANGUAGES):
                yield scope, lang, self.command_menu(lang or DEFAULT_LANGUAGE, role=role, private=private)

    @staticmethod
    def _scope_key(scope: Any) -> tuple:
        return (scope.type, getattr(scope, "chat_id", None))

    async def publish_commands(self, *, retries: int | None = None, done: set | None = None) -> None:
        """setMyCommands for each language (and the default, in the default language), for
        members, chat admins and private chats. ``done`` (scope type, language) pairs are
        skipped and the published ones added."""
        bot = await self._ready()
        for scope, lang, menu in self._menus():
            key = (*self._scope_key(scope), lang)
            if done is not None and key in done:
                continue
            try:
                with neutral_errors(sending=False):
                    await bot.set_my_commands(menu, scope=scope, language_code=lang,
                                              rate_limit_args=SendHook(retries=retries))
            except TransportError as exc:
                if scope.type != "chat" or exc.retryable:
                    raise
                # a coordinator who never wrote to the bot (chat not found) or blocked it
                log.warning("Telegram refused the command menu of private chat %s (%s); skipped", scope.chat_id, exc)
            if done is not None:
                done.add(key)

    async def _publish_in_background(self) -> None:
        """The command menus, retried with back-off until published (polling does not wait)."""
        done: set = set()
        delay = self.settings.retry_backoff
        while not self._stopping:
            try:
                await self.publish_commands(retries=0, done=done)
                return
            except Refused:
                log.warning("Telegram refused the command menu; it may be outdated", exc_info=True)
                return
            except TransportError as exc:
                log.warning("setMyCommands failed (%s); again in %.1f s", exc, delay)
                await self._pause(delay)
                delay = min(delay * 2, self.settings.retry_backoff_max)
            except Exception:
                log.exception("publishing the command menus failed")
                return
