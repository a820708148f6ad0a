"""The portfolio job of a deployed stack, for the page and `scripts/portfolio_run.py`: read the stack's outputs,
upload a book, start a run, read its map run's item counts, fetch its summary and scored rows.

Callers pass boto3 clients (tests: moto's); boto3 and botocore are imported inside functions only, so the page
loads without them.
"""

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, BinaryIO, Final

OUTPUTS: Final = ("PortfolioInputBucketName", "PortfolioOutputBucketName", "PortfolioStateMachineArn")
UPLOADS: Final = "uploads"  # not incoming/: an object there would start a second run through EventBridge
RESULTS: Final = (
    "results"  # functions/portfolio/summarise.py writes results/RUN/summary.json and results.json
)


class RunError(Exception):
    """A usage or setup problem, with what to do about it."""


@dataclass(frozen=True)
class Stack:
    """The portfolio resources of a deployed stack, and its API's URL ("" when it has none)."""

    input_bucket: str
    output_bucket: str
    state_machine_arn: str
    api_url: str = ""


@dataclass(frozen=True)
class Outcome:
    """How a run ended: its status, the summary (None when absent), the scored CSV (only when it succeeded)."""

    status: str
    summary: dict[str, Any] | None
    scored: bytes | None
    problem: str = ""


def aws_errors() -> tuple[type[Exception], ...]:
    """Return botocore's error classes (no credentials, no network, refused), imported only when AWS is used."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def session(region: str | None) -> Any:
    """Return a boto3 session in `region` (None: the configured one)."""
    import boto3

    return boto3.session.Session(region_name=region)


def read_stack(cloudformation: Any, name: str) -> Stack:
    """Read the stack's portfolio outputs and ApiUrl; raises RunError when the stack or an output is missing."""
    try:
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except aws_errors() as err:
        raise RunError(
            f"stack {name}: not found ({err}); deploy it with `make deploy` or check the region"
        ) from err
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    missing = [key for key in OUTPUTS if key not in outputs]
    if missing:
        raise RunError(
            f"stack {name}: no output {', '.join(missing)}; deploy the template with portfolio scoring"
        )
    input_bucket, output_bucket, state_machine_arn = (outputs[key] for key in OUTPUTS)
    api_url = outputs.get("ApiUrl", "").rstrip("/")
    return Stack(input_bucket, output_bucket, state_machine_arn, api_url=api_url)


def run_name(source: str, *, now: datetime) -> str:
    """Name a run after its input file and the time (letters, digits, - and _; at most 80 characters)."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"{PurePosixPath(source).stem}-{now:%Y%m%dT%H%M%S}")[:80]


def upload_book(s3: Any, stack: Stack, body: BinaryIO, filename: str, *, now: datetime) -> str:
    """Upload a client file to the stack's input bucket under uploads/; return its key."""
    key = f"{UPLOADS}/{now:%Y%m%dT%H%M%S}-{PurePosixPath(filename).name}"
    s3.upload_fileobj(body, stack.input_bucket, key)
    return key


def start_run(sfn: Any, stack: Stack, bucket: str, key: str, *, name: str) -> str:
    """Start the state machine on s3://bucket/key as run `name`; return the execution's ARN."""
    started = sfn.start_execution(
        stateMachineArn=stack.state_machine_arn, name=name, input=json.dumps({"bucket": bucket, "key": key})
    )
    return str(started["executionArn"])


def map_counts(sfn: Any, execution_arn: str) -> dict[str, int] | None:
    """Return the item counts (total, succeeded, running, failed, ...) of the run's map, None before it starts."""
    runs = sfn.list_map_runs(executionArn=execution_arn)["mapRuns"]
    if not runs:
        return None
    counts: dict[str, int] = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])["itemCounts"]
    return counts


def progress_line(counts: dict[str, int] | None) -> str:
    """Describe map item counts as `shards: done/total scored, N running, N failed`, or `preparing shards`."""
    if counts is None:
        return "preparing shards"
    return (
        f"shards: {counts['succeeded']}/{counts['total']} scored, "
        f"{counts['running']} running, {counts['failed']} failed"
    )


def summary_uri(stack: Stack, name: str) -> str:
    """Return where run `name` writes its summary."""
    return f"s3://{stack.output_bucket}/{RESULTS}/{name}/summary.json"


def _read(s3: Any, bucket: str, key: str) -> bytes:
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def fetch_outcome(s3: Any, stack: Stack, name: str, described: dict[str, Any]) -> Outcome:
    """Read an ended run's summary and, when it succeeded, its scored objects joined in order (one header)."""
    status = str(described["status"])
    prefix = f"{RESULTS}/{name}"
    try:
        summary = json.loads(_read(s3, stack.output_bucket, f"{prefix}/summary.json"))
    except s3.exceptions.NoSuchKey:
        summary = None
    problem = f"{described.get('error', '')}: {described.get('cause', '')}" if status != "SUCCEEDED" else ""
    if status != "SUCCEEDED" or summary is None:
        return Outcome(status, summary, None, problem or f"no summary at {summary_uri(stack, name)}")
    parts: list[bytes] = []
    for uri in json.loads(_read(s3, stack.output_bucket, f"{prefix}/results.json")):
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        body = _read(s3, bucket, key)
        parts.append(body if not parts else body.split(b"\n", 1)[1])  # each part repeats the header
    return Outcome(status, summary, b"".join(parts))
