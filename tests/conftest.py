"""Shared fixtures: the repository root, the shipped model and manifest (each defined here once), generated
clients, the real data path, a Lambda context, settings overrides, AWS credentials.

Each tests/<package>/conftest.py holds what that package's tests share.

The rest, by topic, in tests/plugins/ (loaded with -p from pyproject.toml): the API (servers, TestClient,
events), AWS in moto, model folders, portfolio runs.
"""

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from functions.api.app import adapter, get_app
from functions.api.serving import load_serving_model, load_serving_strategy
from functions.api.synthetic import synthetic_token
from functions.audit import stores as audit
from functions.config import MODEL_DIR, get_settings
from functions.scoring.manifest import Manifest, read_manifest
from functions.scoring.model import ScoringModel, load_model
from scripts.image_check import local_context
from scripts.local import ROOT
from training.synthetic import TYPICAL


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root: the Makefile, model/, events/, docs/."""
    return ROOT


@pytest.fixture(scope="session")
def shipped_model() -> ScoringModel:
    """The shipped model (model/), loaded and verified once per session."""
    return load_model(MODEL_DIR)


@pytest.fixture(scope="session")
def shipped_manifest() -> Manifest:
    """The shipped manifest (model/model.json), read and verified once per session."""
    return read_manifest(MODEL_DIR)


@pytest.fixture
def valid_applicant() -> dict[str, Any]:
    """A typical client, valid under the contract."""
    return dict(TYPICAL)


@pytest.fixture(scope="session")
def real_data_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real UCI file: CREDIT_DATA if set (it must exist), else the UCI zip downloaded into a cache."""
    given = os.environ.get("CREDIT_DATA", "")
    if given:
        path = Path(given)
        assert path.is_file(), f"CREDIT_DATA={given} does not exist; real-data tests need the UCI file"
        return path
    from training.data import default_cache_dir, download_uci

    return download_uci(default_cache_dir())


@pytest.fixture
def lambda_context() -> SimpleNamespace:
    """A stand-in for the Lambda context object, with the fields Powertools reads."""
    return local_context()


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set (or with None, unset) environment variables, then forget cached settings, app, model, AWS clients."""

    def forget() -> None:
        get_settings.cache_clear()
        get_app.cache_clear()
        adapter.cache_clear()
        load_serving_model.cache_clear()
        load_serving_strategy.cache_clear()
        synthetic_token.cache_clear()
        audit.reset()

    def apply(**env: str | None) -> None:
        for name, value in env.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        forget()

    yield apply
    monkeypatch.undo()
    forget()


@pytest.fixture
def aws_credentials(configure: Callable[..., None]) -> None:
    """Fake AWS credentials and region, so no test can reach a real account."""
    configure(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 (a fake for moto)
        AWS_SESSION_TOKEN="testing",  # noqa: S106
        AWS_DEFAULT_REGION="us-east-1",
        AWS_PROFILE=None,
        AWS_ENDPOINT_URL=None,
    )
