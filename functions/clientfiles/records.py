"""A book's records read cheaply by the command that reads the file, split by the workers that score them.

The book command's parent process reads every line of the file and was the pool's bottleneck: it split each
line into cells with the csv module, then pickled 24 strings a row to a worker. Here a line without a quote (and
shorter than the csv module's cell limit) is a whole record and its cells are its text split at the delimiter,
so the parent only checks that the line is not blank and sends the text; the worker splits it (`record_cells`).
Any other record (quotes, a line break inside quotes, an overlong cell) is read by the csv module in the parent
as before. Rows, lines and cells are exactly `stream_cells` and `data_rows`'s
(tests/clientfiles/test_records.py).
"""

from collections.abc import Iterable, Iterator, Sequence
from itertools import chain

from functions.clientfiles.cells import MAX_CELL
from functions.clientfiles.layout import checked_cells, read_layout, sniff_lines
from functions.clientfiles.rows import Layout, readable

Record = tuple[int, str | list[str]]  # a data row's 1-based line and its text (split by the worker) or cells


def stream_records(text_lines: Iterable[str], *, name: str) -> tuple[Layout, str, Iterator[Record]]:
    """Read the layout now; return it, the delimiter, and each non-blank data row after the header with its line,
    as its text when it is a plain line, else as its cells."""
    delimiter, lines = sniff_lines(text_lines, name=name)
    layout = read_layout(readable(checked_cells(lines, delimiter=delimiter), name=name), name=name)
    return layout, delimiter, _records(lines, delimiter, start=layout.first_line, name=name)


def _records(lines: Iterator[str], delimiter: str, *, start: int, name: str) -> Iterator[Record]:
    """Yield (line, text or cells) of each non-blank record of `lines`, numbered from `start`."""
    for line, text in enumerate(lines, start=start):
        if '"' not in text and len(text) < MAX_CELL:  # one line, one record; its cells are the split text
            if text.replace(delimiter, "").strip():  # the cells joined hold more than whitespace
                yield line, text
            continue
        # quotes or a long line: the csv module reads this record, and any later lines it spans, from `lines`
        cells = next(readable(checked_cells(chain([text], lines), delimiter=delimiter), name=name))
        if "".join(cells).strip():
            yield line, cells


def record_cells(records: Sequence[Record], delimiter: str) -> list[tuple[int, list[str]]]:
    """Return (line, cells) of each record: a plain line's text without its line end split at the delimiter (what
    the csv module reads from a line without quotes), cells as they are."""
    return [
        (line, item.rstrip("\r\n").split(delimiter) if isinstance(item, str) else item)
        for line, item in records
    ]
