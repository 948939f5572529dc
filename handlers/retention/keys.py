"""The retention job's key (handlers/keys.py)."""

from __future__ import annotations

from handlers.keys import JobKey

#: "retention.nightly:<Helsinki date>": the night's run; each run plans the next night's
NIGHTLY = JobKey("retention.nightly", "night")
