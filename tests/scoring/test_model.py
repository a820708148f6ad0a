"""Scores, grades, decisions, faithful reason codes, and artifact verification of the shipped model."""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from functions.config import MODEL_DIR
from functions.scoring import features
from functions.scoring import model as scoring_model
from functions.scoring import reasons as scoring_reasons
from functions.scoring.contract import FEATURE_NAMES
from functions.scoring.manifest import GRADE_BANDS, SCORE_SCALING, ModelUnavailable
from functions.scoring.model import ScoringModel, decide, grades_of, load_model, points_of, to_matrix
from functions.scoring.reasons import MAX_REASONS, REASON_GROUPS
from training.synthetic import HIGH_RISK, TYPICAL, generate_rows


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(MODEL_DIR, target)
    return target


def test_score_anchor_and_points_to_double_odds() -> None:
    assert SCORE_SCALING.points(1 / 51) == SCORE_SCALING.anchor_score  # 50:1 good:bad odds
    odds_100 = 1 / 101
    assert SCORE_SCALING.points(odds_100) == SCORE_SCALING.anchor_score + SCORE_SCALING.points_to_double_odds


@pytest.mark.parametrize("probability", [0.0, 1e-300, 1.0])
def test_score_is_clipped_and_finite_at_extremes(probability: float) -> None:
    assert SCORE_SCALING.min <= SCORE_SCALING.points(probability) <= SCORE_SCALING.max


@pytest.mark.parametrize(
    ("probability", "grade"),
    [(0.0, "A"), (0.0999, "A"), (0.10, "B"), (0.34, "C"), (0.5, "D"), (0.55, "E"), (1.0, "E")],
)
def test_grade_bands(model: ScoringModel, probability: float, grade: str) -> None:
    assert model.manifest.grade(probability).grade == grade


def test_grades_cover_zero_to_one_in_order() -> None:
    bounds = [band.max_pd for band in GRADE_BANDS]
    assert bounds == sorted(bounds) and bounds[-1] > 1.0


def test_decide_at_threshold() -> None:
    assert decide(0.3, threshold=0.3) and not decide(0.2999, threshold=0.3)


def test_scores_are_probabilities_and_decisions_agree(model: ScoringModel) -> None:
    for decision in model.assess(to_matrix(generate_rows(200, seed=5))):
        assert 0.0 <= decision.probability_of_default <= 1.0
        assert decision.predicted_default == (decision.probability_of_default >= model.threshold)
        assert decision.risk_grade == model.manifest.grade(decision.probability_of_default).grade
        assert len(decision.reasons) <= MAX_REASONS
        assert all(reason.impact > 0 for reason in decision.reasons)
        impacts = [reason.impact for reason in decision.reasons]
        assert impacts == sorted(impacts, reverse=True)


def test_high_risk_client_scores_worse_than_typical(model: ScoringModel) -> None:
    typical, risky = model.assess(to_matrix([TYPICAL, HIGH_RISK]))
    assert risky.probability_of_default > typical.probability_of_default
    assert risky.score < typical.score
    assert risky.predicted_default and risky.reasons[0].code in REASON_GROUPS


def test_explain_false_skips_reasons(model: ScoringModel) -> None:
    (decision,) = model.assess(to_matrix([HIGH_RISK]), explain=False)
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
        (
            lambda d: _edit_manifest(d, reference_profile=None),
            r"`reference_profile`: Input should be an object",
        ),
        (lambda d: _edit_manifest(d, reference_profile={"age": 30}), r"`reference_profile` needs a number"),
        (lambda d: _edit_manifest(d, libraries="numpy"), r"`libraries`: Input should be an object"),
        (lambda d: _edit_manifest(d, threshold=True), r"`threshold`: Input should be a valid number"),
        (lambda d: _edit_manifest(d, score_scaling={"anchor_score": 600}), r"`score_scaling.anchor_odds`"),
        (
            lambda d: _edit_manifest(d, grade_bands=[{"grade": "A", "max_pd": 0.5, "label": "all"}]),
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
    policy = {"model.json", "strategy.yaml"}  # the strategy is policy beside the model, not a hashed artifact
    files = {p.name for p in MODEL_DIR.iterdir() if p.is_file() and p.name not in policy}
    assert set(manifest["artifacts"]) == files
    assert math.isclose(sum(1 for _ in manifest["reference_profile"]), len(FEATURE_NAMES))
    assert np.all(np.array([manifest["reference_profile"][n] for n in ("pay_0", "pay_2")]) == -1)


def test_batch_and_single_rows_give_identical_decisions(model: ScoringModel) -> None:
    """A batch re-walks only the paths a factor touches; a single row walks every variant: same answers."""
    raw = to_matrix(generate_rows(60, seed=9))
    assert model.assess(raw) == [model.assess(raw[i : i + 1])[0] for i in range(len(raw))]


@pytest.mark.parametrize("rows", [1, 40])
def test_assess_engineers_the_rows_once_and_words_reasons_from_those_features(
    model: ScoringModel, rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = to_matrix(generate_rows(rows, seed=rows))
    served = model.served_inputs(
        raw
    )  # an elderly row's age may be replaced first (functions/scoring/elderly.py)
    seen: list[np.ndarray] = []

    def counting(matrix: np.ndarray) -> np.ndarray:
        seen.append(np.asarray(matrix))
        return features.engineer(matrix)

    monkeypatch.setattr(scoring_model, "engineer", counting)
    monkeypatch.setattr(scoring_reasons, "engineer", counting)
    decisions = model.assess(raw)
    of_the_rows = [m for m in seen if m.shape == raw.shape and np.array_equal(m, served)]
    assert len(of_the_rows) == 1  # the counterfactual variants are engineered apart, never the rows again
    assert any(d.reasons for d in decisions)


def test_to_matrix_follows_the_contract_and_counts_a_missing_code_as_zero() -> None:
    row = dict(generate_rows(1, seed=1)[0], marriage=None)
    raw = to_matrix([row])
    assert raw.shape == (1, 23)
    assert raw[0, FEATURE_NAMES.index("limit_bal")] == row["limit_bal"]
    assert raw[0, FEATURE_NAMES.index("pay_amt6")] == row["pay_amt6"]
    assert raw[0, FEATURE_NAMES.index("marriage")] == 0.0


def edge_pds(model: ScoringModel) -> list[float]:
    """PDs at and beside every grade bound, at half points of the scorecard, the clip limits, and 2,000 draws."""
    scaling, bounds = model.manifest.score_scaling, [band.max_pd for band in model.manifest.grade_bands]
    factor = scaling.points_to_double_odds / math.log(2)
    halves = [
        1 / (1 + scaling.anchor_odds * math.exp((k + 0.5 - scaling.anchor_score) / factor))
        for k in range(int(scaling.min), int(scaling.max))
    ]
    beside = [np.nextafter(b, d) for b in bounds if b <= 1 for d in (0.0, 2.0)]
    drawn = np.random.default_rng(8).random(1000).tolist() + (10 ** -np.linspace(0, 12, 1000)).tolist()
    return [0.0, 1.0, 1e-12, 1e-9, 1 - 1e-9, 0.5, *[b for b in bounds if b <= 1], *beside, *halves, *drawn]


def test_points_and_grades_by_column_equal_the_manifest_row_by_row(model: ScoringModel) -> None:
    pds = np.array(edge_pds(model))
    assert points_of(pds, model.manifest.score_scaling).tolist() == [
        model.manifest.score_scaling.points(p) for p in pds.tolist()
    ]
    assert grades_of(pds, model.manifest) == [model.manifest.grade(p).grade for p in pds.tolist()]


def test_points_of_a_nan_pd_are_refused_as_row_by_row(model: ScoringModel) -> None:
    with pytest.raises(ValueError, match="NaN"):
        model.manifest.score_scaling.points(math.nan)
    with pytest.raises(ValueError, match="NaN"):
        points_of(np.array([0.2, math.nan]), model.manifest.score_scaling)
