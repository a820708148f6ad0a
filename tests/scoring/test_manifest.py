"""The typed manifest: round trip, policy, refusals naming the field."""

import json

import pytest

from functions.config import MODEL_DIR
from functions.scoring.manifest import (
    GRADE_BANDS,
    MANIFEST_FILE,
    SCORE_SCALING,
    Manifest,
    ModelUnavailable,
    parse_manifest,
    read_manifest,
)


@pytest.fixture(scope="module")
def shipped_text() -> str:
    return (MODEL_DIR / MANIFEST_FILE).read_text()


def test_manifest_round_trips_the_shipped_file_byte_for_byte(shipped_text: str) -> None:
    manifest = parse_manifest(shipped_text)
    assert manifest.to_json() == shipped_text
    assert manifest.compact_json() == json.dumps(json.loads(shipped_text), separators=(",", ":"))


def test_manifest_carries_the_policy_training_writes(shipped_text: str) -> None:
    manifest = read_manifest(MODEL_DIR)
    assert manifest.score_scaling == SCORE_SCALING
    assert manifest.grade_bands == GRADE_BANDS


@pytest.mark.parametrize(
    ("probability", "points"),
    [(1 / 51, 600), (1 / 101, 620), (0.5, 487), (0.999999, 300)],
)
def test_points_follow_the_anchor_and_doubling(probability: float, points: int) -> None:
    assert SCORE_SCALING.points(probability) == points


@pytest.mark.parametrize(
    ("probability", "grade"), [(0.0, "A"), (0.0999, "A"), (0.1, "B"), (0.549, "D"), (1.0, "E")]
)
def test_grade_bands_hold_every_probability(shipped_text: str, probability: float, grade: str) -> None:
    assert parse_manifest(shipped_text).grade(probability).grade == grade


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("threshold"), r"`threshold`: Field required"),
        (lambda d: d.update(threshold=1.5), r"`threshold`: Input should be less than 1"),
        (
            lambda d: d["metrics"]["test"].pop("precision_at_recall_0.68"),
            r"`metrics.test.precision_at_recall",
        ),
        (lambda d: d["grade_bands"].reverse(), r"must rise and end above PD 1"),
        (lambda d: d["reference_profile"].pop("age"), r"`reference_profile` needs a number"),
        (lambda d: d.update(unexpected=1), r"`unexpected`: Extra inputs are not permitted"),
    ],
)
def test_parse_manifest_names_the_bad_field(shipped_text: str, edit: object, message: str) -> None:
    data = json.loads(shipped_text)
    edit(data)  # type: ignore[operator]
    with pytest.raises(ModelUnavailable, match=message):
        parse_manifest(json.dumps(data))


def test_manifest_is_frozen(shipped_text: str) -> None:
    manifest = parse_manifest(shipped_text)
    with pytest.raises(ValueError, match="frozen"):
        manifest.threshold = 0.5  # type: ignore[misc]
    assert isinstance(manifest, Manifest)
