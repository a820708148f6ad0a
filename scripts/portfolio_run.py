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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ui.portfolio_job import (
    RunError,
    Stack,
    aws_errors,
    map_counts,
    progress_line,
    read_stack,
    run_name,
    session,
    start_run,
    summary_uri,
    upload_book,
)


class StillRunning(Exception):
    """The run did not end within the time we follow it (it goes on in AWS)."""


def say(message: str) -> None:
    """Print a line for the user on stdout."""
    print(message, flush=True)


def locate(source: str, stack: Stack, s3: Any, *, now: datetime) -> tuple[str, str]:
    """Return (bucket, key) of the input: an s3:// URI as given, or a local file uploaded to the input bucket."""
    if match := re.fullmatch(r"s3://([^/]+)/(.+)", source):
        return match[1], match[2]
    path = Path(source)
    if not path.is_file():
        raise RunError(f"{source}: not an s3://BUCKET/KEY URI nor a local file")
    say(f"uploading {path} to s3://{stack.input_bucket}")
    with path.open("rb") as body:
        key = upload_book(s3, stack, body, path.name, now=now)
    return stack.input_bucket, key


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
        if (line := progress_line(map_counts(sfn, execution_arn))) != last:
            say(line)
            last = line
        if time.monotonic() > deadline:
            raise StillRunning(
                f"still running after {timeout:.0f} s; follow it in the console: {execution_arn}"
            )


def start(args: argparse.Namespace, *, sleep: Callable[[float], None]) -> int:
    """Start the run and follow it; return the exit status."""
    aws = session(args.region)
    stack = read_stack(aws.client("cloudformation"), args.stack_name)
    now = datetime.now(UTC)
    bucket, key = locate(args.input, stack, aws.client("s3"), now=now)
    sfn = aws.client("stepfunctions")
    name = run_name(args.input, now=now)
    arn = start_run(sfn, stack, bucket, key, name=name)
    say(f"started {name} on s3://{bucket}/{key}")
    described = follow(sfn, arn, poll=args.poll, timeout=args.timeout, sleep=sleep)
    say(f"run {described['status']}")
    summary = summary_uri(stack, name)
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
    except aws_errors() as err:
        say(f"error: AWS refused ({err}); check credentials, region and the stack")
        return 1


if __name__ == "__main__":
    sys.exit(main())
