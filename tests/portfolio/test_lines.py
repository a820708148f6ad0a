"""The scored book's lines built a chunk at a time: the text csv.writer wrote row by row."""

import csv
import io

import numpy as np
import pytest

from functions.clientfiles.chunks import check_book_piece
from functions.clientfiles.layout import Layout
from functions.portfolio.lines import book_lines, invalid_line, reason_cells
from functions.scoring.adverse.statements import STATEMENTS
from functions.scoring.contract import FEATURE_NAMES as FEATURES
from functions.scoring.reasons import MAX_REASONS, REASON_GROUPS, Ranked
from training.synthetic import generate_rows

CODES = list(REASON_GROUPS)
LAYOUT = Layout(
    header=("ID", *(name.upper() for name in FEATURES)),
    where={name: k + 1 for k, name in enumerate(FEATURES)},
    target_at=None,
    id_at=0,
    first_line=2,
)


def written(rows: list[list[str]]) -> str:
    """Return rows as csv.writer writes them."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def test_reason_cells_are_the_codes_impacts_and_statements_csv_writer_writes() -> None:
    rng = np.random.default_rng(4)
    rows = 200
    groups = np.array([rng.permutation(len(CODES))[:MAX_REASONS] for _ in range(rows)])
    impacts = np.sort(rng.uniform(0, 0.2, (rows, MAX_REASONS)), axis=1)[:, ::-1]
    listed = rng.integers(0, MAX_REASONS + 1, rows)
    expected = []
    for g, i, n in zip(groups, impacts, listed, strict=True):
        blanks = [""] * (MAX_REASONS - n)
        codes = [CODES[k] for k in g[:n]]
        expected.append(
            codes + blanks + [f"{x:.6f}" for x in i[:n]] + blanks + [STATEMENTS[c] for c in codes] + blanks
        )
    cells = reason_cells(Ranked(groups=groups, impacts=impacts, listed=listed))
    assert "\n".join(cells) + "\n" == written(expected)


@pytest.mark.parametrize("with_id", [True, False])
def test_book_lines_keep_invalid_rows_in_place(with_id: bool) -> None:
    rows = generate_rows(5, seed=2)
    numbered = [(k + 2, [f"=c{k}", *(str(row[name]) for name in FEATURES)]) for k, row in enumerate(rows)]
    numbered[1][1][3] = "abc"
    layout = LAYOUT if with_id else Layout(LAYOUT.header, LAYOUT.where, None, None, 2)
    piece = check_book_piece(numbered, layout)
    assert piece.valid.tolist() == [True, False, True, True, True]
    text = book_lines(piece, ["a,b", "c,d", "e,f", "g,h"], with_id=with_id, width=3)
    lines = text.splitlines()
    assert lines[1] == invalid_line(piece.invalid[1], with_id=with_id, width=3)
    assert lines[2] == ("'=c2,c,d" if with_id else "c,d")
    assert book_lines(check_book_piece([], layout), [], with_id=with_id, width=3) == ""
