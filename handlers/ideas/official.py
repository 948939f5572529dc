"""How an idea's official answers and its wait for one read on ``/idea N`` (the referral and
answering are in handlers/ideas/routing.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from core.i18n import _, format_date, format_number, ngettext
from core.markup import b, esc
from handlers.base import Context
from handlers.ideas.render import status_label
from storage import idea_routing as routes
from storage import ideas as store


def role_label(role: str, coordinators: bool) -> str:
    return _("the project coordinators") if coordinators or not role else role


def aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def waited_days(since: datetime, now: datetime) -> int:
    return max(0, (now - aware(since)).days)


async def answer_lines(ctx: Context, idea: store.Idea) -> list[str]:
    """Its official answers, or how long it has waited for one."""
    async with ctx.db.session() as session:
        answers = (await routes.answers_of(session, [idea.id])).get(idea.id, [])
        referral = await routes.referral(session, idea.id)
    lines = []
    for answer in answers:
        head = _("Official answer ({role}, {name}, {date})").format(
            role=answer.role or _("project coordinator"), name=answer.answerer_name or "?", date=format_date(answer.at))
        if answer.moved_to:
            head += " → " + status_label(answer.moved_to)
        lines += ["🏛 " + b(head), esc(answer.text)]
    if not answers and referral is not None and idea.status not in ("archived", "done"):
        days = waited_days(referral.reached_at, ctx.now())
        lines.append("⏳ " + esc(ngettext(
            "Waiting for an answer from {role} since {date} ({days} day).",
            "Waiting for an answer from {role} since {date} ({days} days).", days).format(
            role=role_label(referral.role, referral.coordinators), date=format_date(referral.reached_at),
            days=format_number(days))))
    return lines
