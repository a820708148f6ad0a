"""Back-testing: Jeffreys traffic lights per grade, gains by score band, and the summary's checks."""

import numpy as np
import pytest

from functions.monitoring.backtest import back_test, gains_table, grade_tests, score_bands, traffic_light
from functions.monitoring.stats import jeffreys_interval
from functions.scoring.manifest import GRADE_BANDS, SCORE_SCALING, Manifest


def test_traffic_light_is_green_inside_95_amber_inside_999_red_beyond() -> None:
    low95, high95 = jeffreys_interval(50, 500, level=0.95)
    low999, high999 = jeffreys_interval(50, 500, level=0.999)
    assert traffic_light(50, 500, 0.10) == ("green", "")
    assert traffic_light(50, 500, (low95 + low999) / 2) == ("amber", "under")
    assert traffic_light(50, 500, (high95 + high999) / 2) == ("amber", "over")
    assert traffic_light(50, 500, low999 / 2) == ("red", "under")
    assert traffic_light(50, 500, 0.5) == ("red", "over")


def test_grades_follow_the_manifest_bands(shipped_manifest: Manifest) -> None:
    manifest = shipped_manifest
    rng = np.random.default_rng(5)
    probabilities = np.r_[rng.random(2000), [0.1, 0.2, 0.35, 0.55, 0.0, 1.0]]  # band limits included
    y = (rng.random(probabilities.size) < probabilities).astype(int)
    tests = grade_tests(y, probabilities, manifest.grade_bands)
    expected = [manifest.grade(p).grade for p in probabilities.tolist()]
    assert {t.grade: t.clients for t in tests} == {g: expected.count(g) for g in sorted(set(expected))}
    for test in tests:
        members = np.array([g == test.grade for g in expected])
        assert test.defaults == int(y[members].sum())
        assert test.mean_pd == pytest.approx(float(probabilities[members].mean()))


def test_well_calibrated_grades_are_green_and_understated_ones_are_not() -> None:
    rng = np.random.default_rng(8)
    probabilities = rng.uniform(0.01, 0.9, size=20000)
    y = (rng.random(probabilities.size) < probabilities).astype(int)
    assert {t.light for t in grade_tests(y, probabilities, GRADE_BANDS)} <= {"green", "amber"}
    understated = grade_tests(y, probabilities * 0.6, GRADE_BANDS)
    assert all(t.light == "red" and t.direction == "under" for t in understated if t.clients > 1000)


def test_empty_grades_are_skipped() -> None:
    tests = grade_tests(np.array([0, 1, 0]), np.array([0.01, 0.02, 0.03]), GRADE_BANDS)
    assert [t.grade for t in tests] == ["A"]


def test_gains_table_by_hand() -> None:
    rows = gains_table(np.array([1, 0, 1, 0]), np.array([450.0, 455.0, 470.0, 610.0]), [460.0, 600.0])
    assert [(r.band, r.clients, r.defaults, r.odds, r.captured) for r in rows] == [
        ("< 460", 2, 1, 1.0, 0.5),
        ("460-600", 1, 1, 0.0, 1.0),
        (">= 600", 1, 0, None, 1.0),
    ]
    assert [r.default_rate for r in rows] == [0.5, 1.0, 0.0]


def test_score_bands_step_by_points_to_double_the_odds() -> None:
    bands = score_bands(SCORE_SCALING)
    assert bands[0] == SCORE_SCALING.min and bands[-1] == SCORE_SCALING.max
    assert SCORE_SCALING.anchor_score in bands
    assert set(np.diff(bands)) == {SCORE_SCALING.points_to_double_odds}


def test_back_test_summarises_and_checks_its_inputs() -> None:
    rng = np.random.default_rng(9)
    probabilities = rng.uniform(0.02, 0.8, size=3000)
    y = (rng.random(probabilities.size) < probabilities).astype(int)
    points = np.array([SCORE_SCALING.points(p) for p in probabilities.tolist()], dtype=float)
    result = back_test(y, probabilities, points, bands=GRADE_BANDS, scaling=SCORE_SCALING, rounds=100)
    assert result.rows == 3000 and result.defaults == int(y.sum())
    assert result.calibration_in_the_large == pytest.approx(probabilities.mean() - y.mean())
    assert result.gini == pytest.approx(2 * result.auc - 1)
    assert result.auc_interval[0] < result.auc < result.auc_interval[1]
    assert sum(r.clients for r in result.gains) == 3000
    assert result.gains[-1].captured == 1.0
    with pytest.raises(ValueError, match="0/1"):
        back_test(y * 2, probabilities, points, bands=GRADE_BANDS, scaling=SCORE_SCALING)
    with pytest.raises(ValueError, match="0/1"):
        back_test(y[:-1], probabilities, points, bands=GRADE_BANDS, scaling=SCORE_SCALING)
