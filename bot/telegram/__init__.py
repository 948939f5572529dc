"""The Telegram transport (python-telegram-bot 22.8); see :mod:`bot.telegram.transport`."""

from bot.telegram.transport import (
    PLATFORM,
    FloodLimiter,
    NotSent,
    Refused,
    SendHook,
    TelegramTransport,
    create,
    is_sending,
    neutral,
    not_sent,
)

__all__ = ["PLATFORM", "FloodLimiter", "NotSent", "Refused", "SendHook", "TelegramTransport", "create",
           "is_sending", "neutral", "not_sent"]
