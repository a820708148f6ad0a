"""Measure this handler against a reference-style stack it builds, side by side.

python -m benchmarks.serving [--cold-runs 10] [--calls 2000] [--out build/bench/serving.json] [--write-docs]

Figures go to `--out` (git-ignored); `--write-docs` also rewrites the Serving section of docs/benchmarks.md.

The reference stack (benchmarks/reference_app.py) serves the RandomForest of benchmarks/reference_model.py
with a pandas DataFrame per request, behind the same FastAPI/Mangum handler shape and request models.
Both stacks answer the same REST v1 API Gateway event, in-process through their handler (no HTTP).

- cold start: fresh Python process -> import handler -> load (and for ours verify) the model -> first
  /v1/predict response through the handler; wall time seen by the parent, median of --cold-runs.
- warm /v1/predict through the handler: p50 and p99 over --calls calls after 200 warm-up calls.
- /v1/predict/batch with 1,000 applicants (ours with reasons): median of 10 calls.
- peak RSS of the process after the first response.
Each stack runs in its own processes with OMP_NUM_THREADS=1 and its log and metrics lines going to a pipe.
"""

import argparse
import base64
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np

from benchmarks.results import DOC, RESULTS_DIR, ROOT, cpu_name, say, shown, write_results, write_section
from benchmarks.stacks import build_reference, environment
from functions.scoring.contract import MAX_BATCH
from training.synthetic import generate_rows

HEADING: Final = "## Serving"
COMMAND: Final = (
    "CREDIT_DATA=../shared/data/default_of_credit_card_clients.csv .venv/bin/python -m benchmarks.serving"
)

# Runs in a fresh process: argv = mode, handler module, single event, batch event. Warm calls are timed in wall
# time and in the process's CPU time (less disturbed by other work on a shared machine); the answers' sha256 let
# two trees be compared byte for byte.
RUNNER: Final = """
import hashlib, json, sys, time
from importlib import import_module
mode, module, single_path, batch_path = sys.argv[1:5]
handler = import_module(module).handler
single = json.load(open(single_path))
response = handler(single, None)
assert response["statusCode"] == 200, response
# VmHWM, not ru_maxrss: the latter keeps the benchmark parent's peak across fork and exec.
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
result = {"rss_mb": int(status["VmHWM"].split()[0]) / 1024}
def timed(event, calls):
    walls, cpus = [], []
    for _ in range(calls):
        started, cpu = time.perf_counter(), time.process_time()
        handler(event, None)
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return walls, cpus
if mode == "warm":
    timed(single, 200)
    times, cpu_times = timed(single, int(sys.argv[5]))
    batch = json.load(open(batch_path))
    answer = handler(batch, None)
    assert answer["statusCode"] == 200, answer["body"][:500]
    assert len(json.loads(answer["body"])["predictions"]) == 1000
    batch_times, batch_cpu_times = timed(batch, 10)
    digests = [hashlib.sha256(a["body"].encode()).hexdigest() for a in (response, answer)]
    result.update(
        times=times, cpu_times=cpu_times, batch_times=batch_times, batch_cpu_times=batch_cpu_times, sha256=digests
    )
sys.stdout.write("RESULT " + json.dumps(result) + "\\n")
sys.stdout.flush()
"""


@dataclass(frozen=True)
class Stack:
    """A handler module and the environment it needs."""

    name: str
    module: str
    env: dict[str, str]


@dataclass(frozen=True)
class Figures:
    """What one stack measured."""

    cold_median_s: float
    cold_runs_s: list[float]
    warm_p50_ms: float
    warm_p99_ms: float
    batch_median_ms: float
    rss_mb: float


def write_events(folder: Path) -> tuple[Path, Path]:
    """Write the REST v1 single event (as generated) and a batch event with 1,000 generated applicants."""
    single = folder / "single.json"
    single.write_text((ROOT / "events" / "rest-predict.json").read_text())
    batch_event = json.loads((ROOT / "events" / "rest-predict-batch.json").read_text())
    body = json.dumps({"applicants": generate_rows(MAX_BATCH, seed=11)}).encode()
    batch_event["body"] = base64.b64encode(body).decode()
    batch_event["isBase64Encoded"] = True
    batch = folder / "batch.json"
    batch.write_text(json.dumps(batch_event))
    return single, batch


def run(stack: Stack, mode: str, single: Path, batch: Path, calls: int) -> tuple[float, dict[str, Any]]:
    """Run the runner in a fresh process; return seconds until its result line and the result."""
    args = [sys.executable, "-c", RUNNER, mode, stack.module, str(single), str(batch), str(calls)]
    started = time.perf_counter()
    # The Lambda runtime sets AWS_LAMBDA_FUNCTION_NAME; with it our app scores a batch inline, as deployed.
    env = {**stack.env, "AWS_LAMBDA_FUNCTION_NAME": "credit-default-benchmark"}
    process = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    seen: deque[str] = deque(maxlen=30)  # stderr joins stdout, so neither pipe can fill up and block
    for line in process.stdout or ():
        if line.startswith("RESULT "):
            elapsed = time.perf_counter() - started
            result: dict[str, Any] = json.loads(line[len("RESULT ") :])
            break
        seen.append(line)
    else:
        raise RuntimeError(f"{stack.name} failed:\n{''.join(seen)}")
    process.communicate()
    return elapsed, result


def measure(stack: Stack, single: Path, batch: Path, *, cold_runs: int, calls: int) -> Figures:
    """Measure one stack: cold starts, then warm single and batch calls in one more process."""
    say(f"{stack.name}: {cold_runs} cold starts")
    colds = [run(stack, "cold", single, batch, calls)[0] for _ in range(cold_runs)]
    say(f"{stack.name}: {calls} warm calls and 10 batches of {MAX_BATCH}")
    _, result = run(stack, "warm", single, batch, calls)
    times = np.array(result["times"]) * 1000
    return Figures(
        cold_median_s=statistics.median(colds),
        cold_runs_s=colds,
        warm_p50_ms=float(np.percentile(times, 50)),
        warm_p99_ms=float(np.percentile(times, 99)),
        batch_median_ms=statistics.median(result["batch_times"]) * 1000,
        rss_mb=result["rss_mb"],
    )


def scoring_time_ms() -> float:
    """Time the shipped model's scoring of a full batch with reasons, without HTTP: median of 5."""
    from functions.config import MODEL_DIR
    from functions.scoring.model import load_model, to_matrix

    model = load_model(MODEL_DIR)
    raw = to_matrix(generate_rows(MAX_BATCH, seed=11))
    times = []
    for _ in range(5):
        started = time.perf_counter()
        model.assess(raw)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def verdict(ok: bool) -> str:
    """Mark a target met or missed."""
    return "met" if ok else "**missed**"


def rows(
    ours: Figures, ref: Figures, *, scoring_ms: float, calls: int, cold_runs: int
) -> list[tuple[str, ...]]:
    """Tabulate both stacks' figures against the targets: measure, ours, reference, target, verdict."""
    cold_ratio = ours.cold_median_s / ref.cold_median_s
    warm_speedup = ref.warm_p50_ms / ours.warm_p50_ms
    return [
        (
            f"Cold start, median of {cold_runs} (s)",
            f"{ours.cold_median_s:.3f}",
            f"{ref.cold_median_s:.3f}",
            f"<= 0.7 s and <= 0.35 x reference ({cold_ratio:.2f} x)",
            verdict(ours.cold_median_s <= 0.7 and cold_ratio <= 0.35),
        ),
        (
            f"Warm /v1/predict p50 ({calls} calls, ms)",
            f"{ours.warm_p50_ms:.2f}",
            f"{ref.warm_p50_ms:.2f}",
            f"<= 2 ms and >= 5 x faster ({warm_speedup:.1f} x)",
            verdict(ours.warm_p50_ms <= 2 and warm_speedup >= 5),
        ),
        (
            f"Warm /v1/predict p99 ({calls} calls, ms)",
            f"{ours.warm_p99_ms:.2f}",
            f"{ref.warm_p99_ms:.2f}",
            "<= 5 ms",
            verdict(ours.warm_p99_ms <= 5),
        ),
        (
            f"/v1/predict/batch, {MAX_BATCH} applicants, median of 10 (ms)",
            f"{ours.batch_median_ms:.1f}",
            f"{ref.batch_median_ms:.1f}",
            "<= 150 ms (ours with reasons; reference without)",
            verdict(ours.batch_median_ms <= 150),
        ),
        (
            "... of which `ScoringModel.assess` with reasons, in-process (ms)",
            f"{scoring_ms:.1f}",
            "-",
            "-",
            "-",
        ),
        ("Peak RSS after the first response (MB)", f"{ours.rss_mb:.0f}", f"{ref.rss_mb:.0f}", "-", "-"),
    ]


def report(
    ours: Figures,
    ref: Figures,
    *,
    reference_note: str,
    scoring_ms: float,
    load: float,
    calls: int,
    cold_runs: int,
) -> str:
    """Render the serving section of docs/benchmarks.md."""
    measured = rows(ours, ref, scoring_ms=scoring_ms, calls=calls, cold_runs=cold_runs)
    table = "\n".join(f"| {' | '.join(row)} |" for row in measured)
    colds = ", ".join(f"{s:.3f}" for s in ours.cold_runs_s)
    ref_colds = ", ".join(f"{s:.3f}" for s in ref.cold_runs_s)
    return f"""{HEADING}

Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cpu_name()} ({os.cpu_count()} CPUs, load average {load:.1f} at the
start), Python {platform.python_version()}, with

```
{COMMAND}
```

Both stacks answer the same REST v1 event (`events/rest-predict.json`, stage Prod, base64 body) through
their Mangum `handler`, each in fresh processes with `OMP_NUM_THREADS=1`; ours logs a JSON line and an EMF
line per request (to a pipe), as deployed. Reference: {reference_note}, a pandas DataFrame per request,
the same FastAPI request models. Benchmarks are not tests: rerun on your machine before comparing.

| measure | this API | reference stack | target | |
| --- | --- | --- | --- | --- |
{table}

Cold starts (s), this API: {colds}; reference: {ref_colds}.
"""


def main(argv: list[str] | None = None) -> None:
    """Build the reference stack, measure both, print the section; write the figures (and the doc if asked)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cold-runs", type=int, default=10)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "serving.json", help="figures (JSON)")
    parser.add_argument("--write-docs", action="store_true", help=f"also rewrite {HEADING} in {shown(DOC)}")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]  # other work on the machine skews every figure; the doc says how busy it was
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        folder = Path(tmp)
        reference_note = build_reference(folder)
        single, batch = write_events(folder)
        ours = Stack("this API", "functions.api.app", environment())
        model_path = str(folder / "model.joblib")
        reference = Stack("reference", "benchmarks.reference_app", environment(REFERENCE_MODEL=model_path))
        kwargs = {"cold_runs": args.cold_runs, "calls": args.calls}
        figures = [measure(stack, single, batch, **kwargs) for stack in (ours, reference)]
    scoring_ms = scoring_time_ms()
    section = report(*figures, reference_note=reference_note, scoring_ms=scoring_ms, load=load, **kwargs)
    say(section, result=True)
    record = {
        "load_average": load,
        "reference": reference_note,
        "scoring_ms": scoring_ms,
        **kwargs,
        "this_api": asdict(figures[0]),
        "reference_stack": asdict(figures[1]),
    }
    say(f"wrote {shown(write_results(args.out.stem, record, folder=args.out.parent))}")
    if args.write_docs:
        write_section(HEADING, section)
        say(f"wrote {shown(DOC)}")


if __name__ == "__main__":
    main()
