"""The model version covers every decision-changing manifest field: an edited model.json is refused at load
like a tampered array file; evidence and the PSI reference can change without touching the version."""

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from functions.scoring.manifest import ModelUnavailable
from functions.scoring.model import load_model, to_matrix
from functions.scoring.version import DECISION_FIELDS
from training.synthetic import generate_rows

ROOT = Path(__file__).resolve().parents[2]


def edited(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """Copy the shipped model and apply `edit` to its manifest's JSON."""
    target = tmp_path / "model"
    target.mkdir()
    shutil.copy(ROOT / "model" / "serving.npz", target / "serving.npz")
    manifest = json.loads((ROOT / "model" / "model.json").read_text())
    edit(manifest)
    (target / "model.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return target


def raise_threshold(m: dict[str, Any]) -> None:
    m["threshold"] = 0.9


def move_a_band(m: dict[str, Any]) -> None:
    m["grade_bands"][0]["max_pd"] = 0.15


def rescale(m: dict[str, Any]) -> None:
    m["score_scaling"]["points_to_double_odds"] = 40


def shift_profile(m: dict[str, Any]) -> None:
    m["reference_profile"]["pay_0"] = 2.0


def test_shipped_model_loads_and_its_version_is_verified() -> None:
    assert (
        load_model(ROOT / "model").version
        == json.loads((ROOT / "model" / "model.json").read_text())["version"]
    )


@pytest.mark.parametrize("edit", [raise_threshold, move_a_band, rescale, shift_profile])
def test_edited_decision_field_is_refused_at_load(
    tmp_path: Path, edit: Callable[[dict[str, Any]], None]
) -> None:
    with pytest.raises(ModelUnavailable, match=r"does not match its serving arrays and decision fields"):
        load_model(edited(tmp_path, edit))


def test_the_edits_would_change_decisions(tmp_path: Path) -> None:
    raw = to_matrix(generate_rows(300, seed=9))
    shipped = load_model(ROOT / "model")
    before = [d.predicted_default for d in shipped.assess(raw, explain=False)]
    # the edited manifest is what a hand edit would serve were it not refused
    manifest = shipped.manifest.model_copy(update={"threshold": 0.9})
    after = [bool(p >= manifest.threshold) for p in np.asarray(shipped.probabilities(raw)).tolist()]
    assert before != after


def test_a_manifest_without_the_elderly_rule_is_refused_at_load(tmp_path: Path) -> None:
    def drop_rule(m: dict[str, Any]) -> None:
        del m["elderly_rule"]  # a model published before the rule: its answers for clients aged 62+ differ

    with pytest.raises(ModelUnavailable, match=r"`elderly_rule`: Field required"):
        load_model(edited(tmp_path, drop_rule))


def test_editing_a_non_decision_field_keeps_the_model_loadable(tmp_path: Path) -> None:
    def describe(m: dict[str, Any]) -> None:
        m["threshold_policy"] += " (reworded)"

    assert load_model(edited(tmp_path, describe)).version == load_model(ROOT / "model").version
    assert set(DECISION_FIELDS) == {
        "threshold",
        "score_scaling",
        "grade_bands",
        "reference_profile",
        "elderly_rule",
    }
