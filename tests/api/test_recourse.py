"""POST /v1/recourse: a declined client gets a change that /v1/predict approves; an approved one needs none; the
body is /v1/predict's, checked the same way; the key guards it like the scoring routes."""

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from functions.api.app import get_app
from functions.scoring.adverse.recourse import IMMUTABLE
from training.synthetic import HIGH_RISK, TYPICAL


def test_a_declined_client_gets_a_change_that_predict_approves(client: TestClient) -> None:
    answer = client.post("/v1/recourse", json=HIGH_RISK)
    assert answer.status_code == 200
    body = answer.json()
    assert body["decision"] == "decline" and body["found"] is True
    proposal = body["proposal"]
    assert proposal["probability_of_default"] < body["approve_below"] <= body["probability_of_default"]
    changed: dict[str, Any] = dict(HIGH_RISK)
    for change in proposal["changes"]:
        assert change["input"] not in IMMUTABLE and HIGH_RISK[change["input"]] == change["current"]
        changed[change["input"]] = change["proposed"]
    assert proposal["changes"] and proposal["summary"] == body["message"]
    again = client.post("/v1/predict", json=changed).json()
    assert (again["decision"], again["probability_of_default"]) == (
        "approve",
        proposal["probability_of_default"],
    )
    assert (
        body["strategy_version"] == again["strategy_version"]
        and body["model_version"] == again["model_version"]
    )


def test_an_approved_client_needs_no_change(client: TestClient) -> None:
    body = client.post("/v1/recourse", json=TYPICAL).json()
    assert (body["decision"], body["found"], body["proposal"]) == ("approve", False, None)
    assert "approved already" in body["message"]


def test_a_bad_body_is_refused_naming_the_field(client: TestClient) -> None:
    answer = client.post("/v1/recourse", json={**TYPICAL, "age": 17})
    assert answer.status_code == 422
    assert [field["field"] for field in answer.json()["error"]["fields"]] == ["age"]


def test_the_key_guards_recourse(configure: Callable[..., None]) -> None:
    configure(API_KEY="a-local-api-key-of-32-characters", AWS_LAMBDA_FUNCTION_NAME=None)
    with TestClient(get_app()) as keyed:
        assert keyed.post("/v1/recourse", json=HIGH_RISK).status_code == 401
        sent = keyed.post(
            "/v1/recourse", json=HIGH_RISK, headers={"x-api-key": "a-local-api-key-of-32-characters"}
        )
        assert sent.status_code == 200
