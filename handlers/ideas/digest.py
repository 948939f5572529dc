"""The ideas' part of the weekly digest, and the raw-record export."""

from __future__ import annotations

from datetime import datetime

from core.i18n import _, format_number, ngettext
from core.markup import b, esc
from handlers.base import Services
from handlers.ideas.official import role_label, waited_days
from handlers.ideas.render import short, status_label, tags_text
from storage import idea_routing as routes
from storage import idea_threads as threads_store
from storage import ideas as store

DIGEST_LIST_MAX = 5


async def ideas_digest(services: Services, chat_key: str, start: datetime, end: datetime) -> dict | None:
    """New ideas with tags, status changes and the most supported open ideas of [start, end)."""
    async with services.db.session() as session:
        new = await store.created_between(session, chat_key, start, end)
        changes = await store.status_changes_between(session, chat_key, start, end)
        supports = await store.supports_between(session, chat_key, start, end)
        waiting = await routes.waiting(session, chat_key)  # referred, no answer yet (handlers/ideas/routing.py)
        answered = await routes.answers_between(session, chat_key, start, end)
        discussed = await threads_store.activity_between(session, chat_key, start, end, DIGEST_LIST_MAX)
        if not (new or changes or supports or discussed or waiting or answered):
            return None
        top = await store.most_supported(session, chat_key)
    official = {
        "waiting": [{"number": i.number, "text": short(i.text, 120), "days": waited_days(r.reached_at, end),
                     "role": role_label(r.role, r.coordinators) if not r.coordinators else "coordinators"}
                    for r, i in waiting[:DIGEST_LIST_MAX]],
        "answered": [{"number": i.number, "text": short(a.text, 200), "role": a.role or "coordinators",
                      "moved_to": a.moved_to} for a, i in answered[:DIGEST_LIST_MAX]],
    }
    return {
        **official,
        "discussed": [{"number": number, "messages": count} for number, count in discussed],
        "counts": {"new": len(new), "status_changes": len(changes), "supports": supports,
                   # only where there are any: the area totals and the CSV columns of chats without
                   # official answers stay as they were
                   **({"waiting_answer": len(waiting)} if waiting else {}),
                   **({"answered": len(answered)} if answered else {})},
        "new": [{"number": i.number, "text": short(i.text, 120), "tags": i.tag_list()} for i in new[:DIGEST_LIST_MAX]],
        "status_changes": [{"number": i.number, "text": short(i.text, 120), "from": ev.from_status, "to": ev.to_status}
                           for ev, i in changes[:DIGEST_LIST_MAX]],
        "top": [{"number": i.number, "text": short(i.text, 120), "supports": i.support_count, "status": i.status}
                for i in top],
    }


def render_ideas_digest(data: dict) -> list[str]:
    counts = data.get("counts", {})
    lines = ["💡 " + b(_("Ideas")) + ": " + esc(_("new {new} · status changes {changes} · supports {supports}").format(
        new=format_number(counts.get("new", 0)), changes=format_number(counts.get("status_changes", 0)),
        supports=format_number(counts.get("supports", 0))))]
    for item in data.get("new", []):
        tags = f" ({tags_text(item['tags'])})" if item.get("tags") else ""
        lines.append(f"• #{item['number']} {esc(short(item['text'], 60))}{tags}")
    more = counts.get("new", 0) - len(data.get("new", []))
    if more > 0:
        lines.append("• " + esc(ngettext("and {count} more", "and {count} more", more).format(count=format_number(more))))
    for item in data.get("status_changes", []):
        lines.append("• " + esc(_("#{number} {old} → {new}").format(
            number=item["number"], old=status_label(item.get("from") or ""), new=status_label(item.get("to") or ""))))
    if data.get("discussed"):
        lines.append(esc(_("Discussed in their threads:")) + " " + ", ".join(
            "#{number} 💬 {messages}".format(**item) for item in data["discussed"]))
    for item in data.get("answered", []):
        lines.append("• " + esc(_("#{number} answered by {role}: {text}").format(
            number=item["number"], role=_role(item.get("role")), text=short(item.get("text", ""), 80))))
    if data.get("waiting"):
        lines.append(esc(_("Waiting for an answer:")) + " " + ", ".join(esc(ngettext(
            "#{number} for {days} day ({role})", "#{number} for {days} days ({role})", item.get("days", 0)).format(
            number=item["number"], days=format_number(item.get("days", 0)), role=_role(item.get("role"))))
            for item in data["waiting"]))
    if data.get("top"):
        lines.append(esc(_("Most supported:")) + " " + ", ".join(
            f"#{item['number']} {esc(short(item['text'], 40))} 👍 {item['supports']}" for item in data["top"]))
    return lines


def _role(role: str | None) -> str:
    return role_label("", True) if not role or role == "coordinators" else role


async def export_ideas(services: Services, chat_keys: list[str] | None, public: bool) -> list[dict]:
    """Raw idea records; public ones leave out withdrawn ideas, authors and platform ids."""
    async with services.db.session() as session:
        ideas = await store.for_export(session, chat_keys)
        answers = await routes.answers_of(session, [i.id for i in ideas])
    rows = []
    for idea in ideas:
        if public and idea.status == "withdrawn":
            continue
        row = {"number": idea.number, "text": idea.text, "tags": " ".join(idea.tag_list()), "status": idea.status,
               "supports": idea.support_count, "created_at": idea.created_at.isoformat(),
               "updated_at": idea.updated_at.isoformat()}
        latest = answers.get(idea.id, [])[-1:]  # the official answer (the latest, where there are more)
        row.update(answer=latest[0].text if latest else None, answered_by_role=latest[0].role if latest else None,
                   answered_at=latest[0].at.isoformat() if latest else None)
        if not public:
            row = {"chat_key": idea.chat_key, **row, "author_name": idea.author_name, "author_key": idea.author_key,
                   "answered_by_name": latest[0].answerer_name if latest else None,
                   "answered_by_key": latest[0].answerer_key if latest else None}
        rows.append(row)
    return rows
