"""Retention: a nightly job (03:30 Helsinki) deletes raw records older than the configured months
(``[retention]`` in the configuration; storage/retention.py says what each kind is)."""

from handlers.base import Feature
from handlers.retention.jobs import nightly_job, on_start
from handlers.retention.keys import NIGHTLY

FEATURE = Feature(name="retention", jobs={NIGHTLY.kind: nightly_job}, on_start=on_start)

__all__ = ["FEATURE"]
