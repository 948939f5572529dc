"""The Telegram transport (python-telegram-bot 22.8): long polling or webhook, HTML replies,
inline keyboards, native polls, reactions, admin roles and the bot's own rate limits.

Only this package touches ``telegram``; features see :mod:`core.events` values. The transport is
one class, :class:`TelegramTransport` (transport.py), put together from parts named for what they
hold; each module's docstring tells its share of the rules ("nothing lost, nothing twice"):

- ``transport.py`` — the class: its state, start (getMe with back-off) and stop, ``ready``
- ``inbox.py`` — incoming at least once: polling, the inbox, per-chat lanes, begun/finished
  events, updates that cannot be read
- ``webhook.py`` — the webhook server (the same inbox and lanes)
- ``mapping.py`` — an update → neutral ``Incoming`` events (with the store lookups that needs);
  chat ids → Telegram's, a group that became a supergroup
- ``sending.py`` — outgoing never twice: sends, edits, files, native polls, button answers, roles
- ``limits.py`` — the flood limiter and the retries of what certainly did not arrive
- ``errors.py`` — python-telegram-bot's errors as core/transport.py's neutral ones
- ``menus.py`` — the command menus (setMyCommands)

Everything logs as ``bot.telegram``.
"""

from bot.telegram.errors import Refused, is_sending, neutral, not_sent
from bot.telegram.limits import FloodLimiter, NotSent, SendHook
from bot.telegram.mapping import PLATFORM
from bot.telegram.transport import TelegramTransport, create

__all__ = ["PLATFORM", "FloodLimiter", "NotSent", "Refused", "SendHook", "TelegramTransport", "create",
           "is_sending", "neutral", "not_sent"]
