"""Fixtures of model folders several packages share: copies of the shipped model with or without reference bins.

The trained and retrained model folders only training's tests use are in tests/training/conftest.py.
"""

import shutil
from pathlib import Path

import numpy as np
import pytest

from functions.config import MODEL_DIR


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
