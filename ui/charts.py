"""Altair charts of the page: the PD gauge, the reason codes, the batch's PD histogram and confusion matrix,
and the Monitoring tab's characteristic analysis and per-grade back-test."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import altair as alt
import pandas as pd

from functions.monitoring.psi import Drift
from functions.scoring.contract import ReasonCode
from functions.scoring.manifest import Manifest
from functions.scoring.manifest_parts import GradeLight

GRADE_COLOURS: Final = {"A": "#2e7d32", "B": "#8bc34a", "C": "#fbc02d", "D": "#f57c00", "E": "#c62828"}
LIGHT_COLOURS: Final = {"green": "#2e7d32", "amber": "#f57c00", "red": "#c62828"}
POPULATIONS: Final = ["training", "this file"]  # characteristic analysis: reference first, grey; current red
# The "Why" axis spans at least this many PD points, so a factor of 0.1 pp looks as small as it is.
MIN_IMPACT_AXIS_PP: Final = 10.0


@dataclass(frozen=True)
class Band:
    """A risk grade as a PD interval [start, end) in [0, 1]."""

    grade: str
    label: str
    start: float
    end: float


def grade_bands(manifest: Manifest | None) -> list[Band]:
    """Return the manifest's grade bands as PD intervals [start, end) (none without a manifest)."""
    bands, start = [], 0.0
    for band in manifest.grade_bands if manifest else ():
        end = min(band.max_pd, 1.0)
        bands.append(Band(band.grade, band.label, start, end))
        start = end
    return bands


def gauge(probability: float, threshold: float, bands: Sequence[Band]) -> alt.LayerChart:
    """Draw the PD in [0, 1] as a bar over the grade bands, with the decision threshold as a dashed line."""
    x = alt.X("start:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%", title=None, grid=False))
    # Heights are fractions of the chart; every layer hides its y axis (Vega-Lite fails on mixed axes).
    y, y_text = (alt.Y(f"{name}:Q", scale=alt.Scale(domain=[0, 1]), axis=None) for name in ("low", "text"))
    point = pd.DataFrame({"start": [0.0], "end": [probability], "low": [0.3], "high": [0.62]})
    point["label"] = f"PD {probability:.1%}"
    line = pd.DataFrame({"start": [threshold], "low": [0.0], "high": [1.0], "text": [0.1]})
    line["label"] = f"threshold {threshold:.1%}"
    layers: list[alt.Chart] = []
    if bands:
        zones = pd.DataFrame([vars(band) for band in bands]).assign(low=0.0, high=1.0)
        letters = pd.DataFrame(
            {"grade": zones["grade"], "start": (zones["start"] + zones["end"]) / 2, "text": 0.85}
        )
        colour = alt.Color(
            "grade:N",
            scale=alt.Scale(domain=list(GRADE_COLOURS), range=list(GRADE_COLOURS.values())),
            legend=None,
        )
        layers += [
            alt.Chart(zones)
            .mark_rect(opacity=0.3)
            .encode(x=x, x2="end:Q", y=y, y2="high:Q", color=colour, tooltip=["grade", "label"]),
            alt.Chart(letters)
            .mark_text(fontWeight="bold")
            .encode(x=x, y=y_text, text="grade:N", color=colour),
        ]
    layers += [
        alt.Chart(point)
        .mark_rect(color="#1a237e")
        .encode(x=x, x2="end:Q", y=y, y2="high:Q", tooltip=["label"]),
        alt.Chart(line).mark_rule(strokeDash=[5, 3], size=2, color="black").encode(x=x, y=y, y2="high:Q"),
        alt.Chart(line).mark_text(align="left", dx=4).encode(x=x, y=y_text, text="label:N"),
    ]
    return alt.LayerChart(layer=layers, height=80)


def impact_axis_end(impacts_pp: Sequence[float]) -> float:
    """Return the end of the "Why" axis in PD points: at least 10, else room for the largest bar and its label."""
    largest = max(impacts_pp, default=0.0)
    return float(max(MIN_IMPACT_AXIS_PP, 5 * math.ceil(1.15 * largest / 5)))


def reasons_chart(reasons: Sequence[ReasonCode]) -> alt.LayerChart:
    """Draw the reason codes as bars of the PD points each adds, each reason written above its bar."""
    table = pd.DataFrame(
        {
            "rank": range(len(reasons)),  # the API sends the largest impact first
            "reason": [r.text for r in reasons],
            "impact": [100 * r.impact for r in reasons],
            "code": [r.code for r in reasons],
        }
    )
    table["label"] = table["impact"].map(lambda v: f"+{v:.1f} pp")
    y = alt.Y("rank:O", axis=None)
    x = alt.X(
        "impact:Q",
        title="PD points added against the low-risk reference profile",
        scale=alt.Scale(domain=[0, impact_axis_end(table["impact"].tolist())], nice=False),
    )
    bars = alt.Chart(table).mark_bar(size=12, yOffset=8, color="#c62828")
    text = alt.Chart(table).mark_text(align="left", baseline="bottom", dy=-2)
    value = alt.Chart(table).mark_text(align="left", dx=4, dy=8)
    return alt.LayerChart(
        layer=[
            bars.encode(x=x, y=y, tooltip=["code", "reason", "label"]),
            text.encode(x=alt.value(0), y=y, text="reason:N"),
            value.encode(x=x, y=y, text="label:N"),
        ],
        height=alt.Step(46),
    )


def histogram(results: pd.DataFrame, threshold: float) -> alt.LayerChart:
    """Draw the distribution of the scored rows' PD (column `pd`), coloured by decision, with the threshold."""
    scored = results.dropna(subset=["pd"])
    bars = (
        alt.Chart(scored)
        .mark_bar()
        .encode(
            x=alt.X("pd:Q", bin=alt.Bin(extent=[0, 1], step=0.05), axis=alt.Axis(format="%"), title="PD"),
            y=alt.Y("count():Q", title="Clients"),
            color=alt.Color("decision:N", title="Decision", scale=alt.Scale(range=["#c62828", "#2e7d32"])),
        )
    )
    rule = (
        alt.Chart(pd.DataFrame({"threshold": [threshold]}))
        .mark_rule(strokeDash=[5, 3], size=2)
        .encode(x="threshold:Q")
    )
    return alt.LayerChart(layer=[bars, rule], height=260)


def moved_chart(drift: Drift) -> alt.Chart:
    """Draw a characteristic analysis: each reference bin's share of clients in training and in this file."""
    rows = [
        {"bin": b.label, "order": i, "population": population, "share": share}
        for i, b in enumerate(drift.bins)
        for population, share in zip(POPULATIONS, (b.expected, b.actual), strict=True)
    ]
    chart: alt.Chart = (
        alt.Chart(pd.DataFrame(rows), title=f"{drift.name}: PSI {drift.psi:.3f} ({drift.verdict})")
        .mark_bar()
        .encode(
            x=alt.X(
                "bin:N", sort=alt.SortField("order"), title="Reference bin", axis=alt.Axis(labelAngle=-30)
            ),
            xOffset=alt.XOffset("population:N", sort=POPULATIONS),
            y=alt.Y("share:Q", axis=alt.Axis(format="%"), title="Share of clients"),
            color=alt.Color(
                "population:N", title=None, scale=alt.Scale(domain=POPULATIONS, range=["#90a4ae", "#c62828"])
            ),
            tooltip=["bin", "population", alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(height=220)
    )
    return chart


def backtest_chart(grades: Sequence[GradeLight]) -> alt.LayerChart:
    """Draw per grade the observed default rate with its Jeffreys 95 % interval and the mean PD, by light."""
    table = pd.DataFrame(
        {
            "grade": g.grade,
            "observed": g.observed_default_rate,
            "low": g.interval_95[0],
            "high": g.interval_95[1],
            "predicted": g.mean_pd,
            "light": g.light,
        }
        for g in grades
    )
    x = alt.X("grade:N", title="Risk grade", axis=alt.Axis(labelAngle=0))
    y = alt.Y("observed:Q", axis=alt.Axis(format="%"), title="Default rate")
    colour = alt.Color(
        "light:N",
        title="Test",
        scale=alt.Scale(domain=list(LIGHT_COLOURS), range=list(LIGHT_COLOURS.values())),
    )
    base = alt.Chart(table)
    return alt.LayerChart(
        layer=[
            base.mark_rule(size=2).encode(
                x=x, y=alt.Y("low:Q", title="Default rate"), y2="high:Q", color=colour
            ),
            base.mark_point(filled=True, size=90).encode(
                x=x, y=y, color=colour, tooltip=["grade", alt.Tooltip("observed:Q", format=".1%")]
            ),
            base.mark_tick(thickness=3, size=26, color="black").encode(
                x=x, y="predicted:Q", tooltip=["grade", alt.Tooltip("predicted:Q", format=".1%")]
            ),
        ],
        height=260,
        title="Observed default rate (dot, 95 % interval) against the mean PD (black tick)",
    )


def confusion_chart(tn: int, fp: int, fn: int, tp: int) -> alt.LayerChart:
    """Draw a confusion matrix as light cells with dark counts (thousands separated), readable in any theme."""
    table = pd.DataFrame(
        {
            "actual": ["no default", "no default", "default", "default"],
            "predicted": ["no default", "default", "no default", "default"],
            "clients": [tn, fp, fn, tp],
        }
    )
    table["label"] = table["clients"].map(lambda count: f"{count:,}")
    order = ["no default", "default"]
    x = alt.X("predicted:N", sort=order, title="Predicted", axis=alt.Axis(labelAngle=0))
    y = alt.Y("actual:N", sort=order, title="Actual")
    # A light ramp keeps black text legible on every cell (a dark top colour hid the largest count).
    cells = (
        alt.Chart(table)
        .mark_rect(stroke="white")
        .encode(
            x=x,
            y=y,
            color=alt.Color("clients:Q", scale=alt.Scale(range=["#e3f2fd", "#64b5f6"]), legend=None),
        )
    )
    text = alt.Chart(table).mark_text(fontSize=16, color="black").encode(x=x, y=y, text="label:N")
    return alt.LayerChart(layer=[cells, text], height=180)
