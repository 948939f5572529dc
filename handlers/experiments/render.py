"""How the experiments look in a chat, in the current locale (pure: no store, no transport):
values and trends, the phase bar, indicator and history lines, charts and their text, the join
button, the digest section."""

from __future__ import annotations

from babel.numbers import format_decimal

from core.events import Button
from core.i18n import _, current_language, format_date, format_number, local, ngettext
from core.markup import b, esc
from handlers.experiments.keys import JOIN
from handlers.experiments.parse import STATUS_LABELS, phase_label
from storage import experiments as store


def fmt_value(value: float, unit: str = "") -> str:
    """1,5 in Finnish and Swedish, 1.5 in English; at most three decimals, no trailing zeros."""
    text = format_decimal(value, format="#,##0.###", locale=current_language())
    return f"{text} {unit}" if unit else text


def trend(values: list[float], direction: str) -> str:
    """An arrow for the last change and whether it is for the better."""
    if len(values) < 2:
        return ""
    delta = values[-1] - values[-2]
    if delta == 0:
        return "→"
    better = (delta > 0) == (direction == store.MORE)
    return ("↗" if delta > 0 else "↘") + (" ✓" if better else " ✗")


def target_reached(value: float, target: float | None, direction: str) -> bool:
    if target is None:
        return False
    return value >= target if direction == store.MORE else value <= target


def phase_bar(phase: str) -> str:
    current = store.PHASES.index(phase) if phase in store.PHASES else 0
    parts = []
    for i, p in enumerate(store.PHASES):
        label = phase_label(p)
        parts.append(b("▶ " + label) if i == current else esc(("✓ " if i < current else "") + label))
    return " → ".join(parts)


#: values listed one by one in a chart's text alternative (the latest; older ones are counted)
CHART_TEXT_VALUES = 10


def chart_figure(ind: store.Indicator, rows: list[store.IndicatorValue]):
    """The indicator's values over time; the target as a line over the measured days only."""
    from handlers import charts  # matplotlib is loaded only when a chart is drawn

    points = [(local(v.measured_at), v.value) for v in rows]
    better = _("more is better") if ind.direction == store.MORE else _("less is better")
    return charts.line_figure({ind.name: points}, title=f"{ind.name} ({better})", ylabel=ind.unit or _("value"),
                              date_label=lambda m: charts.day_label(local(m)),
                              targets={_("Target"): ind.target} if ind.target is not None else None)


def chart_png(ind: store.Indicator, rows: list[store.IndicatorValue]) -> bytes:
    from handlers import charts

    return charts.to_png(chart_figure(ind, rows))


def chart_text(ind: store.Indicator, rows: list[store.IndicatorValue]) -> str:
    """The chart's figures as a short list (sent with it: for screen readers and slow connections)."""
    better = _("more is better") if ind.direction == store.MORE else _("less is better")
    lines = ["📈 " + b(f"{ind.name} ({better})")]
    shown = rows[-CHART_TEXT_VALUES:]
    earlier = len(rows) - len(shown)
    if earlier:
        lines.append(esc(ngettext("{count} earlier value not shown.", "{count} earlier values not shown.",
                                  earlier).format(count=format_number(earlier))))
    for v in shown:
        lines.append("• " + esc(_("{date}: {value}").format(date=format_date(v.measured_at),
                                                            value=fmt_value(v.value, ind.unit))))
    if ind.target is not None:
        lines.append(esc(_("Target: {value}").format(value=fmt_value(ind.target, ind.unit))))
    return "\n".join(lines)


def indicator_line(ind: store.Indicator, rows: list[store.IndicatorValue]) -> str:
    text = f"{ind.number}. {ind.name}"
    if rows:
        latest = rows[-1]
        text += ": " + _("{value} ({date})").format(value=fmt_value(latest.value, ind.unit),
                                                     date=format_date(latest.measured_at))
        arrow = trend([r.value for r in rows], ind.direction)
        if arrow:
            text += " " + arrow
    else:
        text += ": " + _("no values yet")
    if ind.target is not None:
        text += " · " + _("target {value}").format(value=fmt_value(ind.target, ind.unit))
        if rows and target_reached(rows[-1].value, ind.target, ind.direction):
            text += " 🎯"
    text += " · " + (_("more is better") if ind.direction == store.MORE else _("less is better"))
    return esc(text)


def step_text(step: store.ExperimentStep) -> str:
    when, who = format_date(step.at), step.actor_name or "?"
    if step.action == "started":
        text = _("{when}: experiment started by {who}").format(when=when, who=who)
    elif step.action == "phase":
        text = _("{when}: {old} → {new} by {who}").format(when=when, who=who, old=phase_label(step.from_phase or ""),
                                                          new=phase_label(step.to_phase or ""))
    elif step.action == "done":
        text = _("{when}: done, marked by {who}").format(when=when, who=who)
    else:
        text = _("{when}: abandoned by {who}").format(when=when, who=who)
    if step.note:
        text += " — " + step.note
    return text


def every_label(every: str) -> str:
    return _("weekly") if every == "weekly" else _("monthly")


def join_buttons(exp: store.Experiment) -> tuple[tuple[Button, ...], ...]:
    if exp.status != store.ACTIVE:
        return ()
    return ((Button("🙋 " + _("Join the team"), JOIN.data(experiment=exp.id)),),)


def render_digest(facts: dict) -> list[str]:
    exps = facts.get("experiments", [])
    active = sum(1 for e in exps if e["status"] == store.ACTIVE)
    # the heading counts what is listed below it (also experiments ended or waiting this week)
    if active == len(exps):
        count = ngettext("{count} active", "{count} active", active).format(count=format_number(active))
    else:
        count = ngettext("{count} experiment", "{count} experiments", len(exps)).format(count=format_number(len(exps)))
    if active and active != len(exps):
        count += ", " + ngettext("{count} of them active", "{count} of them active", active).format(
            count=format_number(active))
    lines = ["🧪 " + b(_("Experiments")) + ": " + esc(count)]
    for e in exps:
        if e["status"] == store.ACTIVE:
            state = phase_label(e["phase"])
        else:
            state = _(STATUS_LABELS.get(e["status"], e["status"]))
        line = _("#{number} {title} — {state}").format(number=e["number"], title=e["title"][:80], state=state)
        moves = [s for s in e["steps"] if s["action"] == "phase"]
        if moves:
            line += "; " + ngettext("{count} phase change", "{count} phase changes", len(moves)).format(
                count=format_number(len(moves)))
        new = sum(len(i["new_values"]) for i in e["indicators"])
        if new:
            line += "; " + ngettext("{count} new value", "{count} new values", new).format(count=format_number(new))
        lines.append("• " + esc(line))
        for i in e["indicators"]:
            if i["new_values"] and i["latest"] is not None:
                text = f"{i['indicator']}: {fmt_value(i['latest'], i['unit'])}"
                if i["target"] is not None:
                    text += " / " + _("target {value}").format(value=fmt_value(i["target"], i["unit"]))
                lines.append("  ◦ " + esc(text))
        if e["outcome"]:
            lines.append("  ◦ " + esc(_("Outcome: {text}").format(text=e["outcome"][:200])))
    return lines
