"""The log as HTML lines in the current language (times in Europe/Helsinki). Pure."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from core.i18n import N_, _, format_datetime, format_number, ngettext
from core.markup import b, esc
from storage.audit import AuditEvent

#: what each recorded action is called; an action not listed is shown by its key
ACTIONS = {
    "idea.status": N_("idea's status"),
    "idea.edit": N_("idea edited"),
    "idea.withdraw": N_("idea withdrawn"),
    "ideas.threshold": N_("ideas' support threshold and who answers"),
    "ideas.responder": N_("who answers ideas"),
    "ideas.threads": N_("a thread per idea"),
    "poll.close": N_("poll closed"),
    "poll.extend": N_("poll extended"),
    "poll.cancel": N_("poll cancelled"),
    "poll.settings": N_("poll settings"),
    "meeting.create": N_("meeting created"),
    "meeting.cancel": N_("meeting cancelled"),
    "meeting.skip": N_("meeting skipped"),
    "meeting.move": N_("meeting moved"),
    "meeting.settings": N_("meeting settings"),
    "checklist.start": N_("checklist round started"),
    "checklist.close": N_("checklist round closed"),
    "checklist.mode": N_("checklist answering mode"),
    "checklist.share": N_("checklist sharing"),
    "experiment.start": N_("experiment started"),
    "experiment.phase": N_("experiment's phase"),
    "experiment.done": N_("experiment done"),
    "experiment.abandon": N_("experiment abandoned"),
    "digest.settings": N_("digest settings"),
    "chat.area": N_("chat's area"),
    "area.publish": N_("area's open data"),
    "chat.language": N_("chat's language"),
    "chat.move": N_("chat moved to a new id"),
}


#: what the recorded fields are called; a field not listed is shown by its key
FIELDS = {
    "status": N_("status"),
    "reason": N_("reason"),
    "close_at": N_("closes"),
    "closes_at": N_("closes"),
    "who_may_start": N_("who may start polls"),
    "title": N_("title"),
    "start": N_("time"),
    "starts_at": N_("starts"),
    "ends_at": N_("ends"),
    "rrule": N_("repeats"),
    "occurrence": N_("meeting of"),
    "skipped": N_("skipped"),
    "cancelled": N_("cancelled"),
    "reminders": N_("reminders (minutes before)"),
    "quiet": N_("quiet hours"),
    "checklist": N_("checklist"),
    "open": N_("open"),
    "in_group": N_("answered in the group"),
    "share": N_("shared with other areas"),
    "area": N_("area"),
    "publish": N_("open data"),
    "threshold": N_("support threshold"),
    "role": N_("role"),
    "coordinators": N_("coordinators answer"),
    "remind_days": N_("reminder after (days)"),
    "person": N_("person"),
    "name": N_("name"),
    "on": N_("weekly digest on"),
    "threads": N_("a thread per idea"),
    "day": N_("weekday"),
    "time": N_("time"),
    "phase": N_("phase"),
    "note": N_("what was learned"),
    "outcome": N_("outcome"),
    "language": N_("language"),
    "chat": N_("chat"),
}
_MOMENT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?\+00:00$")


def action_label(action: str) -> str:
    return _(ACTIONS[action]) if action in ACTIONS else action


def _value(value: Any) -> str:
    """A recorded value as people read it: moments in Helsinki time, yes/no, lists with commas."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, str):
        return format_datetime(datetime.fromisoformat(value)) if _MOMENT.match(value) else value
    if isinstance(value, int | float):
        return format_number(value)
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value)
    return json.dumps(value, ensure_ascii=False)


def change_text(before: Any, after: Any) -> str:
    """``field: old → new`` for each field that changed (a whole value when it is not a mapping)."""
    if isinstance(before, dict | type(None)) and isinstance(after, dict | type(None)) and (before or after):
        old, new = before or {}, after or {}
        parts = [f"{_(FIELDS[k]) if k in FIELDS else k}: {_value(old.get(k))} → {_value(new.get(k))}"
                 for k in dict.fromkeys([*old, *new]) if old.get(k) != new.get(k)]
        return "; ".join(parts)
    return f"{_value(before)} → {_value(after)}"


def event_line(ev: AuditEvent) -> str:
    who = ev.actor_name or (_("the bot") if ev.actor_key == "system" else ev.actor_key)
    head = _("{when} · {who} · {action}").format(when=format_datetime(ev.at), who=who, action=action_label(ev.action))
    target = f" ({ev.target})" if ev.target else ""
    change = change_text(ev.before_data(), ev.after_data())
    return esc(head + target + (": " + change if change else ""))


def log_page(rows: list[AuditEvent], total: int, page: int, pages: int, next_cmd: str) -> str:
    if total == 0:
        return esc(_("Nothing has been recorded in this chat's log yet."))
    if not rows:
        return esc(ngettext("The log has only {pages} page.", "The log has only {pages} pages.", pages).format(
            pages=format_number(pages)))
    head = ngettext("Audit log: {count} recorded action, page {page}/{pages}",
                    "Audit log: {count} recorded actions, page {page}/{pages}", total).format(
        count=format_number(total), page=format_number(page), pages=format_number(pages))
    lines = [b(head), *(event_line(ev) for ev in rows)]
    if page < pages:
        lines.append(esc(_("Older: {cmd}").format(cmd=next_cmd)))
    return "\n".join(lines)
