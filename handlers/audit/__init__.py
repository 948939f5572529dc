"""The audit log: admins read their chat's recorded actions (``/loki``), coordinators export them.

The records are written by the features themselves, in the transaction of each change
(``storage.audit.record``). ``commands`` declares the feature; ``parse`` and ``render`` are pure;
``flow`` holds the command and the export."""

from handlers.audit.commands import FEATURE

__all__ = ["FEATURE"]
