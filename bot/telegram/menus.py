"""The command menus (setMyCommands): per language, for members, chat admins and private chats,
published in the background and retried with back-off, never holding up polling.

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
    BotCommandScopeDefault,
)

from bot.telegram.errors import Refused, neutral_errors
from bot.telegram.limits import SendHook
from core.events import Role
from core.i18n import DEFAULT_LANGUAGE, LANGUAGES
from core.transport import TransportError

log = logging.getLogger("bot.telegram")


class Menus:
    """The command menus in each language."""

    def command_menu(self, lang: str, *, admin: bool, private: bool) -> list[BotCommand]:
        """The command menu in ``lang``: the name in that language and the translated help."""
        translations = self.services.catalogs.get(lang)
        menu = []
        for feature in self.services.features:
            for cmd in feature.commands:
                if cmd.hidden or (cmd.role > Role.ADMIN) or (cmd.role == Role.ADMIN and not admin):
                    continue
                if cmd.private_only and not private:
                    continue
                description = translations.gettext(cmd.help).strip() or cmd.name
                menu.append(BotCommand(cmd.shown_name(lang), description[:256]))
        return menu[:100]

    def _menus(self) -> Iterator[tuple[Any, str | None, list[BotCommand]]]:
        scopes = (
            (BotCommandScopeDefault(), False, False),
            (BotCommandScopeAllPrivateChats(), True, True),
            (BotCommandScopeAllChatAdministrators(), True, False),
        )
        for scope, admin, private in scopes:
            for lang in (None, *LANGUAGES):
                yield scope, lang, self.command_menu(lang or DEFAULT_LANGUAGE, admin=admin, private=private)

    async def publish_commands(self, *, retries: int | None = None, done: set | None = None) -> None:
        """setMyCommands for each language (and the default, in the default language), for
        members, chat admins and private chats. ``done`` (scope type, language) pairs are
        skipped and the published ones added."""
        bot = await self._ready()
        for scope, lang, menu in self._menus():
            if done is not None and (scope.type, lang) in done:
                continue
            with neutral_errors(sending=False):
                await bot.set_my_commands(menu, scope=scope, language_code=lang,
                                          rate_limit_args=SendHook(retries=retries))
            if done is not None:
                done.add((scope.type, lang))

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
