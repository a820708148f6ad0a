"""The what-if as one self-contained HTML page: tables and inline SVG charts, no script, no network
(the house style of functions/monitoring/report.py)."""

from collections.abc import Sequence
from html import escape
from typing import Any, Final

from functions.monitoring.report import _table as table
from functions.monitoring.report import page, paired_bars

CURVE_WIDTH: Final = 420
CURVE_HEIGHT: Final = 220
ARM_COLOURS: Final = {"champion": "#999", "challenger": "#36c"}
COLOUR_NAMES: Final = {"#999": "grey", "#36c": "blue"}


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _ntd(value: float) -> str:
    return f"NT$ {value:,.0f}"


def tradeoff_chart(points: Sequence[dict[str, float]], marks: dict[str, tuple[float, float]]) -> str:
    """Draw approval rate (x) against expected bad rate of the approved (y) as an inline SVG line, each arm a dot."""
    top = max([p["expected_bad_rate"] for p in points] + [y for _, y in marks.values()] + [0.01])

    def xy(rate: float, bad: float) -> tuple[float, float]:
        return 40 + rate * (CURVE_WIDTH - 50), CURVE_HEIGHT - 20 - bad / top * (CURVE_HEIGHT - 30)

    line = " ".join("{:.1f},{:.1f}".format(*xy(p["approval_rate"], p["expected_bad_rate"])) for p in points)
    dots = []
    for arm, (rate, bad) in marks.items():
        x, y = xy(rate, bad)
        colour = ARM_COLOURS.get(arm, "#c33")
        dots.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{colour}"><title>{escape(arm)}: approve {rate:.1%}, '
            f"expected bad rate {bad:.2%}</title></circle>"
        )
    axes = (
        f'<line x1="40" y1="{CURVE_HEIGHT - 20}" x2="{CURVE_WIDTH - 10}" y2="{CURVE_HEIGHT - 20}" stroke="#666"/>'
        f'<line x1="40" y1="10" x2="40" y2="{CURVE_HEIGHT - 20}" stroke="#666"/>'
        f'<text x="40" y="{CURVE_HEIGHT - 4}" font-size="10">approval rate 0 to 100 %</text>'
        f'<text x="2" y="10" font-size="10">{top:.0%}</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CURVE_WIDTH}" height="{CURVE_HEIGHT}" role="img" '
        f'aria-label="trade-off curve">{axes}<polyline points="{line}" fill="none" stroke="#333"/>'
        f"{''.join(dots)}</svg>"
    )


def _realised_row(name: str, figures: dict[str, Any] | None) -> tuple[str, ...]:
    if figures is None:
        return (name, "-", "-", "-", "-", "-")
    low, high = figures["jeffreys_95"]
    return (
        name,
        f"{figures['clients']:,}",
        _percent(figures["expected_bad_rate"]),
        _percent(figures["realised_bad_rate"]),
        f"{low:.2%}-{high:.2%}",
        "yes" if figures["expected_inside"] else "no",
    )


def arm_section(arm: str, figures: dict[str, Any]) -> str:
    """Render one arm: decisions, money by grade, line actions, notices, selection by group, realised rates."""
    strategy = figures["strategy"]
    decisions = table(
        ("decision", "clients", "rate", "expected bad rate"),
        [
            (d, f"{v['clients']:,}", _percent(v["rate"]), _percent(v["expected_bad_rate"]))
            for d, v in figures["decisions"].items()
        ],
    )
    grades = figures["by_grade"]
    money = table(
        ("risk grade", "clients", "EAD", "expected loss"),
        [
            (g, f"{v['clients']:,}", _ntd(v["exposure_at_default_ntd"]), _ntd(v["expected_loss_ntd"]))
            for g, v in grades.items()
        ]
        + [("all", "", _ntd(figures["exposure_at_default_ntd"]), _ntd(figures["expected_loss_ntd"]))],
    )
    el_chart = paired_bars(
        "expected loss share per grade",
        list(grades),
        [v["clients"] / max(figures["rows"], 1) for v in grades.values()],
        [v["expected_loss_ntd"] / max(figures["expected_loss_ntd"], 1e-9) for v in grades.values()],
    )
    lines = figures["line_actions"]
    line_table = table(
        ("line action", "clients"),
        [(a, f"{n:,}") for a, n in lines["clients"].items()]
        + [
            ("limit added", _ntd(lines["limit_added_ntd"])),
            ("limit removed", _ntd(lines["limit_removed_ntd"])),
        ],
    )
    notices = figures["adverse_action_notices"]
    selection = []
    for attribute, groups in figures["selection"].items():
        ratio = groups["lowest_to_highest"]
        rows = [(g, f"{v['clients']:,}", _percent(v["approval_rate"])) for g, v in groups["groups"].items()]
        selection.append(
            f"<h4>{escape(attribute)}: lowest / highest approval rate "
            f"{'-' if ratio is None else f'{ratio:.3f}'}</h4>{table(('group', 'clients', 'approval rate'), rows)}"
        )
    realised = ""
    if "realised_by_decision" in figures:
        header = ("set", "clients with outcome", "expected bad rate", "realised", "Jeffreys 95 %", "inside")
        found = [_realised_row(f"decision {d}", v) for d, v in figures["realised_by_decision"].items()]
        found += [_realised_row(f"band {b['band']}", b["realised"]) for b in figures["bands"]]
        realised = f"<h3>Expected against realised bad rate</h3>{table(header, found)}"
    return (
        f"<h2>{escape(arm)}: {escape(strategy['name'])} ({escape(strategy['version'])})</h2>"
        f"<p>Expected bad rate among approved (mean PD): {_percent(figures['expected_bad_rate_approved'])}. "
        f"Adverse-action notices (12 CFR 1002.9): {notices['total']:,} ({notices['declines']:,} declines, "
        f"{notices['line_decreases']:,} line decreases on current accounts).</p>{decisions}"
        f"<h3>Expected loss by risk grade</h3><p>Grey: share of clients; blue: share of expected loss.</p>"
        f"{el_chart}{money}<h3>Line actions</h3>{line_table}<h3>Approval rate by group</h3>{''.join(selection)}"
        f"{realised}"
    )


def swap_section(swaps: dict[str, Any]) -> str:
    """Render the swap matrix (champion rows x challenger columns) and the expected bad rate of each swap set."""
    matrix = swaps["matrix"]
    names = list(matrix)
    grid = table(
        ("champion \\ challenger", *names), [(b, *(f"{matrix[b][a]:,}" for a in names)) for b in names]
    )
    sets = table(
        ("swap set", "clients", "expected bad rate", "realised"),
        [
            (
                f"{s['champion']} to {s['challenger']}",
                f"{s['clients']:,}",
                _percent(s["expected_bad_rate"]),
                _percent(s["realised"]["realised_bad_rate"]) if s["realised"] else "-",
            )
            for s in swaps["swap_sets"]
        ],
    )
    return f"<h2>Swaps</h2>{grid}{sets}"


def whatif_report(result: dict[str, Any]) -> str:
    """Render the what-if JSON of `python -m functions.portfolio whatif` as a self-contained HTML page."""
    arms = result["arms"]
    marks = {
        arm: (f["decisions"]["approve"]["rate"] or 0.0, f["expected_bad_rate_approved"] or 0.0)
        for arm, f in arms.items()
    }
    legend = ", ".join(f"{arm} {COLOUR_NAMES[ARM_COLOURS[arm]]}" for arm in arms)
    intro = (
        f"<p>{escape(str(result['input']))}: {result['rows_read']:,} rows read, {result['rows_invalid']:,} invalid "
        f"(not scored), {result['rows_with_target']:,} with a known outcome; model {escape(result['model_version'])}."
        f"</p><h2>Trade-off</h2><p>Approval rate against the expected bad rate of the approved as the approve "
        f"cut-off moves (PD below it approved); the dots are the strategies ({escape(legend)}).</p>"
        f"{tradeoff_chart(result['tradeoff'], marks)}"
    )
    sections = [arm_section(arm, figures) for arm, figures in arms.items()]
    if "swaps" in result:
        sections.append(swap_section(result["swaps"]))
    return page("Strategy what-if", intro + "".join(sections))
