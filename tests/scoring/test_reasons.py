"""Reason codes: faithful impacts, ranking, filtering, counterfactual variants and wording."""

import math
import re
from typing import Final

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.scoring.contract import FEATURE_NAMES, FEATURES
from functions.scoring.features import MODEL_FEATURES, engineer
from functions.scoring.model import ScoringModel, to_matrix
from functions.scoring.reasons import (
    MAX_REASONS,
    MIN_IMPACT,
    REASON_GROUPS,
    counterfactuals,
    measure_impacts,
    rank_reasons,
    top_reasons,
    word_reasons,
)
from functions.scoring.wording import describe
from training.synthetic import HIGH_RISK, TYPICAL, generate_rows


@pytest.mark.parametrize("seed", range(5))
def test_reasons_are_faithful(model: ScoringModel, seed: int) -> None:
    """Setting each stated factor to the reference profile lowers PD by exactly the stated impact.

    The reasons are measured on the inputs the PD is (an elderly client at the age the score used).
    """
    raw = to_matrix(generate_rows(20, seed=seed) + [HIGH_RISK])
    reference = model.manifest.reference_profile
    for row, decision in zip(model.served_inputs(raw), model.assess(raw), strict=True):
        for reason in decision.reasons:
            changed = row.copy()
            for name in REASON_GROUPS[reason.code]:
                changed[FEATURE_NAMES.index(name)] = reference[name]
            lowered = float(model.ensemble.predict_proba(engineer(changed[None, :]))[0])
            assert decision.probability_of_default - lowered == pytest.approx(reason.impact, abs=1e-10)


@pytest.mark.parametrize("rows", [1, 16, 17, 40])
def test_measure_impacts_agrees_across_the_small_and_large_batch_paths(
    model: ScoringModel, rows: int
) -> None:
    raw = model.served_inputs(to_matrix(generate_rows(rows, seed=rows)))
    reference = model.manifest.reference_profile
    probabilities, impacts = measure_impacts(
        model.ensemble, raw, engineer(raw), reference=reference, tags=model.node_tags
    )
    assert impacts.shape == (len(REASON_GROUPS), rows)
    np.testing.assert_array_equal(probabilities, model.probabilities(raw))
    for i in range(rows):  # one row at a time always takes the small-batch path
        one = raw[i : i + 1]
        _, alone = measure_impacts(
            model.ensemble, one, engineer(one), reference=reference, tags=model.node_tags
        )
        np.testing.assert_allclose(impacts[:, i], alone[:, 0], atol=1e-10, rtol=0)


def test_counterfactuals_change_only_their_group(model: ScoringModel) -> None:
    raw = to_matrix([TYPICAL, HIGH_RISK])
    reference = model.manifest.reference_profile
    for inputs, variant in zip(REASON_GROUPS.values(), counterfactuals(raw, reference), strict=True):
        changed = {FEATURE_NAMES[j] for j in np.flatnonzero((variant != raw).any(axis=0))}
        assert changed <= set(inputs)
        for name in inputs:
            assert np.all(variant[:, FEATURE_NAMES.index(name)] == reference[name])


def features_of(inputs: dict[str, float]) -> dict[str, float]:
    """Return the model features the model builds from one client's inputs."""
    return dict(zip(MODEL_FEATURES, engineer(to_matrix([inputs]))[0].tolist(), strict=True))


def test_top_reasons_keep_positive_impacts_largest_first_at_most_four() -> None:
    impacts = [0.01, 0.0, 0.05, -0.02, 0.05, 0.002, 0.03]
    reasons = top_reasons(impacts, TYPICAL, features_of(TYPICAL))
    assert [r.code for r in reasons] == ["utilisation", "credit_limit", "education", "latest_status"]
    assert len(reasons) == MAX_REASONS


def test_top_reasons_never_list_zero_or_negative_impacts() -> None:
    assert top_reasons([0.0, -0.1, 0.0, -1e-12, 0.0, 0.0, 0.0], TYPICAL, features_of(TYPICAL)) == ()


@pytest.mark.parametrize("impact", [1e-10, 0.0004, MIN_IMPACT - 1e-10])
def test_top_reasons_never_list_an_impact_below_the_shown_precision(impact: float) -> None:
    """The UI once showed "age 23 +0.0 pp" as a reason: below 0.1 pp an effect is not a reason."""
    impacts = [0.0, 0.0, 0.0, 0.0, 0.0, impact, 0.0]
    assert top_reasons(impacts, TYPICAL, features_of(TYPICAL)) == ()
    assert [r.code for r in top_reasons([*impacts[:5], MIN_IMPACT, 0.0], TYPICAL, features_of(TYPICAL))] == [
        "age"
    ]


AMOUNT_EDGES: Final = (0.0, 5e-324, 1e-300, 0.01, 0.5, 1.0, 9_999_999.99)


def amounts(low: float, high: float) -> st.SearchStrategy[float]:
    """Any amount in [low, high], with the degenerate edges drawn often."""
    edges = [v for v in AMOUNT_EDGES + (low, high) if low <= v <= high]
    return st.one_of(st.sampled_from(edges), st.floats(low, high, allow_nan=False, allow_infinity=False))


@st.composite
def clients(draw: st.DrawFn) -> dict[str, float]:
    """Draw a client anywhere in the contract (codes, whole numbers, amounts with degenerate edges)."""
    client: dict[str, float] = {}
    for spec in FEATURES:
        if spec.codes:
            client[spec.name] = draw(st.sampled_from(sorted(spec.codes)))
        elif spec.kind == "amount":
            low = math.nextafter(spec.minimum, math.inf) if spec.exclusive_minimum else spec.minimum
            client[spec.name] = draw(amounts(low, spec.maximum))
        else:
            client[spec.name] = draw(st.integers(int(spec.minimum), int(spec.maximum)))
    return client


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(client=clients())
def test_every_reason_text_is_finite_and_true_to_the_model(
    model: ScoringModel, client: dict[str, float]
) -> None:
    """Every valid client's reasons: finite figures, no inf/nan, percentages equal to the model's features."""
    features = features_of(client)
    texts = {code: describe(code, client, features) for code in REASON_GROUPS}
    for text in texts.values():
        assert not re.search(r"inf|nan", text, re.IGNORECASE), text
    shown = re.search(r"bill at (-?[\d,]+)%", texts["utilisation"])
    if shown:
        assert int(shown.group(1).replace(",", "")) == round(features["utilisation_latest"] * 100)
    paid = re.search(r"paid ([\d,]+)% of the previous bill", texts["payments"])
    if paid:
        assert int(paid.group(1).replace(",", "")) == round(features["payment_ratio_latest"] * 100)
    for decision in model.assess(to_matrix([client])):
        assert all(reason.impact >= MIN_IMPACT for reason in decision.reasons)


def _edge_rows(reference: dict[str, float]) -> np.ndarray:
    """Generated clients plus edge cases: zero amounts, negative bills, -0.0, huge utilisation, no payments."""
    raw = to_matrix(generate_rows(400, seed=7) + [HIGH_RISK, TYPICAL])
    edges = raw[:40].copy()
    index = {name: FEATURE_NAMES.index(name) for name in FEATURE_NAMES}
    payments = [index[f"pay_amt{k}"] for k in range(1, 7)]
    edges[:8, payments] = 0.0  # no payment at all
    edges[8:16, index["bill_amt2"]] = -5000.0  # in credit: paid with no bill due
    edges[16:20, index["pay_amt1"]] = -0.0  # prints differently from 0.0
    edges[20:24, index["bill_amt1"]] = 50 * edges[20:24, index["limit_bal"]]  # more than 10 times the limit
    edges[24:28, index["bill_amt1"]] = -edges[24:28, index["bill_amt1"]] - 1  # bill in credit
    edges[28:32, index["pay_amt1"]] = 0.5  # cents below NT$1
    edges[32:40] = edges[32]  # duplicate rows: tied keys
    typical = np.array([[reference[name] for name in FEATURE_NAMES]] * 3)  # no reason at all
    return np.vstack([raw, edges, edges, typical])


def test_bulk_wording_equals_row_by_row_wording(model: ScoringModel) -> None:
    """rank_reasons + word_reasons give every row the reasons top_reasons + describe give it, text for text."""
    reference = model.manifest.reference_profile
    raw = _edge_rows(dict(reference))
    features = engineer(raw)
    _, impacts = measure_impacts(model.ensemble, raw, features, reference=reference, tags=model.node_tags)
    bulk = word_reasons(rank_reasons(impacts), raw, features)
    for k, row_impacts in enumerate(impacts.T.tolist()):
        inputs = dict(zip(FEATURE_NAMES, raw[k].tolist(), strict=True))
        built = dict(zip(MODEL_FEATURES, features[k].tolist(), strict=True))
        expected = top_reasons(row_impacts, inputs, built) if max(row_impacts) >= MIN_IMPACT else ()
        assert bulk[k] == expected, k
    assert sum(1 for reasons in bulk if not reasons) > 0  # rows with no reason were covered


def test_rank_reasons_keeps_group_order_among_ties() -> None:
    impacts = np.array(
        [[0.002, 0.0], [0.005, 0.0], [0.002, 0.0], [0.005, 0.0], [0.0, 0.0], [0.002, 0.0], [0.0009, 0.0]]
    )
    ranked = rank_reasons(impacts)
    assert ranked.groups[0].tolist() == [1, 3, 0, 2]
    assert ranked.listed.tolist() == [4, 0]


def test_a_read_variant_equals_the_engineered_counterfactual_in_every_feature_the_trees_read(
    model: ScoringModel,
) -> None:
    """The large-batch shortcut (only a group's own columns set) reads exactly what engineering the variant would."""
    from functions.scoring.reasons import _read_variant

    raw = to_matrix(generate_rows(300, seed=9))
    features, reference = engineer(raw), model.manifest.reference_profile
    read = set(model.ensemble.read_features)
    columns = sorted(read)
    for group, variant in zip(REASON_GROUPS, counterfactuals(raw, reference), strict=True):
        shortcut = _read_variant(raw, features, group, reference, read)
        assert shortcut[:, columns].tobytes() == engineer(variant)[:, columns].tobytes(), group
