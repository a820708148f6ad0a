"""Shared fixtures: generated clients, the real data path, a live uvicorn app on a free loopback port."""

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from scripts.local import free_port, start_server, stop
from training.synthetic import HIGH_RISK, TYPICAL

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"


@pytest.fixture
def valid_applicant() -> dict[str, Any]:
    """A typical client, valid under the contract."""
    return dict(TYPICAL)


@pytest.fixture
def risky_applicant() -> dict[str, Any]:
    """A client with recent late payments and a maxed-out card."""
    return dict(HIGH_RISK)


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


@pytest.fixture(scope="session")
def live_api() -> Iterator[str]:
    """Serve functions.app:app with uvicorn on a free 127.0.0.1 port; yield its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_server(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "functions.app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        f"{url}/v1/health",
        env={"OMP_NUM_THREADS": "1"},
    )
    yield url
    stop(process)


def load_event(name: str) -> dict[str, Any]:
    """Read an API Gateway payload saved under events/ (made by `sam local generate-event`)."""
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


@pytest.fixture
def lambda_context() -> SimpleNamespace:
    """A stand-in for the Lambda context object, with the fields Powertools reads."""
    return SimpleNamespace(
        function_name="credit-default-scoring",
        memory_limit_in_mb=1024,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:credit-default-scoring",
        aws_request_id="52fdfc07-2182-154f-163f-5f0f9a621d72",
        get_remaining_time_in_millis=lambda: 10_000,
    )


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set (or with None, unset) environment variables, then forget cached settings, model and AWS clients."""
    from functions import audit
    from functions.app import load_serving_model
    from functions.config import get_settings

    def forget() -> None:
        get_settings.cache_clear()
        load_serving_model.cache_clear()
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
def retrained_model_dir(real_data_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole protocol rerun on the real data into a temporary folder (about 65 s, once per session)."""
    from training.data import load_dataset
    from training.train import train

    folder = tmp_path_factory.mktemp("retrained") / "model"
    train(load_dataset(real_data_path), folder)
    return folder
