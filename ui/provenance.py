"""Whether an uploaded file is, or contains, the data the served model was built from (its content hash)."""

import hashlib
from typing import Final

import numpy as np
import pandas as pd

from functions.scoring.manifest import Manifest
from functions.scoring.model import to_matrix
from ui.batch import ParsedFile

IS_TRAINING_DATA: Final = "is"
CONTAINS_TRAINING_DATA: Final = "contains"


def table_hash(values: np.typing.NDArray[np.float64]) -> str | None:
    """Hash rows x 24 values (23 inputs + default flag) as training does: int64 little-endian, row by row.

    None when a value is not a whole number (such a table cannot be the training data).
    """
    if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
        return None
    return hashlib.sha256(np.ascontiguousarray(values.astype("<i8")).tobytes()).hexdigest()


def _rows_by_id(parsed: ParsedFile) -> np.typing.NDArray[np.float64] | None:
    """Return the file's rows (inputs + flag) in ID order (file order without IDs); None unless every row is valid."""
    if parsed.target is None or len(parsed.applicants) != len(parsed.table) or not len(parsed.table):
        return None
    values = np.column_stack([to_matrix(parsed.applicants), parsed.target[parsed.positions]])
    if parsed.id_column is None:
        return values
    ids = pd.to_numeric(parsed.table[parsed.id_column], errors="coerce").to_numpy(dtype=float)
    if np.isnan(ids).any():
        return None
    ordered: np.typing.NDArray[np.float64] = values[np.argsort(ids, kind="stable")]
    return ordered


def training_overlap(parsed: ParsedFile, manifest: Manifest) -> str | None:
    """Say whether the file "is" the model's data, "contains" it (its first rows by ID), or None (not found)."""
    values = _rows_by_id(parsed)
    rows = manifest.data.rows
    if values is None or len(values) < rows:
        return None
    if len(values) == rows:
        return IS_TRAINING_DATA if table_hash(values) == manifest.data.table_sha256 else None
    return CONTAINS_TRAINING_DATA if table_hash(values[:rows]) == manifest.data.table_sha256 else None
