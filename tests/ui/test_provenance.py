"""ui/provenance.py: a file that is, or contains, the model's own data is recognised by training's table hash."""

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from functions.scoring.manifest import Manifest, parse_manifest
from scripts.local import ROOT
from training.data import parse, table_sha256
from training.synthetic import generate_rows, to_dataset_csv
from ui import batch, provenance

ROWS = 200


def training_hash(csv: str) -> str:
    """Hash a file's table the way training does (training/data.py)."""
    return table_sha256(parse(pd.read_csv(io.StringIO(csv), header=None, dtype=str), "generated.csv"))


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    """Generated clients with whole-number amounts, as the dataset's are."""
    return generate_rows(ROWS + 20, seed=21)


@pytest.fixture(scope="module")
def target() -> list[int]:
    """A default flag per generated client."""
    return [int(t) for t in np.random.default_rng(21).integers(0, 2, ROWS + 20)]


@pytest.fixture(scope="module")
def manifest(rows: list[dict[str, Any]], target: list[int]) -> Manifest:
    """The shipped manifest, as if trained on the first ROWS generated clients."""
    shipped = parse_manifest((ROOT / "model" / "model.json").read_text())
    data = shipped.data.model_copy(
        update={
            "rows": ROWS,
            "table_sha256": training_hash(to_dataset_csv(rows[:ROWS], target=target[:ROWS])),
        }
    )
    return shipped.model_copy(update={"data": data})


def shuffled_csv(csv: str, seed: int) -> str:
    """Shuffle a file's data rows, keeping each row's ID."""
    header, *lines = csv.splitlines()
    order = np.random.default_rng(seed).permutation(len(lines))
    return "\n".join([header, *(lines[i] for i in order)]) + "\n"


def overlap(csv: str, manifest: Manifest) -> str | None:
    """Read a CSV as the batch tab does and check it against the manifest."""
    return provenance.training_overlap(batch.read_clients(csv.encode()), manifest)


def test_the_training_file_is_recognised_in_any_row_order(
    rows: list[dict[str, Any]], target: list[int], manifest: Manifest
) -> None:
    csv = to_dataset_csv(rows[:ROWS], target=target[:ROWS])
    assert overlap(csv, manifest) == provenance.IS_TRAINING_DATA
    assert overlap(shuffled_csv(csv, 1), manifest) == provenance.IS_TRAINING_DATA


def test_a_file_with_the_training_rows_and_more_contains_them(
    rows: list[dict[str, Any]], target: list[int], manifest: Manifest
) -> None:
    csv = to_dataset_csv(rows, target=target)
    assert overlap(shuffled_csv(csv, 2), manifest) == provenance.CONTAINS_TRAINING_DATA


@pytest.mark.parametrize("change", ["one value", "one flag", "fewer rows", "no flag", "an invalid row"])
def test_other_files_are_not_the_training_data(
    rows: list[dict[str, Any]], target: list[int], manifest: Manifest, change: str
) -> None:
    changed, flags = [dict(row) for row in rows[:ROWS]], list(target[:ROWS])
    if change == "one value":
        changed[17]["bill_amt3"] += 1
    elif change == "one flag":
        flags[17] = 1 - flags[17]
    elif change == "fewer rows":
        changed, flags = changed[:-1], flags[:-1]
    elif change == "an invalid row":
        changed[17]["pay_0"] = 12
    csv = to_dataset_csv(changed, target=None if change == "no flag" else flags)
    assert overlap(csv, manifest) is None


def test_table_hash_refuses_fractions() -> None:
    assert provenance.table_hash(np.array([[1.5, 2.0]])) is None
    assert provenance.table_hash(np.array([[1.0, 2.0]])) == provenance.table_hash(
        np.array([[1, 2]], dtype=float)
    )


@pytest.mark.realdata
def test_the_real_dataset_is_recognised_as_the_shipped_models_data(real_data_path: Path) -> None:
    shipped = parse_manifest((ROOT / "model" / "model.json").read_text())
    parsed = batch.read_clients(real_data_path.read_bytes())
    assert provenance.training_overlap(parsed, shipped) == provenance.IS_TRAINING_DATA
