"""The model card's validation evidence agrees with independent computations, and on the real data holds."""

import itertools
import json
import re
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from numpy.typing import NDArray
from pydantic import ValidationError
from scipy.stats import beta, ks_2samp
from sklearn.metrics import brier_score_loss, roc_auc_score

from functions.config import MODEL_DIR
from functions.scoring.contract import FEATURE_BY_NAME, FEATURE_NAMES
from functions.scoring.manifest import GRADE_BANDS, SCORE_SCALING, Manifest, read_manifest
from functions.scoring.manifest_parts import ValidationEvidence
from functions.scoring.reference import build_reference
from training import report
from training.data import load_dataset, split_dataset
from training.evidence import CEILING, validation_evidence
from training.synthetic import generate_rows
from training.train import served_pd


def _inputs(n: int, *, seed: int) -> NDArray[np.float64]:
    rows = generate_rows(n, seed=seed)
    return np.array([[row[name] for name in FEATURE_NAMES] for row in rows], dtype=np.float64)


def _points(probabilities: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.array([SCORE_SCALING.points(p) for p in probabilities.tolist()], dtype=np.float64)


@pytest.fixture(scope="module")
def generated() -> tuple[NDArray[Any], NDArray[np.float64], NDArray[np.float64], ValidationEvidence]:
    """Outcomes drawn from their own PDs (calibrated by construction), on generated test clients."""
    rng = np.random.default_rng(7)
    probabilities = np.clip(rng.beta(1.2, 4.0, size=2000), 0.001, 0.999)
    y = (rng.random(2000) < probabilities).astype(np.int64)
    X_train, X_test = _inputs(3000, seed=1), _inputs(2000, seed=2)
    reference = build_reference(X_train, _points(np.clip(rng.beta(1.2, 4.0, size=3000), 0.001, 0.999)))
    evidence = validation_evidence(
        y, probabilities, X_test, reference, scaling=SCORE_SCALING, bands=GRADE_BANDS
    )
    return y, probabilities, X_test, evidence


def test_discrimination_agrees_with_scikit_learn_and_scipy(generated: Any) -> None:
    y, probabilities, _, evidence = generated
    assert evidence.auc == pytest.approx(roc_auc_score(y, probabilities), abs=1e-12)
    assert evidence.gini == 2 * evidence.auc - 1
    ks = ks_2samp(probabilities[y == 1], probabilities[y == 0]).statistic
    assert evidence.ks == pytest.approx(ks, abs=1e-12)
    assert evidence.brier == pytest.approx(brier_score_loss(y, probabilities), abs=1e-12)
    assert (evidence.rows, evidence.defaults) == (y.size, int(y.sum()))


def test_bootstrap_intervals_hold_their_estimates(generated: Any) -> None:
    evidence = generated[3]
    assert evidence.auc_interval[0] < evidence.auc < evidence.auc_interval[1]
    assert evidence.brier_interval[0] < evidence.brier < evidence.brier_interval[1]
    assert evidence.auc_interval[1] - evidence.auc_interval[0] < 0.1  # 2,000 rows: a few points wide


def test_gains_table_equals_one_built_by_hand(generated: Any) -> None:
    y, probabilities, _, evidence = generated
    points = _points(probabilities)
    edges = [-np.inf, *range(300, 901, 20), np.inf]  # the scaling's bands: anchor 600 ± k doublings of 20
    expected, captured = [], 0
    for low, high in itertools.pairwise(edges):
        members = (points >= low) & (points < high)
        if members.any():
            clients, defaults = int(members.sum()), int(y[members].sum())
            captured += defaults
            odds = (clients - defaults) / defaults if defaults else None
            expected.append((clients, defaults, defaults / clients, odds, captured / y.sum()))
    got = [(b.clients, b.defaults, b.default_rate, b.odds, b.captured) for b in evidence.gains]
    assert len(got) == len(expected)
    for ours, theirs in zip(got, expected, strict=True):
        assert ours[:2] == theirs[:2] and (ours[3] is None) == (theirs[3] is None)
        assert [v for v in ours[2:] if v is not None] == pytest.approx(
            [v for v in theirs[2:] if v is not None]
        )
    assert evidence.gains[-1].captured == pytest.approx(1.0)
    assert evidence.gains[0].default_rate > evidence.gains[-1].default_rate  # riskiest band first


def test_grade_lights_use_jeffreys_intervals(generated: Any) -> None:
    y, _, _, evidence = generated
    assert sum(g.clients for g in evidence.grades) == y.size
    for grade in evidence.grades:
        a, b = grade.defaults + 0.5, grade.clients - grade.defaults + 0.5
        assert grade.interval_95 == pytest.approx(beta.ppf([0.025, 0.975], a, b), abs=1e-9)
        inside = grade.interval_95[0] <= grade.mean_pd <= grade.interval_95[1]
        assert (grade.light == "green") == inside
    assert sum(g.light == "red" for g in evidence.grades) <= 1  # outcomes drawn from the PDs themselves


def test_psi_per_input_equals_a_hand_computation(generated: Any) -> None:
    _, _, X_test, evidence = generated
    X_train = _inputs(3000, seed=1)
    column = FEATURE_NAMES.index("pay_0")
    codes = sorted(FEATURE_BY_NAME["pay_0"].codes or ())
    expected_shares = [max(np.mean(X_train[:, column] == c), 1e-4) for c in codes]
    actual_shares = [max(np.mean(X_test[:, column] == c), 1e-4) for c in codes]
    # The `other` bin is empty in both samples: (1e-4 - 1e-4) * ln 1 adds nothing.
    hand = sum((a - e) * np.log(a / e) for e, a in zip(expected_shares, actual_shares, strict=True))
    assert evidence.psi["pay_0"] == pytest.approx(hand, abs=1e-12)
    assert list(evidence.psi) == [*FEATURE_NAMES, "score"]
    assert max(v for k, v in evidence.psi.items() if k != "score") < 0.10  # the same generator twice


def test_evidence_round_trips_through_json(generated: Any) -> None:
    evidence = generated[3]
    assert ValidationEvidence.model_validate_json(evidence.model_dump_json()) == evidence


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(gini=d["gini"] + 1e-6), "is not 2 \\* AUC - 1"),
        (lambda d: d["psi"].pop("score"), "`psi` must cover"),
        (lambda d: d["grades"][0].update(light="purple"), "light"),
    ],
)
def test_evidence_refuses_inconsistent_figures(generated: Any, change: Any, message: str) -> None:
    data = json.loads(generated[3].model_dump_json())
    change(data)
    with pytest.raises(ValidationError, match=message):
        ValidationEvidence.model_validate_json(json.dumps(data))


def test_card_renders_every_evidence_section(synthetic_model_dir: Path) -> None:
    manifest = read_manifest(synthetic_model_dir)
    assert manifest.evidence is not None
    card = report.model_card(manifest)
    for heading in (
        "## Validation evidence (held-out test split",
        "### Gains (odds) table by score band (test split)",
        "### Per-grade back-test (test split, Jeffreys intervals)",
        "### Population stability: training vs test split",
    ):
        assert heading in card
    assert f"| Gini (2·AUC − 1) | {manifest.evidence.gini:.4f} |" in card
    assert f"| Kolmogorov–Smirnov | {manifest.evidence.ks:.4f} |" in card
    assert card.count("\n| pay_0 | ") == 1 and "\n| score | " in card
    assert all(f"\n| {band.band} | {band.clients:,} |" in card for band in manifest.evidence.gains)
    assert all(f"\n| {g.grade} | {g.clients:,} | {g.defaults:,} |" in card for g in manifest.evidence.grades)
    assert f"held-out AUC ≈ {CEILING.low:.2f}–{CEILING.high:.2f}" in card and "0.778" in card


def test_card_of_a_manifest_without_evidence_says_so(synthetic_model_dir: Path) -> None:
    manifest = read_manifest(synthetic_model_dir).model_copy(update={"evidence": None})
    card = report.model_card(manifest)
    assert "Not recorded in this manifest; run `make train`." in card
    assert "| Kolmogorov–Smirnov | — |" in card
    assert '"evidence"' not in manifest.to_json()


def _card_interval(card: str, measure: str) -> tuple[float, float]:
    found = re.search(rf"^\| {re.escape(measure)} \| [0-9.]+ \| ([0-9.]+)–([0-9.]+) \|$", card, re.MULTILINE)
    assert found, f"no {measure} row with an interval in the card"
    return float(found[1]), float(found[2])


@pytest.mark.realdata
def test_shipped_evidence_holds_on_the_real_data(real_data_path: Path) -> None:
    manifest = read_manifest(MODEL_DIR)
    evidence = manifest.evidence
    assert evidence is not None, "the shipped manifest has no validation evidence; run `make train`"
    low, high = _card_interval((MODEL_DIR / "MODEL_CARD.md").read_text(), "ROC-AUC")
    assert low <= manifest.metrics.test.roc_auc <= high
    assert evidence.gini == 2 * evidence.auc - 1
    assert evidence.auc == pytest.approx(manifest.metrics.test.roc_auc, abs=1e-12)
    assert max(evidence.psi.values()) < 0.10
    _recomputed_on_the_real_data_equals(manifest, real_data_path)


def _recomputed_on_the_real_data_equals(manifest: Manifest, data: Path) -> None:
    splits = split_dataset(load_dataset(data))
    pipeline = joblib.load(MODEL_DIR / "model.joblib")  # trusted: the repository's own artifact
    assert manifest.reference is not None and manifest.evidence is not None
    again = validation_evidence(
        splits.y_test,
        served_pd(pipeline, splits.X_test),  # the served PD: the elderly rule applied
        splits.X_test,
        manifest.reference,
        scaling=manifest.score_scaling,
        bands=manifest.grade_bands,
    )
    shipped = manifest.evidence
    for name in ("auc", "gini", "ks", "brier", "auc_interval", "brier_interval", "mean_pd"):
        assert getattr(again, name) == pytest.approx(getattr(shipped, name), rel=1e-9), name
    assert again.gains == shipped.gains
    assert [(g.grade, g.clients, g.defaults, g.light) for g in again.grades] == [
        (g.grade, g.clients, g.defaults, g.light) for g in shipped.grades
    ]
    assert again.psi == pytest.approx(shipped.psi, rel=1e-9)
