"""The shipped model's answers for a few real clients, pinned through the API.

After retraining, regenerate EXPECTED with `CREDIT_DATA=... .venv/bin/python -m tests.test_golden` and paste
its output here (the clients are read by ID from the real file; no dataset row is copied into the repo).
"""

import os
import pprint
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from functions.api.app import get_app
from functions.scoring.contract import FEATURE_NAMES

MODEL_VERSION = "97ad5606e4cf"
EXPECTED: dict[int, dict[str, Any]] = {
    1: {
        "probability_of_default": 0.7210189635048936,
        "score": 460,
        "risk_grade": "E",
        "predicted_default": True,
        "reasons": ["latest_status", "utilisation", "status_history", "credit_limit"],
    },
    2: {
        "probability_of_default": 0.2968320815708683,
        "score": 512,
        "risk_grade": "C",
        "predicted_default": True,
        "reasons": ["status_history", "utilisation", "payments", "credit_limit"],
    },
    5: {
        "probability_of_default": 0.09581246308714833,
        "score": 552,
        "risk_grade": "A",
        "predicted_default": False,
        "reasons": ["credit_limit", "age", "utilisation"],
    },
    14: {
        "probability_of_default": 0.498837177328006,
        "score": 487,
        "risk_grade": "D",
        "predicted_default": True,
        "reasons": ["status_history", "latest_status", "credit_limit", "payments"],
    },
    15: {
        "probability_of_default": 0.041637390870057606,
        "score": 578,
        "risk_grade": "A",
        "predicted_default": False,
        "reasons": [],
    },
    22: {
        "probability_of_default": 0.24877746814095045,
        "score": 519,
        "risk_grade": "C",
        "predicted_default": False,
        "reasons": ["payments", "utilisation", "credit_limit", "age"],
    },
    23: {
        "probability_of_default": 0.7427844583212336,
        "score": 457,
        "risk_grade": "E",
        "predicted_default": True,
        "reasons": ["latest_status", "status_history", "credit_limit", "utilisation"],
    },
    24: {
        "probability_of_default": 0.10405568773245877,
        "score": 549,
        "risk_grade": "B",
        "predicted_default": False,
        "reasons": ["payments", "utilisation"],
    },
}


def client_by_id(path: Path, ids: list[int]) -> dict[int, dict[str, int]]:
    """Read clients from the real UCI file by their ID, as API inputs."""
    from training.data import load_dataset

    frame = load_dataset(path).frame
    return {i: {name: int(frame.loc[i, name]) for name in FEATURE_NAMES} for i in ids}


def answer(client: TestClient, applicant: dict[str, int]) -> dict[str, Any]:
    """Score one applicant through the API and keep the pinned fields."""
    body = client.post("/v1/predict", json=applicant).json()
    return {
        "probability_of_default": body["probability_of_default"],
        "score": body["score"],
        "risk_grade": body["risk_grade"],
        "predicted_default": body["predicted_default"],
        "reasons": [reason["code"] for reason in body["reasons"]],
    }


@pytest.fixture(scope="module")
def real_clients(real_data_path: Path) -> dict[int, dict[str, int]]:
    """The pinned clients, read from the real data."""
    return client_by_id(real_data_path, sorted(EXPECTED))


def test_golden_model_version_is_the_shipped_one(client: TestClient) -> None:
    version = client.get("/v1/health").json()["model_version"]
    assert version == MODEL_VERSION, "the model was retrained: regenerate EXPECTED (see the module docstring)"


@pytest.mark.realdata
@pytest.mark.parametrize("client_id", sorted(EXPECTED))
def test_golden_answer_for_real_client(
    client: TestClient, real_clients: dict[int, dict[str, int]], client_id: int
) -> None:
    expected = EXPECTED[client_id]
    actual = answer(client, real_clients[client_id])
    assert actual["probability_of_default"] == pytest.approx(expected["probability_of_default"], abs=1e-9)
    assert {k: v for k, v in actual.items() if k != "probability_of_default"} == {
        k: v for k, v in expected.items() if k != "probability_of_default"
    }


if __name__ == "__main__":
    ids = sorted(EXPECTED)  # to pin other clients, change the keys of EXPECTED first
    clients = client_by_id(Path(os.environ["CREDIT_DATA"]), ids)
    with TestClient(get_app()) as api:
        pprint.pp({i: answer(api, clients[i]) for i in ids}, width=110, sort_dicts=False)
