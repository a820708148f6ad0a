"""Load on loopback: this API and the reference-style stack under uvicorn, side by side in one run.

python -m benchmarks.load [--users 20] [--seconds 60] [--bursts 5] [--burst-size 400] [--gap 3]
                          [--out build/bench/load.json] [--write-docs]

Each stack is served by one uvicorn worker on a free 127.0.0.1 port (the reference stack is the one
`benchmarks/stacks.py` builds: a joblib RandomForest with a DataFrame per request) and must score one
client through `ui.client` before the load starts. Then, one stack after the other: `--users` concurrent
users POST /v1/predict back to back for `--seconds`, then `--bursts` bursts of `--burst-size` requests
from the same users separated by `--gap` idle seconds. Every phase is bounded in requests and time. A
request counts as an error unless it gets 200 with a PD. Servers are stopped by PID. Prints p50/p95/p99
latency and requests/s per phase and stack as a Markdown table; writes the figures to `--out`
(git-ignored) and, with `--write-docs`, the Load section of docs/benchmarks.md.
"""

import argparse
import asyncio
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from benchmarks.results import DOC, RESULTS_DIR, say, shown, write_results, write_section
from benchmarks.stacks import build_reference, environment
from scripts.local import free_port, start_server, stop
from training.synthetic import TYPICAL, generate_rows
from ui.client import ApiClient, Endpoint

HEADING: Final = "## Load on loopback"

MAX_REQUESTS: Final = 500_000  # a hard bound on one phase, whatever the machine's speed
COMMAND: Final = ".venv/bin/python -m benchmarks.load"


@dataclass(frozen=True)
class Phase:
    """What one load phase measured on one stack."""

    stack: str
    phase: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    def figures(self) -> dict[str, Any]:
        """Summarise the phase: requests, errors, requests/s and p50/p95/p99 latency (ms)."""
        p50, p95, p99 = np.percentile(self.latencies_ms, [50, 95, 99]) if self.latencies_ms else (0, 0, 0)
        rate = self.requests / self.seconds if self.seconds else 0.0
        return {
            "stack": self.stack,
            "phase": self.phase,
            "requests": self.requests,
            "errors": self.errors,
            "requests_per_s": rate,
            "p50_ms": float(p50),
            "p95_ms": float(p95),
            "p99_ms": float(p99),
        }

    def row(self) -> str:
        """Render the phase as a Markdown table row."""
        f = self.figures()
        return (
            f"| {self.stack} | {self.phase} | {self.requests:,} | {self.errors} | {f['requests_per_s']:,.0f} | "
            f"{f['p50_ms']:.1f} | {f['p95_ms']:.1f} | {f['p99_ms']:.1f} |"
        )


class Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough HTTP for this load (the generator must
    cost far less CPU than the server it measures: httpx's pool cost ~1 ms per request here)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """Send one POST and return the status and body; reconnect if the server closed the connection."""
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        if self.reader is None:
            raise ConnectionError("no connection")
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return int(status_line.split()[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        """Close the connection."""
        if self.writer is not None:
            self.writer.close()


async def user(
    connection: Connection, bodies: list[bytes], *, until: float, quota: list[int]
) -> tuple[list[float], int]:
    """Send requests back to back until the deadline or the shared quota runs out; return timings, errors."""
    latencies: list[float] = []
    errors = 0
    for body in itertools.cycle(bodies):
        if time.perf_counter() >= until or quota[0] <= 0:
            break
        quota[0] -= 1
        started = time.perf_counter()
        try:
            status, answer = await asyncio.wait_for(connection.post("/v1/predict", body), timeout=10.0)
            ok = status == 200 and 0 <= json.loads(answer)["probability_of_default"] <= 1
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, KeyError, IndexError):
            ok = False
            connection.close()
        latencies.append((time.perf_counter() - started) * 1000)
        errors += not ok
    return latencies, errors


async def drive(url: str, stack: str, args: argparse.Namespace) -> list[Phase]:
    """Run the steady phase and the bursts against one server."""
    bodies = [json.dumps(row).encode() for row in generate_rows(500, seed=5)]
    host, port = url.removeprefix("http://").split(":")
    connections = [Connection(host, int(port)) for _ in range(args.users)]
    plan = [("steady", args.seconds, MAX_REQUESTS, 0.0)] + [
        (f"burst {i + 1}", 30.0, args.burst_size, args.gap) for i in range(args.bursts)
    ]
    phases = []
    try:
        for name, seconds, requests, idle_before in plan:
            await asyncio.sleep(idle_before)
            quota = [requests]
            started = time.perf_counter()
            until = started + seconds
            results = await asyncio.gather(
                *(
                    user(connection, bodies[i :: args.users], until=until, quota=quota)
                    for i, connection in enumerate(connections)
                )
            )
            elapsed = time.perf_counter() - started
            latencies = [ms for timings, _ in results for ms in timings]
            phases.append(Phase(stack, name, len(latencies), sum(e for _, e in results), elapsed, latencies))
            say(phases[-1].row())
    finally:
        for connection in connections:
            connection.close()
    return phases


def serve(module: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """Start one uvicorn worker for `module:app` on a free loopback port; return it and its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "uvicorn", f"{module}:app", "--host", "127.0.0.1", "--port", str(port)]
    args += ["--log-level", "warning", "--no-access-log"]
    return start_server(args, f"{url}/openapi.json", env=env), url


def check_answers(url: str, stack: str) -> None:
    """Score one client through ui.client before loading a stack; raises ApiError or RuntimeError."""
    answer = ApiClient(Endpoint(url)).call("POST", "/v1/predict", body=TYPICAL, timeout=30.0)
    if not 0 <= answer.get("probability_of_default", -1) <= 1:
        raise RuntimeError(f"{stack} answered /v1/predict without a PD: {answer!r}")


def totals(phases: list[Phase]) -> list[Phase]:
    """Keep the steady phase of each stack and total its bursts into one 'all bursts' phase."""
    kept = []
    for stack in dict.fromkeys(p.stack for p in phases):
        own = [p for p in phases if p.stack == stack]
        bursts = [p for p in own if p.phase.startswith("burst")]
        total = Phase(
            stack,
            "all bursts",
            sum(p.requests for p in bursts),
            sum(p.errors for p in bursts),
            sum(p.seconds for p in bursts),
            [ms for p in bursts for ms in p.latencies_ms],
        )
        kept += [p for p in own if not p.phase.startswith("burst")] + [total]
    return kept


def summary(phases: list[Phase]) -> str:
    """Render the phases (steady and all bursts per stack) as a Markdown table."""
    header = "| stack | phase | requests | errors | requests/s | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|---|---|---|"
    return "\n".join([header, *(p.row() for p in phases)])


def load_stacks(args: argparse.Namespace) -> tuple[list[Phase], str]:
    """Build the reference stack, serve each stack in turn and load it; return the phases and the note."""
    phases: list[Phase] = []
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        note = build_reference(Path(tmp))
        stacks = [
            ("this API", "functions.api.app", environment(POWERTOOLS_METRICS_DISABLED="false")),
            (
                "reference",
                "benchmarks.reference_app",
                environment(REFERENCE_MODEL=str(Path(tmp) / "model.joblib")),
            ),
        ]
        for name, module, env in stacks:
            process, url = serve(module, env)
            try:
                say(f"{name}: {module} on {url} (pid {process.pid})")
                check_answers(url, name)
                phases += asyncio.run(drive(url, name, args))
            finally:
                stop(process)
    return phases, note


def main(argv: list[str] | None = None) -> None:
    """Serve and load both stacks, print the table, write the figures (and the doc if asked)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--bursts", type=int, default=5)
    parser.add_argument("--burst-size", type=int, default=400)
    parser.add_argument("--gap", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "load.json", help="figures (JSON)")
    parser.add_argument("--write-docs", action="store_true", help=f"also rewrite {HEADING} in {shown(DOC)}")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    phases, note = load_stacks(args)
    kept = totals(phases)
    errors = sum(p.errors for p in phases)
    steady = {p.stack: p for p in phases if p.phase == "steady"}
    ratio = (steady["this API"].requests / steady["this API"].seconds) / (
        steady["reference"].requests / steady["reference"].seconds
    )
    setup = (
        f"`{COMMAND}` ({args.users} users, {args.seconds:.0f} s steady, {args.bursts} bursts of "
        f"{args.burst_size} with {args.gap:.0f} s gaps; one uvicorn worker each; {os.cpu_count()} CPUs, "
        f"load {load:.1f} at start; reference: {note})"
    )
    section = (
        f"{setup}\n\n{summary(kept)}\n\nErrors: {errors}. Steady requests/s: {ratio:.1f} x the reference."
    )
    say(section, result=True)
    record = {
        "setup": setup,
        "load_average": load,
        "errors": errors,
        "steady_ratio": ratio,
        "phases": [p.figures() for p in phases],
        "all_bursts": [p.figures() for p in kept if p.phase == "all bursts"],
    }
    say(f"wrote {shown(write_results(args.out.stem, record, folder=args.out.parent))}")
    if args.write_docs:
        write_section(HEADING, f"{HEADING}\n\n{section}\n")
        say(f"wrote {shown(DOC)}")
    if errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
