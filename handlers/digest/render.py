"""The digest and the settings as the chat reads them, in the current locale (pure: no store,
no transport; the features' own digest renderers are found in ``services.features``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from babel import dates as babel_dates

from core.i18n import N_, _, current_language, format_date
from core.markup import b, esc
from handlers.base import Feature, Services
from handlers.digest.schedule import chat_schedule
from handlers.when import clock_face
from storage.core import Chat

log = logging.getLogger("handlers.digest")

MAX_LINES = 30
PUBLISH_LABELS = {"ideas": N_("ideas"), "polls": N_("polls"), "meetings": N_("meetings"),
                  "profile": N_("self-assessment profile"), "experiments": N_("experiments")}


def section_name(feature: Feature) -> str:
    return "activity" if feature.name == "digest" else feature.name


def renderers(services: Services) -> dict[str, Callable[[dict], list[str]]]:
    return {section_name(f): f.render_digest for f in services.features if f.render_digest is not None}



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



def schedule_text(chat: Chat) -> str:
    on, day, hhmm = chat_schedule(chat)
    if not on:
        return _("The weekly digest is off in this chat.")
    hh, mm = (int(x) for x in hhmm.split(":"))
    return _("The weekly digest comes every {day} at {time}.").format(day=weekday_name(day), time=clock_face(time(hh, mm)))


def weekday_name(day: int) -> str:
    """The weekday as the current language writes it inside a sentence: "perjantai", "fredag", "Friday"."""
    return babel_dates.format_date(date(2024, 1, 1) + timedelta(days=day), "cccc", locale=current_language())


def time_example() -> str:
    return f"{weekday_name(0)} {clock_face(time(9, 0))}"


def publish_label(choice: str) -> str:
    return _(PUBLISH_LABELS[choice])
