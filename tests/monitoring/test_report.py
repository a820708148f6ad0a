"""The self-contained HTML reports: escaped text, bars to scale, no script and nothing fetched."""

import re

from functions.monitoring.psi import BinShift, Drift
from functions.monitoring.report import CHART_HEIGHT, bars, drift_report, page, paired_bars

SHIFTED = Drift(
    name="pay_0",
    psi=0.4,
    verdict="shifted",
    bins=(
        BinShift(label="<= 0", expected=0.5, actual=0.25, contribution=0.17),
        BinShift(label="> 0", expected=0.5, actual=0.75, contribution=0.10),
    ),
)
STABLE = Drift(name="age", psi=0.01, verdict="stable", bins=(BinShift("all", 1.0, 1.0, 0.0),))


def test_bars_draw_both_shares_of_every_bin_to_scale() -> None:
    svg = bars(SHIFTED)
    heights = [float(h) for h in re.findall(r'height="([\d.]+)" fill', svg)]
    assert heights == [CHART_HEIGHT * s / 0.75 for s in (0.5, 0.25, 0.5, 0.75)]
    assert "&lt;= 0" in svg  # labels are escaped


def test_drift_report_details_only_inputs_that_moved() -> None:
    html = drift_report([STABLE, SHIFTED], rows=1234)
    assert "<h2>pay_0: PSI 0.400 (shifted)</h2>" in html
    assert "<h2>age" not in html
    assert "1,234 rows" in html
    assert not re.search(r"<script|src=|href=|https?://(?!www\.w3\.org/2000/svg)", html)


def test_page_escapes_its_title() -> None:
    assert "<title>a &lt;b&gt;</title>" in page("a <b>", "")


def test_paired_bars_handle_all_zero_values() -> None:
    svg = paired_bars("grades", ["A"], [0.0], [0.0])
    assert re.findall(r'height="([\d.]+)" fill', svg) == ["0.0", "0.0"]
