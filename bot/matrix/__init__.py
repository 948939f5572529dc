"""The Matrix transport (matrix-nio): sync loop with gap back-fill, idempotent dispatch, invites,
reactions as buttons, MSC3381 polls, media, end-to-end encryption and back-off on faults.

One class, :class:`MatrixTransport` (transport.py: state, login, start, stop), put together from
parts named for what they hold:

- ``sync.py`` — the sync loop, gap back-fill, per-room order, claimed and finished events
- ``mapping.py`` — room events → neutral ``Incoming`` events
- ``rooms.py`` — invites, leaving empty rooms, private chats, member counts, roles
- ``sending.py`` — sends once under transaction ids (what Synapse keeps, in its docstring)
- ``errors.py`` — the neutral errors, transaction ids

Everything logs as ``bot.matrix``.
"""

from bot.matrix.errors import MatrixError, txn_id
from bot.matrix.mapping import BUTTON_KEYS, PLATFORM, count_choices, poll_selections, strip_mention
from bot.matrix.rooms import allowed_inviter, room_admins
from bot.matrix.transport import MatrixTransport, create

__all__ = ["BUTTON_KEYS", "PLATFORM", "MatrixError", "MatrixTransport", "allowed_inviter", "count_choices",
           "create", "poll_selections", "room_admins", "strip_mention", "txn_id"]
