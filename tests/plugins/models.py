"""Fixtures of model folders: trained on generated rows, retrained on the real data, with or without reference bins."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from functions.config import MODEL_DIR

# --- Trained models (owned by training) ------------------------------------------------------------------
# One training run per session for each: tests that need a model folder share it instead of retraining.


@pytest.fixture(scope="session")
def synthetic_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder (serving.npz, model.json, card, plots) trained in seconds on generated clients."""
    from training.synthetic import generate_dataset, train_small

    folder = tmp_path_factory.mktemp("synthetic-model") / "model"
    train_small(generate_dataset(3000, seed=0), folder)
    return folder


@pytest.fixture(scope="session")
def unreferenced_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shipped model as trained before reference distributions were frozen (no `reference`)."""
    from functions.scoring.manifest import read_manifest, write_manifest

    folder = tmp_path_factory.mktemp("unreferenced-model")
    shutil.copy(MODEL_DIR / "serving.npz", folder / "serving.npz")
    write_manifest(read_manifest(MODEL_DIR).model_copy(update={"reference": None}), folder)
    return folder


@pytest.fixture(scope="session")
def referenced_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shipped model whose manifest carries reference bins frozen on 400 generated clients."""
    from functions.scoring.manifest import write_manifest
    from functions.scoring.model import load_model, to_matrix
    from functions.scoring.reference import build_reference
    from training.synthetic import generate_rows

    folder = tmp_path_factory.mktemp("referenced-model")
    shutil.copy(MODEL_DIR / "serving.npz", folder / "serving.npz")
    model = load_model(MODEL_DIR)
    raw = to_matrix(generate_rows(400, seed=11))
    points = np.array([d.score for d in model.assess(raw, explain=False)], dtype=np.float64)
    write_manifest(model.manifest.model_copy(update={"reference": build_reference(raw, points)}), folder)
    return folder


@pytest.fixture(scope="session")
def retrained_model_dir(real_data_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole protocol rerun on the real data into a temporary folder (about 65 s, once per session)."""
    from training.data import load_dataset
    from training.train import train

    folder = tmp_path_factory.mktemp("retrained") / "model"
    train(load_dataset(real_data_path), folder)
    return folder
