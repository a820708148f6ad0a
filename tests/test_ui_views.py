"""ui/views.py: the model card's figures come from the typed manifest, never from retyped prose."""

from pathlib import Path

import pytest

from functions.manifest import Manifest, parse_manifest
from functions.records import REFERENCE_RECALL
from scripts.local import ROOT
from ui import views


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    """The shipped model's manifest."""
    return parse_manifest((ROOT / "model" / "model.json").read_text())


def test_metrics_table_shows_the_manifests_test_metrics(manifest: Manifest) -> None:
    table = views.metrics_table(manifest)
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
    assert views.scaling_note(changed).startswith("700 at ")
    scaling = manifest.score_scaling
    assert views.scaling_note(manifest) == (
        f"{scaling.anchor_score} at {scaling.anchor_odds:g}:1 good:bad odds; "
        f"{scaling.points_to_double_odds} points double the odds; range {scaling.min} to {scaling.max}."
    )
    assert "Model tab" in views.scaling_note(None)


def test_split_note_reads_rows_and_test_share(manifest: Manifest) -> None:
    rows, share = manifest.data.rows, manifest.split.test_size
    note = views.split_note(manifest)
    assert f"{rows:,} clients" in note
    assert f"other {share:.0%} ({round(rows * share):,} clients)" in note


def test_number_shows_three_decimals_or_a_dash() -> None:
    assert (views.number(0.12345), views.number(None)) == ("0.123", "—")


def test_local_version_reads_the_local_manifest(tmp_path: Path, manifest: Manifest) -> None:
    assert views.local_version() == manifest.version
    assert views.local_version(tmp_path) is None
    (tmp_path / "model.json").write_text("{}")
    assert views.local_version(tmp_path) is None
