"""The polls' part of the weekly digest, and the raw-record export."""

from __future__ import annotations

from datetime import datetime

from core.i18n import _, format_number, ngettext
from core.markup import b, esc
from handlers.base import Services
from handlers.polls.render import outcome_text, winners
from storage import ideas as idea_store
from storage import polls as store


async def digest(services: Services, chat_key: str, start: datetime, end: datetime) -> dict | None:
    """Polls opened and polls closed (with results) in [start, end). No personal data."""
    async with services.db.session() as session:
        opened, closed = await store.in_period(session, chat_key, start, end)
    if not opened and not closed:
        return None
    return {
        "counts": {"opened": len(opened), "closed": len(closed), "votes": sum(p.voters for p in closed)},
        "opened": [{"number": p.number, "question": p.question, "close_at": p.close_at.isoformat()} for p in opened],
        "closed": [
            {"number": p.number, "question": p.question, "options": p.option_list(), "counts": p.count_list() or [],
             "voter_count": p.voters, "member_count": p.members, "winners": winners(p.count_list() or [])}
            for p in closed
        ],
    }


def render_digest(facts: dict) -> list[str]:
    counts = facts.get("counts", {})
    opened, closed = counts.get("opened", 0), counts.get("closed", 0)
    lines = ["📊 " + b(_("Polls")) + " " + esc(
        ngettext("{count} opened", "{count} opened", opened).format(count=format_number(opened)) + ", "
        + ngettext("{count} closed", "{count} closed", closed).format(count=format_number(closed)))]
    for poll in facts.get("closed", []):
        voters = poll.get("voter_count", 0)
        line = "• " + esc(_("#{number} {question} — {outcome}").format(
            number=poll["number"], question=poll["question"], outcome=outcome_text(poll["options"], poll["counts"])))
        if voters:  # "nobody voted" says it already
            line += " " + esc(ngettext("({count} voter)", "({count} voters)", voters).format(
                count=format_number(voters)))
        lines.append(line)
    return lines


async def export_polls(services: Services, chat_keys: list[str] | None, public: bool) -> list[dict]:
    """One row per poll. Results of open polls are not published early; votes are never exported;
    public rows leave out the chat and the creator."""
    async with services.db.session() as session:
        polls = await store.for_export(session, chat_keys)
    rows = []
    for p in polls:
        if public and p.status == store.CANCELLED:
            continue
        closed = p.status == store.CLOSED
        options, counts = p.option_list(), p.count_list() if closed else None
        row = {
            "number": p.number, "question": p.question, "options": options,
            "multiple": p.multiple, "max_choices": p.max_choices, "anonymous": p.anonymous,
            "hide_results": p.hide_results, "idea_number": None, "status": p.status,
            "created_at": p.created_at.isoformat(), "close_at": p.close_at.isoformat(),
            "closed_at": p.closed_at.isoformat() if p.closed_at else None,
            "counts": counts,
            # the same as one CSV-friendly text: "Tue 3 | Wed 1"
            "result": " | ".join(f"{o} {c}" for o, c in zip(options, counts, strict=True)) if counts else None,
            "voter_count": p.voters if closed else None, "member_count": p.members,
        }
        if p.idea_id is not None:
            row["idea_number"] = await _idea_number(services, p.idea_id)
        if not public:
            row = {"chat_key": p.chat_key, **row, "creator_name": p.creator_name, "creator_key": p.creator_key}
        rows.append(row)
    return rows


async def _idea_number(services: Services, idea_id: int) -> int | None:
    async with services.db.session() as session:
        idea = await idea_store.by_id(session, idea_id)
    return idea.number if idea else None
