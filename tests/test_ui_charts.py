"""ui/charts.py: grade bands from the manifest and the Vega-Lite specs of the gauge, reasons and histogram."""

import itertools

import pandas as pd
import pytest

from functions.contract import ReasonCode
from functions.manifest import Manifest, parse_manifest
from scripts.local import ROOT
from ui import charts


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    """The shipped model's manifest."""
    return parse_manifest((ROOT / "model" / "model.json").read_text())


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
        ReasonCode(code="latest_status", text="2 months late", impact=0.123),
        ReasonCode(code="utilisation", text="bills near the limit", impact=0.05),
    ]
    spec = str(charts.reasons_chart(reasons).to_dict())
    assert "+12.3 pp" in spec and "+5.0 pp" in spec and "bills near the limit" in spec


def test_histogram_ignores_unscored_rows() -> None:
    results = pd.DataFrame({"pd": [0.1, None, 0.7], "decision": ["no default predicted", "", "default"]})
    spec = charts.histogram(results, 0.3).to_dict()
    rows = next(iter(spec["datasets"].values()))
    assert len(rows) == 2
