"""The audit log's declarations: the command (admins) and the export (coordinators)."""

from __future__ import annotations

from core.i18n import N_
from handlers.audit.flow import export_audit, log_cmd
from handlers.audit.parse import parse_page
from handlers.base import Command, Feature

FEATURE = Feature(
    name="audit",
    commands=[
        Command("auditlog", log_cmd, {"fi": ("loki",), "sv": ("logg",), "en": ("auditlog",)},
                help=N_("the chat's audit log: who changed what, newest first"), usage=N_("[page]"),
                parse=parse_page),
    ],
    exports={"audit": export_audit},
)
