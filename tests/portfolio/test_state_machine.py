"""The portfolio state machine of template.yaml, run in moto with its Lambda steps dispatched to the real handlers.

moto executes the definition (`execute_state_machine`), its Lambda backend is patched to call functions/ in
process, and the handlers' own S3 calls hit moto's S3. See ../shared/TOOLCHAIN.md, "Step Functions ... in moto".
"""

import csv
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Final

import boto3
import pytest

from functions.portfolio.cli import score_file
from scripts.cfn import ROOT
from training.synthetic import generate_rows

ROWS = generate_rows(450, seed=31)  # 5 shards of 100 rows (portfolio_moto's ShardRows)
BAD_AT = {7: ("AGE", "17"), 150: ("LIMIT_BAL", "-5"), 449: ("PAY_0", "x")}  # invalid rows in shards 0, 1, 4
OUTPUT_BUCKET: Final = "book-out"


def run(moto: SimpleNamespace, book: str, *, deadline_seconds: float = 90) -> dict[str, Any]:
    """Upload the book, start a run, poll until it ends (or fail at the deadline); return describe_execution."""
    boto3.client("s3").put_object(Bucket=moto.input_bucket, Key="incoming/book.csv", Body=book.encode())
    sfn = moto.sfn
    execution = sfn.start_execution(
        stateMachineArn=moto.arn,
        name="run-1",
        input=json.dumps({"bucket": moto.input_bucket, "key": "incoming/book.csv"}),
    )["executionArn"]
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.2)
    pytest.fail(f"the run did not end within {deadline_seconds} s")


def read_object(key: str) -> bytes:
    """Read an object of the output bucket."""
    body: bytes = boto3.client("s3").get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"].read()
    return body


def map_run_counts(sfn: Any, execution_arn: str) -> dict[str, Any]:
    """Return the item counts of the execution's one map run."""
    runs = sfn.list_map_runs(executionArn=execution_arn)["mapRuns"]
    assert len(runs) == 1
    counts: dict[str, Any] = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])["itemCounts"]
    return counts


def test_run_scores_every_row_across_shards_as_the_local_command_does(
    portfolio_moto: SimpleNamespace, tmp_path: Path, book_text: Callable[..., str]
) -> None:
    sfn, shim = portfolio_moto.sfn, portfolio_moto.shim
    described = run(portfolio_moto, book_text(ROWS, BAD_AT))
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["rows"] == len(ROWS)
    assert output["failed_shards"] == 0
    summary = json.loads(read_object("results/run-1/summary.json"))
    assert (summary["rows"], summary["invalid"], summary["missing_rows"]) == (450, 3, 0)
    assert summary["shards"] == 5
    assert summary["failed_shards"] == []
    results = json.loads(read_object("results/run-1/results.json"))
    assert results == [f"s3://{OUTPUT_BUCKET}/results/run-1/part-{i:05d}.csv" for i in range(5)]
    remote = [
        row
        for uri in results
        for row in csv.DictReader(io.StringIO(read_object(uri.split("/", 3)[3]).decode()))
    ]
    source = tmp_path / "book.csv"
    source.write_text(book_text(ROWS, BAD_AT), encoding="utf-8")
    local = score_file(source, tmp_path / "scored.csv", workers=1, model_dir=ROOT / "model")
    with (tmp_path / "scored.csv").open(newline="") as handle:
        assert remote == list(csv.DictReader(handle))  # same rows, same order, PDs to the last bit
    assert summary["input_sha256"] == local["input_sha256"]
    assert summary["grades"] == local["grades"]
    assert summary["drift"] is not None
    assert summary["drift"] == local["drift"]  # PSI from the shards' bin counts, as the local command gives
    assert [row["ID"] for row in remote if row["error"]] == [str(i + 1) for i in BAD_AT]
    assert map_run_counts(sfn, described["executionArn"])["succeeded"] == 5
    assert all(len(json.dumps(event)) < 1024 for _, event in shim.calls)  # no rows in any payload
    shard_summary = json.loads(read_object("results/run-1/part-00000.json"))
    assert sum(shard_summary["bins"]["score"]) == shard_summary["scored"]  # counts, never rows


def test_unreadable_shard_is_retried_then_named_in_the_summary(
    portfolio_moto: SimpleNamespace, book_text: Callable[..., str]
) -> None:
    sfn, shim = portfolio_moto.sfn, portfolio_moto.shim
    shim.unreadable.add(2)
    described = run(portfolio_moto, book_text(ROWS, BAD_AT))
    assert described["status"] == "FAILED", described
    assert described.get("error") == "ShardsFailed"
    attempts = [event for step, event in shim.calls if step == "shard" and event["index"] == 2]
    assert len(attempts) == 2  # the first read and one retry
    summary = json.loads(read_object("results/run-1/summary.json"))
    assert summary["failed_shards"] == [
        {"index": 2, "shard": f"s3://{OUTPUT_BUCKET}/shards/run-1/part-00002.csv", "first_line": 202}
    ]
    assert (summary["rows"], summary["missing_rows"]) == (350, 100)
    assert len(json.loads(read_object("results/run-1/results.json"))) == 4
    assert map_run_counts(sfn, described["executionArn"])["failed"] == 1


DECISION_COLUMNS: Final = (
    "decision",
    "decided_by",
    "line_action",
    "line_percent",
    "new_limit",
    "expected_loss",
)


def file_decisions(text: str) -> list[tuple[str, ...]]:
    """Return the strategy columns of a scored CSV's rows."""
    return [tuple(row[name] for name in DECISION_COLUMNS) for row in csv.DictReader(io.StringIO(text))]


def api_decisions(rows: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """Score rows through /v1/predict/batch (1,000 at a time); return the strategy columns as a book writes them."""
    from fastapi.testclient import TestClient

    from functions.api.app import get_app
    from functions.scoring.contract import MAX_BATCH

    answers: list[dict[str, Any]] = []
    with TestClient(get_app()) as client:
        for start in range(0, len(rows), MAX_BATCH):
            response = client.post("/v1/predict/batch", json={"applicants": rows[start : start + MAX_BATCH]})
            assert response.status_code == 200, response.text[:300]
            answers += response.json()["predictions"]
    assert all((a["decision"] == "decline") == a["predicted_default"] for a in answers)
    return [
        tuple(
            f"{a[k]:g}"
            if k == "line_percent"
            else f"{a[k]:.0f}"
            if k == "new_limit"
            else f"{a[k]:.2f}"
            if k == "expected_loss"
            else a[k]
            for k in DECISION_COLUMNS
        )
        for a in answers
    ]


def local_decisions(tmp_path: Path, source: Path) -> list[tuple[str, ...]]:
    """Score a client file with the local book command; return its strategy columns."""
    score_file(source, tmp_path / "scored.csv", workers=1, model_dir=ROOT / "model")
    return file_decisions((tmp_path / "scored.csv").read_text(encoding="utf-8"))


def test_api_local_command_and_step_functions_take_the_same_decisions(
    portfolio_moto: SimpleNamespace, tmp_path: Path, book_text: Callable[..., str]
) -> None:
    """One engine, three paths (issue 17): decision, rule, line action, new limit and EL agree row for row."""
    rows = generate_rows(300, seed=17)
    book = book_text(rows, {})
    described = run(portfolio_moto, book)
    assert described["status"] == "SUCCEEDED", described
    remote = [
        line
        for uri in json.loads(read_object("results/run-1/results.json"))
        for line in file_decisions(read_object(uri.split("/", 3)[3]).decode())
    ]
    source = tmp_path / "book.csv"
    source.write_text(book, encoding="utf-8")
    local = local_decisions(tmp_path, source)
    assert api_decisions(rows) == local == remote
    decisions = [line[0] for line in local]
    assert set(decisions) == {"approve", "refer", "decline"}
    summary = json.loads(read_object("results/run-1/summary.json"))
    assert summary["strategy"]["decisions"] == {
        d: decisions.count(d) for d in ("approve", "refer", "decline")
    }


@pytest.mark.realdata
def test_the_api_and_the_book_command_decide_every_real_client_alike(
    real_data_path: Path, tmp_path: Path
) -> None:
    """All 30,000 real clients: the API and `make score` give the same decision columns, declines = predicted_default."""
    from functions.scoring.contract import FEATURE_BY_NAME, FEATURE_NAMES
    from training.data import load_dataset

    rows = [
        {
            n: v if FEATURE_BY_NAME[n].kind == "amount" else int(v)
            for n, v in zip(FEATURE_NAMES, values, strict=True)
        }
        for values in load_dataset(real_data_path).X.tolist()
    ]
    local = local_decisions(tmp_path, real_data_path)
    assert len(local) == 30_000
    assert api_decisions(rows) == local
