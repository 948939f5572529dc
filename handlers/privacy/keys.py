"""The privacy feature's button: ``privacy:forget:<until>``, the confirmation of /forgetme
(``until``: when the request expires, in seconds since the epoch)."""

from __future__ import annotations

from handlers.keys import ButtonKind

CONFIRM = ButtonKind("privacy", "forget", ("until", int))
