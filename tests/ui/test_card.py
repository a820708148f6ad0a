"""ui/card.py: the model card's figures come from the typed manifest, never from retyped prose."""

from pathlib import Path

import pytest

from functions.scoring.manifest import Manifest
from functions.scoring.manifest_parts import REFERENCE_RECALL
from ui import card


def test_metrics_table_shows_the_manifests_test_metrics(manifest: Manifest) -> None:
    table = card.metrics_table(manifest)
    ours, published = table["This model (test split)"], table["Reference app (published)"]
    test = manifest.metrics.test
    assert ours[f"Precision at recall {REFERENCE_RECALL:g}"] == f"{test.precision_at_recall:.3f}"
    assert ours["ROC AUC"] == f"{test.roc_auc:.3f}"
    assert published["Recall"] == f"{manifest.metrics.reference_app_published.recall:.3f}"
    assert published["Brier score"] == "—"
    assert "—" not in ours.tolist()


def test_scaling_note_reads_the_manifests_scaling(manifest: Manifest) -> None:
    changed = manifest.model_copy(
        update={"score_scaling": manifest.score_scaling.model_copy(update={"anchor_score": 700})}
    )
    assert card.scaling_note(changed).startswith("700 at ")
    scaling = manifest.score_scaling
    assert card.scaling_note(manifest) == (
        f"{scaling.anchor_score} at {scaling.anchor_odds:g}:1 good:bad odds; "
        f"{scaling.points_to_double_odds} points double the odds; range {scaling.min} to {scaling.max}."
    )
    assert "Model tab" in card.scaling_note(None)


def test_split_rows_are_the_training_protocols_parts(manifest: Manifest) -> None:
    assert manifest.data.rows == 30_000 and manifest.split.test_size == 0.25
    assert card.split_rows(manifest) == (22_500, 4_500, 7_500)  # train (of which validation), test
    odd = manifest.model_copy(update={"data": manifest.data.model_copy(update={"rows": 1001})})
    assert card.split_rows(odd) == (750, 150, 251)  # scikit-learn rounds the test part up


def test_split_note_names_training_and_test_rows_apart(manifest: Manifest) -> None:
    note = card.split_note(manifest)
    assert "Trained on 22,500 clients (18,000 to fit, 4,500 to choose rounds and threshold" in note
    assert "tested on the other 7,500 (25% of 30,000)" in note
    assert "{" not in note


@pytest.mark.parametrize(
    ("estimator", "expected"),
    [
        (
            "HistGradientBoosting {'learning_rate': 0.02, 'max_leaf_nodes': 15}, raw inputs, monotone",
            "HistGradientBoosting · learning rate 0.02, max leaf nodes 15 · raw inputs, monotone",
        ),
        ("LogisticRegression", "LogisticRegression"),
        ("Odd {not a dict}", "Odd {not a dict}"),
        ("Odd {1, 2}", "Odd {1, 2}"),
    ],
)
def test_estimator_text_reads_the_parameters_as_words(estimator: str, expected: str) -> None:
    assert card.estimator_text(estimator) == expected


def test_number_shows_three_decimals_or_a_dash() -> None:
    assert (card.number(0.12345), card.number(None)) == ("0.123", "—")


def test_local_version_reads_the_local_manifest(tmp_path: Path, manifest: Manifest) -> None:
    assert card.local_version() == manifest.version
    assert card.local_version(tmp_path) is None
    (tmp_path / "model.json").write_text("{}")
    assert card.local_version(tmp_path) is None


def test_fairness_frame_shows_clients_and_rates_readably(manifest: Manifest) -> None:
    first = manifest.fairness[0]
    empty = first.model_copy(update={"group": "none", "n": 0, "tpr": None})
    frame = card.fairness_frame(manifest.model_copy(update={"fairness": (first, empty)}))
    assert frame.loc[0, "clients"] == f"{first.n:,}" and "," in frame.loc[0, "clients"]
    assert frame.loc[0, "mean_pd"] == f"{first.mean_pd:.1%}"
    assert frame.loc[1, "tpr"] == "—"
