"""`python -m functions.portfolio whatif IN --strategy FILE [--challenger FILE] [--json OUT] [--report OUT]`.

Scores the book once (PD only, through the serving model, read with the streaming client-file reader so every
accepted layout works), in chunks on a process pool, and tallies each strategy on the same PDs
(functions/portfolio/whatif/tally.py); prints the headline figures, writes the JSON and the HTML report.
Exit 0 when done, 2 on a usage, data or strategy-file error, 1 when scoring itself fails.
"""

import argparse
import json
import os
import sys
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Final

import numpy as np

from functions.clientfiles.chunks import check_chunk
from functions.clientfiles.rows import (
    ClientFileError,
    Layout,
    data_rows,
    stream_cells,
    text_lines,
)
from functions.config import get_settings
from functions.portfolio.shard import serving_model
from functions.portfolio.whatif.report import whatif_report
from functions.portfolio.whatif.summary import summarise
from functions.portfolio.whatif.tally import Tally, add, evaluate, new_tally
from functions.scoring.contract import FEATURES
from functions.scoring.manifest import ModelUnavailable
from functions.scoring.model import ScoringModel
from functions.scoring.strategy.engine import Strategy, read_strategy
from functions.scoring.strategy.file import StrategyError

CHUNK_ROWS: Final = 10_000
Chunk = list[tuple[int, list[str]]]


@dataclass(frozen=True)
class Job:
    """What every worker needs: the model folder, the layout, the strategies by arm and the grade names."""

    model_dir: Path
    layout: Layout
    strategies: dict[str, Strategy]
    grades: tuple[str, ...]


_JOB: dict[str, Job] = {}  # the worker's job, set once by its initializer


def say(message: str, *, end: str = "\n") -> None:
    """Print a message for the user on stderr (progress, errors)."""
    print(message, end=end, file=sys.stderr, flush=True)


def _model(model_dir: Path) -> ScoringModel:
    return serving_model(model_dir)  # the one cached loader per process


def tally_chunk(job: Job, chunk: Chunk) -> Tally:
    """Check a chunk's rows, score the valid ones once (PD only) and tally every strategy on them."""
    rows = check_chunk(chunk, job.layout)
    valid = [row for row in rows if row.valid]
    sums = new_tally(read=len(rows), invalid=len(rows) - len(valid))
    if not valid:
        return sums
    raw = np.asarray([row.values for row in valid], dtype=np.float64).reshape(len(valid), len(FEATURES))
    target = np.asarray([-1 if row.target is None else row.target for row in valid], dtype=np.int64)
    pd = _model(job.model_dir).probabilities(raw)
    add(sums, evaluate(job.strategies, raw, pd, target, grades=job.grades))
    sums["known_target"] += int((target >= 0).sum())
    return sums


def _start_worker(job: Job) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _JOB["job"] = job
    _model(job.model_dir)


def _tally_in_worker(chunk: Chunk) -> Tally:
    return tally_chunk(_JOB["job"], chunk)


def tallies(job: Job, pieces: Iterator[Chunk], *, workers: int) -> Iterator[Tally]:
    """Tally chunks in this process for one worker, else on a pool with at most 2 x workers in flight."""
    if workers == 1:
        yield from (tally_chunk(job, chunk) for chunk in pieces)
        return
    with ProcessPoolExecutor(workers, initializer=_start_worker, initargs=(job,)) as pool:
        pending: deque[Future[Tally]] = deque()
        for chunk in pieces:
            pending.append(pool.submit(_tally_in_worker, chunk))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def run_whatif(
    source: Path,
    strategies: dict[str, Strategy],
    *,
    model_dir: Path,
    workers: int,
    chunk_rows: int = CHUNK_ROWS,
) -> dict[str, Any]:
    """Score `source` once and return the what-if of each strategy; raises ClientFileError."""
    started = time.perf_counter()
    model = _model(model_dir)
    grades = tuple(band.grade for band in model.manifest.grade_bands)
    total = new_tally()
    with source.open("rb") as raw:
        layout, cells = stream_cells(text_lines(raw, name=source.name), name=source.name)
        job = Job(model_dir, layout, strategies, grades)
        numbered = data_rows(cells, layout)
        pieces = iter(lambda: list(islice(numbered, chunk_rows)), [])
        for sums in tallies(job, pieces, workers=workers):
            add(total, sums)
            say(f"\rread {int(total['read']):,} rows", end="")
        say("")
    if not total["champion/rows"]:
        raise ClientFileError(f"{source.name}: no valid client rows ({int(total['invalid']):,} invalid)")
    with_target = layout.target_at is not None and total["known_target"] > 0
    return summarise(total, strategies, grades=grades, with_target=with_target) | {
        "input": source.name,
        "rows_read": int(total["read"]),
        "rows_invalid": int(total["invalid"]),
        "rows_with_target": int(total["known_target"]),
        "model_version": model.version,
        "duration_seconds": round(time.perf_counter() - started, 3),
    }


def add_command(commands: Any) -> None:
    """Add the `whatif` command's arguments to the portfolio command's subparsers."""
    whatif = commands.add_parser("whatif", help="simulate a strategy (and a challenger) on a client file")
    whatif.add_argument("input", type=Path, metavar="INPUT", help="client CSV in a dataset layout")
    whatif.add_argument("--strategy", type=Path, required=True, metavar="FILE", help="strategy file (YAML)")
    whatif.add_argument(
        "--challenger", type=Path, metavar="FILE", help="a challenger strategy file to compare"
    )
    whatif.add_argument("--json", type=Path, metavar="OUT", help="write the what-if as JSON here")
    whatif.add_argument("--report", type=Path, metavar="OUT", help="write the HTML report here")
    whatif.add_argument("--workers", type=int, default=os.cpu_count() or 1, metavar="N", help="processes")
    whatif.add_argument("--model", type=Path, default=None, metavar="DIR", help="model directory (model/)")


def headline(result: dict[str, Any]) -> str:
    """Return the what-if's headline figures, one line per arm."""
    lines = []
    for arm, figures in result["arms"].items():
        rates = " / ".join(f"{d['rate']:.1%}" for d in figures["decisions"].values())
        bad = figures["expected_bad_rate_approved"]
        lines.append(
            f"{arm} {figures['strategy']['name']} ({figures['strategy']['version']}): approve/refer/decline "
            f"{rates}; expected bad rate of approved {'-' if bad is None else f'{bad:.2%}'}; expected loss "
            f"NT$ {figures['expected_loss_ntd']:,.0f}; {figures['adverse_action_notices']['total']:,} notices"
        )
    return "\n".join(lines)


def whatif_main(args: argparse.Namespace) -> int:
    """Run the `whatif` command; return 0 when done, 2 for what the user must fix, 1 when scoring fails."""
    if not args.input.is_file():
        say(f"error: no input file at {args.input}; give a client CSV")
        return 2
    for out in (args.json, args.report):
        if out is not None and not out.parent.is_dir():
            say(f"error: cannot write {out}: its folder does not exist")
            return 2
    model_dir = args.model or get_settings().model_dir
    try:
        manifest = _model(model_dir).manifest
        strategies = {"champion": read_strategy(args.strategy, manifest=manifest)}
        if args.challenger is not None:
            strategies["challenger"] = read_strategy(args.challenger, manifest=manifest)
        elif (own := strategies["champion"].challenger) is not None:  # the file names its own challenger
            strategies["challenger"] = own
        result = run_whatif(args.input, strategies, model_dir=model_dir, workers=args.workers)
    except (ClientFileError, ModelUnavailable, StrategyError) as err:
        say(f"error: {err}")
        return 2
    except (BrokenProcessPool, OSError) as err:
        say(f"error: scoring stopped ({err}); nothing was written")
        return 1
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if args.report is not None:
        args.report.write_text(whatif_report(result), encoding="utf-8")
    say(headline(result))
    return 0
