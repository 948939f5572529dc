"""What the checklist says: questions and their buttons, profiles, charts. Pure functions of the
round, the checklist and the answers (no store, no transport); texts in the current language."""

from __future__ import annotations

from typing import Any

from core.events import Button, FileOut
from core.i18n import (
    _,
    current_language,
    format_date,
    format_datetime,
    format_number,
    format_percent,
    ngettext,
)
from core.markup import b, esc
from handlers.checklist.format import NO, YES, Checklist, Question, text_in
from handlers.checklist.keys import ANSWER, BACK, DONE, NAME, SKIP, STOP, TOGGLE
from handlers.checklist.profile import Profile
from storage import checklist as store
from storage.core import Chat

TEXTS_SHOWN = 30  # free-text answers listed in a chat profile


def tr(texts: dict[str, str] | None) -> str:
    return text_in(texts, current_language())


def area_of(chat: Chat | None, chat_key: str) -> str:
    if chat is not None and chat.area:
        return chat.area
    if chat is not None and chat.title:
        return chat.title[:100]
    return chat_key[:100]


def value_text(q: Question, value: Any) -> str:
    if value is None:
        return _("skipped")
    if q.type == "yesno":
        return _("yes") if value == YES else _("no")
    if q.type == "single":
        opt = q.option(value)
        return tr(opt.text) if opt else str(value)
    if q.type == "multi":
        return ", ".join(tr(o.text) for o in q.options if o.id in value) or _("nothing chosen")
    return str(value)


def num(x: float | None) -> str:
    return "–" if x is None else format_number(x, 1)


def values_of(answers: dict[str, store.ChecklistAnswer]) -> dict[str, Any]:
    return {qid: a.data() for qid, a in answers.items()}


def round_label(rd: store.ChecklistRound) -> str:
    return format_date(rd.started_at)


def round_labels(rounds: list[store.ChecklistRound]) -> list[str]:
    """One label per round, each its own: the start date, with the time where two rounds started
    on one day, and the round's number where they started in the same minute."""
    labels = [round_label(r) for r in rounds]
    labels = [format_datetime(r.started_at) if labels.count(label) > 1 else label
              for r, label in zip(rounds, labels, strict=True)]
    return [_("{title}, round {number}").format(title=label, number=r.id) if labels.count(label) > 1 else label
            for r, label in zip(rounds, labels, strict=True)]


def render_question(rd: store.ChecklistRound, cl: Checklist, resp: store.ChecklistResponse,
                    answers: dict[str, store.ChecklistAnswer]) -> tuple[str, tuple[tuple[Button, ...], ...]]:
    q = cl.question(resp.current or "")
    assert q is not None
    visible = cl.visible(values_of(answers))
    index = next((i for i, v in enumerate(visible) if v.id == q.id), 0)
    dim = cl.dimension(q.dimension)
    rid = rd.id
    lines = []
    if rd.in_group and resp.person_name:
        lines.append(esc(resp.person_name) + ":")
    lines.append(b(tr(cl.title)) + " · " + esc(tr(dim.title if dim else None)))
    lines.append(esc(_("Question {number}/{total}").format(number=format_number(index + 1),
                                                            total=format_number(len(visible)))))
    lines.append("")
    lines.append(b(tr(q.text)))
    rows: list[tuple[Button, ...]] = []
    prev = answers.get(q.id)
    if q.type == "scale":
        lines.append(esc(_("1 = {low} … 5 = {high}").format(low=tr(q.low), high=tr(q.high))))
        rows.append(tuple(Button(str(v), ANSWER.data(round=rid, question=q.id, value=v)) for v in range(1, 6)))
    elif q.type == "yesno":
        rows.append((Button(_("Yes"), ANSWER.data(round=rid, question=q.id, value=YES)),
                     Button(_("No"), ANSWER.data(round=rid, question=q.id, value=NO))))
    elif q.type == "single":
        rows.extend((Button(tr(o.text), ANSWER.data(round=rid, question=q.id, value=o.id)),) for o in q.options)
    elif q.type == "multi":
        chosen = prev.data() if prev is not None and isinstance(prev.data(), list) else []
        lines.append(esc(_("Choose all that apply, then press Done.")))
        rows.extend((Button(("☑ " if o.id in chosen else "☐ ") + tr(o.text), TOGGLE.data(round=rid, question=q.id, option=o.id)),)
                    for o in q.options)
        rows.append((Button(_("Done ✓"), DONE.data(round=rid, question=q.id)),))
    else:
        lines.append(esc(_("Write your answer as a message in this chat.")))
    if not q.required:
        lines.append(esc(_("(optional)")))
    if prev is not None and q.type != "multi":
        lines.append(esc(_("Your earlier answer: {answer}").format(answer=value_text(q, prev.data()))))
    nav = []
    if index > 0:
        nav.append(Button(_("◀ Back"), BACK.data(round=rid)))
    if not q.required:
        nav.append(Button(_("Skip ▶"), SKIP.data(round=rid, question=q.id)))
    nav.append(Button(_("⏸ Pause"), STOP.data(round=rid)))
    rows.append(tuple(nav))
    return "\n".join(lines), tuple(rows)


def render_finish(rd: store.ChecklistRound, cl: Checklist, resp: store.ChecklistResponse,
                  answers: dict[str, store.ChecklistAnswer]) -> tuple[str, tuple[tuple[Button, ...], ...]]:
    """The thank-you at the end."""
    answered = sum(1 for a in answers.values() if not a.skipped)
    skipped = len(answers) - answered
    lines = [b(_("Thank you! Your self-assessment is complete.")),
             esc(ngettext("You answered {count} question", "You answered {count} questions", answered).format(
                 count=format_number(answered))
                 + (" " + ngettext("and skipped {count}.", "and skipped {count}.", skipped).format(
                     count=format_number(skipped))
                    if skipped else "."))]
    buttons: list[tuple[Button, ...]] = [(Button(_("◀ Change the last answer"), BACK.data(round=rd.id)),)]
    has_text = any(not a.skipped and (q := cl.question(qid)) is not None and q.type == "text"
                   for qid, a in answers.items())
    if has_text:
        if resp.show_name:
            lines.append(esc(_("Your written answers are shown with your name.")))
            buttons.append((Button(_("Hide my name"), NAME.data(round=rd.id, show=0)),))
        else:
            lines.append(esc(_("Your written answers are shown without your name.")))
            buttons.append((Button(_("Show my name with them"), NAME.data(round=rd.id, show=1)),))
    return "\n".join(lines), tuple(buttons)


def dimension_line(title: str, stats) -> str:
    parts = []
    if stats.scale_n:
        parts.append(_("mean {mean} (spread {spread}, n={n})").format(
            mean=num(stats.mean), spread=num(stats.spread), n=format_number(stats.scale_n)))
    if stats.yes_n:
        parts.append(_("yes {share} (n={n})").format(share=format_percent(stats.yes_share or 0), n=format_number(stats.yes_n)))
    parts.append(ngettext("{count} respondent", "{count} respondents", stats.respondents).format(
        count=format_number(stats.respondents)))
    return b(title) + ": " + esc(" · ".join(parts))


def profile_html(rd: store.ChecklistRound, cl: Checklist, profile: Profile, area: str | None = None) -> str:
    """``area``: the area the round is shown under now (a chat's rounds follow it to a new area)."""
    lines = [esc(_("{area}, round of {date}").format(area=area or rd.area, date=round_label(rd))),
             esc(_("Respondents: {count} (finished {finished})").format(count=format_number(profile.respondents),
                                                                     finished=format_number(profile.finished)))]
    if profile.withheld:
        lines.append(esc(ngettext(
            "The answers are shown once at least {count} person has answered, so that no one's answers can be told.",
            "The answers are shown once at least {count} people have answered, so that no one's answers can be told.",
            profile.withheld).format(count=format_number(profile.withheld))))
    for dim in cl.dimensions:
        stats = profile.dimension(dim.id)
        if stats is not None:
            lines.append(dimension_line(tr(dim.title), stats))
    for qid, counts in profile.choices.items():
        q = cl.question(qid)
        if q is None or not any(counts.values()):
            continue
        shown = ", ".join(f"{tr(o.text)} {counts.get(o.id, 0)}" for o in q.options)
        lines.append(esc(f"{tr(q.text)} — {shown}"))
    if profile.texts:
        lines.append(b(_("Written answers")))
        for _qid, text, name in profile.texts[:TEXTS_SHOWN]:
            lines.append("• " + esc(text) + (" — " + esc(name) if name else ""))
        if len(profile.texts) > TEXTS_SHOWN:
            lines.append(esc(_("…and {count} more in the export.").format(
                count=format_number(len(profile.texts) - TEXTS_SHOWN))))
    return "\n".join(lines)


def profile_figure(cl: Checklist, series: dict[str, Profile], *, radar: bool = False, title: str = ""):
    """A matplotlib Figure of the dimension means (bars with spread, or radar), labelled in the current
    language; a dimension nobody answered keeps its place, labelled as such."""
    from handlers import charts  # matplotlib is loaded only when a chart is drawn

    means = {name: [getattr(p.dimension(d.id), "mean", None) for d in cl.dimensions] for name, p in series.items()}
    cats = [tr(d.title) + ("" if any(m[k] is not None for m in means.values()) else "\n" + _("(no answers)"))
            for k, d in enumerate(cl.dimensions)]
    if radar:
        return charts.radar_figure(cats, means, title=title)
    spreads = {name: [getattr(p.dimension(d.id), "spread", None) for d in cl.dimensions] for name, p in series.items()}
    return charts.bar_figure(cats, means, errors=spreads, title=title, ylabel=_("Mean (1–5)"))


def profile_chart(cl: Checklist, series: dict[str, Profile], *, radar: bool = False, title: str = "") -> bytes:
    from handlers import charts

    return charts.to_png(profile_figure(cl, series, radar=radar, title=title))


def profile_text(cl: Checklist, series: dict[str, Profile], title: str) -> str:
    """The chart's figures as a short list, sent with it (for screen readers and slow connections)."""
    lines = ["📊 " + b(title) + " " + esc(_("(means on the scale 1–5)"))]
    for dim in cl.dimensions:
        cells = []
        for name, p in series.items():
            s = p.dimension(dim.id)
            if s is None or s.mean is None:
                cell = _("no answers")
            elif len(series) == 1:
                cell = _("mean {mean} (spread {spread}, n={n})").format(mean=num(s.mean), spread=num(s.spread),
                                                                      n=format_number(s.scale_n))
            else:
                cell = num(s.mean)
            cells.append(cell if len(series) == 1 else _("{label}: {value}").format(label=name, value=cell))
        lines.append("• " + esc(_("{label}: {value}").format(label=tr(dim.title), value=" · ".join(cells))))
    return "\n".join(lines)


def chart_file(cl: Checklist, series: dict[str, Profile], filename: str, *, radar: bool, title: str) -> FileOut:
    return FileOut(filename, profile_chart(cl, series, radar=radar, title=title), "image/png", is_image=True,
                   caption_html=profile_text(cl, series, title))


def side_by_side_html(cl: Checklist, columns: list[tuple[str, Profile]], title: str, sep: str) -> str:
    """Rounds or areas in columns, one line per dimension."""
    lines = [b(title) + " " + esc("(" + tr(cl.title) + ")"), esc(sep.join(name for name, _p in columns))]
    for dim in cl.dimensions:
        cells = []
        for _name, p in columns:
            s = p.dimension(dim.id)
            cell = num(s.mean if s else None)
            if s and s.yes_n:
                cell += " / " + _("yes {share}").format(share=format_percent(s.yes_share or 0))
            cells.append(cell)
        lines.append(b(tr(dim.title)) + ": " + esc(sep.join(cells)))
    lines.append(esc(_("Respondents: {counts}").format(counts=sep.join(format_number(p.respondents) for _n, p in columns))))
    withheld = max((p.withheld for _n, p in columns), default=0)
    if withheld:
        lines.append(esc(ngettext(
            "A column with fewer than {count} respondent shows no figures, so that no one's answers can be told.",
            "A column with fewer than {count} respondents shows no figures, so that no one's answers can be told.",
            withheld).format(count=format_number(withheld))))
    return "\n".join(lines)
