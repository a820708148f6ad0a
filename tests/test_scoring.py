"""Scores, grades, decisions, faithful reason codes, and artifact verification of the shipped model."""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from functions.contract import FEATURE_NAMES
from functions.scoring import (
    GRADE_BANDS,
    MAX_REASONS,
    REASON_GROUPS,
    SCORE_SCALING,
    ModelUnavailable,
    ScoringModel,
    decide,
    describe,
    load_model,
    to_grade,
    to_matrix,
    to_score,
)
from training.synthetic import HIGH_RISK, TYPICAL, generate_rows

MODEL_DIR = Path(__file__).resolve().parent.parent / "model"


@pytest.fixture(scope="module")
def model() -> ScoringModel:
    return load_model(MODEL_DIR)


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(MODEL_DIR, target)
    return target


def test_score_anchor_and_points_to_double_odds() -> None:
    assert to_score(1 / 51) == SCORE_SCALING["anchor_score"]  # 50:1 good:bad odds
    odds_100 = 1 / 101
    assert to_score(odds_100) == SCORE_SCALING["anchor_score"] + SCORE_SCALING["points_to_double_odds"]


@pytest.mark.parametrize("pd", [0.0, 1e-300, 1.0])
def test_score_is_clipped_and_finite_at_extremes(pd: float) -> None:
    assert SCORE_SCALING["min"] <= to_score(pd) <= SCORE_SCALING["max"]


@pytest.mark.parametrize(
    ("pd", "grade"),
    [(0.0, "A"), (0.0999, "A"), (0.10, "B"), (0.34, "C"), (0.5, "D"), (0.55, "E"), (1.0, "E")],
)
def test_grade_bands(pd: float, grade: str) -> None:
    assert to_grade(pd) == grade


def test_grades_cover_zero_to_one_in_order() -> None:
    bounds = [band["max_pd"] for band in GRADE_BANDS]
    assert bounds == sorted(bounds) and bounds[-1] > 1.0


def test_decide_at_threshold() -> None:
    assert decide(0.3, threshold=0.3) and not decide(0.2999, threshold=0.3)


def test_scores_are_probabilities_and_decisions_agree(model: ScoringModel) -> None:
    for decision in model.score(to_matrix(generate_rows(200, seed=5))):
        assert 0.0 <= decision.probability_of_default <= 1.0
        assert decision.predicted_default == (decision.probability_of_default >= model.threshold)
        assert decision.risk_grade == to_grade(decision.probability_of_default)
        assert len(decision.reasons) <= MAX_REASONS
        assert all(reason.impact > 0 for reason in decision.reasons)
        impacts = [reason.impact for reason in decision.reasons]
        assert impacts == sorted(impacts, reverse=True)


def test_high_risk_client_scores_worse_than_typical(model: ScoringModel) -> None:
    typical, risky = model.score(to_matrix([TYPICAL, HIGH_RISK]))
    assert risky.probability_of_default > typical.probability_of_default
    assert risky.score < typical.score
    assert risky.predicted_default and risky.reasons[0].code in REASON_GROUPS


@pytest.mark.parametrize("seed", range(5))
def test_reasons_are_faithful(model: ScoringModel, seed: int) -> None:
    """Setting each stated factor to the reference profile lowers PD by exactly the stated impact."""
    raw = to_matrix(generate_rows(20, seed=seed) + [HIGH_RISK])
    reference = model.manifest["reference_profile"]
    for row, decision in zip(raw, model.score(raw), strict=True):
        for reason in decision.reasons:
            changed = row.copy()
            for name in REASON_GROUPS[reason.code]:
                changed[FEATURE_NAMES.index(name)] = reference[name]
            lowered = float(model.probabilities(changed[None, :])[0])
            assert decision.probability_of_default - lowered == pytest.approx(reason.impact, abs=1e-10)


def test_reason_texts_quote_the_client(model: ScoringModel) -> None:
    row = {**HIGH_RISK, "bill_amt1": 19400, "limit_bal": 20000}
    assert describe("latest_status", row) == "3 months late on the latest payment (September)"
    assert describe("utilisation", row) == "bill at 97% of the credit limit"
    assert describe("status_history", row).startswith("late in 3 of the 5 months")
    assert describe("credit_limit", row) == "credit limit of NT$20,000"


def test_explain_false_skips_reasons(model: ScoringModel) -> None:
    (decision,) = model.score(to_matrix([HIGH_RISK]), explain=False)
    assert decision.reasons == ()


def test_omitted_sex_and_marriage_do_not_change_pd(model: ScoringModel) -> None:
    without = {k: v for k, v in TYPICAL.items() if k not in ("sex", "marriage")}
    a, b = model.probabilities(to_matrix([TYPICAL, without]))
    assert a == b


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: _flip_byte(d / "serving.npz"), r"serving.npz: sha256 .* does not match"),
        (
            lambda d: (d / "serving.npz").write_bytes((d / "serving.npz").read_bytes()[:1000]),
            r"serving.npz: sha256",
        ),
        (lambda d: (d / "serving.npz").unlink(), r"serving.npz: missing"),
        (lambda d: (d / "model.json").unlink(), r"no manifest .* run `make train`"),
        (lambda d: (d / "model.json").write_text("{"), r"unreadable manifest"),
        (lambda d: _edit_manifest(d, libraries={"numpy": "1.26.4"}), r"built with numpy 1.26.4"),
        (lambda d: _edit_manifest(d, format="other/9"), r"format 'other/9'"),
        (lambda d: _edit_manifest(d, artifacts={}), r"no sha256 in the manifest"),
        (lambda d: _edit_manifest(d, inputs=["x"]), r"differ from this code's contract"),
        (lambda d: _edit_manifest(d, reference_profile=None), r"`reference_profile` is missing"),
        (lambda d: _edit_manifest(d, reference_profile={"age": 30}), r"`reference_profile` needs a number"),
        (lambda d: _edit_manifest(d, libraries="numpy"), r"`libraries` is missing or not a dict"),
        (lambda d: _edit_manifest(d, threshold=True), r"`threshold` is missing or not a number"),
        (lambda d: _edit_manifest(d, score_scaling={"anchor_score": 600}), r"`score_scaling` needs"),
        (
            lambda d: _edit_manifest(d, grade_bands=[{"grade": "A", "max_pd": 0.5}]),
            r"must rise and end above",
        ),
    ],
)
def test_load_model_refuses_damaged_artifacts(model_copy: Path, damage: object, message: str) -> None:
    damage(model_copy)  # type: ignore[operator]
    with pytest.raises(ModelUnavailable, match=message):
        load_model(model_copy)


def _edit_manifest(model_dir: Path, **changes: object) -> None:
    manifest = json.loads((model_dir / "model.json").read_text())
    manifest.update(changes)
    (model_dir / "model.json").write_text(json.dumps(manifest))


def test_shipped_manifest_lists_every_artifact_hash() -> None:
    manifest = json.loads((MODEL_DIR / "model.json").read_text())
    files = {p.name for p in MODEL_DIR.iterdir() if p.is_file() and p.name != "model.json"}
    assert set(manifest["artifacts"]) == files
    assert math.isclose(sum(1 for _ in manifest["reference_profile"]), len(FEATURE_NAMES))
    assert np.all(np.array([manifest["reference_profile"][n] for n in ("pay_0", "pay_2")]) == -1)


def test_batch_and_single_rows_give_identical_decisions(model: ScoringModel) -> None:
    """A batch re-walks only the paths a factor touches; a single row walks every variant: same answers."""
    raw = to_matrix(generate_rows(60, seed=9))
    assert model.score(raw) == [model.score(raw[i : i + 1])[0] for i in range(len(raw))]
