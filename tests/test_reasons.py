"""Reason codes: faithful impacts, ranking, filtering, counterfactual variants and wording."""

from pathlib import Path

import numpy as np
import pytest

from functions.contract import FEATURE_NAMES
from functions.reasons import MAX_REASONS, REASON_GROUPS, counterfactuals, describe, measure, top_reasons
from functions.scoring import ScoringModel, load_model, to_matrix
from training.synthetic import HIGH_RISK, TYPICAL, generate_rows

MODEL_DIR = Path(__file__).resolve().parent.parent / "model"


@pytest.fixture(scope="module")
def model() -> ScoringModel:
    return load_model(MODEL_DIR)


@pytest.mark.parametrize("seed", range(5))
def test_reasons_are_faithful(model: ScoringModel, seed: int) -> None:
    """Setting each stated factor to the reference profile lowers PD by exactly the stated impact."""
    raw = to_matrix(generate_rows(20, seed=seed) + [HIGH_RISK])
    reference = model.manifest.reference_profile
    for row, decision in zip(raw, model.assess(raw), strict=True):
        for reason in decision.reasons:
            changed = row.copy()
            for name in REASON_GROUPS[reason.code]:
                changed[FEATURE_NAMES.index(name)] = reference[name]
            lowered = float(model.probabilities(changed[None, :])[0])
            assert decision.probability_of_default - lowered == pytest.approx(reason.impact, abs=1e-10)


@pytest.mark.parametrize("rows", [1, 16, 17, 40])
def test_measure_agrees_across_the_small_and_large_batch_paths(model: ScoringModel, rows: int) -> None:
    raw = to_matrix(generate_rows(rows, seed=rows))
    reference = model.manifest.reference_profile
    probabilities, impacts = measure(model.ensemble, raw, reference=reference, tags=model.node_tags)
    assert impacts.shape == (len(REASON_GROUPS), rows)
    np.testing.assert_array_equal(probabilities, model.probabilities(raw))
    for i in range(rows):  # one row at a time always takes the small-batch path
        _, alone = measure(model.ensemble, raw[i : i + 1], reference=reference, tags=model.node_tags)
        np.testing.assert_allclose(impacts[:, i], alone[:, 0], atol=1e-10, rtol=0)


def test_counterfactuals_change_only_their_group(model: ScoringModel) -> None:
    raw = to_matrix([TYPICAL, HIGH_RISK])
    reference = model.manifest.reference_profile
    for inputs, variant in zip(REASON_GROUPS.values(), counterfactuals(raw, reference), strict=True):
        changed = {FEATURE_NAMES[j] for j in np.flatnonzero((variant != raw).any(axis=0))}
        assert changed <= set(inputs)
        for name in inputs:
            assert np.all(variant[:, FEATURE_NAMES.index(name)] == reference[name])


def test_top_reasons_keep_positive_impacts_largest_first_at_most_four() -> None:
    impacts = [0.01, 0.0, 0.05, -0.02, 0.05, 0.002, 0.03]
    reasons = top_reasons(impacts, TYPICAL)
    assert [r.code for r in reasons] == ["utilisation", "credit_limit", "education", "latest_status"]
    assert len(reasons) == MAX_REASONS


def test_top_reasons_never_list_zero_or_negative_impacts() -> None:
    assert top_reasons([0.0, -0.1, 0.0, -1e-12, 0.0, 0.0, 0.0], TYPICAL) == ()


def test_reason_texts_quote_the_client() -> None:
    row = {**HIGH_RISK, "bill_amt1": 19400, "limit_bal": 20000}
    assert describe("latest_status", row) == "3 months late on the latest payment (September)"
    assert describe("utilisation", row) == "bill at 97% of the credit limit"
    assert describe("status_history", row).startswith("late in 3 of the 5 months")
    assert describe("credit_limit", row) == "credit limit of NT$20,000"


@pytest.mark.parametrize(
    ("change", "code", "text"),
    [
        (
            {"pay_amt1": 0, "pay_amt2": 0, "pay_amt3": 0, "pay_amt4": 0, "pay_amt5": 0, "pay_amt6": 0},
            "payments",
            "no payment in the last 6 months",
        ),
        ({"bill_amt2": 0, "pay_amt1": 1500}, "payments", "paid NT$1,500 last month with no bill due"),
        (
            {"pay_2": 0, "pay_3": 0, "pay_4": -1, "pay_5": 0, "pay_6": -2},
            "status_history",
            "revolving credit (minimum paid) in 3 of the 5 months before September",
        ),
        ({"pay_0": -1}, "latest_status", "latest payment status: paid in full"),
        ({"age": 23}, "age", "age 23"),
    ],
)
def test_reason_texts_cover_each_wording(change: dict[str, float], code: str, text: str) -> None:
    assert describe(code, {**TYPICAL, **change}) == text


def test_describe_refuses_an_unknown_code() -> None:
    with pytest.raises(ValueError, match="unknown reason code 'weather'"):
        describe("weather", TYPICAL)
