"""Small self-contained HTML reports for drift and outcomes: tables and inline SVG bars, no script, no CDN."""

from collections.abc import Sequence
from html import escape
from typing import Final

from functions.monitoring.psi import Drift
from functions.scoring.manifest_parts import BackTest

STYLE: Final = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}"
    "th:first-child,td:first-child{text-align:left}.stable,.green{background:#dfd}"
    ".investigate,.amber{background:#ffd}.shifted,.red{background:#fdd}"
)
BAR_WIDTH: Final = 14
CHART_HEIGHT: Final = 120


def page(title: str, body: str) -> str:
    """Wrap a body in a complete HTML page with its inline style."""
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>\n"
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], *, classes: Sequence[str] = ()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    lines = []
    for i, row in enumerate(rows):
        css = f' class="{escape(classes[i])}"' if i < len(classes) and classes[i] else ""
        lines.append(f"<tr{css}>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(lines)}</table>"


def paired_bars(name: str, labels: Sequence[str], left: Sequence[float], right: Sequence[float]) -> str:
    """Draw two values per label (grey, then blue), scaled to the largest, as an inline SVG bar chart."""
    top = max(*left, *right, 0.0) or 1.0
    step = 3 * BAR_WIDTH
    parts = []
    for i, label in enumerate(labels):
        for j, (value, colour) in enumerate(((left[i], "#999"), (right[i], "#36c"))):
            height = CHART_HEIGHT * value / top
            x = i * step + j * BAR_WIDTH
            parts.append(
                f'<rect x="{x}" y="{CHART_HEIGHT - height:.1f}" width="{BAR_WIDTH - 1}" height="{height:.1f}" '
                f'fill="{colour}"><title>{escape(label)}: {value:.1%}</title></rect>'
            )
        parts.append(f'<text x="{i * step}" y="{CHART_HEIGHT + 12}" font-size="9">{escape(label[:9])}</text>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{step * len(labels)}" height="{CHART_HEIGHT + 16}" '
        f'role="img" aria-label="{escape(name)}">{"".join(parts)}</svg>'
    )


def bars(drift: Drift) -> str:
    """Draw one input's reference (grey) and current (blue) bin shares as an inline SVG bar chart."""
    labels = [b.label for b in drift.bins]
    return paired_bars(
        f"bin shares of {drift.name}",
        labels,
        [b.expected for b in drift.bins],
        [b.actual for b in drift.bins],
    )


def drift_report(drifts: Sequence[Drift], *, rows: int) -> str:
    """Render the PSI table and, for each input that is not stable, its bins (characteristic analysis)."""
    table = _table(
        ("input", "PSI", "verdict"),
        [(d.name, f"{d.psi:.4f}", d.verdict) for d in drifts],
        classes=[d.verdict for d in drifts],
    )
    sections = []
    for drift in drifts:
        if drift.verdict == "stable":
            continue
        detail = _table(
            ("bin", "reference", "current", "PSI contribution"),
            [(b.label, f"{b.expected:.2%}", f"{b.actual:.2%}", f"{b.contribution:.4f}") for b in drift.bins],
        )
        sections.append(
            f"<h2>{escape(drift.name)}: PSI {drift.psi:.3f} ({drift.verdict})</h2>{bars(drift)}{detail}"
        )
    legend = "<p>Grey: training reference; blue: current. PSI below 0.10 stable, 0.10-0.25 investigate, 0.25+ shifted.</p>"
    return page("Population stability", f"<p>{rows:,} rows.</p>{legend}{table}{''.join(sections)}")


def outcomes_report(outcomes: BackTest) -> str:
    """Render the back-test: discrimination and calibration, the per-grade traffic lights and the gains table."""
    o = outcomes
    summary = _table(
        ("measure", "value", "95 % interval"),
        [
            ("AUC", f"{o.auc:.4f}", f"{o.auc_interval[0]:.4f}-{o.auc_interval[1]:.4f}"),
            ("Gini", f"{o.gini:.4f}", ""),
            ("KS", f"{o.ks:.4f}", ""),
            ("Brier", f"{o.brier:.4f}", f"{o.brier_interval[0]:.4f}-{o.brier_interval[1]:.4f}"),
            ("mean PD - default rate", f"{o.calibration_in_the_large:+.4f}", ""),
        ],
    )
    grades = _table(
        ("grade", "clients", "defaults", "mean PD", "observed", "Jeffreys 95 %", "light"),
        [
            (
                g.grade,
                f"{g.clients:,}",
                f"{g.defaults:,}",
                f"{g.mean_pd:.2%}",
                f"{g.observed_default_rate:.2%}",
                f"{g.interval_95[0]:.2%}-{g.interval_95[1]:.2%}",
                f"{g.light} {g.direction}".strip(),
            )
            for g in o.grades
        ],
        classes=[g.light for g in o.grades],
    )
    gains = _table(
        ("score band", "clients", "defaults", "default rate", "good:bad odds", "defaults captured"),
        [
            (
                r.band,
                f"{r.clients:,}",
                f"{r.defaults:,}",
                f"{r.default_rate:.2%}",
                "-" if r.odds is None else f"{r.odds:.2f}",
                f"{r.captured:.1%}",
            )
            for r in o.gains
        ],
    )
    chart = paired_bars(
        "mean PD and observed default rate per grade",
        [g.grade for g in o.grades],
        [g.mean_pd for g in o.grades],
        [g.observed_default_rate for g in o.grades],
    )
    legend = (
        "<p>Grey: mean PD; blue: observed default rate. Green: mean PD inside the Jeffreys 95 % interval of the "
        "observed rate; amber: outside it but inside the 99.9 % interval; red: outside the 99.9 % interval.</p>"
    )
    body = (
        f"<p>{o.rows:,} clients, {o.defaults:,} defaults.</p>{summary}<h2>Grades</h2>{legend}{chart}{grades}"
        f"<h2>Gains</h2>{gains}"
    )
    return page("Outcomes", body)
