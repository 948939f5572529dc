"""The Matrix transport (matrix-nio); see :mod:`bot.matrix.transport`."""

from bot.matrix.transport import (
    BUTTON_KEYS,
    PLATFORM,
    MatrixError,
    MatrixTransport,
    allowed_inviter,
    count_choices,
    create,
    poll_selections,
    room_admins,
    strip_mention,
    txn_id,
)

__all__ = ["BUTTON_KEYS", "PLATFORM", "MatrixError", "MatrixTransport", "allowed_inviter", "count_choices",
           "create", "poll_selections", "room_admins", "strip_mention", "txn_id"]
