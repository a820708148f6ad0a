"""Run every event in events/ through the Lambda image under the runtime interface emulator; check the answers.

python -m scripts.image_check [--url http://127.0.0.1:9000] [--summary FILE]

The container must have just started (`docker run -p 9000:8080 IMAGE`): the first invocation's time includes
the cold start. Every API Gateway event must be answered 200, and the example clients must be scored exactly as
this checkout scores them in process (functions/api/pretraffic.py's comparison, as the pre-traffic hook does it).
Writes a Markdown table to --summary (CI passes $GITHUB_STEP_SUMMARY); exits 1 when any check fails.
"""

import argparse
import json
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Final

from functions.api import pretraffic as deploy_hook
from functions.scoring.contract import EXAMPLES

ROOT: Final = Path(__file__).resolve().parent.parent
EVENTS: Final = ROOT / "events"
INVOCATIONS: Final = "/2015-03-31/functions/function/invocations"


def say(message: str) -> None:
    """Print one line of the CLI."""
    print(message, flush=True)


def api_events() -> dict[str, dict[str, Any]]:
    """Return the API Gateway events under events/ by name (local-env.json is not one)."""
    events = {path.stem: json.loads(path.read_text()) for path in sorted(EVENTS.glob("*.json"))}
    return {name: event for name, event in events.items() if "requestContext" in event}


def emulator(url: str, *, timeout: float) -> deploy_hook.Invoke:
    """Return an Invoke that posts an event to the emulator and returns the function's answer."""

    if not url.startswith("http://"):
        raise ValueError(f"{url}: the emulator listens on plain http")

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(url + INVOCATIONS, data=json.dumps(event).encode(), method="POST")
        # Scheme checked above: only http, never file:/ or a custom scheme.
        with urllib.request.urlopen(request, timeout=timeout) as response:  # nosec B310
            answer: dict[str, Any] = json.loads(response.read())
        return answer

    return invoke


def local_context() -> SimpleNamespace:
    """Return a stand-in for the Lambda context with the fields the app and Powertools read."""
    return SimpleNamespace(
        function_name="credit-default-scoring",
        memory_limit_in_mb=1024,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:credit-default-scoring",
        aws_request_id="52fdfc07-2182-154f-163f-5f0f9a621d72",
        get_remaining_time_in_millis=lambda: 10_000,
    )


def run(url: str, *, timeout: float) -> tuple[list[str], list[str]]:
    """Send every event, then the example clients; return the problems and the summary lines."""
    invoke = emulator(url, timeout=timeout)
    problems, rows, seconds = [], [], []
    for name, event in api_events().items():
        started = time.perf_counter()
        answer = invoke(event)
        seconds.append(time.perf_counter() - started)
        status = answer.get("statusCode")
        rows.append(f"| {name} | {status} | {seconds[-1] * 1000:.0f} |")
        if status != 200:
            problems.append(f"{name}: answered {status}: {str(answer.get('body'))[:300]}")
    problems += deploy_hook.compare(deploy_hook.in_process(local_context()), invoke)
    lines = [
        f"First invocation (cold start in the container): {seconds[0] * 1000:.0f} ms; "
        f"warm median {statistics.median(seconds[1:]) * 1000:.0f} ms over {len(seconds) - 1} events.",
        f"Example clients scored as this checkout scores them: {len(EXAMPLES)} compared.",
        "",
        "| event | status | ms |",
        "| --- | --- | --- |",
        *rows,
    ]
    return problems, lines


def main(argv: list[str] | None = None) -> int:
    """Check the image behind the emulator; print (and optionally append to a summary file) what was seen."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:9000", help="the emulator's base URL")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per invocation (default 60)")
    parser.add_argument("--summary", type=Path, help="append a Markdown report to this file")
    args = parser.parse_args(argv)
    problems, lines = run(args.url, timeout=args.timeout)
    lines = ["### The image under the runtime interface emulator", "", *lines]
    if problems:
        lines += ["", "**Problems:**", *(f"- {problem}" for problem in problems)]
    for line in lines:
        say(line)
    if args.summary:
        with args.summary.open("a") as summary:
            summary.write("\n".join(lines) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
