"""How ideas read: tag and status labels, short texts, the card of an idea and its 👍 button.
Pure functions: no store, no transport."""

from __future__ import annotations

from core.events import Button
from core.i18n import N_, _, current_language, format_number, ngettext
from core.markup import b, esc
from handlers.ideas.keys import SUPPORT
from handlers.ideas.themes import THEMES_BY_ID
from storage import ideas as store

STATUS_LABELS = {
    "new": N_("new"),
    "discussed": N_("discussed"),
    "experiment": N_("experiment"),
    "project": N_("project"),
    "done": N_("done"),
    "archived": N_("archived"),
    "withdrawn": N_("withdrawn"),
}


def tag_label(tag: str) -> str:
    theme = THEMES_BY_ID.get(tag)
    if theme is not None:
        return theme.labels.get(current_language(), theme.labels["en"])
    return "#" + tag


def tags_text(tags: list[str] | tuple[str, ...]) -> str:
    return ", ".join(esc(tag_label(t)) for t in tags)


def status_label(status: str) -> str:
    return _(STATUS_LABELS.get(status, status))


def short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def support_buttons(idea: store.Idea) -> tuple[tuple[Button, ...], ...]:
    label = _("Support")
    return ((Button(f"👍 {label} ({idea.support_count})", SUPPORT.data(idea=idea.id)),),)


def card_text(idea: store.Idea) -> str:
    head = "💡 " + b(_("Idea #{number}").format(number=idea.number))
    if idea.status == "withdrawn":
        return head + " " + esc(_("The author has withdrawn this idea."))
    lines = [head + " " + esc(short(idea.text))]
    if idea.tags:
        lines.append(_("Tags: {tags}").format(tags=tags_text(idea.tag_list())))
    supporters = ngettext("{count} supporter", "{count} supporters", idea.support_count).format(
        count=format_number(idea.support_count))
    if idea.status != "new":
        supporters = _("Status: {status}").format(status=status_label(idea.status)) + " · " + supporters
    lines.append(esc(supporters))
    return "\n".join(lines)
