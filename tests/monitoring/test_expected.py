"""Expected, then realised: the O(n log n) expected AUC and KS, the labels-hidden test, a change of concept."""

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from functions.monitoring.loop.expected import (
    MISSING,
    by_window,
    compare,
    expect,
    expected_auc,
    expected_ks,
    grade_index,
    realise,
)
from functions.scoring.manifest import GRADE_BANDS
from functions.scoring.model import load_model, to_matrix
from training.synthetic import generate_rows

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "model"
Array = npt.NDArray[Any]


def brute_force_auc(p: Array) -> float:
    """The definition itself: every ordered pair i != j, weight p_i (1 - p_j), ties one half."""
    weights = np.outer(p, 1 - p)
    np.fill_diagonal(weights, 0.0)
    above = (p[:, None] > p[None, :]) + 0.5 * (p[:, None] == p[None, :])
    return float((weights * above).sum() / weights.sum())


def brute_force_ks(p: Array) -> float:
    """Expected class CDFs at every PD value, compared directly."""
    cuts = np.unique(p)
    bad = np.array([p[p <= t].sum() for t in cuts]) / p.sum()
    good = np.array([(1 - p)[p <= t].sum() for t in cuts]) / (1 - p).sum()
    return float(np.max(np.abs(bad - good)))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_expected_auc_and_ks_equal_their_pairwise_definitions_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = np.round(rng.beta(1, 3, size=400), 2)  # rounded: many ties
    assert expected_auc(p) == pytest.approx(brute_force_auc(p), abs=1e-12)
    assert expected_ks(p) == pytest.approx(brute_force_ks(p), abs=1e-12)


def test_expected_auc_of_constant_pds_is_one_half_and_of_certain_ones_undefined() -> None:
    assert expected_auc(np.full(10, 0.3)) == pytest.approx(0.5)
    assert expected_auc(np.zeros(5)) is None
    assert expected_ks(np.ones(5)) is None
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        expect(np.array([0.2, 1.5]))


def test_expected_figures_match_outcomes_drawn_from_the_pds() -> None:
    rng = np.random.default_rng(7)
    p = rng.beta(1.2, 4, size=100_000)
    y = (rng.random(p.size) < p).astype(int)
    realised = realise(y, p, rounds=50)
    assert realised.default_rate == pytest.approx(realised.expected.default_rate, abs=0.005)
    assert realised.auc is not None and realised.expected.auc is not None
    assert realised.auc == pytest.approx(realised.expected.auc, abs=0.005)
    assert realised.auc_interval is not None
    assert realised.auc_interval[0] < realised.auc < realised.auc_interval[1]


def shipped_pds(rows: int, seed: int) -> Array:
    """PDs of generated clients under the shipped model."""
    model = load_model(SHIPPED)
    return np.asarray(model.probabilities(to_matrix(generate_rows(rows, seed=seed))), dtype=np.float64)


def test_a_change_of_concept_in_grades_b_and_c_turns_their_lights_and_not_the_expectation() -> None:
    p = shipped_pds(10_000, seed=31)
    rng = np.random.default_rng(32)
    y = (rng.random(p.size) < p).astype(int)
    before = compare(p, y, bands=GRADE_BANDS, rounds=50)
    index = grade_index(p, GRADE_BANDS)
    changed = y.copy()
    for grade in ("B", "C"):  # 5 pp more defaults in each grade, inputs (and so PDs) unchanged
        members = np.flatnonzero((index == [b.grade for b in GRADE_BANDS].index(grade)) & (y == 0))
        extra = round(0.05 * int((index == [b.grade for b in GRADE_BANDS].index(grade)).sum()))
        changed[rng.choice(members, extra, replace=False)] = 1
    after = compare(p, changed, bands=GRADE_BANDS, rounds=50)
    assert abs(after.expected.default_rate - before.expected.default_rate) < 0.005
    lights = {g.grade: g.joined.light for g in after.grades if g.joined is not None}
    assert lights["B"] in {"amber", "red"} and lights["C"] in {"amber", "red"}
    assert {g.grade: g.joined.light for g in before.grades if g.joined}["B"] == "green"
    assert after.realised is not None and before.realised is not None
    assert after.realised.rate_gap > before.realised.rate_gap + 0.01


def test_missing_outcomes_leave_the_expectation_alone_and_realise_only_joined_rows() -> None:
    p = np.array([0.05, 0.15, 0.3, 0.6, 0.05, 0.15])
    o = np.array([0, 1, MISSING, 1, MISSING, 0])
    result = compare(p, o, bands=GRADE_BANDS, rounds=20)
    assert result.expected.rows == 6 and result.expected.default_rate == pytest.approx(p.mean())
    assert result.realised is not None and result.realised.rows == 4 and result.realised.defaults == 2
    assert result.realised.expected.default_rate == pytest.approx(p[o >= 0].mean())
    assert {g.grade: g.decisions for g in result.grades} == {"A": 2, "B": 2, "C": 1, "E": 1}
    none_joined = compare(p, np.full(6, MISSING), bands=GRADE_BANDS)
    assert none_joined.realised is None and all(g.joined is None for g in none_joined.grades)
    with pytest.raises(ValueError, match="one flag per PD"):
        compare(p, np.array([0, 1, 2, 0, 0, 0]), bands=GRADE_BANDS)


def test_by_window_splits_by_label_oldest_first() -> None:
    p = np.array([0.1, 0.2, 0.3, 0.4])
    months = ["2026-02", "2026-01", "2026-02", "2026-01"]
    result = by_window(months, p, np.array([0, 1, MISSING, 0]), bands=GRADE_BANDS, rounds=10)
    assert [c.window for c in result] == ["2026-01", "2026-02"]
    assert result[0].expected.default_rate == pytest.approx(0.3)
    assert result[1].realised is not None and result[1].realised.rows == 1


@pytest.mark.realdata
def test_labels_hidden_on_the_test_split_the_expectation_meets_the_realised_figures(
    real_data_path: Path,
) -> None:
    from training.data import load_dataset, split_dataset

    splits = split_dataset(load_dataset(real_data_path))
    p = np.asarray(load_model(SHIPPED).probabilities(splits.X_test), dtype=np.float64)
    hidden = expect(p)  # no label read
    realised = realise(splits.y_test, p, rounds=50)
    assert hidden.default_rate == pytest.approx(realised.default_rate, abs=0.005)
    assert hidden.auc is not None and realised.auc is not None
    assert hidden.auc == pytest.approx(realised.auc, abs=0.01)
