"""The chunk checker gives exactly `check_cells`'s rows: the same valid rows, values bit for bit, the same problems."""

import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from functions.clientfiles.cells import TOO_LONG
from functions.clientfiles.chunks import check_book_piece, check_chunk
from functions.clientfiles.layout import Layout
from functions.clientfiles.rows import ClientRow, check_cells
from functions.scoring.contract import FEATURE_NAMES
from training.synthetic import generate_rows

HEADER = ("ID", *(name.upper() for name in FEATURE_NAMES), "default")
LAYOUT = Layout(
    header=HEADER,
    where={name: k + 1 for k, name in enumerate(FEATURE_NAMES)},
    target_at=len(HEADER) - 1,
    id_at=0,
    first_line=2,
)
# Cells a careless or hostile file holds, beside the generated valid ones.
ODD_CELLS = [
    "",
    " ",
    "-0",
    "-0.0",
    "0.0",
    "2.0",
    "2.5",
    "1e3",
    "1_000",
    "nan",
    "inf",
    "-inf",
    "1e400",
    "0x10",
    "abc",
    "True",
    " 7 ",
    "9007199254740993",
    "10000000",
    "10000000.5",
    "-10000001",
    "100",
    "101",
    "17",
    "18",
    "-2",
    "-3",
    "9",
    "10",
    "0",
    "1",
    "3",
    "6",
    "7",
    "٣",
    "+5",
    TOO_LONG,
]


def cells_of(row: dict[str, Any], client: str, flag: str) -> list[str]:
    """Return a generated client's cells in LAYOUT's order."""
    return [client, *(str(row[name]) for name in FEATURE_NAMES), flag]


def bits(row: ClientRow) -> tuple[Any, ...]:
    """Return a row with its values as bit patterns: -0.0 and 0.0 differ here."""
    packed = tuple(struct.pack("<d", value) for value in row.values)
    return (row.line, row.client_id, packed, row.target, row.problems, row.target_problem, row.valid)


def assert_same(numbered: list[tuple[int, list[str]]]) -> None:
    """Assert that check_chunk and check_cells agree on every row."""
    fast = check_chunk(numbered, LAYOUT)
    slow = [check_cells(cells, LAYOUT, line) for line, cells in numbered]
    assert [bits(row) for row in fast] == [bits(row) for row in slow]
    piece = check_book_piece(numbered, LAYOUT)
    assert piece.valid.tolist() == [row.valid for row in slow]
    assert piece.ids == [row.client_id for row in slow]
    assert [struct.pack("<d", v) for row in piece.raw.tolist() for v in row] == [
        struct.pack("<d", v) for row in slow if row.valid for v in row.values
    ]
    assert {k: bits(row) for k, row in piece.invalid.items()} == {
        k: bits(row) for k, row in enumerate(slow) if not row.valid
    }


def test_generated_valid_rows_are_accepted_with_their_values() -> None:
    rows = generate_rows(500, seed=9)
    numbered = [(k + 2, cells_of(row, f"c{k}", str(k % 2))) for k, row in enumerate(rows)]
    assert all(row.valid for row in check_chunk(numbered, LAYOUT))
    assert_same(numbered)


def test_an_empty_chunk_and_rows_of_every_odd_cell_agree() -> None:
    assert check_chunk([], LAYOUT) == []
    base = cells_of(generate_rows(1, seed=3)[0], "x", "1")
    numbered = []
    for column in range(len(base)):
        for cell in ODD_CELLS:
            cells = list(base)
            cells[column] = cell
            numbered.append((len(numbered) + 2, cells))
    numbered.append((len(numbered) + 2, base[:10]))  # a short row
    assert_same(numbered)


def test_a_file_without_the_optional_codes_reads_them_as_zero() -> None:
    where = {name: k + 1 for k, name in enumerate(n for n in FEATURE_NAMES if n not in ("sex", "marriage"))}
    layout = Layout(header=("ID", *where), where=where, target_at=None, id_at=0, first_line=2)
    row = generate_rows(1, seed=5)[0]
    numbered = [(2, ["a", *(str(row[name]) for name in where)])]
    (fast,) = check_chunk(numbered, layout)
    assert fast.valid and fast.values == check_cells(numbered[0][1], layout, 2).values


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(HEADER) - 1), st.one_of(st.sampled_from(ODD_CELLS), st.text(max_size=8))
        ),
        max_size=4,
    ),
    st.integers(0, 10_000),
)
def test_any_edit_of_a_valid_row_is_judged_as_check_cells_judges_it(
    edits: list[tuple[int, str]], seed: int
) -> None:
    cells = cells_of(generate_rows(1, seed=seed)[0], "id", "0")
    for column, cell in edits:
        cells[column] = cell
    assert_same([(2, cells)])
