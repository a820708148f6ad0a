"""Time `ScoringModel.assess` (PD with worded reasons, in process, one core) on real rows, tree against tree.

python -m benchmarks.assess --data FILE [--runs 5] [DIR ... | --names LABEL ... DIR ...] [--write-docs]

Each DIR is a source tree of this project (default: this one), e.g. a `git worktree` or `git archive` export of
an earlier commit: its own `functions/` and `model/` are imported by a fresh interpreter started in it. The rows
are drawn with replacement from the real file (seed 0, `--rows`, default 100,000) and assessed in chunks of
`--chunk` (10,000) after one warm-up chunk; a run counts rows per second of the process's CPU time in `assess`
alone. Runs alternate the trees (before, after, before, ...), so a load that drifts hits them alike. Every run
also hashes the answers (PD bits, decision, points, grade, reasons' codes, texts, impact bits, statements):
equal digests say the trees answer bit for bit alike. One core: OMP_NUM_THREADS=1 in every run. Figures to
--out (git-ignored); `--write-docs` also rewrites the section of docs/benchmarks.md.
"""

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from benchmarks.results import DOC, RESULTS_DIR, ROOT, cpu_name, say, shown, write_results, write_section

HEADING: Final = "## PD with worded reasons in process"
TARGET_ROWS_PER_S: Final = 40_000.0  # issue 17, item 6: assess on chunks of 10,000 real rows, one core
ONE_CORE: Final = dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"), "1")
# Runs inside the tree measured, so it imports only what every version of the tree has.
WORKER: Final = """
import hashlib, json, sys, time
import numpy as np
from functions.config import MODEL_DIR
from functions.scoring.model import load_model

rows, chunk = np.load(sys.argv[1]), int(sys.argv[2])
model = load_model(MODEL_DIR)
model.assess(rows[:chunk])  # warm-up: caches and first-call costs
spent, digest = 0.0, hashlib.sha256()
for start in range(0, rows.shape[0], chunk):
    began = time.process_time()
    answers = model.assess(rows[start : start + chunk])
    spent += time.process_time() - began
    for d in answers:  # outside the timed call
        reasons = tuple((r.code, r.text, r.impact.hex(), r.statement) for r in d.reasons)
        fields = (d.probability_of_default.hex(), d.predicted_default, d.threshold.hex(), d.score, d.risk_grade)
        digest.update(repr((fields, reasons)).encode())
    del answers
print(json.dumps({"cpu_seconds": spent, "rows": int(rows.shape[0]), "digest": digest.hexdigest()}))
"""


def draw_rows(data: Path, rows: int, *, seed: int = 0) -> npt.NDArray[np.float64]:
    """Return `rows` raw input rows (rows x 23) drawn with replacement from the real file."""
    from functions.scoring.contract import FEATURE_NAMES
    from training.data import load_dataset

    table = load_dataset(data).frame[list(FEATURE_NAMES)].to_numpy(dtype=np.float64)
    drawn: npt.NDArray[np.float64] = table[np.random.default_rng(seed).integers(0, table.shape[0], rows)]
    return drawn


def run_once(tree: Path, rows_file: Path, chunk: int) -> dict[str, Any]:
    """Assess the rows in a fresh interpreter inside `tree`; return its CPU seconds, rows and digest."""
    env = {**os.environ, **ONE_CORE, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(rows_file), str(chunk)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{tree}: the run failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(trees: dict[str, Path], raw: npt.NDArray[np.float64], *, runs: int, chunk: int) -> dict[str, Any]:
    """Alternate the trees `runs` times each; return per tree the rows/s of every run and the digests."""
    figures: dict[str, Any] = {name: {"rows_per_s": [], "digests": []} for name in trees}
    with tempfile.TemporaryDirectory() as folder:
        rows_file = Path(folder) / "rows.npy"
        np.save(rows_file, raw)
        for run in range(runs):
            for name, tree in trees.items():
                result = run_once(tree, rows_file, chunk)
                figures[name]["rows_per_s"].append(result["rows"] / result["cpu_seconds"])
                figures[name]["digests"].append(result["digest"])
                say(f"run {run + 1}/{runs} {name}: {figures[name]['rows_per_s'][-1]:,.0f} rows/s")
    return figures


def report(figures: dict[str, Any], *, load: float, command: str, rows: int, chunk: int) -> str:
    """Render the section of docs/benchmarks.md: the table, whether answers agree, whether the target is met."""
    names = list(figures)
    first = statistics.median(figures[names[0]]["rows_per_s"])
    lines = []
    for name in names:
        speeds = figures[name]["rows_per_s"]
        median = statistics.median(speeds)
        lines.append(
            f"| {name} | {len(speeds)} | {median:,.0f} | {min(speeds):,.0f} | {max(speeds):,.0f} |"
            f" {1e6 / median:.1f} | {median / first:.2f} |"
        )
    digests = {digest for name in names for digest in figures[name]["digests"]}
    same = (
        "Every run of every tree gave the same answers, bit for bit (one SHA-256 over PD bits, decision, points,"
        f" grade and reasons' codes, texts, impact bits and statements: `{next(iter(digests))[:16]}…`)."
        if len(digests) == 1
        else f"**The answers differ** between runs or trees ({len(digests)} distinct digests)."
    )
    last = statistics.median(figures[names[-1]]["rows_per_s"])
    met = "met" if last >= TARGET_ROWS_PER_S else "**not met**"
    return f"""{HEADING}

Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cpu_name()} ({os.cpu_count()} CPUs, load average {load:.2f} at the
start), Python {platform.python_version()}, one core (OMP_NUM_THREADS=1), with

```
{command}
```

`ScoringModel.assess` (PD, decision, points, grade and worded reasons) in process on {rows:,} rows drawn with
replacement from the real file (seed 0), in chunks of {chunk:,} after a warm-up chunk; rows per second of the
process's CPU time in `assess`, each run a fresh interpreter, the trees alternating:

| tree | runs | median rows/s | slowest run | fastest run | µs per row | vs {names[0]} |
| --- | --- | --- | --- | --- | --- | --- |
{chr(10).join(lines)}

{same} The target, at least {TARGET_ROWS_PER_S:,.0f} rows/s on chunks of 10,000 real rows (issue 17, item 6), is {met} by
{names[-1]} ({last:,.0f} rows/s).
"""


def main(argv: list[str] | None = None) -> int:
    """Measure, print the section, write the figures (and the doc section with --write-docs)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("trees", nargs="*", type=Path, help="source trees to compare (default: this one)")
    parser.add_argument(
        "--names", nargs="+", default=[], help="labels, then as many trees (e.g. before after A B)"
    )
    parser.add_argument("--data", type=Path, default=os.environ.get("CREDIT_DATA"), help="the UCI file")
    parser.add_argument("--runs", type=int, default=5, help="runs per tree")
    parser.add_argument("--rows", type=int, default=100_000, help="rows drawn from the file")
    parser.add_argument("--chunk", type=int, default=10_000, help="rows per assess call")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "assess.json", help="figures (JSON)")
    parser.add_argument("--write-docs", action="store_true", help=f"also rewrite {HEADING} in {shown(DOC)}")
    args = parser.parse_args(argv)
    if args.data is None:
        parser.error("no data: pass --data FILE or set CREDIT_DATA")
    half = len(args.names) // 2
    if len(args.names) % 2 or len(set(args.names[:half])) != half:
        parser.error("--names takes distinct labels, then as many trees")
    trees = [Path(tree).resolve() for tree in args.names[half:]] + [tree.resolve() for tree in args.trees]
    trees = trees or [ROOT]
    names = args.names[:half] + [tree.name for tree in trees[half:]]
    load = os.getloadavg()[0]
    raw = draw_rows(args.data, args.rows)
    figures = measure(dict(zip(names, trees, strict=True)), raw, runs=args.runs, chunk=args.chunk)
    given = argv if argv is not None else sys.argv[1:]
    data = "" if "--data" in given else f"CREDIT_DATA=…/{args.data.name} "
    command = f"OMP_NUM_THREADS=1 {data}python -m benchmarks.assess " + " ".join(
        shlex.quote(arg) if not Path(arg).is_absolute() else "…/" + Path(arg).name for arg in given
    )
    section = report(figures, load=load, command=command, rows=args.rows, chunk=args.chunk)
    say(section, result=True)
    write_results("assess", {"load_average": load, "trees": names, **figures}, folder=args.out.parent)
    if args.write_docs:
        write_section(HEADING, section, DOC)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
