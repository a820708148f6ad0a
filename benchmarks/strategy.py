"""Measure what the credit strategy adds to serving: this tree without and with it, and against a git revision.

python -m benchmarks.strategy [--before REV] [--rounds 7] [--calls 2000] [--out build/bench/strategy.json]
    [--write-docs]

Each round runs benchmarks.serving's warm runner once per variant (fresh processes, OMP_NUM_THREADS=1, the same REST
v1 events through the Mangum handler): /v1/predict p50 over --calls calls after 200 warm-up calls, and the median
of 10 batches of 1,000 applicants, in wall and in CPU time. The variants:
- without: this tree with the strategy switched off in the runner (`WITHOUT`: no arm, no engine, answers without the
  strategy's fields), so only the strategy differs;
- with: this tree as served;
- before: `--before REV`'s `functions/` and `model/`, exported with `git archive` into a temporary folder.
Rounds rotate the variants' order so that a busy machine slows each alike; the figures are the medians over rounds,
and the shares also from each variant's best round. Then one process answers each event with and without the
strategy in turn (`ALTERNATING`), the share least disturbed by other work. `--write-docs` rewrites the Strategy section of
docs/benchmarks.md only.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections import deque
from io import BytesIO
from pathlib import Path
from typing import Any, Final

import numpy as np

from benchmarks.results import DOC, RESULTS_DIR, ROOT, say, shown, write_results, write_section
from benchmarks.serving import RUNNER, write_events
from benchmarks.stacks import environment
from benchmarks.strategy_report import HEADING, report

MEASURES: Final = ("p50_ms", "batch_ms", "p50_cpu_ms", "batch_cpu_ms")
# The switch of the `without` variant, run before the runner: the serving path's three strategy steps do nothing.
WITHOUT: Final = """
import functions.api.app as served
served.arm_references = lambda references, **flags: []
served.decide = lambda *args, **flags: None
served.strategy_columns = lambda outcomes: {}
"""
SWITCHED: Final = ("arm_references", "decide", "strategy_columns")
BATCH_PAIRS: Final = 30
# Runs in a fresh process: argv = single event, batch event, calls, WITHOUT. Every pair of calls answers the event
# with the strategy and without it (in alternating order), so both meet the machine's load at the same moments.
ALTERNATING: Final = f"""
import json, sys, time
import functions.api.app as served
switched = {SWITCHED!r}
on = {{name: getattr(served, name) for name in switched}}
exec(sys.argv[4])
off = {{name: getattr(served, name) for name in switched}}
result = {{}}
for kind, path, pairs in (("p50", sys.argv[1], int(sys.argv[3])), ("batch", sys.argv[2], {BATCH_PAIRS})):
    event = json.load(open(path))
    times = {{"with": [], "without": []}}
    for number in range(pairs + 10):
        for variant in ("with", "without") if number % 2 else ("without", "with"):
            vars(served).update(on if variant == "with" else off)
            started = time.process_time()
            assert served.handler(event, None)["statusCode"] == 200
            if number >= 10:
                times[variant].append(time.process_time() - started)
    result[kind] = times
sys.stdout.write("RESULT " + json.dumps(result) + "\\n")
"""


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


def run_code(tree: Path, code: str, *args: str) -> dict[str, Any]:
    """Run `code` with `args` in a fresh process in `tree` (the benchmark's clean environment); return its result."""
    env = {**environment(), "PYTHONPATH": str(tree), "AWS_LAMBDA_FUNCTION_NAME": "credit-default-benchmark"}
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=tree,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
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
    return result


def warm(tree: Path, single: Path, batch: Path, calls: int, *, switch: str = "") -> dict[str, Any]:
    """Run the warm runner in `tree` (after `switch`, code run first); return its p50 and batch medians (ms)."""
    result = run_code(tree, switch + RUNNER, "warm", "functions.api.app", str(single), str(batch), str(calls))
    return {
        "p50_ms": float(np.percentile(np.array(result["times"]) * 1000, 50)),
        "batch_ms": statistics.median(result["batch_times"]) * 1000,
        "p50_cpu_ms": float(np.percentile(np.array(result["cpu_times"]) * 1000, 50)),
        "batch_cpu_ms": statistics.median(result["batch_cpu_times"]) * 1000,
        "sha256": result["sha256"],
    }


def alternating(single: Path, batch: Path, calls: int) -> dict[str, float]:
    """Answer each event in one process with the strategy on and off in turn; return the CPU time it adds (share)."""
    result = run_code(ROOT, ALTERNATING, str(single), str(batch), str(calls), WITHOUT)
    return {
        f"{kind}_cpu_alternating": statistics.median(times["with"]) / statistics.median(times["without"]) - 1
        for kind, times in result.items()
    }


def rotated(names: list[str], number: int) -> list[str]:
    """Return the variants in round `number`'s order: the list rotated by the round's number."""
    shift = number % len(names)
    return names[shift:] + names[:shift]


def measure(
    variants: dict[str, tuple[Path, str]], single: Path, batch: Path, *, rounds: int, calls: int
) -> dict[str, list[dict[str, Any]]]:
    """Run every variant (tree, switch) once a round for `rounds` rounds, in rotated order; return each one's rounds."""
    figures: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    for number in range(rounds):
        for name in rotated(list(variants), number):
            tree, switch = variants[name]
            run = warm(tree, single, batch, calls, switch=switch)
            figures[name].append(run)
            say(
                f"round {number + 1}/{rounds} {name}: p50 {run['p50_ms']:.3f} ms "
                f"(CPU {run['p50_cpu_ms']:.3f}), batch of 1,000 {run['batch_ms']:.1f} ms (CPU {run['batch_cpu_ms']:.1f})"
            )
    return figures


def summary(figures: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    """Return each variant's medians and best rounds, and the shares `with` adds to `without` (and to `before`)."""
    figured: dict[str, float] = {}
    for name, runs in figures.items():
        for key in MEASURES:
            figured[f"{name}_{key}"] = statistics.median(run[key] for run in runs)
            figured[f"{name}_best_{key}"] = min(run[key] for run in runs)
    for other in ("without", "before"):
        if other not in figures:
            continue
        for key in MEASURES:
            figured[f"{key}_vs_{other}"] = figured[f"with_{key}"] / figured[f"{other}_{key}"] - 1
            figured[f"best_{key}_vs_{other}"] = (
                figured[f"with_best_{key}"] / figured[f"{other}_best_{key}"] - 1
            )
    return figured


def identical(figures: dict[str, list[dict[str, Any]]]) -> bool:
    """Say whether every run of `with` and `before` gave the same answers' bytes (sha256 of single and batch)."""
    digests = {tuple(run["sha256"]) for name in ("with", "before") for run in figures.get(name, [])}
    return len(digests) == 1


def main(argv: list[str] | None = None) -> None:
    """Measure the variants interleaved, print the section; write the figures (and the doc if asked)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--before", help="also measure this git revision (with its own strategy), e.g. f24d611"
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "strategy.json", help="figures (JSON)")
    parser.add_argument("--write-docs", action="store_true", help=f"also rewrite {HEADING} in {shown(DOC)}")
    args = parser.parse_args(argv)
    started = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-strategy-") as tmp:
        folder = Path(tmp)
        variants = {"without": (ROOT, WITHOUT), "with": (ROOT, "")}
        if args.before:
            variants["before"] = (export(args.before, folder / "before"), "")
        single, batch = write_events(folder)
        figures = measure(variants, single, batch, rounds=args.rounds, calls=args.calls)
        paired = alternating(single, batch, args.calls)
    load = (started, os.getloadavg()[0])
    figured = {**summary(figures), **paired}
    same = identical(figures) if args.before else None
    section = report(
        figured,
        before=args.before,
        same_answers=same,
        rounds=args.rounds,
        calls=args.calls,
        load=load,
        pairs=BATCH_PAIRS,
    )
    say(section, result=True)
    record = {
        "load_average": load,
        "before": args.before,
        "rounds": figures,
        "figures": figured,
    }
    say(f"wrote {shown(write_results(args.out.stem, record, folder=args.out.parent))}")
    if args.write_docs:
        write_section(HEADING, section)
        say(f"wrote {shown(DOC)}")


if __name__ == "__main__":
    main()
