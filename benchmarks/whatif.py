"""Time the what-if of a champion and a challenger against plain portfolio scoring of the same book.

python -m benchmarks.whatif --data FILE [--rows 1000000] [--repeats 2] [--write-docs]

The book is drawn as the portfolio benchmark draws it (benchmarks/portfolio.py `resample`: the dataset's rows
with replacement, seeded) and written as a client file (the dataset's layout with ID) into a temporary folder
under build/bench/, removed afterwards. Each round runs, in fresh processes on all cores, `python -m
functions.portfolio score BOOK OUT` and `python -m functions.portfolio whatif BOOK --strategy
model/strategy.yaml --challenger C --json J`, taking turns; the median wall time of each counts. The challenger
is the shipped strategy with its refer band widened down to PD 0.15. Figures to --out (git-ignored);
`--write-docs` also rewrites the what-if section of docs/benchmarks.md.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from benchmarks.portfolio import resample
from benchmarks.results import DOC, RESULTS_DIR, ROOT, cpu_name, say, shown, write_results, write_section

HEADING: Final = "## Strategy what-if"
COMMAND: Final = (
    "CREDIT_DATA=../shared/data/default_of_credit_card_clients.csv .venv/bin/python -m benchmarks.whatif"
)
TARGET: Final = 1.5  # the what-if of a champion and a challenger takes < 1.5 x plain scoring (issue 17)


def write_book(raw: npt.NDArray[np.float64], path: Path) -> None:
    """Write raw inputs (rows x 23) as a client file in the dataset's layout, with an ID column."""
    from functions.scoring.contract import FEATURES

    header = ",".join(["ID", *(spec.column for spec in FEATURES)])
    table = np.column_stack([np.arange(1, len(raw) + 1), raw]).astype(np.int64)
    np.savetxt(path, table, fmt="%d", delimiter=",", header=header, comments="")


def challenger_text() -> str:
    """Return the shipped strategy with its refer band widened down to PD 0.15 (a challenger to time)."""
    text = (ROOT / "model" / "strategy.yaml").read_text(encoding="utf-8")
    widened = text.replace("to: 0.2, decision: approve", "to: 0.15, decision: approve").replace(
        "from: 0.2, to: model_threshold", "from: 0.15, to: model_threshold"
    )
    if widened == text:
        raise RuntimeError("model/strategy.yaml changed its bands; update challenger_text()")
    return widened.replace("name: default", "name: wider_refer", 1)


def timed(command: list[str]) -> float:
    """Run a command from the repository root (output discarded); return its wall seconds."""
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def measure(raw: npt.NDArray[np.float64], *, repeats: int, workers: int) -> dict[str, list[float]]:
    """Time plain scoring and the champion-challenger what-if of the same book, taking turns."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=RESULTS_DIR) as scratch:
        folder = Path(scratch)
        book, challenger = folder / "book.csv", folder / "challenger.yaml"
        write_book(raw, book)
        challenger.write_text(challenger_text(), encoding="utf-8")
        portfolio = [sys.executable, "-m", "functions.portfolio"]
        score = [*portfolio, "score", str(book), str(folder / "scored.csv"), "--workers", str(workers)]
        whatif = [
            *portfolio, "whatif", str(book), "--strategy", "model/strategy.yaml",
            "--challenger", str(challenger), "--json", str(folder / "whatif.json"), "--workers", str(workers),
        ]  # fmt: skip
        times: dict[str, list[float]] = {"score": [], "whatif": []}
        for round_ in range(repeats):
            say(f"{len(raw):,} rows, round {round_ + 1}/{repeats}")
            times["score"].append(timed(score))
            times["whatif"].append(timed(whatif))
    return times


def report(times: dict[str, list[float]], *, rows: int, load: float, workers: int, options: str) -> str:
    """Render the what-if section of docs/benchmarks.md."""
    score, whatif = statistics.median(times["score"]), statistics.median(times["whatif"])
    ratio = whatif / score
    return f"""{HEADING}

Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cpu_name()} ({os.cpu_count()} CPUs, load average {load:.1f} at the
start), {workers} workers, a book of {rows:,} rows drawn as the portfolio benchmark draws it, with

```
{COMMAND}{options}
```

| command | median seconds | rows/s | rounds (s) |
| --- | --- | --- | --- |
| `python -m functions.portfolio score BOOK OUT` (PD, reasons, CSV) | {score:.1f} | {rows / score:,.0f} | {", ".join(f"{t:.1f}" for t in times["score"])} |
| `python -m functions.portfolio whatif BOOK --strategy … --challenger …` | {whatif:.1f} | {rows / whatif:,.0f} | {", ".join(f"{t:.1f}" for t in times["whatif"])} |

What-if of a champion and a challenger / plain scoring: {ratio:.2f} x (target < {TARGET} x): {"met" if ratio < TARGET else "not met"}.
"""


def main(argv: list[str] | None = None) -> None:
    """Measure, print the section, write the figures (and the doc if asked)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("CREDIT_DATA"), help="the UCI file")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "whatif.json", help="figures (JSON)")
    parser.add_argument("--write-docs", action="store_true", help=f"also rewrite {HEADING} in {shown(DOC)}")
    args = parser.parse_args(argv)
    if args.data is None:
        parser.error("give --data FILE or set CREDIT_DATA")
    os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    load = os.getloadavg()[0]
    times = measure(resample(args.data, args.rows), repeats=args.repeats, workers=args.workers)
    given = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--write-docs"]
    options = "".join(f" {a}" for a in given if not a.startswith("--data") and a != str(args.data))
    section = report(times, rows=args.rows, load=load, workers=args.workers, options=options)
    say(section, result=True)
    record = {"load_average": load, "rows": args.rows, "workers": args.workers, "seconds": times}
    say(f"wrote {shown(write_results(args.out.stem, record, folder=args.out.parent))}")
    if args.write_docs:
        write_section(HEADING, section)
        say(f"wrote {shown(DOC)}")


if __name__ == "__main__":
    main()
