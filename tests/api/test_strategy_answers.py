"""The strategy in the API: each prediction adds the decision, the rule or band, the line action, EL, version and
arm; a missing or invalid strategy is a 503 naming it; the audit record stores version, rule and arm, and the
client reference only as a keyed hash; the challenger draws a stable share of client references."""

import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from functions.api.app import get_app
from functions.audit.strategy_record import reference_hash
from functions.config import MODEL_DIR
from functions.scoring.adverse.notice import adverse_action_notice
from functions.scoring.adverse.statements import STATEMENTS
from functions.scoring.contract import FEATURE_NAMES
from functions.scoring.model import load_model, to_matrix
from functions.scoring.strategy.engine import DEFAULT_FILE, OUTCOME_FIELDS, read_strategy
from training.synthetic import HIGH_RISK, TYPICAL, generate_rows

SHIPPED = (MODEL_DIR / DEFAULT_FILE).read_text()
STRATEGY_FIELDS = OUTCOME_FIELDS  # every field the engine decides is in the answer


def test_predictions_carry_the_strategys_decision_as_the_engine_takes_it(client: TestClient) -> None:
    rows = generate_rows(60, seed=5) + [TYPICAL, HIGH_RISK]
    answers = client.post("/v1/predict/batch", json={"applicants": rows}).json()["predictions"]
    model = load_model(MODEL_DIR)
    strategy = read_strategy(MODEL_DIR / DEFAULT_FILE, manifest=model.manifest)
    raw = to_matrix(rows)
    expected = strategy.apply(raw, np.array([a["probability_of_default"] for a in answers])).records()
    assert [{k: a[k] for k in STRATEGY_FIELDS} for a in answers] == expected
    assert all((a["decision"] == "decline") == a["predicted_default"] for a in answers)
    single = client.post("/v1/predict", json=HIGH_RISK).json()
    assert {k: single[k] for k in STRATEGY_FIELDS} == expected[-1]


def test_a_client_reference_is_accepted_and_checked(client: TestClient) -> None:
    assert client.post("/v1/predict", json={**TYPICAL, "client_reference": "C-0042"}).status_code == 200
    response = client.post("/v1/predict", json={**TYPICAL, "client_reference": "has space"})
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["error"]["fields"]] == ["client_reference"]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (None, "no strategy file at strategy.yaml"),
        ("pd_bands: []\n", "strategy.yaml: `format`: required field is missing"),
    ],
    ids=["missing", "invalid"],
)
def test_a_missing_or_invalid_strategy_answers_503_naming_it(
    configure: Callable[..., None], tmp_path: Path, text: str | None, named: str
) -> None:
    path = tmp_path / DEFAULT_FILE
    if text is not None:
        path.write_text(text)
    configure(STRATEGY_FILE=str(path))
    with TestClient(get_app()) as client:
        response = client.post("/v1/predict", json=TYPICAL)
        health = client.get("/v1/health")
    assert response.status_code == health.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "strategy_unavailable" and named in error["message"]


def test_the_record_stores_version_rule_arm_and_only_a_hash_of_the_reference(
    configure: Callable[..., None], tmp_path: Path
) -> None:
    log = tmp_path / "decisions.sqlite"
    configure(DECISION_LOG=str(log), AUDIT_TABLE=None, AUDIT_HASH_KEY="h" * 40)
    with TestClient(get_app()) as client:
        answer = client.post("/v1/predict", json={**HIGH_RISK, "client_reference": "C-0042"}).json()
    with sqlite3.connect(log) as connection:
        connection.row_factory = sqlite3.Row
        [row] = connection.execute("SELECT * FROM decisions").fetchall()
    assert (row["decision"], row["decided_by"], row["arm"]) == (
        answer["decision"],
        answer["decided_by"],
        "champion",
    )
    assert row["strategy_version"] == answer["strategy_version"] and row["new_limit"] == answer["new_limit"]
    assert row["client_reference_hash"] == reference_hash("C-0042", key=b"h" * 40)
    assert "C-0042" not in repr(tuple(row))


def test_the_challenger_gets_its_share_and_a_reference_keeps_its_arm(
    configure: Callable[..., None], tmp_path: Path
) -> None:
    (tmp_path / "challenger.yaml").write_text(
        SHIPPED.replace("to: 0.2,", "to: 0.1,").replace("from: 0.2,", "from: 0.1,")
    )
    (tmp_path / DEFAULT_FILE).write_text(SHIPPED + "challenger: {file: challenger.yaml, share: 0.25}\n")
    configure(STRATEGY_FILE=str(tmp_path / DEFAULT_FILE), STRATEGY_ARM_KEY="s" * 40)
    rows = [{**TYPICAL, "client_reference": f"C-{i}"} for i in range(400)]
    with TestClient(get_app()) as client:
        first = client.post("/v1/predict/batch", json={"applicants": rows}).json()["predictions"]
        again = client.post("/v1/predict/batch", json={"applicants": rows[::-1]}).json()["predictions"][::-1]
        single = client.post("/v1/predict", json=rows[7]).json()
    arms = [p["arm"] for p in first]
    assert arms == [p["arm"] for p in again] and single["arm"] == arms[7]
    assert 0.18 < arms.count("challenger") / len(arms) < 0.32
    versions = {p["arm"]: p["strategy_version"] for p in first}
    assert versions["champion"] != versions["challenger"]


def test_every_decision_carries_its_notice_and_every_reason_its_statement(client: TestClient) -> None:
    rows = generate_rows(80, seed=11) + [TYPICAL, HIGH_RISK]
    answers = client.post("/v1/predict/batch", json={"applicants": rows}).json()["predictions"]
    raw = to_matrix(rows)
    at = {name: i for i, name in enumerate(FEATURE_NAMES)}
    status, basis = adverse_action_notice(
        np.array([a["decision"] for a in answers]),
        limit=raw[:, at["limit_bal"]],
        new_limit=np.array([a["new_limit"] for a in answers]),
        pay_0=raw[:, at["pay_0"]],
    )
    assert [(a["adverse_action_notice"], a["notice_basis"]) for a in answers] == list(
        zip(status, basis, strict=True)
    )
    assert {"required", "not_applicable"} <= set(status.tolist())
    reasons = [r for a in answers for r in a["reasons"]]
    assert reasons and all(r["statement"] == STATEMENTS[r["code"]] for r in reasons)
    assert all(set(r) == {"code", "text", "impact", "statement"} for r in reasons)
