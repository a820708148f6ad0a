"""The scored book's lines built a chunk at a time: the text csv.writer wrote row by row."""

import csv
import io

import numpy as np
import pytest

from functions.clientfiles.chunks import check_book_piece
from functions.clientfiles.layout import Layout
from functions.config import MODEL_DIR
from functions.portfolio.decisions import book_strategy, strategy_cells
from functions.portfolio.lines import book_lines, invalid_line, scored_lines
from functions.scoring.adverse.statements import STATEMENTS
from functions.scoring.contract import FEATURE_NAMES as FEATURES
from functions.scoring.manifest import read_manifest
from functions.scoring.model import to_matrix
from functions.scoring.reasons import MAX_REASONS, REASON_GROUPS, Ranked
from functions.scoring.strategy.engine import DEFAULT_FILE
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


def test_scored_lines_are_the_cells_csv_writer_writes() -> None:
    rng = np.random.default_rng(4)
    rows = 300
    groups = np.array([rng.permutation(len(CODES))[:MAX_REASONS] for _ in range(rows)])
    impacts = np.sort(rng.uniform(0, 0.2, (rows, MAX_REASONS)), axis=1)[:, ::-1]
    listed = rng.integers(0, MAX_REASONS + 1, rows)
    pds = rng.uniform(0, 1, rows)
    raw = to_matrix(generate_rows(rows, seed=6))
    outcomes = book_strategy(MODEL_DIR / DEFAULT_FILE, read_manifest(MODEL_DIR)).apply(raw, pds)
    scores, grades, flags = list(range(rows)), ["A", "B", "{D}"] * 100, ["0", "1"] * 150
    expected = []
    for k, (g, i, n) in enumerate(zip(groups, impacts, listed, strict=True)):
        blanks = [""] * (MAX_REASONS - n)
        codes = [CODES[c] for c in g[:n]]
        reasons = (
            codes + blanks + [f"{x:.6f}" for x in i[:n]] + blanks + [STATEMENTS[c] for c in codes] + blanks
        )
        head = [repr(float(pds[k])), str(scores[k]), grades[k], flags[k]]
        expected.append(head + reasons + strategy_cells(outcomes)[k] + [""])
    ranked = Ranked(groups=groups, impacts=impacts, listed=listed)
    lines = scored_lines(pds.tolist(), scores, grades, flags, ranked, outcomes)
    assert "\n".join(lines) + "\n" == written(expected)


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
