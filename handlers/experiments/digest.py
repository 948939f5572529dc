"""The experiments' facts for the weekly digest and their raw-record export."""

from __future__ import annotations

from datetime import datetime

from core.i18n import local
from handlers.base import Services
from storage import experiments as store


async def digest(services: Services, chat_key: str, start: datetime, end: datetime) -> dict | None:
    async with services.db.session() as session:
        pairs = await store.for_chats(session, [chat_key])
        pairs = [(e, i) for e, i in pairs if e.created_at < end and (e.closed_at is None or e.closed_at >= start)]
        if not pairs:
            return None
        ids = [e.id for e, _i in pairs]
        steps = await store.steps_in(session, ids, start, end)
        inds = {e.id: await store.indicators(session, e.id) for e, _i in pairs}
        all_inds = [ind for lst in inds.values() for ind in lst]
        recorded = await store.values_recorded_in(session, [i.id for i in all_inds], start, end)
        latest = await store.values(session, [i.id for i in all_inds])
    out = []
    for exp, idea in pairs:
        out.append({
            "number": idea.number, "title": idea.text[:200], "status": exp.status, "phase": exp.phase,
            "steps": [{"action": s.action, "from": s.from_phase, "to": s.to_phase, "note": s.note,
                       "at": s.at.isoformat()} for s in steps if s.experiment_id == exp.id],
            "indicators": [
                {"indicator": ind.name, "unit": ind.unit, "target": ind.target, "direction": ind.direction,
                 "latest": latest[ind.id][-1].value if latest[ind.id] else None,
                 "new_values": [v.value for v in recorded if v.indicator_id == ind.id]}
                for ind in inds[exp.id]],
            "outcome": exp.outcome if exp.closed_at and exp.closed_at >= start else "",
        })
    return {"experiments": out}


async def export_experiments(services: Services, chat_keys: list[str] | None, public: bool) -> list[dict]:
    async with services.db.session() as session:
        pairs = await store.for_chats(session, chat_keys)
        rows = []
        for exp, idea in pairs:
            inds = await store.indicators(session, exp.id)
            vals = await store.values(session, [i.id for i in inds])
            history = await store.steps(session, exp.id)
            row = {
                "chat": exp.chat_key, "idea_number": idea.number, "title": idea.text, "status": exp.status,
                "phase": exp.phase,
                "starts_at": exp.starts_at.isoformat() if exp.starts_at else None,
                "ends_at": exp.ends_at.isoformat() if exp.ends_at else None,
                "created_at": exp.created_at.isoformat(),
                "closed_at": exp.closed_at.isoformat() if exp.closed_at else None,
                "outcome": exp.outcome,
                "phases": [{"action": s.action, "from": s.from_phase, "to": s.to_phase, "at": s.at.isoformat(),
                            "note": s.note} for s in history],
                "indicators": [
                    # "indicator", not "name": the open-data export drops keys that look personal
                    {"number": ind.number, "indicator": ind.name, "unit": ind.unit, "target": ind.target,
                     "direction": ind.direction,
                     "values": [{"date": local(v.measured_at).date().isoformat(), "value": v.value}
                                | ({} if public else {"recorded_by": v.recorder_name}) for v in vals[ind.id]]}
                    for ind in inds],
                "team_size": len(await store.members(session, exp.id)),
            }
            if not public:
                row["owner"] = exp.owner_name
                row["team"] = [m.name for m in await store.members(session, exp.id)]
            rows.append(row)
    return rows
