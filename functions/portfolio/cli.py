"""Score a whole book of clients on this machine: `python -m functions.portfolio score INPUT OUTPUT`.

Streams INPUT in chunks through a process pool (order kept, a bounded number of chunks in flight, so memory
stays flat in the number of rows), writes one scored row per input row (invalid rows with an `error`), and a
summary beside the output. Exit 0 when done, 2 on a usage or data error, 1 when scoring itself fails.
"""

import argparse
import csv
import json
import os
import sys
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from pathlib import Path
from typing import Any, Final

from functions.clientfiles.rows import ClientFileError, Layout, data_rows, stream_cells, text_lines
from functions.config import get_settings
from functions.portfolio.counts import BookCounts, book_drift
from functions.portfolio.shard import (
    HashingReader,
    output_header,
    score_client_rows,
    serving_model,
)
from functions.scoring.manifest import ModelUnavailable

CHUNK_ROWS: Final = 5_000
Chunk = list[tuple[int, list[str]]]


def say(message: str, *, end: str = "\n") -> None:
    """Print a message for the user on stderr (progress, errors), the command's one output channel."""
    print(message, end=end, file=sys.stderr, flush=True)


def chunks(rows: Iterator[tuple[int, list[str]]], size: int) -> Iterator[Chunk]:
    """Yield lists of up to `size` (line, cells) rows."""
    while chunk := list(islice(rows, size)):
        yield chunk


def _init_worker(model_dir: Path) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    serving_model(model_dir)


def _score(layout: Layout, chunk: Chunk, model_dir: Path) -> tuple[str, BookCounts]:
    return score_client_rows(serving_model(model_dir), layout, chunk)


def scored_chunks(
    layout: Layout, pieces: Iterator[Chunk], *, workers: int, model_dir: Path
) -> Iterator[tuple[str, BookCounts]]:
    """Score chunks in order, in-process for one worker, else on a pool with at most 2 x workers in flight."""
    if workers == 1:
        yield from (_score(layout, chunk, model_dir) for chunk in pieces)
        return
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(model_dir,)) as pool:
        pending: deque[Future[tuple[str, BookCounts]]] = deque()
        for chunk in pieces:
            pending.append(pool.submit(_score, layout, chunk, model_dir))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def write_scored(
    source: Path, target: Path, *, workers: int, model_dir: Path, chunk_rows: int
) -> tuple[BookCounts, str]:
    """Stream `source` into the scored CSV `target`; return the book's counts and the input's sha256."""
    size, book = max(source.stat().st_size, 1), BookCounts()
    with source.open("rb") as raw, target.open("w", encoding="utf-8", newline="") as out:
        hashed = HashingReader(raw)
        try:
            layout, cells = stream_cells(text_lines(hashed, name=source.name), name=source.name)
            csv.writer(out, lineterminator="\n").writerow(output_header(layout))
            pieces = chunks(data_rows(cells, layout), chunk_rows)
            for body, chunk_counts in scored_chunks(layout, pieces, workers=workers, model_dir=model_dir):
                out.write(body)
                book.add(chunk_counts)
                say(f"\rscored {book.rows:,} rows ({100 * hashed.bytes_read / size:.0f}% read)", end="")
        finally:
            say("")
    return book, hashed.sha256.hexdigest()


def score_file(
    source: Path, target: Path, *, workers: int, model_dir: Path, chunk_rows: int = CHUNK_ROWS
) -> dict[str, Any]:
    """Score the client file `source` into the CSV `target` and return the summary; raises ClientFileError."""
    started = time.perf_counter()
    partial = target.with_name(target.name + ".partial")  # renamed only when complete
    model = serving_model(model_dir)  # fail before reading when the model is missing
    try:
        book, sha256 = write_scored(
            source, partial, workers=workers, model_dir=model_dir, chunk_rows=chunk_rows
        )
        if book.rows == 0:
            raise ClientFileError(f"{source.name}: no client rows")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    return book.report() | {
        "drift": book_drift(book, model.manifest.reference),
        "model_version": model.version,
        "input": str(source),
        "input_sha256": sha256,
        "output": str(target),
        "duration_seconds": round(time.perf_counter() - started, 3),
    }


def summary_path(output: Path) -> Path:
    """Return where the summary of `output` goes: OUTPUT.summary.json beside it."""
    return output.with_name(output.name + ".summary.json")


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
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the command; return 0 when done, 2 on a usage or data error, 1 when a worker fails."""
    args = parse_args(argv)
    source, target = args.input, args.output
    if not source.is_file():
        say(f"error: no input file at {source}; give a client CSV")
        return 2
    if not target.parent.is_dir() or target.resolve() == source.resolve():
        say(f"error: cannot write {target}: its folder must exist and it must not be the input")
        return 2
    try:
        summary = score_file(
            source, target, workers=args.workers, model_dir=args.model or get_settings().model_dir
        )
    except (ClientFileError, ModelUnavailable) as err:
        say(f"error: {err}")
        return 2
    except (BrokenProcessPool, OSError) as err:
        say(f"error: scoring stopped ({err}); nothing was written to {target}")
        return 1
    summary_path(target).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    rate = summary["rows"] / max(summary["duration_seconds"], 1e-9)
    say(
        f"{summary['rows']:,} rows ({summary['invalid']:,} invalid) in {summary['duration_seconds']:.1f} s "
        f"({rate:,.0f} rows/s) -> {target}, {summary_path(target)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
