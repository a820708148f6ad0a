"""The decision log keeps what monitoring needs and no more: reasons as codes and impacts, never the texts that
quote a client's credit limit, amounts or age; no raw input value is stored."""

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from functions.api.app import get_app
from functions.scoring.contract import EXAMPLES

APPLICANT: dict[str, Any] = dict(EXAMPLES["typical"]) | {"limit_bal": 123457, "age": 47, "pay_amt1": 98761}


def test_local_log_stores_reason_codes_and_impacts_without_texts(
    tmp_path: Path, configure: Callable[..., None], referenced_model_dir: Path
) -> None:
    path = tmp_path / "decisions.sqlite"
    configure(
        DECISION_LOG=str(path), AUDIT_TABLE=None, AUDIT_HASH_KEY=None, MODEL_DIR=str(referenced_model_dir)
    )
    with TestClient(get_app()) as client:
        answer = client.post("/v1/predict", json=APPLICANT).json()
    assert answer["reasons"] and all(r["text"] for r in answer["reasons"])  # the client still gets the texts
    with sqlite3.connect(path) as connection:
        connection.row_factory = sqlite3.Row
        [row] = connection.execute("SELECT * FROM decisions").fetchall()
    stored = json.loads(row["reasons"])
    assert stored == [{"code": r["code"], "impact": r["impact"]} for r in answer["reasons"]]
    everything = json.dumps(dict(row))
    for value in ("123457", "123,457", "98761", "98,761"):
        assert value not in everything
    assert all(r["text"] not in everything for r in answer["reasons"])
