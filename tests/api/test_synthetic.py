"""The synthetic-traffic mark is honoured only from callers holding the deploy-time secret: an ordinary caller's
mark is ignored (the decision counts as real, for drift) and counted in the access log and metrics."""

import json
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from functions.api.app import get_app
from functions.api.gateway.request_state import SYNTHETIC_HEADER
from functions.scoring.contract import EXAMPLES

TOKEN = "t" * 32


@pytest.fixture
def log_path(tmp_path: Path, configure: Callable[..., None], referenced_model_dir: Path) -> Path:
    """The app recording to a local SQLite log, with the synthetic-traffic secret TOKEN configured."""
    path = tmp_path / "decisions.sqlite"
    configure(
        DECISION_LOG=str(path),
        AUDIT_TABLE=None,
        AUDIT_HASH_KEY=None,
        MODEL_DIR=str(referenced_model_dir),
        SYNTHETIC_TRAFFIC_TOKEN=TOKEN,
    )
    return path


def recorded(path: Path, headers: dict[str, str]) -> int:
    """Post one applicant with `headers`; return the `synthetic` column of its record."""
    with TestClient(get_app()) as client:
        answer = client.post("/v1/predict", json=EXAMPLES["typical"], headers=headers)
    assert answer.status_code == 200
    with sqlite3.connect(path) as connection:
        query = "SELECT synthetic FROM decisions WHERE request_id = ?"
        (synthetic,) = connection.execute(query, (answer.json()["request_id"],)).fetchone()
    return int(synthetic)


@pytest.mark.parametrize("value", ["smoke", "deploy-hook", "1", TOKEN[:-1], TOKEN + "x"])
def test_an_ordinary_callers_mark_is_ignored_and_counted(
    log_path: Path, value: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        assert recorded(log_path, {SYNTHETIC_HEADER: value}) == 0  # a real decision: drift sees it
    lines = [r for r in caplog.records if r.getMessage() == "request"]
    assert [getattr(r, "synthetic_mark_ignored", False) for r in lines] == [True]


def test_the_secret_holders_mark_is_honoured(log_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        assert recorded(log_path, {SYNTHETIC_HEADER: TOKEN}) == 1
        assert recorded(log_path, {}) == 0
    assert not any(getattr(r, "synthetic_mark_ignored", False) for r in caplog.records)


def test_without_a_configured_secret_no_mark_is_honoured(
    log_path: Path, configure: Callable[..., None]
) -> None:
    configure(SYNTHETIC_TRAFFIC_TOKEN=None)
    assert recorded(log_path, {SYNTHETIC_HEADER: TOKEN}) == 0


def test_ignored_mark_is_a_metric_under_lambda(
    log_path: Path, configure: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    configure(AWS_LAMBDA_FUNCTION_NAME="credit-default-scoring", API_KEY="k" * 20)
    with TestClient(get_app()) as client:
        client.post(
            "/v1/predict",
            json=EXAMPLES["typical"],
            headers={SYNTHETIC_HEADER: "smoke", "x-api-key": "k" * 20},
        )
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [line["SyntheticMarkIgnored"] for line in emf if "SyntheticMarkIgnored" in line] == [1]
    assert any(line.get("Decisions") == 1 for line in emf)  # counted as a real decision
