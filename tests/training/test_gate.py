"""The champion-challenger gate on generated numbers: paired bootstrap, tolerances, PSI of scores, markdown."""

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from functions.scoring.model import to_matrix
from training.gate import (
    AUC_DROP,
    BRIER_RISE,
    ECE_RISE,
    PRECISION_DROP,
    AucDifference,
    Comparison,
    Figures,
    Scored,
    compare_scores,
    paired_auc_difference,
    regressions,
    score_psi,
)
from training.gate_report import comparison_markdown, markdown_table
from training.synthetic import generate_rows

Vector = NDArray[np.float64]

CHAMPION = Figures(
    version="a" * 12,
    threshold=0.3,
    auc=0.78,
    brier=0.135,
    ece=0.011,
    precision_at_recall=0.41,
    selection_rate=0.23,
)
NO_CHANGE = AucDifference(0.0, (-0.001, 0.001))


def outcomes_and_scores(n: int = 2000, *, seed: int = 1) -> tuple[NDArray[np.int64], Vector]:
    """Return 0/1 outcomes and PDs in (0, 1) that rank them better than chance."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.22).astype(np.int64)
    probabilities = 1 / (1 + np.exp(-(1.2 * y - 1.3 + rng.normal(0, 1, n))))
    return y, probabilities


def test_identical_models_differ_by_exactly_zero() -> None:
    y, probabilities = outcomes_and_scores()
    difference = paired_auc_difference(y, probabilities, probabilities.copy(), rounds=200)
    assert difference == AucDifference(0.0, (0.0, 0.0))


def test_a_noisier_challenger_has_an_interval_below_zero() -> None:
    y, probabilities = outcomes_and_scores()
    noisy = probabilities + np.random.default_rng(2).normal(0, 0.3, y.size)
    difference = paired_auc_difference(y, probabilities, noisy, rounds=300)
    low, high = difference.interval
    assert low <= difference.value <= high < 0


def test_the_paired_bootstrap_is_fixed_by_its_seed() -> None:
    y, probabilities = outcomes_and_scores()
    other = probabilities[::-1].copy()
    assert paired_auc_difference(y, probabilities, other, rounds=100) == paired_auc_difference(
        y, probabilities, other, rounds=100
    )


@pytest.mark.parametrize(
    ("change", "difference", "broken"),
    [
        ({}, NO_CHANGE, []),
        ({"auc": 0.78 - 2 * AUC_DROP}, AucDifference(-2 * AUC_DROP, (-0.02, -0.001)), ["auc"]),
        # A drop beyond the tolerance whose interval still holds 0 is noise, not a regression.
        ({"auc": 0.78 - 2 * AUC_DROP}, AucDifference(-2 * AUC_DROP, (-0.02, 0.001)), []),
        ({"auc": 0.78 - AUC_DROP / 2}, AucDifference(-AUC_DROP / 2, (-0.004, -0.001)), []),
        ({"brier": 0.135 + 2 * BRIER_RISE}, NO_CHANGE, ["brier"]),
        ({"brier": 0.135 + BRIER_RISE / 2}, NO_CHANGE, []),
        ({"ece": 0.011 + 2 * ECE_RISE}, NO_CHANGE, ["ece"]),
        ({"precision_at_recall": 0.41 - 2 * PRECISION_DROP}, NO_CHANGE, ["precision_at_recall"]),
        ({"precision_at_recall": 0.41 - PRECISION_DROP / 2}, NO_CHANGE, []),
        (
            {"brier": 0.2, "ece": 0.1, "auc": 0.7},
            AucDifference(-0.08, (-0.1, -0.06)),
            ["auc", "brier", "ece"],
        ),
        # Better figures are never regressions, however large the change.
        (
            {"auc": 0.9, "brier": 0.05, "ece": 0.0, "precision_at_recall": 0.9},
            AucDifference(0.12, (0.1, 0.14)),
            [],
        ),
    ],
)
def test_regressions_flag_exactly_the_broken_tolerances(
    change: dict[str, Any], difference: AucDifference, broken: list[str]
) -> None:
    found = regressions(CHAMPION, replace(CHAMPION, **change), difference)
    assert [r.metric for r in found] == broken


def test_a_regression_sentence_says_by_how_much() -> None:
    (found,) = regressions(CHAMPION, replace(CHAMPION, brier=0.140), NO_CHANGE)
    assert found.sentence == f"Brier score rises by 0.0050 (> {BRIER_RISE})"


def test_score_psi_is_zero_for_the_same_scores_and_large_for_shifted_ones() -> None:
    points = np.random.default_rng(3).normal(600, 50, 5000).round()
    assert score_psi(points, points.copy()) == 0.0
    assert score_psi(points, points - 60) >= 0.25


def scored(version: str, probabilities: Vector) -> Scored:
    return Scored(version, 0.3, probabilities, np.round(600 - 100 * probabilities))


def generated_comparison(*, worse: bool) -> tuple[str, Comparison]:
    rows = generate_rows(1500, seed=4)
    X = to_matrix(rows)
    y, probabilities = outcomes_and_scores(len(rows), seed=5)
    challenger = np.clip(probabilities + (0.25 if worse else 0.0), 0, 1)
    comparison = compare_scores(
        X, y, scored("champion0000", probabilities), scored("challenger00", challenger), split="generated"
    )
    return comparison_markdown(comparison), comparison


def test_compare_scores_accepts_the_same_answers_with_every_group_reported() -> None:
    markdown, comparison = generated_comparison(worse=False)
    assert comparison.acceptable
    assert "**Verdict: acceptable**" in markdown
    groups = {(g.attribute, g.group) for g in comparison.fairness}
    assert {attribute for attribute, _ in groups} == {"sex", "marriage", "education", "age"}


def test_compare_scores_refuses_a_miscalibrated_challenger_and_marks_the_rows() -> None:
    markdown, comparison = generated_comparison(worse=True)
    metrics = {r.metric for r in comparison.failures}
    assert {"brier", "ece"} <= metrics
    assert "**Verdict: refused**" in markdown
    brier_line = next(line for line in markdown.splitlines() if line.startswith("| Brier score"))
    assert "**worse**" in brier_line


def test_markdown_table_pads_every_line_to_the_same_width() -> None:
    table = markdown_table(
        ["name", "value"], [["auc", "0.78"], ["precision at recall", "0.4"]], right=[False, True]
    )
    lines = table.splitlines()
    assert len({len(line) for line in lines}) == 1
    assert lines[1] == "| ------------------- | ----: |"


def test_the_paired_bootstrap_refuses_outcomes_of_one_class() -> None:
    with pytest.raises(ValueError, match="both defaults and non-defaults"):
        paired_auc_difference(np.zeros(50), np.linspace(0, 1, 50), np.linspace(0, 1, 50), rounds=10)
