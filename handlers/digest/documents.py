"""The export documents: every stored digest of some weeks grouped by area and week (JSON, CSV,
Markdown), and the features' raw records per area; the open-data versions hold only what each
area chose to publish."""

from __future__ import annotations

import re
from collections.abc import Callable

from core.i18n import N_, _, format_number
from core.markup import to_plain
from handlers.base import Services
from handlers.digest.render import renderers
from storage import digest as store
from storage import exports

#: publication choice -> digest sections and raw exports it covers
PUBLISHES = {"ideas": ("ideas",), "polls": ("polls",), "meetings": ("meetings",), "profile": ("checklist",),
             "experiments": ("experiments",)}



Progress = Callable[[int, int, str], None]


def _public_sections(sections: dict, published: list[str]) -> dict:
    allowed = {s for choice in published for s in PUBLISHES.get(choice, ())}
    return {name: exports.scrub(data) for name, data in sections.items() if name in allowed}


def section_counts(data: dict) -> dict[str, int]:
    """A section's integer ``counts``; without them, the lengths of its top-level lists
    (e.g. polls' "opened" and "closed")."""
    counts = data.get("counts") if isinstance(data, dict) else None
    if isinstance(counts, dict):
        return counts
    if not isinstance(data, dict):
        return {}
    return {key: len(value) for key, value in data.items() if isinstance(value, list)}


def _totals(chats: list[dict]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for chat in chats:
        for name, data in chat["sections"].items():
            for key, value in section_counts(data).items():
                if isinstance(value, int) and not isinstance(value, bool):
                    totals[f"{name}.{key}"] = totals.get(f"{name}.{key}", 0) + value
    return dict(sorted(totals.items()))


async def digest_document(services: Services, first: str, last: str, *, area: str | None = None,
                          public: bool = False, progress: Progress | None = None) -> dict:
    """All stored digests of weeks [first, last] as one document grouped by area and week
    (schema: docs/digest.schema.json)."""
    async with services.db.session() as session:
        records = await store.load_digests(session, first, last, area)
        published = await store.publications(session)
    by_area: dict[str | None, dict[str, list[store.Digest]]] = {}
    for record in records:
        by_area.setdefault(record.area, {}).setdefault(record.week, []).append(record)
    areas = []
    names = sorted(by_area, key=lambda a: (a is None, (a or "").casefold()))
    for n, name in enumerate(names, 1):
        if progress:
            progress(n, len(names), name or "-")
        if public and (name is None or not published.get(name)):
            continue
        weeks = []
        for week, recs in sorted(by_area[name].items()):
            chats = []
            for rec in recs:
                sections = rec.data().get("sections", {})
                if public:
                    chats.append({"platform": rec.platform, "language": rec.language,
                                  "sections": _public_sections(sections, published[name])})
                else:
                    chats.append({"chat": rec.chat_key, "platform": rec.platform, "title": rec.title,
                                  "language": rec.language, "sections": sections, "text": to_plain(rec.text)})
            weeks.append({"week": week, "start": exports.local_iso(recs[0].start),
                          "end": exports.local_iso(recs[0].end), "totals": _totals(chats),
                          "chats": exports.local_times(chats)})
        areas.append({"area": name, "published": published.get(name, []) if name else [], "weeks": weeks})
    return {"schema_version": exports.DIGEST_SCHEMA_VERSION, "kind": "kehrabot.digests",
            "generated_at": exports.local_iso(services.clock.now()), "from_week": first, "to_week": last,
            "public": public, "areas": areas}


def digest_rows(document: dict) -> list[dict]:
    """One CSV row per chat and week, plus one "area_total" row per area and week."""
    rows = []
    for area in document["areas"]:
        for week in area["weeks"]:
            base = {"row_type": "chat", "area": area["area"] or "", "week": week["week"],
                    "week_start": week["start"], "week_end": week["end"]}
            for chat in week["chats"]:
                row = {**base, "platform": chat["platform"]}
                if "chat" in chat:
                    row.update(chat=chat["chat"], title=chat["title"])
                row["language"] = chat["language"]
                row.update(_totals([chat]))
                if "text" in chat:
                    row["text"] = chat["text"]
                rows.append(row)
            rows.append({**base, "row_type": "area_total", **week["totals"]})
    return rows


def digest_csv(document: dict, separator: str = ",") -> bytes:
    rows = digest_rows(document)
    fixed = ["row_type", "area", "week", "week_start", "week_end", "platform"]
    if not document["public"]:
        fixed += ["chat", "title"]
    fixed.append("language")
    counts = sorted({k for r in rows for k in r if "." in k})
    tail = [] if document["public"] else ["text"]
    return exports.to_csv(rows, fixed + counts + tail, separator)


def digest_markdown(services: Services, document: dict, lang: str) -> bytes:
    """Headings per area (##), week (###) and chat (####); digest lines re-rendered in ``lang``."""
    by_name = renderers(services)
    with services.locale(lang):
        head = _("Kehrä weekly digests {first} – {last}").format(
            first=document["from_week"], last=document["to_week"])
        lines = ["# " + exports.md_escape(head), ""]
        if document["public"]:
            lines += [exports.md_escape(_("Open data: only what each area chose to publish.")), ""]
        for area in document["areas"]:
            lines += ["## " + exports.md_escape(area["area"] or _("No area")), ""]
            for week in area["weeks"]:
                lines += ["### " + exports.md_escape(week["week"]), ""]
                if week["totals"]:
                    lines.append(exports.md_escape(_("Area totals:")) + " " + "; ".join(
                        exports.md_escape(total_label(k)) + " " + format_number(v) for k, v in week["totals"].items()))
                    lines.append("")
                for chat in week["chats"]:
                    label = chat.get("title") or chat["platform"]
                    lines += [f"#### {exports.md_escape(label)} ({exports.md_escape(chat['platform'])})", ""]
                    body = []
                    for name, data in chat["sections"].items():
                        if name in by_name:
                            body += [md_item(to_plain(line)) for line in by_name[name](data)]
                    lines += body or ["- " + exports.md_escape(_("Nothing new this week."))]
                    lines.append("")
    return ("\n".join(lines).rstrip() + "\n").encode("utf-8")


#: labels of the area totals (section.count) in the Markdown export; others are shown by their key
TOTAL_LABELS = {
    "activity.messages": N_("messages to the bot"), "activity.people": N_("active people"),
    "activity.area_people": N_("active people, a person linked across platforms once"),
    "ideas.new": N_("new ideas"), "ideas.status_changes": N_("idea status changes"),
    "ideas.supports": N_("supports"), "polls.opened": N_("polls opened"), "polls.closed": N_("polls closed"),
    "polls.votes": N_("votes in closed polls"), "meetings.held": N_("meetings held"),
    "meetings.coming": N_("meetings coming up"), "experiments.experiments": N_("experiments in the digest"),
    "checklist.rounds": N_("self-assessment rounds"),
}


def total_label(key: str) -> str:
    label = TOTAL_LABELS.get(key)
    return _(label) if label else key.replace(".", ": ").replace("_", " ")


_BULLET = re.compile(r"^(\s*)[•◦·]\s+")


def md_item(line: str) -> str:
    """A digest line as a Markdown list item: a section's line at the top level, its "• " items
    one level in and "◦ " details two (the chat's bullets are not doubled: "- • #1")."""
    m = _BULLET.match(line)
    if m is None:
        return "- " + exports.md_escape(line)
    depth = 2 if (m.group(1) or "◦" in m.group(0)) else 1
    return "  " * depth + "- " + exports.md_escape(line[m.end():])


async def records_document(services: Services, name: str, *, area: str | None = None, public: bool = False,
                           progress: Progress | None = None) -> dict:
    """Raw records of one export (``ideas``, ``polls``…) of every feature that offers it, per area."""
    export = next((f.exports[name] for f in services.features if name in f.exports), None)
    if export is None:
        raise LookupError(name)
    async with services.db.session() as session:
        areas = await store.chats_by_area(session)
        published = await store.publications(session)
    choice = next((c for c, covered in PUBLISHES.items() if name in covered), None)
    names = [a for a in sorted(areas, key=lambda a: (a is None, (a or "").casefold())) if area is None or a == area]
    records = []
    for n, area_name in enumerate(names, 1):
        if progress:
            progress(n, len(names), area_name or "-")
        if public and (area_name is None or choice not in published.get(area_name, [])):
            continue
        rows = await export(services, areas[area_name], public)
        for row in rows:
            row = exports.scrub(row) if public else row
            records.append({"area": area_name, **exports.local_times(row)})  # moments in Helsinki time
    return {"schema_version": exports.RECORDS_SCHEMA_VERSION, "kind": f"kehrabot.{name}",
            "generated_at": exports.local_iso(services.clock.now()), "public": public, "records": records}


def records_markdown(document: dict, title: str) -> bytes:
    lines = ["# " + exports.md_escape(title), ""]
    groups: dict[str | None, list[dict]] = {}
    for row in document["records"]:
        groups.setdefault(row["area"], []).append({k: v for k, v in row.items() if k != "area"})
    for area, rows in groups.items():
        lines += ["## " + exports.md_escape(area or "-"), "", *exports.md_table(rows), ""]
    return ("\n".join(lines).rstrip() + "\n").encode("utf-8")


def export_names(services: Services) -> list[str]:
    return sorted({name for f in services.features for name in f.exports})


async def render_export(services: Services, what: str, fmt: str, *, first: str, last: str, area: str | None = None,
                        public: bool = False, lang: str = "fi", progress: Progress | None = None,
                        separator: str | None = None) -> bytes:
    """One export as bytes. CSV is separated by ``separator``, by default the one Excel expects in
    ``lang`` (";" in Finnish and Swedish, "," in English: see storage.exports.SEPARATORS)."""
    separator = separator or exports.separator_for(lang)
    if what == "digests":
        doc = await digest_document(services, first, last, area=area, public=public, progress=progress)
        if fmt == "json":
            return exports.to_json(doc)
        if fmt == "csv":
            return digest_csv(doc, separator)
        return digest_markdown(services, doc, lang)
    doc = await records_document(services, what, area=area, public=public, progress=progress)
    if fmt == "json":
        return exports.to_json(doc)
    if fmt == "csv":
        return exports.to_csv(doc["records"], exports.columns_of(doc["records"], ["area"]), separator)
    return records_markdown(doc, f"kehrabot {what}")
