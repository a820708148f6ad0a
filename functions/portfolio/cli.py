"""Score a whole book of clients on this machine: `python -m functions.portfolio score INPUT OUTPUT` (and `whatif`).

Streams INPUT in chunks through a process pool (order kept, a bounded number of chunks in flight, so memory
stays flat in the number of rows), writes one scored row per input row (invalid rows with an `error`), and a
summary beside the output. Exit 0 when done, 2 on a usage or data error, 1 when scoring itself fails.
"""

import argparse
import csv
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing
from itertools import islice
from pathlib import Path
from typing import IO, Any, Final

from functions.clientfiles.records import Record, stream_records
from functions.clientfiles.rows import ClientFileError, text_lines
from functions.config import get_settings
from functions.portfolio.counts import BookCounts, book_drift
from functions.portfolio.files import RunFiles, check_paths, open_partial, summary_path
from functions.portfolio.pool import (
    EXIT_CODES,
    Chunk,
    Interrupted,
    interrupts_raise,
    reuse_memory,
    scored_chunks,
)
from functions.portfolio.shard import HashingReader, output_header, serving_model, serving_strategy
from functions.portfolio.whatif.run import add_command, whatif_main
from functions.scoring.manifest import ModelUnavailable
from functions.scoring.strategy.file import StrategyError

__all__ = ["chunks", "main", "score_file", "scored_chunks", "summary_path"]

CHUNK_ROWS: Final = 5_000


def say(message: str, *, end: str = "\n") -> None:
    """Print a message for the user on stderr (progress, errors), the command's one output channel."""
    print(message, end=end, file=sys.stderr, flush=True)


def chunks(rows: Iterator[Record], size: int) -> Iterator[Chunk]:
    """Yield lists of up to `size` (line, text or cells) rows."""
    while chunk := list(islice(rows, size)):
        yield chunk


def write_scored(
    source: Path, out: IO[str], *, name: str, workers: int, model_dir: Path, chunk_rows: int
) -> tuple[BookCounts, str]:
    """Stream `source` into the scored CSV `out`; return the tally and the input's sha256."""
    size, tally = max(source.stat().st_size, 1), BookCounts()
    with source.open("rb") as raw:
        hashed = HashingReader(raw)
        try:
            layout, delimiter, records = stream_records(text_lines(hashed, name=name), name=name)
            csv.writer(out, lineterminator="\n").writerow(output_header(layout))
            pieces = chunks(records, chunk_rows)
            scored = scored_chunks(layout, pieces, workers=workers, model_dir=model_dir, delimiter=delimiter)
            with closing(scored):  # an error or interrupt here stops the workers before it propagates
                for body, counts in scored:
                    out.write(body)
                    tally.add(counts)
                    say(f"\rscored {tally.rows:,} rows ({100 * hashed.bytes_read / size:.0f}% read)", end="")
        finally:
            say("")
    return tally, hashed.sha256.hexdigest()


def score_file(
    source: Path, target: Path, *, workers: int, model_dir: Path, chunk_rows: int = CHUNK_ROWS
) -> dict[str, Any]:
    """Score the client file `source` into the CSV `target` and its summary beside it (both or neither appear);
    return the summary; raises ClientFileError (bad paths or rows, output in use), ModelUnavailable, OSError."""
    started = time.perf_counter()
    check_paths(source, target)
    model = serving_model(
        model_dir
    )  # fail before reading when the model or the strategy is missing or invalid
    strategy = serving_strategy(model_dir)
    with RunFiles(target) as files:
        with open_partial(files) as out:
            tally, sha256 = write_scored(
                source, out, name=source.name, workers=workers, model_dir=model_dir, chunk_rows=chunk_rows
            )
            out.flush()
            os.fsync(out.fileno())
        if tally.rows == 0:
            raise ClientFileError(f"{source.name}: no client rows")
        summary = tally.report() | {
            "drift": book_drift(tally, model.manifest.reference),
            "model_version": model.version,
            "strategy_version": strategy.version,
            "input": str(source),
            "input_sha256": sha256,
            "output": str(target),
            "duration_seconds": round(time.perf_counter() - started, 3),
        }
        files.commit(json.dumps(summary, indent=2) + "\n")
    return summary


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line; argparse exits 2 with a usage message on a mistake."""
    parser = argparse.ArgumentParser(
        prog="python -m functions.portfolio", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    score = commands.add_parser("score", help="score a client CSV into a scored CSV and a summary JSON")
    score.add_argument(
        "input",
        type=Path,
        metavar="INPUT",
        help="client CSV in a dataset layout (comma, semicolon or tab; UTF-8, Windows-1252 or Latin-1)",
    )
    score.add_argument(
        "output", type=Path, metavar="OUTPUT", help="scored CSV to write (OUTPUT.summary.json too)"
    )
    score.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, metavar="N", help="processes (default: cores)"
    )
    score.add_argument(
        "--model", type=Path, default=None, metavar="DIR", help="model directory (default: model/)"
    )
    add_command(commands)  # `whatif`: functions/portfolio/whatif/run.py
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the command; return 0 when done, 2 on a usage or data error, 1 when scoring fails, 128 + the signal
    number when interrupted (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP); nothing is left half-written."""
    args = parse_args(argv)
    if args.command == "whatif":
        return whatif_main(args)
    source, target = args.input, args.output
    model_dir = args.model or get_settings().model_dir
    reuse_memory()  # this process scores the chunks itself with one worker, and reads and writes them with more
    try:
        with interrupts_raise():
            summary = score_file(source, target, workers=args.workers, model_dir=model_dir)
    except (ClientFileError, ModelUnavailable, StrategyError) as err:
        say(f"error: {err}")
        return 2
    except (BrokenProcessPool, OSError) as err:
        say(f"error: scoring stopped ({err}); nothing was written to {target}")
        return 1
    except (KeyboardInterrupt, Interrupted) as err:
        signum = err.signum if isinstance(err, Interrupted) else signal.SIGINT
        say(
            f"interrupted ({signal.Signals(signum).name}): workers stopped, temporary files removed; "
            f"nothing was written to {target}"
        )
        return EXIT_CODES[signal.Signals(signum)]
    rate = summary["rows"] / max(summary["duration_seconds"], 1e-9)
    say(
        f"{summary['rows']:,} rows ({summary['invalid']:,} invalid) in {summary['duration_seconds']:.1f} s "
        f"({rate:,.0f} rows/s) -> {target}, {summary_path(target)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
