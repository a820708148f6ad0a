"""PSI, reference bins and characteristic analysis: hand-computed cases, empty bins, ties, unseen codes."""

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from pydantic import ValidationError

from functions.config import MODEL_DIR
from functions.monitoring.psi import drift_of, moved_bins, population_drift, psi, verdict
from functions.scoring.contract import FEATURE_BY_NAME, FEATURE_NAMES
from functions.scoring.manifest import parse_manifest
from functions.scoring.manifest_parts import ReferenceBins, ReferenceDistributions
from functions.scoring.model import to_matrix
from functions.scoring.reference import (
    FLOOR,
    SCORE,
    bin_index,
    bin_labels,
    bin_shares,
    build_reference,
    decile_edges,
    reference_bins,
)
from training.synthetic import generate_rows

MODEL_JSON = MODEL_DIR / "model.json"
PAY_0 = FEATURE_NAMES.index("pay_0")
Array = npt.NDArray[Any]


@pytest.fixture(scope="module")
def generated() -> tuple[Array, Array]:
    """Raw inputs of 2,000 generated clients and made-up integer points."""
    raw = to_matrix(generate_rows(2000, seed=3))
    points = np.round(np.random.default_rng(3).normal(540, 30, size=raw.shape[0]))
    return raw, points


@pytest.mark.parametrize(
    ("expected", "actual", "value"),
    [
        ([0.5, 0.5], [0.25, 0.75], 0.25 * math.log(3)),  # -0.25 ln 0.5 + 0.25 ln 1.5
        ([0.2, 0.3, 0.5], [0.3, 0.3, 0.4], 0.1 * math.log(1.875)),  # 0.1 ln 1.5 - 0.1 ln 0.8
        ([0.1] * 10, [0.1] * 10, 0.0),
        ([1.0, 0.0], [1.0, 0.0], 0.0),
        # an empty reference bin is floored at 1e-4: 2 x 0.1 ln 1.25 + (0.2 - 1e-4) ln(0.2 / 1e-4)
        ([0.5, 0.5, 0.0], [0.4, 0.4, 0.2], 0.2 * math.log(1.25) + (0.2 - 1e-4) * math.log(2000)),
    ],
)
def test_psi_matches_hand_computed_values(expected: list[float], actual: list[float], value: float) -> None:
    assert psi(np.array(expected), np.array(actual)) == pytest.approx(value, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_psi_is_symmetric_and_positive(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.dirichlet(np.ones(8)), rng.dirichlet(np.ones(8))
    assert psi(a, b) == pytest.approx(psi(b, a), rel=1e-12)
    assert psi(a, b) > 0
    assert psi(a, a) == 0


def test_psi_refuses_shares_over_different_bins() -> None:
    with pytest.raises(ValueError, match="same bins"):
        psi(np.array([0.5, 0.5]), np.array([0.2, 0.3, 0.5]))


def test_floor_is_the_stated_one() -> None:
    assert FLOOR == 1e-4
    assert psi(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(2 * (1 - 1e-4) * math.log(1e4))


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (0.0, "stable"),
        (0.0999, "stable"),
        (0.10, "investigate"),
        (0.2499, "investigate"),
        (0.25, "shifted"),
        (7.0, "shifted"),
    ],
)
def test_verdict_uses_the_usual_thresholds(value: float, name: str) -> None:
    assert verdict(value) == name


def test_decile_edges_of_1_to_100_are_the_tens() -> None:
    assert decile_edges(np.arange(1.0, 101.0)) == tuple(float(k) for k in range(10, 100, 10))


def test_ties_merge_decile_bins() -> None:
    values = np.r_[np.zeros(500), np.arange(1.0, 501.0)]  # half the clients paid nothing
    edges = decile_edges(values)
    assert edges[0] == 0.0
    assert len(edges) == len(set(edges)) < 9
    reference = reference_bins("pay_amt1", values)
    assert reference.shares[0] == pytest.approx(0.5)
    assert sum(reference.shares) == pytest.approx(1.0)


def test_constant_column_has_one_bin() -> None:
    reference = reference_bins("x", np.full(10, 3.0))
    assert reference.edges == ()
    assert reference.shares == (1.0,)
    assert bin_labels(reference) == ("all",)


def test_value_on_an_edge_falls_in_the_lower_bin() -> None:
    reference = ReferenceBins(name="x", kind="continuous", edges=(10.0, 20.0), shares=(0.3, 0.3, 0.4))
    assert bin_index(np.array([-5.0, 10.0, 10.5, 20.0, 20.5]), reference).tolist() == [0, 0, 1, 1, 2]
    assert bin_labels(reference) == ("<= 10", "(10, 20]", "> 20")


def test_codes_unseen_at_training_get_a_floored_bin() -> None:
    codes = sorted(FEATURE_BY_NAME["pay_0"].codes or {})
    reference = reference_bins("pay_0", np.zeros(100), categories=codes)
    assert len(reference.shares) == len(codes) + 1  # every contract code and "other"
    assert reference.shares[codes.index(0)] == 1.0
    current = np.r_[np.zeros(50), np.full(50, 9.0)]  # nine months late: never seen at training
    drift = drift_of(current, reference)
    assert math.isfinite(drift.psi)
    assert drift.psi == pytest.approx(-0.5 * math.log(0.5) + (0.5 - 1e-4) * math.log(0.5 / 1e-4))
    assert drift.verdict == "shifted"
    assert moved_bins(drift)[0].label == "9"


def test_missing_codes_go_to_the_other_bin() -> None:
    reference = ReferenceBins(name="sex", kind="categorical", categories=(1, 2), shares=(0.4, 0.6, 0.0))
    assert bin_index(np.array([1.0, 2.0, 0.0]), reference).tolist() == [0, 1, 2]
    assert bin_labels(reference) == ("1", "2", "other")


def test_bin_shares_refuse_no_rows_and_missing_values() -> None:
    reference = ReferenceBins(name="x", kind="continuous", edges=(1.0,), shares=(0.5, 0.5))
    with pytest.raises(ValueError, match="no rows"):
        bin_shares(np.array([]), reference)
    with pytest.raises(ValueError, match="missing or infinite"):
        bin_shares(np.array([0.5, np.nan]), reference)


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "continuous", "edges": (1.0,), "shares": (1.0,)},  # two bins, one share
        {"kind": "continuous", "edges": (2.0, 1.0), "shares": (0.3, 0.3, 0.4)},  # edges fall
        {"kind": "continuous", "edges": (1.0,), "shares": (0.3, 0.3)},  # sums to 0.6
        {"kind": "categorical", "categories": (1, 2), "shares": (0.5, 0.5)},  # no "other" bin
    ],
)
def test_reference_bins_refuse_inconsistent_fields(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ReferenceBins.model_validate({"name": "x", **fields})


def test_build_reference_bins_every_input_and_the_score(generated: tuple[Array, Array]) -> None:
    raw, points = generated
    reference = build_reference(raw, points)
    assert tuple(b.name for b in reference.inputs) == FEATURE_NAMES
    assert reference.score.name == SCORE
    assert reference.rows == raw.shape[0]
    coded = {b.name for b in reference.inputs if b.kind == "categorical"}
    assert coded == {"sex", "education", "marriage", *(f"pay_{k}" for k in (0, 2, 3, 4, 5, 6))}
    for bins in (*reference.inputs, reference.score):
        assert sum(bins.shares) == pytest.approx(1.0)
    limit = reference.inputs[0]
    assert limit.kind == "continuous"
    assert len(limit.edges) <= 9


def test_build_reference_refuses_a_wrong_shape(generated: tuple[Array, Array]) -> None:
    raw, points = generated
    with pytest.raises(ValueError, match="23 inputs"):
        build_reference(raw[:, :5], points)
    with pytest.raises(ValueError, match="one score per row"):
        build_reference(raw, points[:-1])


def test_reference_sample_has_zero_drift(generated: tuple[Array, Array]) -> None:
    raw, points = generated
    drifts = population_drift(raw, points, build_reference(raw, points))
    assert [d.name for d in drifts] == [*FEATURE_NAMES, SCORE]
    assert all(d.psi == 0 and d.verdict == "stable" for d in drifts)


def test_drift_is_invariant_under_row_order(generated: tuple[Array, Array]) -> None:
    raw, points = generated
    reference = build_reference(raw[:1000], points[:1000])
    order = np.random.default_rng(0).permutation(1000)
    assert build_reference(raw[:1000][order], points[:1000][order]) == reference
    current, shuffled = raw[1000:], np.random.default_rng(1).permutation(1000)
    before = population_drift(current, points[1000:], reference)
    after = population_drift(current[shuffled], points[1000:][shuffled], reference)
    assert [d.psi for d in before] == pytest.approx([d.psi for d in after], abs=1e-15)


def test_shifted_repayment_status_is_named_with_the_bin_that_moved(
    generated: tuple[Array, Array],
) -> None:
    raw, points = generated
    reference = build_reference(raw, points)
    late = raw[raw[:, PAY_0] >= 2]
    drifts = {d.name: d for d in population_drift(late, points[raw[:, PAY_0] >= 2], reference)}
    assert drifts["pay_0"].verdict == "shifted"
    grew = {b.label for b in drifts["pay_0"].bins if b.actual > b.expected}
    assert grew == {"2", "3"}  # the generator draws late statuses 1 to 3
    assert "0" in {b.label for b in moved_bins(drifts["pay_0"], top=3)}  # the commonest code emptied
    assert drifts["age"].verdict == "stable"


def test_population_drift_refuses_a_wrong_shape(generated: tuple[Array, Array]) -> None:
    raw, points = generated
    with pytest.raises(ValueError, match="23 inputs"):
        population_drift(raw[:, :3], points, build_reference(raw, points))


def test_manifest_round_trips_with_a_reference_and_omits_none(
    generated: tuple[Array, Array],
) -> None:
    text = MODEL_JSON.read_text()
    shipped = parse_manifest(text)
    assert shipped.reference is not None and shipped.to_json() == text
    manifest = shipped.model_copy(update={"reference": None})  # as a model trained before PSI monitoring
    assert '"reference"' not in manifest.to_json()
    assert parse_manifest(manifest.to_json()) == manifest
    with_reference = manifest.model_copy(update={"reference": build_reference(*generated)})
    again = parse_manifest(with_reference.to_json())
    assert again == with_reference
    assert again.to_json() == with_reference.to_json()
    assert '"reference"' in with_reference.compact_json()


def test_reference_must_cover_the_inputs_in_order(generated: tuple[Array, Array]) -> None:
    reference = build_reference(*generated)
    fields = reference.model_dump()
    with pytest.raises(ValidationError, match="contract's inputs in order"):
        ReferenceDistributions.model_validate({**fields, "inputs": fields["inputs"][::-1]})
    with pytest.raises(ValidationError, match="contract's inputs in order"):
        ReferenceDistributions.model_validate({**fields, "score": {**fields["score"], "name": "points"}})
