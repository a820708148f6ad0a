"""Shared fixtures: generated clients, the real data path, the app and its TestClient, API Gateway events,
a Lambda context, settings overrides, and a live uvicorn app on a free loopback port."""

import base64
import copy
import json
import os
import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.stub import Stubber
from fastapi.testclient import TestClient

from functions import audit
from functions.app import adapter, get_app, load_serving_model
from functions.config import MODEL_DIR, get_settings
from functions.errors import ErrorResponse
from scripts.image_check import local_context
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


@contextmanager
def uvicorn_api(env: dict[str, str]) -> Iterator[str]:
    """Serve the app with uvicorn, as `make api` does, on a free 127.0.0.1 port; yield its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = "functions.app:get_app"
    args = [sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1", "--port", str(port)]
    process = start_server([*args, "--log-level", "warning"], f"{url}/v1/health", env=env)
    try:
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="session")
def live_api() -> Iterator[str]:
    """A uvicorn server of the app for the whole session, or E2E_API_URL (CI: `sam local`); yield its base URL."""
    if external := os.environ.get("E2E_API_URL"):
        yield external.rstrip("/")
        return
    with uvicorn_api({"OMP_NUM_THREADS": "1"}) as url:
        yield url


@pytest.fixture(scope="session")
def serve_api() -> Callable[[dict[str, str]], AbstractContextManager[str]]:
    """Start a uvicorn server of the app with extra environment: `with serve_api(env) as url: ...`."""
    return uvicorn_api


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    """A TestClient on the app, kept open for the module (one event loop thread, not one per request)."""
    with TestClient(get_app()) as opened:
        yield opened


def read_event(name: str) -> dict[str, Any]:
    """Read a fresh copy of an API Gateway payload saved under events/ (from `sam local generate-event`)."""
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def replace_body(event: dict[str, Any], body: bytes, content_type: str | None = "keep") -> dict[str, Any]:
    """Copy an event with a new base64 body and, unless "keep", a new (or no) Content-Type header."""
    changed = copy.deepcopy(event)
    changed["body"] = base64.b64encode(body).decode()
    changed["isBase64Encoded"] = True
    if content_type != "keep":
        for headers in (changed.get("headers") or {}, changed.get("multiValueHeaders") or {}):
            for name in [name for name in headers if name.lower() == "content-type"]:
                del headers[name]
        if content_type is not None:
            changed.setdefault("headers", {})["Content-Type"] = content_type
            if "multiValueHeaders" in changed:
                changed["multiValueHeaders"]["Content-Type"] = [content_type]
    return changed


def decode_body(response: dict[str, Any]) -> Any:
    """Decode a Lambda handler response's body as JSON."""
    raw = response["body"]
    text = base64.b64decode(raw).decode() if response.get("isBase64Encoded") else raw
    return json.loads(text)


def check_error(response: Any, status: int | None = None, code: str | None = None) -> dict[str, Any]:
    """Check an HTTP answer follows the error schema, echoes nothing and has the status and code given."""
    if status is not None:
        assert response.status_code == status, response.text[:300]
    ErrorResponse.model_validate_json(response.text)
    assert '"input"' not in response.text
    assert "Traceback" not in response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["request_id"] == response.headers["x-request-id"]
    if code is not None:
        assert error["code"] == code
    return error


@pytest.fixture(scope="session")
def load_event() -> Callable[[str], dict[str, Any]]:
    """Read a fresh copy of an event under events/ by name, e.g. `load_event("rest-predict")`."""
    return read_event


@pytest.fixture(scope="session")
def with_body() -> Callable[..., dict[str, Any]]:
    """Copy an event with a new body: `with_body(event, body, content_type="keep")`."""
    return replace_body


@pytest.fixture(scope="session")
def body_of() -> Callable[[dict[str, Any]], Any]:
    """Decode a Lambda handler response's JSON body."""
    return decode_body


@pytest.fixture(scope="session")
def error_of() -> Callable[..., dict[str, Any]]:
    """Check an answer is in the error schema (optionally its status and code); return the error object."""
    return check_error


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


# --- AWS answered by moto, without the app's settings (ui/ and scripts/ tests) ------------------------------
@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake AWS credentials and region (us-east-1), with every AWS call of the test answered by moto."""
    from moto import mock_aws

    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield


@pytest.fixture
def api_stack(fake_aws: None) -> Callable[..., str]:
    """Create, in moto, an API key and a plain stack whose outputs name the API URL and the key's id.

    moto cannot deploy template.yaml (SAM transform), so a stack with the same Outputs stands in for it.
    Call `api_stack(name, url=..., outputs=("ApiUrl", "ApiKeyId"), key_value=...)`; it returns the key's value.
    """

    def create(
        name: str, *, url: str, outputs: tuple[str, ...] = ("ApiUrl", "ApiKeyId"), key_value: str = "k" * 40
    ) -> str:
        key = boto3.client("apigateway").create_api_key(name=f"{name}-key", enabled=True, value=key_value)
        values = {"ApiUrl": url, "ApiKeyId": key["id"]}
        template = {
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {output: {"Value": values[output]} for output in outputs},
        }
        boto3.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
        return str(key["value"])

    return create


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
def unreferenced_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shipped model as trained before reference distributions were frozen (no `reference`)."""
    from functions.manifest import read_manifest, write_manifest

    folder = tmp_path_factory.mktemp("unreferenced-model")
    shutil.copy(MODEL_DIR / "serving.npz", folder / "serving.npz")
    write_manifest(read_manifest(MODEL_DIR).model_copy(update={"reference": None}), folder)
    return folder


@pytest.fixture(scope="session")
def referenced_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shipped model whose manifest carries reference bins frozen on 400 generated clients."""
    from functions.drift import build_reference
    from functions.manifest import write_manifest
    from functions.scoring import load_model, to_matrix
    from training.synthetic import generate_rows

    folder = tmp_path_factory.mktemp("referenced-model")
    shutil.copy(MODEL_DIR / "serving.npz", folder / "serving.npz")
    model = load_model(MODEL_DIR)
    raw = to_matrix(generate_rows(400, seed=11))
    points = np.array([d.score for d in model.assess(raw, explain=False)], dtype=np.float64)
    write_manifest(model.manifest.model_copy(update={"reference": build_reference(raw, points)}), folder)
    return folder


@pytest.fixture(scope="session")
def retrained_model_dir(real_data_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole protocol rerun on the real data into a temporary folder (about 65 s, once per session)."""
    from training.data import load_dataset
    from training.train import train

    folder = tmp_path_factory.mktemp("retrained") / "model"
    train(load_dataset(real_data_path), folder)
    return folder


@pytest.fixture(scope="session")
def create_audit_table() -> Callable[[Any, str], None]:
    """Create the audit table as template.yaml declares it (index `by-day`): `create_audit_table(client, name)`."""
    from functions.audit import DAY_INDEX, DAY_INDEX_ATTRIBUTES

    def create(client: Any, name: str) -> None:
        keys = [("request_id", "HASH"), ("decided_day", "HASH"), ("decided_at", "RANGE")]
        client.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key, _ in keys],
            KeySchema=[{"AttributeName": key, "KeyType": kind} for key, kind in keys[:1]],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": DAY_INDEX,
                    "KeySchema": [{"AttributeName": key, "KeyType": kind} for key, kind in keys[1:]],
                    "Projection": {
                        "ProjectionType": "INCLUDE",
                        "NonKeyAttributes": list(DAY_INDEX_ATTRIBUTES),
                    },
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )

    return create


@pytest.fixture
def stubbed_audit(
    aws_credentials: None, configure: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """Audit to table `credit-default-audit` through a DynamoDB client scripted by botocore's Stubber."""
    configure(AUDIT_TABLE="credit-default-audit", AUDIT_HASH_KEY="k" * 40)
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    monkeypatch.setattr(audit, "dynamodb", lambda: dynamodb)
    monkeypatch.setattr(audit, "dynamodb_capped", lambda timeout: dynamodb)
    with Stubber(dynamodb) as stubber:
        yield stubber


# --- Portfolio runs (issue 11): template.yaml's state machine executed in moto, Lambda steps run in process ---
class PortfolioDispatcher:
    """Stands in for moto's Lambda invoke: runs the step's handler in process, records calls, can break a shard."""

    def __init__(self) -> None:
        from functions import portfolio_steps, shards

        self.handlers = {
            "prepare": portfolio_steps.prepare,
            "shard": shards.handler,
            "summarise": portfolio_steps.summarise,
        }
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.unreadable: set[int] = set()  # shard indexes whose object is corrupted before each read
        self.lock = threading.Lock()

    def __call__(
        self, backend: Any, name: str, qualifier: Any, body: Any, headers: Any, response: Any
    ) -> bytes:
        """Dispatch on the function name's last word; an exception becomes an `x-amz-function-error` answer."""
        import boto3

        step = name.rsplit("-", 1)[-1]
        event = json.loads(body)
        with self.lock:
            self.calls.append((step, event))
        if step == "shard" and event["index"] in self.unreadable:
            boto3.client("s3").put_object(
                Bucket=event["bucket"], Key=event["key"], Body=b"\xff\xfe\x00garbage"
            )
        try:
            result = self.handlers[step](event, None)
        except Exception as err:  # what the Lambda runtime does with an unhandled error
            response["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(err).__name__, "errorMessage": str(err)}).encode()
        return json.dumps(result).encode()


@pytest.fixture
def portfolio_moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    """moto with executions on, template.yaml's portfolio machine (100-row shards, 3 at once), both buckets.

    Yields sfn (client), shim (PortfolioDispatcher), arn, input_bucket, output_bucket.
    """
    import boto3
    from moto import mock_aws
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    from functions import shards
    from scripts.cfn import load_template

    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    shim = PortfolioDispatcher()
    monkeypatch.setattr(LambdaSimpleBackend, "invoke", lambda self, *args: shim(self, *args))
    # moto 5.2.5 raises AttributeError from list_map_runs until the execution's worker has an environment;
    # AWS answers an empty list then.
    original = StepFunctionsParserBackend.list_map_runs

    def list_map_runs(self: Any, execution_arn: str) -> dict[str, Any]:
        worker = self.describe_execution(execution_arn=execution_arn).exec_worker
        if worker is None or worker.env is None:
            return {"mapRuns": []}
        return original(self, execution_arn)

    monkeypatch.setattr(StepFunctionsParserBackend, "list_map_runs", list_map_runs)
    props = load_template()["Resources"]["PortfolioStateMachine"]["Properties"]
    function = "arn:aws:lambda:us-east-1:123456789012:function:stack-portfolio-{}"
    values = {
        "PrepareFunctionArn": function.format("prepare"),
        "ShardFunctionArn": function.format("shard"),
        "SummariseFunctionArn": function.format("summarise"),
        "OutputBucket": "book-out",
        "ShardRows": "100",  # the smallest prepare accepts: tens of shards at most keeps moto fast
        "MaxConcurrency": "3",
    }
    definition = json.dumps(props["Definition"])
    for name in props["DefinitionSubstitutions"]:
        definition = definition.replace("${" + name + "}", values[name])
    shards.s3_client.cache_clear()
    config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    with mock_aws(config=config):  # type: ignore[arg-type]
        for bucket in ("book-in", "book-out"):
            boto3.client("s3").create_bucket(Bucket=bucket)
        sfn = boto3.client("stepfunctions")
        arn = sfn.create_state_machine(
            name="stack-portfolio",
            roleArn="arn:aws:iam::123456789012:role/stack-portfolio",
            definition=definition,
        )["stateMachineArn"]
        yield SimpleNamespace(sfn=sfn, shim=shim, arn=arn, input_bucket="book-in", output_bucket="book-out")
    shards.s3_client.cache_clear()


def render_book(rows: list[dict[str, Any]], bad: dict[int, tuple[str, str]]) -> str:
    """Render rows in the Kaggle layout, then set cell (row index, COLUMN) to the given text."""
    from training.synthetic import to_dataset_csv

    lines = to_dataset_csv(rows).splitlines()
    header = [c.strip('"') for c in lines[0].split(",")]
    for i, (column, value) in bad.items():
        cells = lines[i + 1].split(",")
        cells[header.index(column)] = value
        lines[i + 1] = ",".join(cells)
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def book_text() -> Callable[[list[dict[str, Any]], dict[int, tuple[str, str]]], str]:
    """Render a client file with invalid cells: `book_text(rows, {row_index: ("AGE", "17")})`."""
    return render_book
