"""Charts as PNG bytes, headless (matplotlib's Agg canvas, no pyplot state).

Callers pass labels already translated into the current language. Each ``*_figure`` returns a
matplotlib Figure (tests can read its texts with :func:`figure_texts`); :func:`to_png` renders it.
Reused by other features (experiment indicators use :func:`line_chart`).
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence
from datetime import datetime

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure

Value = float | None
PALETTE = ("#1f6f8b", "#e07a1f", "#5a9a3c", "#a23b72", "#6c5b7b", "#c9a227", "#3d405b", "#8d99ae")


def _wrap(label: str, width: int = 14) -> str:
    return "\n".join(textwrap.wrap(label, width, break_long_words=False)) or label


def _nan(values: Sequence[Value]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def bar_figure(categories: Sequence[str], series: dict[str, Sequence[Value]], *, title: str = "",
               ylabel: str = "", errors: dict[str, Sequence[Value]] | None = None,
               ylim: tuple[float, float] | None = (0, 5)) -> Figure:
    """Grouped bars: one group per category, one bar per series (rounds or areas)."""
    fig = Figure(figsize=(max(6.0, 1.1 * len(categories) + 2), 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    n = max(1, len(series))
    width = 0.8 / n
    for i, (name, values) in enumerate(series.items()):
        xs = [c + (i - (n - 1) / 2) * width for c in range(len(categories))]
        err = _nan(errors[name]) if errors and name in errors else None
        ax.bar(xs, _nan(values), width, label=name, color=PALETTE[i % len(PALETTE)], yerr=err,
               capsize=3 if err else 0, error_kw={"elinewidth": 1, "alpha": 0.7})
    ax.set_xticks(range(len(categories)), [_wrap(c) for c in categories], fontsize=8)
    if ylim:
        ax.set_ylim(*ylim)
    return _finish(fig, ax, title=title, ylabel=ylabel, legend=len(series) > 1, grid_axis="y")


def radar_figure(categories: Sequence[str], series: dict[str, Sequence[Value]], *, title: str = "",
                 rmax: float = 5) -> Figure:
    """A radar (spider) chart, one closed line per series; missing values are drawn as 0."""
    fig = Figure(figsize=(6.5, 6.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(projection="polar")
    angles = [2 * math.pi * i / len(categories) for i in range(len(categories))]
    for i, (name, values) in enumerate(series.items()):
        vals = [0.0 if v is None else float(v) for v in values]
        color = PALETTE[i % len(PALETTE)]
        ax.plot([*angles, angles[0]], [*vals, vals[0]], color=color, label=name, linewidth=2)
        ax.fill([*angles, angles[0]], [*vals, vals[0]], color=color, alpha=0.15)
    ax.set_xticks(angles, [_wrap(c, 16) for c in categories], fontsize=8)
    ax.set_ylim(0, rmax)
    if title:
        ax.set_title(title, pad=20)
    if len(series) > 1:
        ax.legend(fontsize=8, loc="upper right", bbox_to_anchor=(1.15, 1.1))
    fig.tight_layout()
    return fig


def line_figure(series: dict[str, Sequence[tuple[datetime, float]]], *, title: str = "", ylabel: str = "",
                date_format: str = "%d.%m.%Y") -> Figure:
    """Values over time, one line per series (e.g. an indicator per experiment)."""
    fig = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for i, (name, points) in enumerate(series.items()):
        points = sorted(points)
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name,
                color=PALETTE[i % len(PALETTE)])
    ax.xaxis.set_major_formatter(DateFormatter(date_format))
    fig.autofmt_xdate()
    return _finish(fig, ax, title=title, ylabel=ylabel, legend=len(series) > 1, grid_axis="both")


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
