"""The model folder is written by export alone: whole or not at all, every file hashed, the ensemble checked."""

import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from functions.config import MODEL_DIR
from functions.scoring.manifest import MANIFEST_FILE, GradeBand, read_manifest, sha256_file
from functions.scoring.trees import load_ensemble
from functions.scoring.version import decision_policy, model_version
from training import export
from training.candidates import CALIBRATION
from training.data import SPLIT_POLICY
from training.plots import PLOTS


def _write(content: str, *, fail: bool = False) -> Callable[[Path], str]:
    def write(folder: Path) -> str:
        (folder / "serving.npz").write_text(content)
        if fail:
            raise RuntimeError("training failed half-way")
        return content

    return write


def test_replace_folder_replaces_the_model_folder_whole(tmp_path: Path) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "stale.png").write_text("old")
    assert export.replace_folder(out, _write("new")) == "new"
    assert sorted(p.name for p in out.iterdir()) == ["serving.npz"]
    assert (out / "serving.npz").read_text() == "new"
    assert stat.S_IMODE(out.stat().st_mode) == 0o755  # readable by the Lambda runtime user
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no staging folder left behind


def test_replace_folder_creates_a_missing_folder(tmp_path: Path) -> None:
    export.replace_folder(tmp_path / "new" / "model", _write("first"))
    assert (tmp_path / "new" / "model" / "serving.npz").read_text() == "first"


def test_failed_write_leaves_the_served_model_untouched(tmp_path: Path) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "serving.npz").write_text("served")
    with pytest.raises(RuntimeError, match="half-way"):
        export.replace_folder(out, _write("half", fail=True))
    assert (out / "serving.npz").read_text() == "served"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_export_writes_every_artifact_and_hashes_it(synthetic_model_dir: Path) -> None:
    manifest = read_manifest(synthetic_model_dir)
    files = {p.name for p in synthetic_model_dir.iterdir()}
    assert files == {MANIFEST_FILE, "serving.npz", "model.joblib", "MODEL_CARD.md", "strategy.yaml", *PLOTS}
    policy = {
        MANIFEST_FILE,
        "strategy.yaml",
    }  # the strategy is policy beside the model, not a hashed artifact
    assert manifest.artifacts == {
        name: sha256_file(synthetic_model_dir / name) for name in sorted(files - policy)
    }
    assert manifest.training_seconds > 0


def test_retraining_keeps_the_folders_strategy_files_else_ships_the_default(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir(), new.mkdir()
    export.keep_strategies(old, new)
    assert (new / "strategy.yaml").read_bytes() == (MODEL_DIR / "strategy.yaml").read_bytes()
    (old / "strategy.yaml").write_text("mine")
    (old / "challenger.yaml").write_text("theirs")
    export.keep_strategies(old, new)
    assert {p.name: p.read_text() for p in new.iterdir()} == {
        "strategy.yaml": "mine",
        "challenger.yaml": "theirs",
    }


def test_written_manifest_round_trips(synthetic_model_dir: Path) -> None:
    text = (synthetic_model_dir / MANIFEST_FILE).read_text()
    assert read_manifest(synthetic_model_dir).to_json() == text


def test_version_hashes_the_serving_arrays_and_every_decision_field(synthetic_model_dir: Path) -> None:
    manifest = read_manifest(synthetic_model_dir)
    ensemble = load_ensemble(synthetic_model_dir / "serving.npz")
    policy = decision_policy(manifest)
    assert model_version(ensemble, policy) == manifest.version
    assert (
        model_version(ensemble, policy | {"threshold": np.nextafter(manifest.threshold, 1.0)})
        != manifest.version
    )


def test_manifest_records_the_policy_training_used(synthetic_model_dir: Path) -> None:
    manifest = read_manifest(synthetic_model_dir)
    assert manifest.split == SPLIT_POLICY
    assert manifest.grade_bands[0] == GradeBand(grade="A", max_pd=0.10, label="low risk")
    assert manifest.model.calibration == CALIBRATION
    assert manifest.excluded_inputs == ("sex", "marriage")


def test_refresh_card_rewrites_only_the_card_and_its_hash(synthetic_model_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(synthetic_model_dir, folder)
    (folder / "MODEL_CARD.md").write_text("stale prose")
    before = read_manifest(folder)
    after = export.refresh_card(folder)
    assert (folder / "MODEL_CARD.md").read_text() != "stale prose"
    assert after.artifacts["MODEL_CARD.md"] == sha256_file(folder / "MODEL_CARD.md")
    assert after.model_copy(update={"artifacts": before.artifacts}) == before
    assert read_manifest(folder) == after


def test_manifest_carries_the_evidence_of_the_held_out_rows(synthetic_model_dir: Path) -> None:
    manifest = read_manifest(synthetic_model_dir)
    evidence, test = manifest.evidence, manifest.metrics.test
    assert evidence is not None and manifest.reference is not None
    assert evidence.rows == test.tn + test.fp + test.fn + test.tp
    assert evidence.defaults == test.tp + test.fn
    assert evidence.auc == pytest.approx(test.roc_auc, abs=1e-12)
    assert evidence.brier == pytest.approx(test.brier, abs=1e-12)
    assert sum(g.clients for g in evidence.grades) == sum(g.n for g in manifest.grades_observed)
