"""Score a book of clients three ways on the same rows: this predictor, scikit-learn's pipeline, SHAP.

python -m benchmarks.portfolio --data FILE [--rows 100000 ...] [--shap-rows 5000] [--repeats 3] [--write-docs]

Rows are drawn with replacement from the dataset's rows (seeded; never written anywhere but a temporary
folder). Every stack scores them in chunks of `--chunk` rows, as a streaming batch job would, single-threaded,
in this process; the stacks take turns for `--repeats` rounds and the median time counts. Peak memory is
what tracemalloc sees allocated during one more run (numpy buffers included), apart from the input rows.

- (a) this predictor: PD alone (`ScoringModel.probabilities`), and PD with reasons (`ScoringModel.assess`).
- (a') the portfolio command end to end (`python -m functions.portfolio score`, CSV to CSV, all cores, a
  fresh process): wall time, the children's CPU time and the largest child's peak RSS.
- (b) scikit-learn: `predict_proba` of the shipped model/model.joblib on a pandas DataFrame, PD only.
- (c) SHAP's TreeExplainer on the same booster, the calibration applied to its margin: PD + attributions,
  on the first `--shap-rows` rows (it is slow; its rows per second are measured on that subsample).
Figures go to --out (git-ignored); `--write-docs` also rewrites the Portfolio section of docs/benchmarks.md.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from benchmarks.results import DOC, RESULTS_DIR, ROOT, cpu_name, say, shown, write_results, write_section

HEADING: Final = "## Portfolio scoring"
COMMAND: Final = (
    "CREDIT_DATA=../shared/data/default_of_credit_card_clients.csv .venv/bin/python -m benchmarks.portfolio"
)
# Runs a command, then prints its (and its descendants') largest RSS in KB and their CPU seconds.
CHILD_USAGE: Final = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, "
    "stderr=subprocess.DEVNULL); r = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print(r.ru_maxrss, r.ru_utime + r.ru_stime)"
)
Matrix = npt.NDArray[np.float64]
Scorer = Callable[[Matrix], Matrix]


@dataclass(frozen=True)
class Figure:
    """One stack on one set of rows."""

    stack: str
    rows: int
    seconds: float  # median wall time over the repeats
    rows_per_s: float
    cpu_rows_per_s: float  # rows per second of this process's CPU time (median): steadier on a busy machine
    peak_mb: float  # tracemalloc's peak during one run, input rows excluded


def resample(data: Path, rows: int, *, seed: int = 0) -> Matrix:
    """Draw `rows` clients with replacement from the dataset's rows (raw inputs, rows x 23)."""
    from training.data import load_dataset

    table = load_dataset(data).X
    return table[np.random.default_rng(seed).integers(0, len(table), rows)]


def chunked(score: Scorer, chunk: int) -> Scorer:
    """Score rows `chunk` at a time; return the PDs of all rows."""
    return lambda raw: np.concatenate([score(raw[i : i + chunk]) for i in range(0, len(raw), chunk)])


def stacks(chunk: int) -> dict[str, Scorer]:
    """Build each stack's scorer of raw inputs (rows x 23) -> PDs (rows); the reference ones from model/."""
    import joblib
    import pandas as pd
    import shap  # type: ignore[import-untyped]  # no stubs; dev only

    from functions.config import MODEL_DIR
    from functions.scoring.contract import FEATURE_NAMES
    from functions.scoring.model import load_model

    model = load_model(MODEL_DIR)
    pipeline = joblib.load(ROOT / "model" / "model.joblib")  # dev only: the image never unpickles
    pair = pipeline[-1].calibrated_classifiers_[0]
    explainer = shap.TreeExplainer(pair.estimator)
    a, b = float(pair.calibrators[0].a_), float(pair.calibrators[0].b_)

    def frame(raw: Matrix) -> Any:
        return pd.DataFrame(raw, columns=list(FEATURE_NAMES))

    def with_reasons(raw: Matrix) -> Matrix:
        return np.array([d.probability_of_default for d in model.assess(raw)])

    def shap_pd(raw: Matrix) -> Matrix:
        attributions = explainer.shap_values(pipeline[:-1].transform(frame(raw)))
        margin = float(np.ravel(explainer.expected_value)[0]) + attributions.sum(axis=1)
        return np.asarray(1.0 / (1.0 + np.exp(a * margin + b)))

    scorers: dict[str, Scorer] = {
        "(a) this predictor, PD alone": model.probabilities,
        "(a) this predictor, PD + reasons (assess)": with_reasons,
        "(b) scikit-learn predict_proba + pandas, PD alone": lambda raw: pipeline.predict_proba(frame(raw))[
            :, 1
        ],
        "(c) SHAP TreeExplainer + calibration, PD + attributions": shap_pd,
    }
    return {name: chunked(score, chunk) for name, score in scorers.items()}


def portfolio_command(raw: Matrix, folder: Path) -> Figure:
    """(a') Time `python -m functions.portfolio score IN OUT` on all cores in a fresh process, CSV to CSV.

    The rows are written as a client file (the dataset's layout, with ID) into a temporary folder under
    `folder` and removed afterwards. Peak memory is the largest child's RSS (the command or one of its
    workers); CPU time is the children's user + system time.
    """
    from functions.scoring.contract import FEATURES

    workers = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        source, target = Path(scratch) / "book.csv", Path(scratch) / "scored.csv"
        header = ",".join(["ID", *(spec.column for spec in FEATURES)])
        table = np.column_stack([np.arange(1, len(raw) + 1), raw]).astype(np.int64)
        np.savetxt(source, table, fmt="%d", delimiter=",", header=header, comments="")
        command = [sys.executable, "-m", "functions.portfolio", "score", str(source), str(target)]
        started = time.perf_counter()
        # A fresh parent process, so that its children's usage is this command's alone (workers included).
        measured = subprocess.run(
            [sys.executable, "-c", CHILD_USAGE, *command, "--workers", str(workers)],
            check=True,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
        peak_kb, cpu = (float(value) for value in measured.stdout.split()[-2:])
        with target.open() as scored:
            lines = sum(1 for _ in scored) - 1
    if lines != len(raw):
        raise RuntimeError(f"the portfolio command wrote {lines} rows for {len(raw)} input rows")
    return Figure(
        stack=f"(a') portfolio command, PD + reasons, CSV to CSV, {workers} workers",
        rows=len(raw),
        seconds=seconds,
        rows_per_s=len(raw) / seconds,
        cpu_rows_per_s=len(raw) / cpu if cpu else 0.0,
        peak_mb=peak_kb / 1024,  # ru_maxrss is in kilobytes on Linux
    )


def timed(score: Scorer, raw: Matrix) -> tuple[float, float, Matrix]:
    """Return the wall and CPU seconds one scoring of `raw` takes, and its PDs."""
    started, cpu = time.perf_counter(), time.process_time()
    scored = score(raw)
    return time.perf_counter() - started, time.process_time() - cpu, scored


def peak_mb(score: Scorer, raw: Matrix) -> float:
    """Return the peak MB tracemalloc sees allocated while `score(raw)` runs (the input excluded)."""
    tracemalloc.start()
    try:
        score(raw)
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def measure(scorers: dict[str, Scorer], raw: Matrix, *, shap_rows: int, repeats: int) -> list[Figure]:
    """Time every stack on `raw` (SHAP on its first `shap_rows`), taking turns; check they agree."""
    inputs = {name: raw[:shap_rows] if name.startswith("(c)") else raw for name in scorers}
    times: dict[str, list[float]] = {name: [] for name in scorers}
    cpu_times: dict[str, list[float]] = {name: [] for name in scorers}
    answers: dict[str, Matrix] = {}
    for round_ in range(repeats):
        for name, score in scorers.items():
            say(f"{len(raw):,} rows, round {round_ + 1}/{repeats}: {name}")
            seconds, cpu, answers[name] = timed(score, inputs[name])
            times[name].append(seconds)
            cpu_times[name].append(cpu)
    ours = answers["(a) this predictor, PD alone"]
    for name, answer in answers.items():
        gap = float(np.max(np.abs(answer - ours[: len(answer)])))
        if gap > 1e-9:
            raise RuntimeError(f"{name} disagrees with this predictor by {gap:.2e} in PD")
    figures = []
    for name, score in scorers.items():
        seconds = statistics.median(times[name])
        rows = len(inputs[name])
        cpu = statistics.median(cpu_times[name])
        figures.append(Figure(name, rows, seconds, rows / seconds, rows / cpu, peak_mb(score, inputs[name])))
    return figures


def ratios(figures: list[Figure]) -> str:
    """Say, per run (from each PD-alone figure on), how many times faster this predictor is, against the targets."""
    starts = [i for i, f in enumerate(figures) if f.stack == "(a) this predictor, PD alone"]
    lines = []
    for start, end in zip(starts, [*starts[1:], len(figures)], strict=True):
        run = figures[start:end]

        def speed(prefix: str, run: list[Figure] = run) -> float:
            return next(f.cpu_rows_per_s for f in run if f.stack.startswith(prefix))

        alone = speed("(a) this predictor, PD alone") / speed("(b)")
        reasons = speed("(a) this predictor, PD + reasons") / speed("(c)")
        lines.append(
            f"- {run[0].rows:,} rows: PD alone {alone:.1f} x scikit-learn's predict_proba (target >= 1);"
            f" PD + reasons {reasons:.1f} x SHAP (target >= 10, here on one core); by CPU time."
        )
    return "\n".join(lines)


def report(figures: list[Figure], *, load: float, chunk: int, data: str, options: str = "") -> str:
    """Render the portfolio section of docs/benchmarks.md."""
    table = "\n".join(
        f"| {f.stack} | {f.rows:,} | {f.seconds:.2f} | {f.rows_per_s:,.0f} | {f.cpu_rows_per_s:,.0f} | {f.peak_mb:.0f} |"
        for f in figures
    )
    return f"""{HEADING}

Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cpu_name()} ({os.cpu_count()} CPUs, load average {load:.1f} at the
start), one thread, in one process, rows drawn with replacement from {data}, with

```
{COMMAND}{options}
```

Chunks of {chunk:,} rows; medians of the rounds, in wall time and in this process's CPU time (steadier when
other work shares the cores); peak memory is tracemalloc's peak during one more run (it sees numpy's buffers,
not SHAP's C++ ones). The PDs of every stack agree with this predictor's to 1e-9 (checked in the run). SHAP runs on a subsample.
(a') the portfolio command runs end to end in a fresh process on all cores: its CPU column counts every
worker's CPU time and its peak is the largest process's resident memory (RSS), not tracemalloc's figure.

| stack | rows | seconds | rows/s | rows/s of CPU time | peak MB |
| --- | --- | --- | --- | --- | --- |
{table}

{ratios(figures)}
"""


def main(argv: list[str] | None = None) -> None:
    """Measure every stack on each row count; print the section; write the figures (and the doc if asked)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("CREDIT_DATA"), help="the UCI file")
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000])
    parser.add_argument("--shap-rows", type=int, default=5_000)
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "portfolio.json", help="figures (JSON)")
    parser.add_argument("--write-docs", action="store_true", help=f"also rewrite {HEADING} in {shown(DOC)}")
    args = parser.parse_args(argv)
    if args.data is None:
        parser.error("give --data FILE or set CREDIT_DATA")
    # One thread everywhere, set before scikit-learn starts its OpenMP runtime (threadpoolctl alone is slower).
    os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    from threadpoolctl import threadpool_limits

    load = os.getloadavg()[0]  # other work on the machine skews every figure; the doc says how busy it was
    figures: list[Figure] = []
    with threadpool_limits(1):
        scorers = stacks(args.chunk)
        for rows in args.rows:
            raw = resample(args.data, rows)
            figures += measure(scorers, raw, shap_rows=min(args.shap_rows, rows), repeats=args.repeats)
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            figures.append(portfolio_command(raw, RESULTS_DIR))
    given = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--write-docs"]
    options = "".join(f" {a}" for a in given if not a.startswith("--data") and a != str(args.data))
    section = report(figures, load=load, chunk=args.chunk, data=Path(args.data).name, options=options)
    say(section, result=True)
    record = {"load_average": load, "chunk": args.chunk, "figures": [asdict(f) for f in figures]}
    say(f"wrote {shown(write_results(args.out.stem, record, folder=args.out.parent))}")
    if args.write_docs:
        write_section(HEADING, section)
        say(f"wrote {shown(DOC)}")


if __name__ == "__main__":
    main()
