"""ui/charts.py: grade bands from the manifest and the Vega-Lite specs of the page's and Monitoring tab's charts."""

import itertools

import numpy as np
import pandas as pd
import pytest

from functions.monitoring.backtest import grade_tests
from functions.monitoring.psi import drift_of
from functions.scoring.adverse.statements import STATEMENTS
from functions.scoring.contract import ReasonCode
from functions.scoring.manifest import Manifest
from functions.scoring.reference import reference_bins
from ui import charts


def test_grade_bands_tile_zero_to_one_in_manifest_order(manifest: Manifest) -> None:
    bands = charts.grade_bands(manifest)
    assert [b.grade for b in bands] == [b.grade for b in manifest.grade_bands]
    assert bands[0].start == 0.0
    assert bands[-1].end == 1.0  # the last band's limit (above 1) is clipped to PD 1
    assert all(a.end == b.start for a, b in itertools.pairwise(bands))
    assert [b.label for b in bands] == [b.label for b in manifest.grade_bands]


def test_grade_bands_are_empty_without_a_manifest() -> None:
    assert charts.grade_bands(None) == []


@pytest.mark.parametrize(("with_bands", "layers"), [(True, 5), (False, 3)])
def test_gauge_draws_bands_pd_and_threshold(manifest: Manifest, with_bands: bool, layers: int) -> None:
    bands = charts.grade_bands(manifest) if with_bands else []
    spec = charts.gauge(0.42, 0.3, bands).to_dict()
    assert len(spec["layer"]) == layers
    assert "PD 42.0%" in str(spec) and "threshold 30.0%" in str(spec)


def test_reasons_chart_labels_each_reason_with_its_points() -> None:
    reasons = [
        ReasonCode(
            code="latest_status", text="2 months late", impact=0.123, statement=STATEMENTS["latest_status"]
        ),
        ReasonCode(
            code="utilisation", text="bills near the limit", impact=0.05, statement=STATEMENTS["utilisation"]
        ),
    ]
    spec = str(charts.reasons_chart(reasons).to_dict())
    assert "+12.3 pp" in spec and "+5.0 pp" in spec and "bills near the limit" in spec


def test_histogram_ignores_unscored_rows() -> None:
    results = pd.DataFrame({"pd": [0.1, None, 0.7], "decision": ["no default predicted", "", "default"]})
    spec = charts.histogram(results, 0.3).to_dict()
    rows = next(iter(spec["datasets"].values()))
    assert len(rows) == 2


def x_domain(spec: dict[str, object]) -> list[float]:
    """Return the explicit x scale domain of a layered chart's first layer."""
    layer = spec["layer"][0]  # type: ignore[index]
    return list(layer["encoding"]["x"]["scale"]["domain"])


@pytest.mark.parametrize(
    ("impacts", "end"),
    [
        ([0.001], 10.0),
        ([0.0004, 0.001], 10.0),
        ([0.085], 10.0),
        ([0.099], 15.0),
        ([0.123], 15.0),
        ([0.338], 40.0),
        ([0.4], 50.0),
    ],
)
def test_reasons_axis_spans_at_least_ten_points(impacts: list[float], end: float) -> None:
    reasons = [
        ReasonCode(code="utilisation", text=f"reason {i}", impact=v, statement=STATEMENTS["utilisation"])
        for i, v in enumerate(impacts)
    ]
    assert x_domain(charts.reasons_chart(reasons).to_dict()) == [0, end]


def test_confusion_chart_writes_counts_with_separators_in_black_on_light_cells() -> None:
    spec = charts.confusion_chart(5045, 796, 752, 907).to_dict()
    cells, text = spec["layer"]
    assert cells["encoding"]["color"]["scale"]["range"] == ["#e3f2fd", "#64b5f6"]  # light to mid blue
    assert text["mark"]["color"] == "black"
    labels = sorted(row["label"] for row in next(iter(spec["datasets"].values())))
    assert labels == ["5,045", "752", "796", "907"]


def test_moved_chart_puts_training_beside_this_file_per_bin() -> None:
    reference = reference_bins("pay_0", np.array([0.0] * 80 + [1.0] * 20), categories=[-2, -1, 0, 1, 2])
    drift = drift_of(np.array([0.0] * 20 + [1.0] * 80), reference)
    spec = charts.moved_chart(drift).to_dict()
    rows = next(iter(spec["datasets"].values()))
    assert len(rows) == 2 * len(drift.bins)
    shares = {(row["bin"], row["population"]): row["share"] for row in rows}
    assert shares[("1", "training")] == pytest.approx(0.2) and shares[("1", "this file")] == pytest.approx(
        0.8
    )
    assert "pay_0: PSI" in str(spec["title"]) and "shifted" in str(spec["title"])
    colour = spec["encoding"]["color"]["scale"]
    assert dict(zip(colour["domain"], colour["range"], strict=True)) == {
        "training": "#90a4ae",
        "this file": "#c62828",
    }


def test_backtest_chart_draws_interval_observed_and_predicted_per_grade(manifest: Manifest) -> None:
    y = np.array([1] * 30 + [0] * 70 + [1] * 30 + [0] * 70)
    probabilities = np.array([0.05] * 100 + [0.3] * 100)
    spec = charts.backtest_chart(grade_tests(y, probabilities, manifest.grade_bands)).to_dict()
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["rule", "point", "tick"]
    rows = next(iter(spec["datasets"].values()))
    assert [(row["grade"], row["light"]) for row in rows] == [("A", "red"), ("C", "green")]
