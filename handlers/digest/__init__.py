"""Weekly digests per chat, areas and open-data choices, activity counts, the coordinators' pull.

The feature's declarations are ``FEATURE``; the names other code uses are re-exported here."""

from handlers.digest.flow import (
    FEATURE,
    MAX_LINES,
    digest_document,
    export_names,
    is_private,
    render_export,
    slot,
    sweep,
)

__all__ = ["FEATURE", "MAX_LINES", "digest_document", "export_names", "is_private", "render_export", "slot",
           "sweep"]
