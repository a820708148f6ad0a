"""Fixtures the training tests share: one model trained on generated clients, one retrained on the real data,
each once per session."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def synthetic_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder (serving.npz, model.json, card, plots) trained in seconds on generated clients."""
    from training.synthetic import generate_dataset, train_small

    folder = tmp_path_factory.mktemp("synthetic-model") / "model"
    train_small(generate_dataset(3000, seed=0), folder)
    return folder


@pytest.fixture(scope="session")
def retrained_model_dir(real_data_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole protocol rerun on the real data into a temporary folder (about 65 s, once per session)."""
    from training.data import load_dataset
    from training.train import train

    folder = tmp_path_factory.mktemp("retrained") / "model"
    train(load_dataset(real_data_path), folder)
    return folder
