"""Start a portfolio run on a deployed stack and follow it until it ends; print where the results are.

python -m scripts.portfolio_run --stack-name credit-default s3://BUCKET/KEY.csv
python -m scripts.portfolio_run --stack-name credit-default clients.csv   (uploads to the input bucket first)

Exit 0 when the run succeeded, 1 when it failed or timed out, 2 on a usage error (no such stack or file).
"""

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import boto3
from botocore.exceptions import BotoCoreError, ClientError

OUTPUTS: Final = ("PortfolioInputBucketName", "PortfolioOutputBucketName", "PortfolioStateMachineArn")
UPLOADS: Final = "uploads"  # not incoming/: an object there would start a second run through EventBridge


class RunError(Exception):
    """A usage or setup problem, with what to do about it."""


class StillRunning(Exception):
    """The run did not end within the time we follow it (it goes on in AWS)."""


@dataclass(frozen=True)
class Stack:
    """The portfolio resources of a deployed stack."""

    input_bucket: str
    output_bucket: str
    state_machine_arn: str


def say(message: str) -> None:
    """Print a line for the user on stdout."""
    print(message, flush=True)


def read_stack(cloudformation: Any, name: str) -> Stack:
    """Read the stack's portfolio outputs; raises RunError when the stack or an output is missing."""
    try:
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as err:
        raise RunError(
            f"stack {name}: not found ({err}); deploy it with `make deploy` or check --region"
        ) from err
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    missing = [key for key in OUTPUTS if key not in outputs]
    if missing:
        raise RunError(
            f"stack {name}: no output {', '.join(missing)}; deploy the template with portfolio scoring"
        )
    return Stack(*(outputs[key] for key in OUTPUTS))


def locate(source: str, stack: Stack, s3: Any, *, now: datetime) -> tuple[str, str]:
    """Return (bucket, key) of the input: an s3:// URI as given, or a local file uploaded to the input bucket."""
    if match := re.fullmatch(r"s3://([^/]+)/(.+)", source):
        return match[1], match[2]
    path = Path(source)
    if not path.is_file():
        raise RunError(f"{source}: not an s3://BUCKET/KEY URI nor a local file")
    key = f"{UPLOADS}/{now:%Y%m%dT%H%M%S}-{path.name}"
    say(f"uploading {path} to s3://{stack.input_bucket}/{key}")
    s3.upload_file(str(path), stack.input_bucket, key)
    return stack.input_bucket, key


def progress(sfn: Any, execution_arn: str) -> str:
    """Describe the execution's map run as `shards: done/total (failed N)`, or its absence."""
    runs = sfn.list_map_runs(executionArn=execution_arn)["mapRuns"]
    if not runs:
        return "preparing shards"
    counts = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])["itemCounts"]
    return f"shards: {counts['succeeded']}/{counts['total']} scored, {counts['running']} running, {counts['failed']} failed"


def follow(
    sfn: Any, execution_arn: str, *, poll: float, timeout: float, sleep: Callable[[float], None]
) -> dict[str, Any]:
    """Print progress every `poll` seconds until the execution ends; return describe_execution."""
    deadline, last = time.monotonic() + timeout, ""
    while True:
        sleep(poll)  # first a pause: a run just started has no map run to describe yet
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        if (line := progress(sfn, execution_arn)) != last:
            say(line)
            last = line
        if time.monotonic() > deadline:
            raise StillRunning(
                f"still running after {timeout:.0f} s; follow it in the console: {execution_arn}"
            )


def start(args: argparse.Namespace, *, sleep: Callable[[float], None]) -> int:
    """Start the run and follow it; return the exit status."""
    session = boto3.session.Session(region_name=args.region)
    stack = read_stack(session.client("cloudformation"), args.stack_name)
    now = datetime.now(UTC)
    bucket, key = locate(args.input, stack, session.client("s3"), now=now)
    sfn = session.client("stepfunctions")
    name = re.sub(r"[^A-Za-z0-9_-]", "-", f"{Path(args.input).stem}-{now:%Y%m%dT%H%M%S}")[:80]
    arn = sfn.start_execution(
        stateMachineArn=stack.state_machine_arn, name=name, input=json.dumps({"bucket": bucket, "key": key})
    )["executionArn"]
    say(f"started {name} on s3://{bucket}/{key}")
    described = follow(sfn, arn, poll=args.poll, timeout=args.timeout, sleep=sleep)
    say(f"run {described['status']}")
    summary = f"s3://{stack.output_bucket}/results/{name}/summary.json"
    if described["status"] == "SUCCEEDED":
        output = json.loads(described.get("output") or "{}")
        say(
            f"{output.get('rows', '?')} rows scored: summary {summary}, scored objects listed in {output.get('results')}"
        )
        return 0
    say(f"{described.get('error', '')}: {described.get('cause', '')}; see {summary} when it exists")
    return 1


def main(argv: list[str] | None = None, *, sleep: Callable[[float], None] = time.sleep) -> int:
    """Parse the arguments and run; return 0 on success, 1 when the run failed, 2 on a usage error."""
    parser = argparse.ArgumentParser(
        prog="python -m scripts.portfolio_run", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--stack-name", required=True, help="the deployed stack (sam deploy's stack name)")
    parser.add_argument(
        "input", metavar="INPUT", help="s3://BUCKET/KEY of a client CSV, or a local file to upload"
    )
    parser.add_argument("--region", default=None, help="AWS region (default: the configured one)")
    parser.add_argument(
        "--poll", type=float, default=5.0, metavar="SECONDS", help="progress interval (default 5)"
    )
    parser.add_argument(
        "--timeout", type=float, default=3600.0, metavar="SECONDS", help="give up following after"
    )
    args = parser.parse_args(argv)
    try:
        return start(args, sleep=sleep)
    except RunError as err:
        say(f"error: {err}")
        return 2
    except StillRunning as err:
        say(f"error: {err}")
        return 1
    except (BotoCoreError, ClientError) as err:
        say(f"error: AWS refused ({err}); check credentials, region and the stack")
        return 1


if __name__ == "__main__":
    sys.exit(main())
