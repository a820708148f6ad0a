"""Measure what the credit strategy adds to serving: this tree against a baseline commit without it, interleaved.

python -m benchmarks.strategy [--baseline REV] [--rounds 5] [--calls 2000] [--out build/bench/strategy.json]
    [--write-docs]

The baseline's `functions/` and `model/` are exported with `git archive` into a temporary folder. Each round runs
benchmarks.serving's warm runner once in each tree (fresh processes, OMP_NUM_THREADS=1, the same REST v1 events
through the Mangum handler): /v1/predict p50 over --calls calls after 200 warm-up calls, and the median of 10
batches of 1,000 applicants. Rounds alternate the trees so that a busy machine slows both alike; the figures are
the medians over rounds. `--write-docs` rewrites the Strategy section of docs/benchmarks.md.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from io import BytesIO
from pathlib import Path
from typing import Any, Final

import numpy as np

from benchmarks.results import DOC, RESULTS_DIR, ROOT, cpu_name, say, shown, write_results, write_section
from benchmarks.serving import RUNNER, write_events
from benchmarks.stacks import environment

HEADING: Final = "## Strategy"
COMMAND: Final = ".venv/bin/python -m benchmarks.strategy --baseline main"


def export(rev: str, folder: Path) -> Path:
    """Export `functions/` and `model/` of a git revision into `folder`; return the folder."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", rev, "functions", "model"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def warm(tree: Path, single: Path, batch: Path, calls: int) -> tuple[float, float]:
    """Run the warm runner with `tree` first on the path; return /v1/predict p50 (ms) and the batch median (ms)."""
    args = [sys.executable, "-c", RUNNER, "warm", "functions.api.app", str(single), str(batch), str(calls)]
    env = {**environment(), "PYTHONPATH": str(tree), "AWS_LAMBDA_FUNCTION_NAME": "credit-default-benchmark"}
    process = subprocess.Popen(
        args, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    seen: deque[str] = deque(maxlen=30)
    result: dict[str, Any] | None = None
    for line in process.stdout or ():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
            break
        seen.append(line)
    process.communicate()
    if result is None:
        raise RuntimeError(f"the runner failed in {tree}:\n{''.join(seen)}")
    p50 = float(np.percentile(np.array(result["times"]) * 1000, 50))
    return p50, statistics.median(result["batch_times"]) * 1000


def measure(baseline: Path, single: Path, batch: Path, *, rounds: int, calls: int) -> dict[str, Any]:
    """Alternate the baseline and this tree for `rounds` rounds; return each tree's per-round figures."""
    figures: dict[str, Any] = {"baseline": [], "strategy": []}
    for number in range(1, rounds + 1):
        order = [("baseline", baseline), ("strategy", ROOT)]
        for name, tree in order if number % 2 else reversed(order):
            p50, batch_ms = warm(tree, single, batch, calls)
            figures[name].append({"p50_ms": p50, "batch_ms": batch_ms})
            say(f"round {number}/{rounds} {name}: p50 {p50:.3f} ms, batch of 1,000 {batch_ms:.1f} ms")
    return figures


def in_process() -> dict[str, float]:
    """Time, in this process, what the strategy adds per request against the model's own work: best of 5 runs of
    `serving.decide` + `Outcomes.records` and of `ScoringModel.assess` (with reasons), for 1 and 1,000 rows (µs)."""
    import timeit

    from functions.config import MODEL_DIR, get_settings
    from functions.scoring.model import load_model, to_matrix
    from functions.scoring.strategy.engine import DEFAULT_FILE, read_strategy
    from training.synthetic import generate_rows

    model = load_model(MODEL_DIR)
    strategy, settings = read_strategy(MODEL_DIR / DEFAULT_FILE, manifest=model.manifest), get_settings()
    figures = {}
    for rows, number in ((1, 2000), (1000, 20)):
        raw = to_matrix(generate_rows(rows, seed=11))
        decisions, references = model.assess(raw), [f"r#{i}" for i in range(rows)]

        calls: dict[str, Callable[[], object]] = {
            "strategy": partial(_decide, strategy, raw, decisions, references, settings),
            "assess": partial(model.assess, raw),
        }
        for name, call in calls.items():
            best = min(timeit.repeat(call, number=number, repeat=5)) / number
            figures[f"{name}_{rows}_us"] = best * 1e6
    return figures


def _decide(strategy: Any, raw: Any, decisions: Any, references: list[str], settings: Any) -> None:
    from functions.api.serving import decide

    decide(strategy, raw, decisions, references, settings=settings).records()


def summary(figures: dict[str, Any]) -> dict[str, float]:
    """Return the medians over rounds of each tree's p50 and batch time, and the strategy's added share."""
    median = {
        f"{name}_{key}": statistics.median(r[key] for r in runs)
        for name, runs in figures.items()
        for key in ("p50_ms", "batch_ms")
    }
    median["p50_added"] = median["strategy_p50_ms"] / median["baseline_p50_ms"] - 1
    median["batch_added"] = median["strategy_batch_ms"] / median["baseline_batch_ms"] - 1
    return median


def report(
    medians: dict[str, float], *, baseline: str, rounds: int, calls: int, load: float, parts: dict[str, float]
) -> str:
    """Render the Strategy section of docs/benchmarks.md."""

    def row(label: str, key: str, unit: str, digits: int) -> str:
        before, after, added = (
            medians[f"baseline_{key}"],
            medians[f"strategy_{key}"],
            medians[f"{key[:-3]}_added"],
        )
        ok = "met" if added < 0.10 else "**missed**"
        return (
            f"| {label} ({unit}) | {before:.{digits}f} | {after:.{digits}f} | {added:+.1%} | < +10 % | {ok} |"
        )

    return f"""{HEADING}

Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cpu_name()} ({os.cpu_count()} CPUs, load average {load:.1f} at the
start), Python {platform.python_version()}, with

```
{COMMAND}
```

What the credit strategy (decision, rule or band, line action, EL, arm: docs/strategy.md) adds to serving:
this tree against `{baseline}` without it, {rounds} interleaved rounds of the serving benchmark's warm runner
(the same REST v1 events through the Mangum handler, fresh processes, OMP_NUM_THREADS=1); medians over rounds.

| measure | without strategy | with strategy | added | target | |
| --- | --- | --- | --- | --- | --- |
{row(f"Warm /v1/predict p50, {calls} calls", "p50_ms", "ms", 3)}
{row("/v1/predict/batch, 1,000 applicants, median of 10", "batch_ms", "ms", 1)}

In process (no HTTP, best of 5): the strategy (`serving.decide` + `Outcomes.records`) takes
{parts.get("strategy_1_us", 0):.0f} µs for one client and {parts.get("strategy_1000_us", 0) / 1000:.1f} ms for 1,000, against
{parts.get("assess_1_us", 0):.0f} µs and {parts.get("assess_1000_us", 0) / 1000:.1f} ms for `ScoringModel.assess` with reasons.
A machine shared with other work makes the round-to-round spread larger than the strategy's share; rerun on a
quiet machine before comparing.
"""


def main(argv: list[str] | None = None) -> None:
    """Export the baseline, measure both trees interleaved, print the section; write figures (and the doc)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--baseline", default="main", help="git revision without the strategy (default: main)"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "strategy.json", help="figures (JSON)")
    parser.add_argument("--write-docs", action="store_true", help=f"also rewrite {HEADING} in {shown(DOC)}")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-strategy-") as tmp:
        folder = Path(tmp)
        baseline = export(args.baseline, folder / "baseline")
        single, batch = write_events(folder)
        figures = measure(baseline, single, batch, rounds=args.rounds, calls=args.calls)
    medians, parts = summary(figures), in_process()
    section = report(
        medians, baseline=args.baseline, rounds=args.rounds, calls=args.calls, load=load, parts=parts
    )
    say(section, result=True)
    record = {
        "load_average": load,
        "baseline": args.baseline,
        "rounds": figures,
        "medians": medians,
        "in_process": parts,
    }
    say(f"wrote {shown(write_results(args.out.stem, record, folder=args.out.parent))}")
    if args.write_docs:
        write_section(HEADING, section)
        say(f"wrote {shown(DOC)}")


if __name__ == "__main__":
    main()
