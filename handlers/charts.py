"""Charts as PNG bytes, headless (matplotlib's Agg canvas, no pyplot state).

Callers pass labels already translated into the current language. Each ``*_figure`` returns a
matplotlib Figure (tests can read its texts with :func:`figure_texts`); :func:`to_png` renders it.
Reused by other features (experiment indicators use :func:`line_chart`).
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from babel.dates import format_date as babel_format_date

from core.i18n import current_language

if TYPE_CHECKING:  # matplotlib (with numpy) is loaded on the first chart, not at start
    from matplotlib.figure import Figure

Value = float | None
PALETTE = ("#1f6f8b", "#e07a1f", "#5a9a3c", "#a23b72", "#6c5b7b", "#c9a227", "#3d405b", "#8d99ae")


#: a day on an axis as the current language writes it, without a weekday (ticks are short)
DAY_PATTERNS = {"fi": "d.M.yyyy", "sv": "d.M.yyyy", "en": "d MMM yyyy"}


def _figure(**kw) -> Figure:
    """A figure on the Agg canvas (headless, no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kw)
    FigureCanvasAgg(fig)
    return fig


def day_label(moment: datetime) -> str:
    """``1.12.2026`` in Finnish and Swedish, ``1 Dec 2026`` in English (Babel; no zero padding)."""
    lang = current_language()
    return babel_format_date(moment.date(), DAY_PATTERNS.get(lang, DAY_PATTERNS["fi"]), locale=lang)


def _wrap(label: str, width: int = 14) -> str:
    """Wrapped for a tick label; what follows a line break in the label (a short note such as
    "(no answers)") stays on its own line, unwrapped."""
    name, *notes = label.split("\n")
    return "\n".join([*(textwrap.wrap(name, width, break_long_words=False) or [name]), *notes])


def _nan(values: Sequence[Value]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def bar_figure(categories: Sequence[str], series: dict[str, Sequence[Value]], *, title: str = "",
               ylabel: str = "", errors: dict[str, Sequence[Value]] | None = None,
               scale: tuple[int, int] | None = (1, 5)) -> Figure:
    """Grouped bars: one group per category, one bar per series (rounds or areas).

    On a ``scale`` (1–5) the bars rise from its lowest value and the axis spans the scale; the
    error bars (mean ± spread) are kept inside it, so none is cut by the frame. Every category
    keeps its place and label, also one without values."""
    fig = _figure(figsize=(max(6.0, 1.1 * len(categories) + 2), 4.5), dpi=100)
    ax = fig.add_subplot()
    n = max(1, len(series))
    width = 0.8 / n
    low, high = scale if scale else (0, None)
    for i, (name, values) in enumerate(series.items()):
        xs = [c + (i - (n - 1) / 2) * width for c in range(len(categories))]
        means = _nan(values)
        err = None
        if errors and name in errors:
            spread = _nan(errors[name])
            down = [min(e, m - low) for m, e in zip(means, spread, strict=True)]
            up = [e if high is None else min(e, high - m) for m, e in zip(means, spread, strict=True)]
            err = [down, up]
        ax.bar(xs, [m - low for m in means], width, bottom=low, label=name, color=PALETTE[i % len(PALETTE)],
               yerr=err, capsize=3 if err else 0, error_kw={"elinewidth": 1, "alpha": 0.7})
    ax.set_xticks(range(len(categories)), [_wrap(c) for c in categories], fontsize=8)
    ax.set_xlim(-0.5, len(categories) - 0.5)  # empty categories at the ends keep their room
    if scale:
        ax.set_ylim(low, high + (high - low) * 0.04)  # room for a cap at the top of the scale
        ax.set_yticks(range(low, high + 1))
    return _finish(fig, ax, title=title, ylabel=ylabel, legend=len(series) > 1, grid_axis="y")


def radar_figure(categories: Sequence[str], series: dict[str, Sequence[Value]], *, title: str = "",
                 rmax: float = 5) -> Figure:
    """A radar (spider) chart, one closed line per series. A category without a value is left out
    of that series' polygon (never drawn as 0, which would read as the lowest answer); it keeps its
    spoke and label, as a bar chart keeps the place of a missing bar (the caller marks a category
    nobody answered in its label, "(no answers)")."""
    fig = _figure(figsize=(6.5, 6.5), dpi=100)
    ax = fig.add_subplot(projection="polar")
    angles = [2 * math.pi * i / len(categories) for i in range(len(categories))]
    for i, (name, values) in enumerate(series.items()):
        points = [(a, float(v)) for a, v in zip(angles, values, strict=True) if v is not None]
        color = PALETTE[i % len(PALETTE)]
        if not points:  # nothing to draw; the legend still names it
            ax.plot([], [], color=color, label=name, linewidth=2)
            continue
        xs, ys = [a for a, _v in points], [v for _a, v in points]
        ax.plot([*xs, xs[0]], [*ys, ys[0]], color=color, label=name, linewidth=2, marker="o", markersize=4)
        if len(points) > 2:
            ax.fill([*xs, xs[0]], [*ys, ys[0]], color=color, alpha=0.15)
    ax.set_xticks(angles, [_wrap(c, 16) for c in categories], fontsize=8)
    ax.set_ylim(0, rmax)
    if title:
        ax.set_title(title, pad=20)
    if len(series) > 1:
        ax.legend(fontsize=8, loc="upper right", bbox_to_anchor=(1.15, 1.1))
    fig.tight_layout()
    return fig


def line_figure(series: dict[str, Sequence[tuple[datetime, float]]], *, title: str = "", ylabel: str = "",
                date_label: Callable[[datetime], str] | None = None,
                targets: dict[str, float] | None = None) -> Figure:
    """Values over time, one line per series (e.g. an indicator per experiment).

    The x axis shows days: with a few measured days exactly those, else one tick per day or more
    (never one day repeated), each written by ``date_label`` (the caller's language). ``targets``
    are horizontal lines across the measured span only, never reaching past the last value."""
    from matplotlib.dates import AutoDateLocator, num2date
    from matplotlib.ticker import FuncFormatter

    fig = _figure(figsize=(7, 4), dpi=100)
    ax = fig.add_subplot()
    moments = sorted(p[0] for points in series.values() for p in points)
    for i, (name, points) in enumerate(series.items()):
        points = sorted(points)
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name,
                color=PALETTE[i % len(PALETTE)])
    if moments:
        first, last = moments[0], moments[-1]
        pad = max((last - first) * 0.05, timedelta(hours=12))
        ax.set_xlim(first - pad, last + pad)
        start, end = first, last
        if end - start < timedelta(hours=6):  # one day: a short line around it, within that day
            day_end = datetime.combine(last.date(), time(0), last.tzinfo) + timedelta(days=1)
            start, end = start - timedelta(hours=3), min(end + timedelta(hours=3), day_end - timedelta(minutes=1))
        for j, (name, value) in enumerate((targets or {}).items()):
            ax.plot([start, end], [value, value], linestyle="--", linewidth=1.5, label=name,
                    color=PALETTE[(len(series) + j) % len(PALETTE)])
        days = sorted({m.date() for m in moments})
        if len(days) <= 8:
            ax.set_xticks([datetime.combine(d, time(12), first.tzinfo) for d in days])
        else:
            # more than a week between the first and the last day: days or longer steps, never hours
            ax.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=8, tz=first.tzinfo))
        tz = first.tzinfo
        label = date_label or day_label
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: label(num2date(x, tz))))
    fig.autofmt_xdate()
    return _finish(fig, ax, title=title, ylabel=ylabel, legend=len(series) + len(targets or {}) > 1,
                   grid_axis="both")


def _finish(fig: Figure, ax, *, title: str, ylabel: str, legend: bool, grid_axis: str) -> Figure:
    """Labels, legend and grid shared by the cartesian charts."""
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if legend:
        ax.legend(fontsize=8)
    ax.grid(axis=grid_axis, alpha=0.3)
    fig.tight_layout()
    return fig


def figure_texts(fig: Figure) -> list[str]:
    """Every non-empty text drawn on the figure (titles, tick labels, legend, axis labels)."""
    fig.canvas.draw()  # tick labels exist only after a draw
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")) if t.get_text()]


def to_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def bar_chart(categories: Sequence[str], series: dict[str, Sequence[Value]], **kw) -> bytes:
    return to_png(bar_figure(categories, series, **kw))


def radar_chart(categories: Sequence[str], series: dict[str, Sequence[Value]], **kw) -> bytes:
    return to_png(radar_figure(categories, series, **kw))


def line_chart(series: dict[str, Sequence[tuple[datetime, float]]], **kw) -> bytes:
    return to_png(line_figure(series, **kw))
