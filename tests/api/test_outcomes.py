"""POST /v1/outcomes and POST /v1/decisions/{key}/final over the local decision log, through the real app."""

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from functions.api.app import get_app

TODAY = datetime.now(UTC).date().isoformat()


@pytest.fixture
def api(configure: Callable[..., None], tmp_path: Path, valid_applicant: dict[str, Any]) -> Iterator[Any]:
    """The app recording into a fresh local log, with a batch of three decisions made; yields (client, keys)."""
    configure(
        DECISION_LOG=str(tmp_path / "decisions.sqlite"), AUDIT_TABLE=None, AUDIT_HASH_KEY=None, API_KEY=None
    )
    with TestClient(get_app()) as client:
        answer = client.post("/v1/predict/batch", json={"applicants": [valid_applicant] * 3})
        assert answer.status_code == 200, answer.text
        rid = answer.json()["request_id"]
        yield client, [f"{rid}#{i}" for i in range(3)], tmp_path / "decisions.sqlite"


def outcome(key: str, defaulted: Any = True, observed_on: str = TODAY) -> dict[str, Any]:
    """One outcome item of the body."""
    return {"decision_key": key, "defaulted": defaulted, "observed_on": observed_on}


def fields_of(answer: Any) -> list[str]:
    """The field paths an error answer names."""
    return [f["field"] for f in answer.json()["error"]["fields"]]


def test_outcomes_are_recorded_once_unknown_keys_listed_and_conflicts_refused(api: Any) -> None:
    client, keys, _ = api
    body = {"outcomes": [outcome(keys[0]), outcome(keys[1], False), outcome("nobody-1#0")]}
    first = client.post("/v1/outcomes", json=body)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "recorded": 2,
        "unchanged": 0,
        "unknown_keys": ["nobody-1#0"],
        "synthetic_keys": [],
    }
    again = client.post("/v1/outcomes", json=body).json()
    assert (again["recorded"], again["unchanged"]) == (0, 2)
    conflict = client.post("/v1/outcomes", json={"outcomes": [outcome(keys[2]), outcome(keys[0], False)]})
    assert conflict.status_code == 409
    assert (
        conflict.json()["error"]["code"] == "outcome_conflict"
        and keys[0] in conflict.json()["error"]["message"]
    )
    assert client.post("/v1/outcomes", json={"outcomes": [outcome(keys[2])]}).json()["recorded"] == 1


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (outcome("bad key with spaces"), "outcomes[0].decision_key"),
        (outcome("a#1", defaulted=1), "outcomes[0].defaulted"),
        (outcome("a#1", defaulted="true"), "outcomes[0].defaulted"),
        (
            outcome("a#1", observed_on=(datetime.now(UTC).date() + timedelta(days=2)).isoformat()),
            "outcomes[0].observed_on",
        ),
        (outcome("a#1", observed_on="31/12/2025"), "outcomes[0].observed_on"),
        # The fuzz suite's case: pydantic alone read a number, or digits, as seconds since 1970 and answered 200.
        (outcome("a#1", observed_on=1.2274834566496725e-184), "outcomes[0].observed_on"),  # type: ignore[arg-type]
        (outcome("a#1", observed_on=0), "outcomes[0].observed_on"),  # type: ignore[arg-type]
        (outcome("a#1", observed_on="1672531200"), "outcomes[0].observed_on"),
        (outcome("a#1", observed_on="20251231"), "outcomes[0].observed_on"),
        ({**outcome("a#1"), "sex": 2}, "outcomes[0].sex"),
    ],
)
def test_bad_outcomes_are_refused_naming_the_field(api: Any, item: dict[str, Any], field: str) -> None:
    client, _, _ = api
    answer = client.post("/v1/outcomes", json={"outcomes": [item]})
    assert answer.status_code == 422
    assert fields_of(answer) == [field]


def test_too_many_outcomes_and_too_large_a_body_are_refused(api: Any, configure: Callable[..., None]) -> None:
    client, _, _ = api
    many = client.post("/v1/outcomes", json={"outcomes": [outcome(f"k{i}#0") for i in range(5001)]})
    assert many.status_code in (413, 422)
    if many.status_code == 422:
        assert fields_of(many) == ["outcomes"]
    assert client.post("/v1/outcomes", json={"outcomes": []}).status_code == 422


def test_body_over_the_limit_is_refused(configure: Callable[..., None], tmp_path: Path) -> None:
    configure(DECISION_LOG=str(tmp_path / "d.sqlite"), MAX_BODY_BYTES="1000", API_KEY=None)
    with TestClient(get_app()) as client:
        answer = client.post("/v1/outcomes", json={"outcomes": [outcome(f"k{i}#0") for i in range(30)]})
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "payload_too_large"


def test_a_final_decision_is_recorded_once_with_the_reviewer_hashed(api: Any) -> None:
    client, keys, log = api
    path = f"/v1/decisions/{keys[0].replace('#', '%23')}/final"
    body = {"action": "decline", "override_reason": "adverse_information", "reviewer_id": "analyst-jane"}
    first = client.post(path, json=body)
    assert first.status_code == 200, first.text
    assert first.json()["action"] == "decline" and "reviewer_id" not in first.json()
    second = client.post(path, json={**body, "action": "approve"})
    assert second.status_code == 409 and second.json()["error"]["code"] == "final_exists"
    unknown = client.post("/v1/decisions/nobody%231/final", json=body)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_decision"
    with sqlite3.connect(log) as connection:
        stored = connection.execute("SELECT * FROM finals").fetchall()
    assert len(stored) == 1 and "analyst-jane" not in repr(stored) and len(stored[0][3]) == 64


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"action": "maybe"}, "action"),
        ({"override_reason": "felt_like_it"}, "override_reason"),
        ({"reviewer_id": ""}, "reviewer_id"),
    ],
)
def test_bad_final_decisions_are_refused_naming_the_field(
    api: Any, change: dict[str, str], field: str
) -> None:
    client, keys, _ = api
    body = {"action": "approve", "override_reason": "none", "reviewer_id": "r1", **change}
    answer = client.post(f"/v1/decisions/{keys[1].replace('#', '%23')}/final", json=body)
    assert answer.status_code == 422 and fields_of(answer) == [field]
    malformed = client.post("/v1/decisions/not%20a%20key/final", json={**body, **{field: "approve"}})
    assert malformed.status_code in (404, 422)


@pytest.mark.parametrize("route", ["/v1/outcomes", "/v1/decisions/a%231/final"])
def test_with_no_decision_store_both_routes_say_so_with_503(
    route: str, configure: Callable[..., None]
) -> None:
    """Neither AUDIT_TABLE nor DECISION_LOG: a 503 that says nothing was recorded, never a traceback."""
    configure(
        DECISION_LOG=None, AUDIT_TABLE=None, AUDIT_HASH_KEY=None, AUDIT_KEY_SECRET_ARN=None, API_KEY=None
    )
    body: dict[str, Any] = (
        {"outcomes": [outcome("a#1")]}
        if route == "/v1/outcomes"
        else {"action": "approve", "override_reason": "none", "reviewer_id": "analyst-7"}
    )
    with TestClient(get_app(), raise_server_exceptions=False) as client:
        answer = client.post(route, json=body)
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "audit_unavailable"
    assert "Traceback" not in answer.text
