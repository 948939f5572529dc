"""The readable side of a person's data: the summary beside the file, the forget texts."""

from __future__ import annotations

import json
from typing import Any

from core.i18n import _, format_number, ngettext
from core.markup import b, esc
from handlers.core import LANGUAGE_NAMES


def data_file(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False).encode()


def _line(n: int, text: str) -> str:
    return "• " + esc(text.format(count=format_number(n)))


def summary(data: dict[str, Any], private_chat: str) -> str:
    """A short summary of ``data`` (storage.privacy.collect) in the current language; the chats
    counted are the groups (not ``private_chat``)."""
    chats = {row["chat"] for section in data.values() if isinstance(section, list)
             for row in section if isinstance(row, dict) and row.get("chat")} - {private_chat}
    person = data.get("person", {})
    lines = [b(_("What I keep about you")),
             esc(_("Names: {names}").format(names=", ".join(data.get("names") or []) or "—")),
             esc(_("Language: {language}").format(language=LANGUAGE_NAMES.get(person.get("language") or "", _("not chosen")))),
             _line(len(chats), ngettext("in {count} group", "in {count} groups", len(chats)))]
    weeks = [a for a in data.get("activity", []) if a["chat"] != private_chat]
    counts = [
        (len(data.get("ideas", [])), ngettext("{count} idea", "{count} ideas", len(data.get("ideas", [])))),
        (len(data.get("supports", [])), ngettext("{count} support of an idea", "{count} supports of ideas",
                                                 len(data.get("supports", [])))),
        (len(data.get("idea_changes", [])), ngettext("{count} change to an idea", "{count} changes to ideas",
                                                     len(data.get("idea_changes", [])))),
        (len(data.get("polls_created", [])), ngettext("{count} poll started", "{count} polls started",
                                                      len(data.get("polls_created", [])))),
        (len(data.get("votes", [])), ngettext("{count} named vote in a poll", "{count} named votes in polls",
                                              len(data.get("votes", [])))),
        (len(data.get("meetings_created", [])), ngettext("{count} meeting set up", "{count} meetings set up",
                                                         len(data.get("meetings_created", [])))),
        (len(data.get("rsvps", [])), ngettext("{count} RSVP to a meeting", "{count} RSVPs to meetings",
                                              len(data.get("rsvps", [])))),
        (sum(len(r["answers"]) for r in data.get("checklist", [])),
         ngettext("{count} self-assessment answer", "{count} self-assessment answers",
                  sum(len(r["answers"]) for r in data.get("checklist", [])))),
        (len(data.get("experiments", [])), ngettext("a role in {count} experiment", "roles in {count} experiments",
                                                    len(data.get("experiments", [])))),
        (len(weeks), ngettext("active during {count} week in a group", "active during {count} weeks in groups",
                              len(weeks))),
        (len(data.get("audit", [])), ngettext("{count} recorded admin action", "{count} recorded admin actions",
                                              len(data.get("audit", [])))),
    ]
    lines += [_line(n, text) for n, text in counts if n]
    lines.append(esc(_("Everything is in the file, as JSON.")))
    return "\n".join(lines)


def forget_question(confirm: str, minutes: int) -> str:
    return "\n".join([
        b(_("Erase what I keep about you?")),
        esc(_("Your supports, your named votes in polls, your RSVPs to meetings, your settings and your "
              "activity marks are deleted in every group. Your ideas, polls and meetings stay, by "
              "\"a former member\"; your self-assessment answers stay only as anonymous contributions.")),
        esc(ngettext("Press the button or send {confirm} within {count} minute. This cannot be undone.",
                     "Press the button or send {confirm} within {count} minutes. This cannot be undone.",
                     minutes).format(confirm=confirm, count=format_number(minutes))),
    ])


def forgotten() -> str:
    return esc(_("Done: I no longer keep anything with your name or id. The ideas and answers you gave "
                 "stay, without your name."))
