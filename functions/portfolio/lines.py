"""The scored book's lines, built a chunk at a time: each column formatted in one pass, each distinct list of
reasons and each distinct strategy outcome worded once, one format or join per line.

The text is exactly what `csv.writer` wrote row by row from the API's decisions (tests/portfolio/test_lines.py).
"""

from collections.abc import Sequence
from functools import lru_cache
from itertools import compress, starmap
from typing import Final

import numpy as np

from functions.clientfiles.cells import csv_field, neutralise
from functions.clientfiles.chunks import BookPiece
from functions.clientfiles.rows import ClientRow
from functions.portfolio.decisions import braced, strategy_labels, strategy_numbers, strategy_template
from functions.scoring.adverse.statements import STATEMENTS
from functions.scoring.reasons import MAX_REASONS, REASON_GROUPS, Ranked
from functions.scoring.strategy.engine import Outcomes

_CODES: Final = tuple(REASON_GROUPS)
_BASE: Final = len(_CODES) + 1  # a reason list as a number: digit k is group k's index + 1, 0 when not listed
_WEIGHTS: Final = _BASE ** np.arange(MAX_REASONS, dtype=np.int64)
# a line template's fields: PD, points, grade, flag (0 to 3), the impacts, the strategy's numbers
_FIRST_IMPACT: Final = 4
_FIRST_NUMBER: Final = _FIRST_IMPACT + MAX_REASONS


def _reason_template(key: int) -> str:
    """Return the reason, impact and statement cells of one reason list, the impacts as fields 4 to 7 (`.6f`)."""
    groups = [digit - 1 for digit in ((key // _BASE**k) % _BASE for k in range(MAX_REASONS)) if digit]
    if not groups:
        return "," * (3 * MAX_REASONS - 1)
    pad = "," * (MAX_REASONS - len(groups))
    named = ",".join(_CODES[g] for g in groups) + pad
    stated = ",".join(csv_field(STATEMENTS[_CODES[g]]) for g in groups) + pad
    shown = ",".join(f"{{{_FIRST_IMPACT + k}:.6f}}" for k in range(len(groups))) + pad
    return f"{braced(named)},{shown},{braced(stated)}"


@lru_cache(maxsize=2**16)  # a book repeats its few thousand templates chunk after chunk
def _line_template(key: tuple[int, str, str, str, str]) -> str:
    """Return a valid row's line (no ID) as a template: PD, points, grade, flag, reasons, strategy, no error."""
    reasons, *labels = key
    decided = strategy_template((labels[0], labels[1], labels[2], labels[3]), first=_FIRST_NUMBER)
    # repr: the shortest exact form of the PD, the API's float bit for bit.
    return f"{{0!r}},{{1}},{{2}},{{3}},{_reason_template(reasons)},{decided},"


def scored_lines(
    pds: list[float],
    scores: list[int],
    grades: list[str],
    flags: list[str],
    ranked: Ranked,
    outcomes: Outcomes,
) -> list[str]:
    """Return each valid row's scored cells (no ID) as csv.writer writes them: one template per distinct list of
    reasons and outcome labels, one str.format per row."""
    shown = np.arange(MAX_REASONS) < ranked.listed[:, None]  # the listed reasons are a prefix
    reasons = np.where(shown, ranked.groups + 1, 0).astype(np.int64) @ _WEIGHTS
    labels = strategy_labels(outcomes)
    key = reasons
    for column in labels:  # each row's reasons and labels as one number, to find the distinct ones at once
        names, codes = np.unique(column, return_inverse=True)
        key = key * len(names) + codes.reshape(-1)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    templates = [
        _line_template((int(reasons[k]), *(str(column[k]) for column in labels))) for k in first.tolist()
    ]
    chosen = list(map(templates.__getitem__, inverse.reshape(-1).tolist()))
    impacts = ranked.impacts.T.tolist()
    fields = zip(chosen, pds, scores, grades, flags, *impacts, *strategy_numbers(outcomes), strict=True)
    return list(starmap(str.format, fields))


def invalid_line(row: ClientRow, *, with_id: bool, width: int) -> str:
    """Return an invalid row's line: its ID (neutralised), `width - 1` empty score cells, its problems (neutralised)."""
    head = [csv_field(neutralise(row.client_id or ""))] if with_id else []  # text a client file sent
    return ",".join([*head, *([""] * (width - 1)), csv_field(neutralise(row.error))])


def book_lines(piece: BookPiece, scored: Sequence[str], *, with_id: bool, width: int) -> str:
    """Return a chunk's CSV text: each valid row's ID cell (if any) and its scored cells `scored` (in order),
    each invalid row's `invalid_line` in its place; one line per row."""
    if with_id:
        ids = compress(piece.ids, piece.valid.tolist())
        scored = [  # an ID of digits is written as it is (no quotes, no formula): most books' IDs
            f"{client if client and client.isdigit() else csv_field(neutralise(client or ''))},{line}"
            for client, line in zip(ids, scored, strict=True)
        ]
    if piece.invalid:
        valid = iter(scored)
        scored = [
            invalid_line(piece.invalid[k], with_id=with_id, width=width)
            if k in piece.invalid
            else next(valid)
            for k in range(len(piece.ids))
        ]
    return "\n".join(scored) + "\n" if scored else ""
