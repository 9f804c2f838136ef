"""The report's chart as a PNG: horizontal bars of the listed answers of each question and of
the per-party totals, with their rounded percentages written beside the bars.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, so no global state and no
display needed). The image shows exactly the report's numbers; its alternative text in the
HTML page is ``Report.chart_description()``. The PNG carries no timestamp or software version,
so the same report on the same matplotlib gives the same bytes.
"""

from __future__ import annotations

import io
import textwrap
from typing import TYPE_CHECKING

from unionvote.domain.report import Report

if TYPE_CHECKING:  # matplotlib takes most of a second to import: only charts need it
    from matplotlib.axes import Axes

__all__ = ["render_chart"]

_BAR = "#1f5f8b"  # dark blue: readable on white, and in greyscale print
_PARTY = "#6b6b6b"
_WIDTH = 8.0  # inches
_DPI = 100


def _plain(text: str) -> str:
    """Text as written: matplotlib would read a pair of ``$`` as mathematics."""
    return text.replace("$", r"\$")


def _bars(axes: Axes, title: str, rows: list[tuple[str, int]], colour: str) -> None:
    labels = [_plain(textwrap.shorten(label, 40, placeholder="…")) for label, _ in rows]
    values = [percent for _, percent in rows]
    positions = list(range(len(rows)))
    axes.barh(positions, values, color=colour, height=0.6)
    axes.set_yticks(positions, labels=labels, fontsize=11)
    axes.invert_yaxis()  # the largest on top, as the text lists them
    axes.set_xlim(0, 100)
    axes.set_xlabel("percent", fontsize=10)
    axes.set_title(_plain(textwrap.fill(title, 70)), fontsize=12, loc="left")
    for position, value in zip(positions, values, strict=True):
        axes.text(value + 1, position, f"{value}%", va="center", fontsize=11)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)


def render_chart(report: Report) -> bytes:
    """The chart of ``report`` as PNG bytes."""
    panels: list[tuple[str, list[tuple[str, int]], str]] = []
    for question in report.questions:
        rows = [(line.label, line.percent) for line in question.listed]
        panels.append((question.tally.question, rows or [("(no answer above the line)", 0)], _BAR))
        if question.party_totals:
            totals = [(p.party, p.percent) for p in question.party_totals]
            panels.append(("Totals by party", totals, _PARTY))
    heights = [1.2 + 0.45 * len(rows) for _, rows, _ in panels]
    top = 0.9 if report.simulation else 0.6
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(_WIDTH, sum(heights) + top), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    heading = _plain(report.title)
    if report.simulation:
        heading = "SIMULATION – not a real vote\n" + heading
    figure.suptitle(heading, fontsize=13, fontweight="bold")
    grid = figure.add_gridspec(len(panels), 1, height_ratios=heights)
    for index, (title, rows, colour) in enumerate(panels):
        _bars(figure.add_subplot(grid[index, 0]), title, rows, colour)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
