"""The closed loop at scale: N decisions in a SQLite decision log, their outcome file recorded, joined and reported.

python -m benchmarks.outcomes [--decisions 1000000] [--out build/bench/outcomes.json] [--write-docs]

Setup (not timed): a fresh log in a temporary folder holding N decisions over 365 days, with PDs drawn from
Beta(1.2, 4), grades and decisions from the shipped manifest, reference bins drawn at random, a final
decision on 5 % of them, and an outcome file (CSV) for 95 % of them plus 1 % unknown keys. Timed, as the
commands run them: `record-outcomes` of the file (read, checked, joined in one transaction), then `realised`'s
work: read the joined log, compare expected with realised per month and grade (bootstrap AUC intervals),
analyse overrides by group, render the table and the HTML report. The target is under 120 s in all.
"""

import argparse
import json
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from benchmarks.results import DOC, RESULTS_DIR, say, shown, write_results, write_section
from functions.audit.decision import HASH_METHOD, SCHEMA
from functions.audit.outcomes_sqlite import OUTCOME_SCHEMA, SqliteOutcomeLog
from functions.monitoring.loop.join import close_loop
from functions.monitoring.loop.outcome_file import read_outcome_file
from functions.monitoring.loop.report import loop_html, loop_table
from functions.scoring.manifest import read_manifest

HEADING: Final = "## Closed loop (outcomes joined and reported)"
COMMAND: Final = ".venv/bin/python -m benchmarks.outcomes"
MODEL_DIR: Final = Path(__file__).resolve().parent.parent / "model"
TARGET_SECONDS: Final = 120.0


def build_log(
    path: Path, decisions: int, *, seed: int = 7
) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.float64]]:
    """Write `decisions` rows into a fresh log at `path`; return their keys and PDs."""
    manifest = read_manifest(MODEL_DIR)
    rng = np.random.default_rng(seed)
    pds = rng.beta(1.2, 4, decisions)
    limits = np.array([b.max_pd for b in manifest.grade_bands])
    grades = np.array([b.grade for b in manifest.grade_bands])[np.searchsorted(limits, pds, side="right")]
    days = rng.integers(0, 365, decisions)
    keys = np.char.add("bench-", np.arange(decisions).astype(str))
    sex, marriage, age = (
        rng.integers(0, 2, decisions),
        rng.integers(0, 4, decisions),
        rng.integers(0, 10, decisions),
    )
    start = np.datetime64("2025-12-01")
    import sqlite3

    with sqlite3.connect(path) as connection:
        connection.executescript(SCHEMA + OUTCOME_SCHEMA)
        rows = (
            (
                str(keys[i]),
                str(keys[i]),
                f"{start + days[i]}T10:00:00.000+00:00",
                str(start + days[i]),
                manifest.version,
                "0" * 64,
                HASH_METHOD,
                "bench",
                float(pds[i]),
                manifest.threshold,
                600,
                str(grades[i]),
                int(pds[i] >= manifest.threshold),
                "[]",
                None,
                0,
                json.dumps({"sex": int(sex[i]), "marriage": int(marriage[i]), "age": int(age[i])}),
            )
            for i in range(decisions)
        )
        connection.executemany(
            "INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
        )
        finals = rng.choice(decisions, decisions // 20, replace=False)
        connection.executemany(
            "INSERT INTO finals VALUES (?, ?, 'other', ?, 'bench', '2026-01-01T00:00:00Z')",
            ((str(keys[i]), str(rng.choice(["approve", "refer", "decline"])), "f" * 64) for i in finals),
        )
    return keys, pds


def write_outcome_file(
    path: Path, keys: npt.NDArray[np.str_], pds: npt.NDArray[np.float64], *, seed: int = 8
) -> int:
    """Write outcomes for 95 % of the keys (drawn from their PDs) and 1 % unknown keys; return the line count."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(keys.size, int(keys.size * 0.95), replace=False)
    flags = rng.random(chosen.size) < pds[chosen]
    lines = [f"{keys[i]},{'true' if f else 'false'},2026-11-30" for i, f in zip(chosen, flags, strict=True)]
    lines += [f"unknown-{i},false,2026-11-30" for i in range(keys.size // 100)]
    path.write_text("decision_key,defaulted,observed_on\n" + "\n".join(lines) + "\n")
    return len(lines)


def measure(decisions: int) -> dict[str, float | int]:
    """Build the log and the file, then time recording, joining and reporting; return the figures."""
    manifest = read_manifest(MODEL_DIR)
    with tempfile.TemporaryDirectory() as folder:
        log_path, file_path = Path(folder) / "decisions.sqlite", Path(folder) / "outcomes.csv"
        say(f"building a log of {decisions:,} decisions (not timed)")
        keys, pds = build_log(log_path, decisions)
        lines = write_outcome_file(file_path, keys, pds)
        log = SqliteOutcomeLog(log_path)
        started = time.perf_counter()
        receipt = log.record_outcomes(read_outcome_file(file_path, today=date(2026, 12, 31)))
        recorded = time.perf_counter()
        joined = log.read_joined(since_day="2025-12-01", until_day="2026-12-31")
        read = time.perf_counter()
        report = close_loop(
            joined,
            bands=manifest.grade_bands,
            reference=manifest.reference,
            since_day="2025-12-01",
            until_day="2026-12-31",
        )
        loop_table(report), loop_html(report)
        done = time.perf_counter()
    return {
        "decisions": decisions,
        "outcome_lines": lines,
        "recorded": len(receipt.recorded),
        "unknown": len(receipt.unknown),
        "record_seconds": round(recorded - started, 2),
        "read_seconds": round(read - recorded, 2),
        "report_seconds": round(done - read, 2),
        "total_seconds": round(done - started, 2),
    }


def section(figures: dict[str, float | int]) -> str:
    """Render the docs/benchmarks.md section."""
    f = figures
    return (
        f"{HEADING}\n\nMeasured {f['measured_utc']} on {f['cpu']}, one thread, with\n\n```\n{COMMAND} "
        f"--decisions {f['decisions']}\n```\n\n"
        "| decisions | outcome lines | recorded | unknown | record s | read s | report s | total s |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- |\n"
        f"| {f['decisions']:,} | {f['outcome_lines']:,} | {f['recorded']:,} | {f['unknown']:,} | "
        f"{f['record_seconds']} | {f['read_seconds']} | {f['report_seconds']} | {f['total_seconds']} |\n\n"
        f"Target: under {TARGET_SECONDS:.0f} s in all.\n"
    )


def main() -> None:
    """Run the benchmark and write its figures (and, with --write-docs, its section of docs/benchmarks.md)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.outcomes", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "outcomes.json")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    figures = measure(args.decisions)
    path = write_results("outcomes", figures, folder=args.out.parent)
    say(json.dumps(figures), result=True)
    say(f"figures in {shown(path)}")
    if args.write_docs:
        write_section(HEADING, section(json.loads(path.read_text())), DOC)


if __name__ == "__main__":
    main()
