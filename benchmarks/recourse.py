"""Time "what would change the decision" per client, in process, on every real test-split client not approved.

python -m benchmarks.recourse --data FILE [--write-docs]

For each client the shipped strategy refers or declines, `find_recourse` (functions/scoring/adverse/recourse.py) runs once
after one warm-up call; the wall time of each call counts. Also counted: how many get a change, how many of those
re-score approved below the cut-off (validity), and the direction chosen. One core (OMP_NUM_THREADS=1). Figures
to --out (git-ignored); `--write-docs` also rewrites the recourse section of docs/benchmarks.md.
"""

import argparse
import os
import platform
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np

from benchmarks.results import DOC, RESULTS_DIR, cpu_name, say, shown, write_results, write_section

HEADING: Final = "## What would change the decision (recourse)"
COMMAND: Final = (
    "OMP_NUM_THREADS=1 CREDIT_DATA=../shared/data/default_of_credit_card_clients.csv "
    ".venv/bin/python -m benchmarks.recourse"
)
TARGET_MS: Final = 50.0  # p99 per client in process (issue 19)


def measure(data: Path) -> dict[str, Any]:
    """Run recourse on every test client not approved; return times (ms) and counts."""
    from functions.config import MODEL_DIR
    from functions.scoring.adverse.recourse import find_recourse
    from functions.scoring.model import load_model
    from functions.scoring.strategy.engine import DEFAULT_FILE, read_strategy
    from training.data import load_dataset, split_dataset

    model = load_model(MODEL_DIR)
    strategy = read_strategy(MODEL_DIR / DEFAULT_FILE, manifest=model.manifest)
    test = split_dataset(load_dataset(data)).X_test
    refused = np.flatnonzero(strategy.apply(test, model.probabilities(test)).decision != "approve")
    find_recourse(model, strategy, test[refused[0]])  # warm-up: caches and first-call costs
    times, directions, valid = [], Counter[str](), 0
    for row in refused.tolist():
        started = time.perf_counter()
        found = find_recourse(model, strategy, test[row])
        times.append((time.perf_counter() - started) * 1000)
        if found.proposed is not None and found.reached_pd is not None:
            directions[f"{found.direction}{' (brought current)' if found.brings_current else ''}"] += 1
            valid += found.reached_pd < found.approve_below
    ms = np.array(times)
    return {
        "clients": int(refused.size),
        "test_rows": len(test),
        "found": int(sum(directions.values())),
        "valid": int(valid),
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
        "directions": dict(directions.most_common()),
    }


def report(figures: dict[str, Any], *, load: float) -> str:
    """Render the recourse section of docs/benchmarks.md."""
    met = "met" if figures["p99_ms"] < TARGET_MS else "**missed**"
    chosen = "\n".join(f"| {name} | {count:,} |" for name, count in figures["directions"].items())
    return f"""{HEADING}

Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cpu_name()} ({os.cpu_count()} CPUs, load average {load:.1f} at the
start), Python {platform.python_version()}, one core, with

```
{COMMAND}
```

`find_recourse` (docs/reasons.md) on each of the {figures["clients"]:,} test-split clients ({figures["test_rows"]:,} rows)
the shipped strategy refers or declines, in process, one call each after a warm-up:

| measure | value | target | |
| --- | --- | --- | --- |
| p50 per client (ms) | {figures["p50_ms"]:.2f} | | |
| p99 per client (ms) | {figures["p99_ms"]:.2f} | < {TARGET_MS:.0f} | {met} |
| slowest client (ms) | {figures["max_ms"]:.2f} | | |
| clients with a change found | {figures["found"]:,} of {figures["clients"]:,} | | |
| changes that re-score approved below the cut-off | {figures["valid"]:,} of {figures["found"]:,} | 100 % | |

| change chosen | clients |
| --- | --- |
{chosen}
"""


def main(argv: list[str] | None = None) -> None:
    """Measure, print the section, write the figures (and the doc section with --write-docs)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("CREDIT_DATA"), help="the UCI file")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "recourse.json", help="figures (JSON)")
    parser.add_argument("--write-docs", action="store_true", help=f"also rewrite {HEADING} in {shown(DOC)}")
    args = parser.parse_args(argv)
    if args.data is None:
        parser.error("no data: pass --data FILE or set CREDIT_DATA")
    load = os.getloadavg()[0]
    figures = measure(args.data)
    section = report(figures, load=load)
    say(section, result=True)
    write_results("recourse", {"load_average": load, **figures}, folder=args.out.parent)
    if args.write_docs:
        write_section(HEADING, section, DOC)


if __name__ == "__main__":
    main()
