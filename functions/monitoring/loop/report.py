"""The text and HTML forms of the closed loop: expected against realised per month and grade, overrides."""

from collections.abc import Sequence
from html import escape

from functions.monitoring.loop.expected import Comparison
from functions.monitoring.loop.join import LoopReport
from functions.monitoring.loop.overrides import OverrideFigures
from functions.monitoring.report import _table, page, paired_bars


def _share(value: float | None, decimals: int = 2) -> str:
    return "-" if value is None else f"{value:.{decimals}%}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def month_rows(months: Sequence[Comparison]) -> list[tuple[str, ...]]:
    """One row per month: decisions, expected rate and AUC, joined, realised rate and AUC, gap."""
    rows: list[tuple[str, ...]] = []
    for c in months:
        r = c.realised
        rows.append(
            (
                c.window,
                f"{c.expected.rows:,}",
                _share(c.expected.default_rate),
                _number(c.expected.auc),
                "0" if r is None else f"{r.rows:,}",
                _share(None if r is None else r.default_rate),
                _number(None if r is None else r.auc),
                "-" if r is None else f"{r.rate_gap * 100:+.2f} pp",
            )
        )
    return rows


def grade_rows(comparison: Comparison) -> tuple[list[tuple[str, ...]], list[str]]:
    """One row per grade (and its light's colour): decisions, mean PD, joined, defaults, realised, light."""
    rows: list[tuple[str, ...]] = []
    lights: list[str] = []
    for g in comparison.grades:
        t = g.joined
        rows.append(
            (
                g.grade,
                f"{g.decisions:,}",
                _share(g.expected_rate),
                "0" if t is None else f"{t.clients:,}",
                "-" if t is None else f"{t.defaults:,}",
                _share(None if t is None else t.observed_default_rate),
                "-" if t is None else f"{t.light} {t.direction}".strip(),
            )
        )
        lights.append("" if t is None else t.light)
    return rows, lights


def override_row(name: str, f: OverrideFigures, *, decimals: int = 2) -> tuple[str, ...]:
    """One row of override figures: reviewed, each side's count, rate and realised default rate (shares in %
    with `decimals`)."""
    return (
        name,
        f"{f.reviewed:,}",
        f"{f.low_side:,}",
        _share(f.low_side_rate, decimals),
        _share(f.low_side_default_rate, decimals),
        f"{f.high_side:,}",
        _share(f.high_side_rate, decimals),
        _share(f.high_side_default_rate, decimals),
    )


MONTH_HEADER = (
    "month",
    "decisions",
    "expected rate",
    "expected AUC",
    "joined",
    "realised rate",
    "AUC",
    "gap",
)
GRADE_HEADER = ("grade", "decisions", "mean PD", "joined", "defaults", "realised", "light")
OVERRIDE_HEADER = ("group", "reviewed", "low side", "rate", "defaulted", "high side", "rate", "defaulted")


def loop_table(report: LoopReport) -> str:
    """Render the loop as fixed-width text: months, grades of the whole span, overrides overall and by group."""
    if report.overall is None or report.overrides is None:
        return f"No decisions recorded from {report.since_day} to {report.until_day}."
    lines = [f"decisions {report.since_day} to {report.until_day}", "", "  ".join(MONTH_HEADER)]
    lines += ["  ".join(row) for row in month_rows(report.months)]
    lines += ["", "  ".join(GRADE_HEADER)]
    lines += ["  ".join(row) for row in grade_rows(report.overall)[0]]
    lines += ["", "overrides (low side: model declines, reviewer approves; high side: the reverse)"]
    lines += ["  ".join(OVERRIDE_HEADER), "  ".join(override_row("all", report.overrides.overall))]
    for group, values in report.overrides.groups.items():
        lines += ["  ".join(override_row(f"{group} {value}", f)) for value, f in values.items()]
    return "\n".join(lines)


def loop_html(report: LoopReport) -> str:
    """Render the loop as a self-contained HTML page (tables and an inline SVG per grade)."""
    title = "Expected against realised"
    if report.overall is None or report.overrides is None:
        return page(title, f"<p>No decisions recorded from {report.since_day} to {report.until_day}.</p>")
    grades, lights = grade_rows(report.overall)
    chart = paired_bars(
        "mean PD and realised default rate per grade",
        [g.grade for g in report.overall.grades],
        [g.expected_rate for g in report.overall.grades],
        [0.0 if g.joined is None else g.joined.observed_default_rate for g in report.overall.grades],
    )
    groups = [override_row("all", report.overrides.overall)] + [
        override_row(f"{group} {value}", f)
        for group, values in report.overrides.groups.items()
        for value, f in values.items()
    ]
    body = (
        f"<p>Decisions from {escape(report.since_day)} to {escape(report.until_day)}. Expected figures come "
        "from the recorded PDs alone; realised ones from the outcomes joined so far.</p>"
        f"<h2>Months</h2>{_table(MONTH_HEADER, month_rows(report.months))}"
        f"<h2>Grades</h2><p>Grey: mean PD; blue: realised default rate.</p>{chart}"
        f"{_table(GRADE_HEADER, grades, classes=lights)}"
        "<h2>Overrides</h2><p>Low side: the model declines and the reviewer approves; high side: the reverse. "
        "Rates are over reviewed decisions; 'defaulted' is the realised default rate of the overridden ones.</p>"
        f"{_table(OVERRIDE_HEADER, groups)}"
    )
    return page(title, body)
