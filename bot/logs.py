"""Logging set-up with secrets redacted from every line, tracebacks included.

At the default level (INFO) the bot's own log lines name chats, people and commands by their ids,
never a message's text, a person's name or a token; the store's errors do not carry the values of
their SQL parameters (storage/db.py ``hide_parameters``)."""

from __future__ import annotations

import logging
import re


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._pattern = re.compile("|".join(re.escape(s) for s in secrets if s and len(s) >= 6)) if any(
            s and len(s) >= 6 for s in secrets) else None

    def filter(self, record: logging.LogRecord) -> bool:
        if self._pattern is not None:
            message = record.getMessage()
            if self._pattern.search(message):
                record.msg = self._pattern.sub("[redacted]", message)
                record.args = ()
        return True


class RedactingFormatter(logging.Formatter):
    """Redacts the whole formatted line: a traceback can carry a token too (an HTTP error's URL)."""

    def __init__(self, fmt: str, secrets: list[str]) -> None:
        super().__init__(fmt)
        self._redact = RedactSecrets(secrets)._pattern

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        return self._redact.sub("[redacted]", line) if self._redact is not None else line


def setup_logging(level: str, secrets: list[str]) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
