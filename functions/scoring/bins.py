"""Rows counted per reference bin of each input and of the score: the one counter behind every PSI.

The API records each decision's bin indexes (`row_bins`), the drift job counts stored indexes
(`BinCounts.of_indexes`), a shard counts its scored rows (`BinCounts.of_rows`), shards and chunks add up
(`+`), and `functions.monitoring.psi.drifts_of_counts` turns the counts into PSI per input and on the score.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from functions.scoring.manifest_parts import ReferenceBins, ReferenceDistributions
from functions.scoring.reference import Vector, bin_index

Counts = npt.NDArray[np.int64]


def _columns(reference: ReferenceDistributions) -> tuple[ReferenceBins, ...]:
    return (*reference.inputs, reference.score)


def bin_indexes(
    raw: Vector, points: Vector, reference: ReferenceDistributions
) -> dict[str, npt.NDArray[np.intp]]:
    """Return each row's reference bin per input (rows x 23 raw inputs, contract order) and for the score points."""
    raw = np.asarray(raw, dtype=np.float64).reshape(len(points), len(reference.inputs))
    values = [*raw.T, np.asarray(points, dtype=np.float64)]
    return {
        bins.name: bin_index(column, bins) for bins, column in zip(_columns(reference), values, strict=True)
    }


def row_bins(raw: Vector, points: Vector, reference: ReferenceDistributions) -> list[dict[str, int]]:
    """Return one {input or "score": bin index} per row, as a decision record stores it."""
    columns = bin_indexes(raw, points, reference)
    return [{name: int(index[row]) for name, index in columns.items()} for row in range(len(points))]


@dataclass(frozen=True)
class BinCounts:
    """Rows per reference bin, by input name and "score" (in reference order); empty without a reference."""

    counts: Mapping[str, Counts] = field(default_factory=dict)

    @classmethod
    def of_rows(cls, raw: Vector, points: Vector, reference: ReferenceDistributions | None) -> "BinCounts":
        """Count rows x 23 raw inputs and their score points per reference bin; empty without a reference."""
        if reference is None:
            return cls()
        return cls(
            {
                bins.name: np.bincount(index, minlength=len(bins.shares)).astype(np.int64)
                for bins, index in zip(
                    _columns(reference), bin_indexes(raw, points, reference).values(), strict=True
                )
            }
        )

    @classmethod
    def of_indexes(cls, rows: Iterable[Mapping[str, int]], reference: ReferenceDistributions) -> "BinCounts":
        """Count stored bin indexes (one mapping per row, checked with `fits` first); raises KeyError if one lacks a name."""
        counts = {bins.name: np.zeros(len(bins.shares), dtype=np.int64) for bins in _columns(reference)}
        for row in rows:
            for name, column in counts.items():
                column[row[name]] += 1
        return cls(counts)

    @staticmethod
    def fits(row: Mapping[str, int] | None, reference: ReferenceDistributions) -> bool:
        """Whether stored bin indexes name a valid bin of every input and of the score of this reference."""
        return row is not None and all(
            0 <= row.get(bins.name, -1) < len(bins.shares) for bins in _columns(reference)
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Iterable[int]]) -> "BinCounts":
        """Read counts back from their JSON form ({name: [count per bin]})."""
        return cls({name: np.asarray(list(counts), dtype=np.int64) for name, counts in data.items()})

    def to_json(self) -> dict[str, list[int]]:
        """Return the counts as {name: [count per bin]} (plain ints, reference order)."""
        return {name: [int(c) for c in column] for name, column in self.counts.items()}

    @property
    def rows(self) -> int:
        """Return the number of rows counted (every column counts each row once)."""
        return int(next(iter(self.counts.values())).sum()) if self.counts else 0

    def shares(self, name: str) -> Vector:
        """Return the share of the counted rows in each bin of `name`; raises ValueError with no rows."""
        if self.rows == 0:
            raise ValueError("no rows counted to compare with the reference")
        shares: Vector = self.counts[name] / self.rows
        return shares

    def __add__(self, other: "BinCounts") -> "BinCounts":
        """Add two counts of the same reference bins; raises ValueError when their bins differ."""
        if not other.counts:
            return self
        if not self.counts:
            return other
        if [(n, len(c)) for n, c in self.counts.items()] != [(n, len(c)) for n, c in other.counts.items()]:
            raise ValueError("bin counts against different reference bins cannot be added")
        return BinCounts({name: column + other.counts[name] for name, column in self.counts.items()})
