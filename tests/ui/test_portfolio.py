"""The portfolio job from the page: stack outputs, upload, run, progress and result in moto; `make score` locally."""

import io
import json
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from streamlit.testing.v1 import AppTest

import ui.portfolio
from functions.portfolio.cli import score_file
from functions.scoring.contract import MAX_BATCH
from scripts.cfn import ROOT
from scripts.local import free_port
from training.synthetic import generate_rows, to_dataset_csv
from ui.portfolio import score_command
from ui.portfolio_job import (
    OUTPUTS,
    RunError,
    fetch_outcome,
    map_counts,
    progress_line,
    read_stack,
    run_name,
    start_run,
    upload_book,
)

PAGE = "../../frontend.py"  # AppTest.from_file resolves it against this file
NOW = datetime(2026, 3, 31, 8, 30, tzinfo=UTC)
BOOK = to_dataset_csv(generate_rows(250, seed=51))  # 3 shards of 100 rows in portfolio_moto


def create_stack(moto: SimpleNamespace, name: str, *, api_url: str = "", portfolio: bool = True) -> None:
    """Create a plain stack in moto whose outputs name the portfolio resources (and an API URL and key)."""
    values = dict(zip(OUTPUTS, [moto.input_bucket, moto.output_bucket, moto.arn], strict=True))
    if not portfolio:
        values = {}
    if api_url:
        key = boto3.client("apigateway").create_api_key(name=f"{name}-key", enabled=True, value="k" * 40)
        values |= {"ApiUrl": api_url, "ApiKeyId": key["id"]}
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {output: {"Value": value} for output, value in values.items()},
    }
    boto3.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


def wait(sfn: Any, arn: str, *, seconds: float = 90) -> dict[str, Any]:
    """Poll the execution until it ends; fail the test at the deadline."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.1)
    pytest.fail(f"the run did not end within {seconds} s")


def test_stack_outputs_are_read_with_the_api_url(portfolio_moto: SimpleNamespace) -> None:
    create_stack(portfolio_moto, "book", api_url="https://api.example/Prod/")
    stack = read_stack(boto3.client("cloudformation"), "book")
    assert (stack.input_bucket, stack.output_bucket) == ("book-in", "book-out")
    assert stack.state_machine_arn == portfolio_moto.arn
    assert stack.api_url == "https://api.example/Prod"


def test_stack_without_the_portfolio_outputs_says_what_to_deploy(portfolio_moto: SimpleNamespace) -> None:
    create_stack(portfolio_moto, "bare", api_url="https://api.example/Prod", portfolio=False)
    with pytest.raises(RunError, match=r"no output PortfolioInputBucketName.*portfolio scoring"):
        read_stack(boto3.client("cloudformation"), "bare")
    with pytest.raises(RunError, match="stack nope: not found"):
        read_stack(boto3.client("cloudformation"), "nope")


def test_uploaded_book_is_scored_and_joined_as_the_local_command_scores_it(
    portfolio_moto: SimpleNamespace, tmp_path: Path
) -> None:
    create_stack(portfolio_moto, "book")
    stack = read_stack(boto3.client("cloudformation"), "book")
    s3, sfn = boto3.client("s3"), portfolio_moto.sfn
    key = upload_book(s3, stack, io.BytesIO(BOOK.encode()), "March book.csv", now=NOW)
    assert key == "uploads/20260331T083000-March book.csv"  # not incoming/, which would start a second run
    name = run_name(key, now=NOW)
    assert name == "20260331T083000-March-book-20260331T083000"
    arn = start_run(sfn, stack, stack.input_bucket, key, name=name)
    described = wait(sfn, arn)
    outcome = fetch_outcome(s3, stack, name, described)
    assert outcome.status == "SUCCEEDED"
    source = tmp_path / "book.csv"
    source.write_text(BOOK, encoding="utf-8")
    local = score_file(source, tmp_path / "scored.csv", workers=1, model_dir=ROOT / "model")
    assert outcome.scored == (tmp_path / "scored.csv").read_bytes()  # one header, rows in order, same PDs
    assert outcome.summary is not None
    assert outcome.summary["drift"] == local["drift"]
    assert progress_line(map_counts(sfn, arn)) == "shards: 3/3 scored, 0 running, 0 failed"


def test_failed_run_gives_no_scored_file_and_names_the_shard(portfolio_moto: SimpleNamespace) -> None:
    create_stack(portfolio_moto, "book")
    stack = read_stack(boto3.client("cloudformation"), "book")
    portfolio_moto.shim.unreadable.add(1)
    s3, sfn = boto3.client("s3"), portfolio_moto.sfn
    key = upload_book(s3, stack, io.BytesIO(BOOK.encode()), "book.csv", now=NOW)
    arn = start_run(sfn, stack, stack.input_bucket, key, name="broken")
    outcome = fetch_outcome(s3, stack, "broken", wait(sfn, arn))
    assert (outcome.status, outcome.scored) == ("FAILED", None)
    assert "ShardsFailed" in outcome.problem
    assert outcome.summary is not None
    assert [shard["index"] for shard in outcome.summary["failed_shards"]] == [1]


def test_progress_line_before_the_map_starts() -> None:
    assert progress_line(None) == "preparing shards"


# --- the batch tab in AppTest ----------------------------------------------------------------------------
@pytest.fixture
def closed_api(monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the page at a port nobody listens on (health fails fast); no stack arguments, no key."""
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setattr(sys, "argv", ["frontend.py"])
    monkeypatch.delenv("CREDIT_API_KEY", raising=False)
    monkeypatch.setenv("CREDIT_API_URL", url)
    return url


def upload(at: AppTest, rows: int, *, name: str = "march book.csv") -> AppTest:
    """Upload a generated client file of `rows` rows to the batch tab and rerun the page."""
    data = to_dataset_csv(generate_rows(rows, seed=52)).encode()
    return at.file_uploader(key="batch_file").upload(name, data, "text/csv").run()


def test_batch_tab_explains_make_score_for_a_large_file_without_a_stack(closed_api: str) -> None:
    at = upload(AppTest.from_file(PAGE, default_timeout=60).run(), MAX_BATCH + 1)
    assert not at.exception
    assert any(f"{MAX_BATCH + 1:,} rows, more than one API request" in info.value for info in at.info)
    assert [code.value for code in at.code] == ["make score IN='march book.csv' OUT='march book-scored.csv'"]
    assert not [b for b in at.button if b.key == "portfolio_start"]


def test_batch_tab_offers_nothing_more_for_a_file_of_one_request(closed_api: str) -> None:
    at = upload(AppTest.from_file(PAGE, default_timeout=60).run(), MAX_BATCH)
    assert not at.exception
    assert not at.code
    assert not any("make score" in info.value for info in at.info)


def test_score_command_names_the_file_and_its_scored_copy() -> None:
    assert score_command("books/x/clients.csv") == "make score IN=clients.csv OUT=clients-scored.csv"


@pytest.mark.parametrize(
    ("filename", "scored"),
    [
        ("march book.csv", "march book-scored.csv"),
        ("$(touch pwned).csv", "$(touch pwned)-scored.csv"),
        ("it's `id`;.csv", "it's `id`;-scored.csv"),
    ],
)
def test_score_command_is_shell_quoted(filename: str, scored: str, tmp_path: Path) -> None:
    command = score_command(f"uploads/{filename}")
    assert shlex.split(command) == ["make", "score", f"IN={filename}", f"OUT={scored}"]
    pasted = command.replace("make score", "printf '%s\\n'", 1)  # as a shell runs it, with printf for make
    echoed = subprocess.run(["sh", "-c", pasted], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert echoed.stdout.splitlines() == [f"IN={filename}", f"OUT={scored}"]
    assert list(tmp_path.iterdir()) == []  # nothing ran: no `pwned`


@pytest.mark.parametrize("filename", ["march book.csv", "$(touch pwned).csv", "it's `touch pwned`;$$x.csv"])
def test_pasted_score_command_scores_the_named_file_through_make(filename: str, tmp_path: Path) -> None:
    (tmp_path / filename).write_text(to_dataset_csv(generate_rows(5, seed=2)), encoding="utf-8")
    venv_bin = shlex.quote(str(Path(sys.executable).parent))
    real_make = (
        f"make -s -f {shlex.quote(str(ROOT / 'Makefile'))} -o {venv_bin}/.installed BIN={venv_bin} score"
    )
    pasted = score_command(filename).replace("make score", real_make, 1)  # make expands nothing in IN or OUT
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        ["sh", "-c", pasted], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    scored = PurePosixPath(filename).stem + "-scored.csv"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([filename, scored, scored + ".summary.json"])


def test_batch_tab_runs_a_large_file_on_the_stack_follows_it_again_and_offers_the_result(
    portfolio_moto: SimpleNamespace, closed_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_stack(portfolio_moto, "book", api_url=closed_api)
    monkeypatch.setattr(sys, "argv", ["frontend.py", "--stack-name", "book"])
    monkeypatch.setattr(ui.portfolio, "POLL_SECONDS", 0.05)
    ui.portfolio.find_stack.clear()
    at = upload(AppTest.from_file(PAGE, default_timeout=120).run(), MAX_BATCH + 1)
    assert not at.exception
    assert not at.code  # no `make score` advice: the stack takes the file
    monkeypatch.setattr(ui.portfolio, "FOLLOW_SECONDS", 0.0)  # the page stops following at once
    at.button(key="portfolio_start").click().run()
    assert not at.exception
    assert any("goes on in AWS" in info.value for info in at.info)
    monkeypatch.setattr(ui.portfolio, "FOLLOW_SECONDS", 60.0)
    at.button(key="portfolio_follow").click().run()
    assert not at.exception
    assert not [e.value for e in at.error if e.value.startswith(("AWS refused", "The run ended"))]
    assert not at.warning  # the stack and its portfolio outputs were found
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Rows"] == f"{MAX_BATCH + 1:,}"
    assert metrics["Invalid rows"] == "0"
    assert len(at.get("download_button")) == 1  # the scored book (the API path scored nothing)
    runs = portfolio_moto.sfn.list_executions(stateMachineArn=portfolio_moto.arn)["executions"]
    assert [run["status"] for run in runs] == ["SUCCEEDED"]
