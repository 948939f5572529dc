"""Weekly digests per chat, areas and open-data choices, activity counts, the coordinators' pull.

Every chat gets a digest of each ISO week (Monday–Sunday, Helsinki) at its configured moment of the
following week (default Monday 09:00). A sweep (run from the scheduler's tick when planned, at
least hourly, and at every start) produces every digest that is due and missing: the record is inserted first (unique per chat and week, so two instances or a restart
cannot make a second one), then the post is claimed and sent. Weeks missed while the bot was down
are produced late; only the newest one is posted, older ones are stored only.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic

from babel import dates as babel_dates

from core.clock import HELSINKI
from core.events import FileOut, Role
from core.i18n import N_, _, current_language, format_date, format_number, ngettext, resolve_language
from core.markup import b, esc, to_plain
from handlers.base import Command, Context, Feature, Services, UserError
from handlers.when import clock_face
from storage import digest as store
from storage import exports
from storage.core import Chat, ensure_chat, set_chat_setting


def _digits(text: str) -> bool:
    """ASCII digits only ("²".isdigit() is True, but int() refuses it)."""
    return text.isascii() and text.isdigit()


log = logging.getLogger(__name__)

DEFAULT_DAY, DEFAULT_TIME = 0, "09:00"
#: how far back missing digests are produced
MAX_BACKFILL_WEEKS = 12
#: a post that failed is retried while its record is younger than this
RETRY_POST_FOR = timedelta(days=6)
MAX_LINES = 30
#: a sweep started by the scheduler works at most this long, then continues a second later
SWEEP_BUDGET_SECONDS = 2.0
#: publication choice -> digest sections and raw exports it covers
PUBLISHES = {"ideas": ("ideas",), "polls": ("polls",), "meetings": ("meetings",), "profile": ("checklist",),
             "experiments": ("experiments",)}
PUBLISH_WORDS = {
    "ideas": ("ideas", "idea", "ideat", "idéer", "ideer"),
    "polls": ("polls", "poll", "kyselyt", "äänestykset", "omröstningar", "omrostningar"),
    "meetings": ("meetings", "tapaamiset", "kokoukset", "möten", "moten"),
    "profile": ("profile", "checklist", "profiili", "itsearviointi", "profil"),
    "experiments": ("experiments", "experiment", "kokeilut", "kokeilu", "försök", "forsok"),
}
NONE_WORDS = ("none", "nothing", "ei", "mitään", "inget", "ingenting", "-")
OFF_WORDS = ("off", "pois", "av")
ON_WORDS = ("on", "päälle", "paalle", "pa", "på")
DAY_WORDS = (
    ("monday", "mon", "maanantai", "ma", "måndag", "mån", "mandag"),
    ("tuesday", "tue", "tiistai", "ti", "tisdag", "tis"),
    ("wednesday", "wed", "keskiviikko", "ke", "onsdag", "ons"),
    ("thursday", "thu", "torstai", "to", "torsdag", "tors"),
    ("friday", "fri", "perjantai", "pe", "fredag", "fre"),
    ("saturday", "sat", "lauantai", "la", "lördag", "lör", "lordag"),
    ("sunday", "sun", "sunnuntai", "su", "söndag", "sön", "sondag"),
)
_TIME = re.compile(r"^(\d{1,2})[:.](\d{2})$")


# --- activity counts --------------------------------------------------------------------------


class ActivityBuffer:
    """Counts messages and distinct people per chat and week in memory; ``flush`` adds them to the
    store (one upsert per chat-week, one insert-or-ignore for new people). Per message this is a
    few dict operations; the price is that up to ``flush_seconds`` of counts are lost if the
    process is killed without a clean stop."""

    def __init__(self, flush_seconds: float = 60, max_pending: int = 5000) -> None:
        self.flush_seconds = flush_seconds
        self.max_pending = max_pending
        self.counts: dict[tuple[str, str], int] = {}
        self.new_people: dict[tuple[str, str], set[str]] = {}
        self.known: dict[tuple[str, str], set[str]] = {}  # senders already counted (memory only)
        self.pending = 0
        self.last_flush: datetime | None = None
        self._week = ""
        self._week_end: datetime | None = None
        self._lock = asyncio.Lock()

    def week(self, now: datetime) -> str:
        if self._week_end is None or now >= self._week_end or now < self._week_end - timedelta(days=7):
            self._week = store.week_of(now)
            self._week_end = store.week_bounds(self._week)[1]
        return self._week

    def note(self, chat_key: str, sender_key: str, message: bool, now: datetime) -> bool:
        """Count one event; True when a flush is due."""
        key = (chat_key, self.week(now))
        if message:
            self.counts[key] = self.counts.get(key, 0) + 1
        known = self.known.setdefault(key, set())
        if sender_key not in known:
            known.add(sender_key)
            self.new_people.setdefault(key, set()).add(
                hashlib.blake2b(f"{key[0]}|{key[1]}|{sender_key}".encode(), digest_size=8).hexdigest())
        self.pending += 1
        if self.last_flush is None:
            self.last_flush = now
        return self.pending >= self.max_pending or (now - self.last_flush).total_seconds() >= self.flush_seconds

    async def flush(self, services: Services) -> None:
        async with self._lock:
            counts, people = self.counts, self.new_people
            self.counts, self.new_people, self.pending = {}, {}, 0
            self.last_flush = services.clock.now()
            current = self._week
            self.known = {k: v for k, v in self.known.items() if k[1] == current}
            if not counts and not people:
                return
            try:
                async with services.db.transaction() as session:
                    await store.add_activity(session, counts, people)
            except Exception:
                log.exception("could not store activity counts; keeping them for the next flush")
                for key, n in counts.items():
                    self.counts[key] = self.counts.get(key, 0) + n
                for key, ps in people.items():
                    self.new_people.setdefault(key, set()).update(ps)


class DigestState:
    """This instance's runtime state: the activity buffer and when to sweep next (a cache: the
    digest records are the truth, so a restart sweeps at once)."""

    def __init__(self) -> None:
        self.activity = ActivityBuffer()
        self.next_sweep: datetime | None = None
        #: private chats already marked as such in the store by this instance
        self.private: set[str] = set()


#: a chat setting: the chat is a person's private chat with the bot (no digest is posted there)
PRIVATE_SETTING = "chat.private"


def is_private(chat: Chat) -> bool:
    """A person's private chat with the bot: marked when the bot saw it, else known by its id
    (Telegram's private chats have positive ids, the console's are "private-…")."""
    if chat.setting(PRIVATE_SETTING, False):
        return True
    native = chat.key.split(":", 1)[1] if ":" in chat.key else chat.key
    return (chat.platform == "telegram" and native.isdigit()) or (
        chat.platform == "console" and native.startswith("private-"))


def _state(services: Services) -> DigestState | None:
    return services.extensions.get("digest")


def _buffer(services: Services) -> ActivityBuffer | None:
    state = _state(services)
    return state.activity if state else None


async def on_event(ctx: Context) -> None:
    state = _state(ctx.services)
    if state is None:
        return
    if ctx.event.is_private and ctx.chat_key not in state.private:  # once per private chat and start
        state.private.add(ctx.chat_key)
        await _mark_private(ctx)
    buffer = state.activity
    now = ctx.now()
    if buffer.note(ctx.chat_key, ctx.sender_key, ctx.event.kind == "message", now):
        await buffer.flush(ctx.services)


async def _mark_private(ctx: Context) -> None:
    try:
        async with ctx.db.transaction() as session:
            chat = await ensure_chat(session, ctx.chat_key, ctx.event.platform, ctx.event.chat_title, ctx.now())
            if not chat.setting(PRIVATE_SETTING, False):
                await set_chat_setting(session, chat, PRIVATE_SETTING, True)
    except Exception:  # the id tells most platforms' private chats apart anyway
        log.warning("could not mark %s as a private chat", ctx.chat_key, exc_info=True)
        ctx.services.extensions["digest"].private.discard(ctx.chat_key)


async def flush_activity(services: Services) -> None:
    buffer = _buffer(services)
    if buffer is not None:
        await buffer.flush(services)


async def activity_digest(services: Services, chat_key: str, start: datetime, end: datetime) -> dict | None:
    await flush_activity(services)
    async with services.db.session() as session:
        messages, people = await store.activity(session, chat_key, store.week_of(start))
    if not messages and not people:
        return None
    return {"counts": {"messages": messages, "people": people}}


def render_activity(data: dict) -> list[str]:
    counts = data.get("counts", {})
    return ["📊 " + esc(_("Activity: messages to the bot {messages}, active people {people}").format(
        messages=format_number(counts.get("messages", 0)), people=format_number(counts.get("people", 0))))]


# --- schedule ---------------------------------------------------------------------------------


def chat_schedule(chat: Chat) -> tuple[bool, int, str]:
    """(on, weekday 0=Monday, "HH:MM") of a chat's digest."""
    return (not chat.setting("digest.off", False), int(chat.setting("digest.day", DEFAULT_DAY)),
            str(chat.setting("digest.time", DEFAULT_TIME)))


def slot(week: str, day: int, hhmm: str) -> datetime:
    """When the digest of ``week`` is due: weekday ``day`` at ``hhmm`` of the following week."""
    _start, end = store.week_bounds(week)
    local_monday = end.astimezone(HELSINKI).date()
    hh, mm = (int(x) for x in hhmm.split(":"))
    local = datetime.combine(local_monday + timedelta(days=day), time(hh, mm), tzinfo=HELSINKI)
    return local.astimezone(UTC)


def plan_sweep(services: Services, when: datetime) -> None:
    """Sweep at ``when`` at the latest (earlier plans stay)."""
    state = _state(services)
    if state is None:
        return
    if state.next_sweep is None or when < state.next_sweep:
        state.next_sweep = when
    services.wake(when)


async def on_start(services: Services) -> None:
    services.extensions["digest"] = DigestState()  # next_sweep None: the first wake-up sweeps


async def on_tick(services: Services) -> None:
    state = _state(services)
    if state is not None and (state.next_sweep is None or services.clock.now() >= state.next_sweep):
        await sweep(services)


async def on_stop(services: Services) -> None:
    await flush_activity(services)


# --- building ---------------------------------------------------------------------------------


def section_name(feature: Feature) -> str:
    return "activity" if feature.name == "digest" else feature.name


def renderers(services: Services) -> dict[str, Callable[[dict], list[str]]]:
    return {section_name(f): f.render_digest for f in services.features if f.render_digest is not None}


async def collect(services: Services, chat_key: str, start: datetime, end: datetime) -> dict[str, dict]:
    """Every feature's contribution, in feature order; a failing hook raises."""
    sections = {}
    for feature in services.features:
        if feature.digest is None:
            continue
        data = await feature.digest(services, chat_key, start, end)
        if data:
            sections[section_name(feature)] = data
    return sections


def render(services: Services, sections: dict[str, dict], week: str, start: datetime, end: datetime,
           *, so_far: bool = False) -> str:
    """The digest as HTML lines in the current locale (short: at most MAX_LINES lines)."""
    num = int(week.split("W")[1])
    dates = f"{format_date(start)} – {format_date(end - timedelta(seconds=1))}"
    title = _("This week so far, week {number}") if so_far else _("Weekly digest, week {number}")
    lines = ["📰 " + b(title.format(number=num)) + " " + esc(f"({dates})")]
    by_name = renderers(services)
    for name, data in sections.items():
        if name not in by_name:
            continue
        try:
            lines.extend(by_name[name](data))
        except Exception:
            log.exception("render_digest of %s failed", name)
    if len(lines) == 1:
        lines.append(esc(_("Nothing new this week.")))
    if len(lines) > MAX_LINES:
        lines = lines[: MAX_LINES - 1] + ["…"]
    return "\n".join(lines)


async def produce(services: Services, chat: Chat, week: str, *, post: bool) -> store.Digest | None:
    """Write the record of one chat's week (once) and post it. None if it existed already."""
    start, end = store.week_bounds(week)
    sections = await collect(services, chat.key, start, end)
    lang = resolve_language(chat.language)
    with services.locale(lang):
        text = render(services, sections, week, start, end)
    content = {"schema_version": 1, "week": week, "start": start.isoformat(), "end": end.isoformat(),
               "sections": sections}
    now = services.clock.now()
    record = store.Digest(chat_key=chat.key, platform=chat.platform, title=chat.title, area=chat.area, week=week,
                          start=start, end=end, language=lang, content=json.dumps(content, ensure_ascii=False),
                          text=text, created_at=now)
    # Activity alone is stored but not worth a message; a private chat gets none (it is a
    # person's own talk with the bot, not a group with a week to sum up).
    private = is_private(chat)
    worth_posting = any(name != "activity" for name in sections) and not private
    async with services.db.transaction() as session:
        if not await store.insert_digest(session, record):
            return None
        if not worth_posting:
            await store.mark_skipped(session, record.id, now,
                                     "private" if private else "empty" if not sections else "quiet")
        elif not post:
            await store.mark_skipped(session, record.id, now, "late")
    if worth_posting and post:
        await post_digest(services, record)
    return record


async def post_digest(services: Services, record: store.Digest) -> bool:
    if record.platform not in services.transports:
        return False  # another instance (or a later start) with that transport posts it
    async with services.db.transaction() as session:
        if not await store.claim_post(session, record.id, services.clock.now()):
            return False
    try:
        with services.locale(record.language):
            await services.send(record.chat_key, record.text)
    except Exception as exc:
        log.warning("posting the digest of %s %s failed: %r", record.chat_key, record.week, exc)
        async with services.db.transaction() as session:
            await store.release_post(session, record.id, repr(exc))
        return False
    return True


async def sweep(services: Services, budget: float | None = SWEEP_BUDGET_SECONDS) -> int:
    """Produce every due and missing digest; retry failed posts; plan the next sweep.
    After ``budget`` seconds of work it stops and plans to continue a second later, so that
    other scheduled jobs are not held up on a Monday morning. Returns how many records were written."""
    now = services.clock.now()
    started = monotonic()
    made = 0
    current = store.week_of(now)
    previous = store.shift_week(current, -1)
    next_at = now + timedelta(hours=1)
    try:
        await flush_activity(services)
        oldest = store.shift_week(current, -MAX_BACKFILL_WEEKS)
        async with services.db.session() as session:
            chats = await store.all_chats(session)
            have = await store.existing_weeks(session, since_week=oldest)
        for chat in chats:
            on, day, hhmm = chat_schedule(chat)
            if not on:
                continue
            first = max(store.week_of(chat.created_at), oldest)
            due = [w for w in store.weeks_between(first, previous)
                   if (chat.key, w) not in have and slot(w, day, hhmm) <= now]
            if due and budget is not None and monotonic() - started > budget:
                next_at = now  # more to do: continue at the next wake-up
                break
            for week in due:
                try:
                    if await produce(services, chat, week, post=week == due[-1]):
                        made += 1
                except Exception:
                    log.exception("digest of %s %s failed; retried at the next sweep", chat.key, week)
                    break
            upcoming = slot(previous, day, hhmm)
            if upcoming <= now:
                upcoming = slot(current, day, hhmm)
            next_at = min(next_at, upcoming)
        async with services.db.session() as session:
            retry = await store.unposted(session, now - RETRY_POST_FOR)
        for record in retry:
            if record.platform in services.transports:
                await post_digest(services, record)
        async with services.db.transaction() as session:
            await store.forget_people(session, store.shift_week(current, -2))
    finally:
        state = _state(services)
        if state is not None:
            state.next_sweep = None
        plan_sweep(services, max(next_at, now))
    return made


# --- export documents -------------------------------------------------------------------------


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


# --- commands ---------------------------------------------------------------------------------


def parse_digest_args(args: str) -> tuple[str, int | None, str | None]:
    """("show"|"on"|"off"|"time", day, "HH:MM")."""
    words = args.casefold().split()
    if not words:
        return "show", None, None
    if len(words) == 1 and words[0] in OFF_WORDS:
        return "off", None, None
    if len(words) == 1 and words[0] in ON_WORDS:
        return "on", None, None
    day, hhmm = None, None
    for word in words[:2]:
        found = next((n for n, names in enumerate(DAY_WORDS) if word.rstrip(".") in names), None)
        m = _TIME.match(word)
        if found is not None and day is None:
            day = found
        elif m and int(m[1]) < 24 and int(m[2]) < 60 and hhmm is None:
            hhmm = f"{int(m[1]):02d}:{m[2]}"
        else:
            raise UserError(_("Give a weekday and a time, for example: {example}, or off / on.").format(
                example=_time_example()), show_usage=True)
    if len(words) > 2:
        raise UserError(_("Give a weekday and a time, for example: {example}, or off / on.").format(
            example=_time_example()), show_usage=True)
    return "time", day, hhmm


def _schedule_text(chat: Chat) -> str:
    on, day, hhmm = chat_schedule(chat)
    if not on:
        return _("The weekly digest is off in this chat.")
    hh, mm = (int(x) for x in hhmm.split(":"))
    return _("The weekly digest comes every {day} at {time}.").format(day=_weekday_name(day), time=clock_face(time(hh, mm)))


def _weekday_name(day: int) -> str:
    """The weekday as the current language writes it inside a sentence: "perjantai", "fredag", "Friday"."""
    return babel_dates.format_date(date(2024, 1, 1) + timedelta(days=day), "cccc", locale=current_language())


def _time_example() -> str:
    return f"{_weekday_name(0)} {clock_face(time(9, 0))}"


async def digest_cmd(ctx: Context, parsed: tuple[str, int | None, str | None]) -> None:
    action, day, hhmm = parsed
    if action == "show":
        now = ctx.now()
        week = store.week_of(now)
        start, end = store.week_bounds(week)
        await flush_activity(ctx.services)
        sections = await collect(ctx.services, ctx.chat_key, start, min(end, now + timedelta(seconds=1)))
        await ctx.reply(render(ctx.services, sections, week, start, end, so_far=True))
        return
    await ctx.require(Role.ADMIN)
    async with ctx.db.transaction() as session:
        chat = await ensure_chat(session, ctx.chat_key, ctx.event.platform, ctx.event.chat_title, ctx.now())
        if action == "off":
            await set_chat_setting(session, chat, "digest.off", True)
        elif action == "on":
            await set_chat_setting(session, chat, "digest.off", False)
        else:
            await set_chat_setting(session, chat, "digest.off", False)
            if day is not None:
                await set_chat_setting(session, chat, "digest.day", day)
            if hhmm is not None:
                await set_chat_setting(session, chat, "digest.time", hhmm)
    on, day_, hhmm_ = chat_schedule(chat)
    if on:
        now = ctx.now()
        due = slot(store.shift_week(store.week_of(now), -1), day_, hhmm_)
        plan_sweep(ctx.services, due if due > now else slot(store.week_of(now), day_, hhmm_))
    await ctx.reply(esc(_schedule_text(chat)))


_AREA_OK = re.compile(r"^[\w][\w .'-]{0,99}$")


def parse_area(args: str) -> str | None:
    name = " ".join(args.split())
    if not name:
        return None
    if name in NONE_WORDS:
        return ""
    if not _AREA_OK.match(name):
        raise UserError(_("An area name is letters, digits, spaces, dots, hyphens; at most 100 characters."),
                        show_usage=True)
    return name


async def area_cmd(ctx: Context, name: str | None) -> None:
    if name is not None:
        await ctx.role()  # asks the platform before the transaction; require() below uses the answer
    async with ctx.db.transaction() as session:
        chat = await ensure_chat(session, ctx.chat_key, ctx.event.platform, ctx.event.chat_title, ctx.now())
        if name is None:
            count = await store.area_chat_count(session, chat.area) if chat.area else 0
        else:
            await ctx.require(Role.ADMIN)
            # Same spelling as an existing area (case-insensitively) joins that area.
            for existing in (await store.chats_by_area(session)):
                if existing and name and existing.casefold() == name.casefold():
                    name = existing
            chat.area = name or None
            session.add(chat)
    if name is None:
        if chat.area:
            await ctx.reply(esc(ngettext("This chat belongs to the area {area} ({count} chat in it).",
                                         "This chat belongs to the area {area} ({count} chats in it).",
                                         count).format(area=chat.area, count=format_number(count))))
        else:
            await ctx.reply(esc(_("This chat has no area yet. An admin sets it with {command} <name>.").format(
                command=ctx.cmd("area"))))
    elif name:
        await ctx.reply(esc(_("This chat now belongs to the area {area}.").format(area=name)))
    else:
        await ctx.reply(esc(_("This chat no longer belongs to an area.")))


def parse_publish(args: str) -> list[str] | None:
    words = [w.strip(",;") for w in args.casefold().split()]
    words = [w for w in words if w]
    if not words:
        return None
    if all(w in NONE_WORDS for w in words):
        return []
    choices = []
    for word in words:
        choice = next((c for c, names in PUBLISH_WORDS.items() if word in names), None)
        if choice is None:
            raise UserError(_("I can publish: {choices}, or none.").format(
                choices=", ".join(_publish_label(c) for c in store.PUBLISHABLE)), show_usage=True)
        if choice not in choices:
            choices.append(choice)
    return [c for c in store.PUBLISHABLE if c in choices]


PUBLISH_LABELS = {"ideas": N_("ideas"), "polls": N_("polls"), "meetings": N_("meetings"),
                  "profile": N_("self-assessment profile"), "experiments": N_("experiments")}


def _publish_label(choice: str) -> str:
    return _(PUBLISH_LABELS[choice])


async def publish_cmd(ctx: Context, choices: list[str] | None) -> None:
    if choices is not None:
        await ctx.role()  # asks the platform before the transaction; require() below uses the answer
    async with ctx.db.transaction() as session:
        chat = await ensure_chat(session, ctx.chat_key, ctx.event.platform, ctx.event.chat_title, ctx.now())
        if not chat.area:
            raise UserError(_("Set the chat's area first with {command} <name>.").format(command=ctx.cmd("area")))
        if choices is None:
            current = (await store.publications(session)).get(chat.area, [])
        else:
            await ctx.require(Role.ADMIN)
            await store.set_publication(session, chat.area, choices, ctx.sender_key, ctx.now())
            current = choices
    if current:
        text = _("The area {area} publishes as open data: {choices}.").format(
            area=chat.area, choices=", ".join(_publish_label(c) for c in current))
    else:
        text = _("The area {area} publishes nothing as open data.").format(area=chat.area)
    await ctx.reply(esc(text))


def parse_summary(args: str) -> str | None:
    word = args.strip()
    if not word:
        return None
    if _digits(word) and 1 <= int(word) <= 53:
        return word
    try:
        return store.parse_week(word)
    except ValueError:
        raise UserError(_("Give the week like 2026-W48 or 48."), show_usage=True) from None


def resolve_week(arg: str | None, now: datetime) -> str:
    current = store.week_of(now)
    if arg is None:
        return store.shift_week(current, -1)
    if _digits(arg):
        year = int(current[:4])
        if int(arg) > int(current.split("W")[1]):
            year -= 1
        try:
            return store.parse_week(f"{year}-W{int(arg):02d}")
        except ValueError:
            raise UserError(_("Give the week like 2026-W48 or 48.")) from None
    return arg


async def summary_cmd(ctx: Context, arg: str | None) -> None:
    week = resolve_week(arg, ctx.now())
    async with ctx.db.session() as session:
        count = len(await store.load_digests(session, week, week))
    if not count:
        await ctx.reply(esc(_("No digests are stored for week {week}.").format(week=week)))
        return
    for fmt, mime in (("md", "text/markdown"), ("csv", "text/csv"), ("json", "application/json")):
        data = await render_export(ctx.services, "digests", fmt, first=week, last=week, lang=ctx.lang)
        await ctx.send_file(FileOut(f"kehrabot-digests-{week}.{fmt}", data, mime))
    await ctx.reply(esc(ngettext("Digests of week {week}: {count} chat.", "Digests of week {week}: {count} chats.",
                                 count).format(week=week, count=format_number(count))))


FEATURE = Feature(
    name="digest",
    order=900,
    commands=[
        Command("digest", digest_cmd, {"fi": ("kooste",), "sv": ("sammandrag",), "en": ("digest",)},
                help=N_("this week so far; admins: set the weekly digest's day and time, or off/on"),
                usage=N_("[weekday HH:MM | off | on]"), parse=parse_digest_args),
        Command("area", area_cmd, {"fi": ("alue",), "sv": ("omrade",), "en": ("area",)},
                help=N_("show or set (admins) the area this chat belongs to"), usage=N_("[name | none]"),
                parse=parse_area),
        Command("publish", publish_cmd, {"fi": ("julkaise",), "sv": ("publicera",), "en": ("publish",)},
                help=N_("show or choose (admins) what the area publishes as open data"),
                usage=N_("[ideas] [polls] [meetings] [profile] | none"), parse=parse_publish),
        Command("summary", summary_cmd, {"fi": ("yhteenveto",), "sv": ("sammanfattning",), "en": ("summary",)},
                help=N_("coordinators: all areas' digests of a week as files"), usage=N_("[week]"),
                parse=parse_summary, role=Role.COORDINATOR, private_only=True),
    ],
    on_start=on_start,
    on_stop=on_stop,
    on_event=on_event,
    on_tick=on_tick,
    digest=activity_digest,
    render_digest=render_activity,
)
