"""Matrix failures as the neutral errors of core/transport.py (subclasses of :class:`MatrixError`,
itself a TransportError): M_FORBIDDEN → Forbidden, M_NOT_FOUND → MessageGone, M_LIMIT_EXCEEDED
after the retries → RateLimited, connection refused or logged out → Unavailable, timeouts and 5xx
after the retries → Ambiguous (the request may have arrived), other refusals (M_TOO_LARGE …) →
MatrixError; and :func:`txn_id`, the transaction id of a keyed request (sending.py)."""

from __future__ import annotations

import hashlib
from typing import Any

from nio import (
    ErrorResponse,
)

from core.transport import (
    Ambiguous,
    Forbidden,
    MessageGone,
    RateLimited,
    TransportError,
    Unavailable,
)


class MatrixError(TransportError):
    """A request to the homeserver failed (after retries); refused as it was (M_TOO_LARGE …)
    when it is none of the subclasses below."""


class LoginError(MatrixError):
    """The configured credentials do not work: the bot cannot start on Matrix."""


class MatrixForbidden(Forbidden, MatrixError):
    pass


class MatrixMessageGone(MessageGone, MatrixError):
    pass


class MatrixRateLimited(RateLimited, MatrixError):
    pass


class MatrixUnavailable(Unavailable, MatrixError):
    pass


class MatrixAmbiguous(Ambiguous, MatrixError):
    pass


#: errcodes after which sending again does not help
LOGGED_OUT = ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN")


def txn_id(key: str, part: str) -> str:
    """The transaction id of one request made for an idempotency key: the same key and part
    always give the same id, so the homeserver drops a repeated request."""
    return "kb" + hashlib.sha256(f"{key}.{part}".encode()).hexdigest()[:40]


def http_status(resp: Any) -> int | None:
    transport = getattr(resp, "transport_response", None)
    return getattr(transport, "status", None)


def refusal(resp: ErrorResponse, what: str) -> MatrixError | None:
    """The neutral error for an error response that is final (not worth retrying), or None for
    one worth retrying (rate limits, 5xx)."""
    code = resp.status_code
    status = http_status(resp)
    if code == "M_FORBIDDEN":
        return MatrixForbidden(f"{what}: {resp}")
    if code == "M_NOT_FOUND":
        return MatrixMessageGone(f"{what}: {resp}")
    if code in LOGGED_OUT:
        return MatrixUnavailable(f"{what}: logged out ({code})")
    if code == "M_LIMIT_EXCEEDED" or status == 429:
        return None
    if status is not None and 400 <= status < 500:
        return MatrixError(f"{what}: {resp}")
    return None  # 5xx, or no status: the request may have arrived
