"""What a chunk, a shard or a whole book adds up to: rows, scored, invalid, grades, PDs and bin counts for PSI.

The shard writes `BookCounts.to_json()` into its summary; the summary step and the local command read them
back (`from_summary`), add them and report the book: counts, mean PD and `book_drift`.
"""

from dataclasses import dataclass, field
from typing import Any

from functions.monitoring.psi import drifts_of_counts
from functions.monitoring.tables import drift_json
from functions.scoring.bins import BinCounts
from functions.scoring.manifest_parts import ReferenceDistributions


@dataclass
class BookCounts:
    """Counts of one chunk, shard or book: rows, scored, invalid, per grade, the sum of PDs (for the mean),
    and the scored rows per reference bin of each input and of the score (for PSI; empty without a reference)."""

    rows: int = 0
    scored: int = 0
    invalid: int = 0
    grades: dict[str, int] = field(default_factory=dict)
    sum_probability_of_default: float = 0.0
    bins: BinCounts = field(default_factory=BinCounts)

    @classmethod
    def from_summary(cls, summary: dict[str, Any]) -> "BookCounts":
        """Read the counts back from a shard's summary (its other keys are ignored); raises KeyError if one lacks."""
        return cls(
            rows=summary["rows"],
            scored=summary["scored"],
            invalid=summary["invalid"],
            grades=dict(summary["grades"]),
            sum_probability_of_default=summary["sum_probability_of_default"],
            bins=BinCounts.from_json(summary["bins"]),
        )

    def to_json(self) -> dict[str, Any]:
        """Return the counts as a shard's summary stores them (bins as {name: [count per bin]})."""
        return {
            "rows": self.rows,
            "scored": self.scored,
            "invalid": self.invalid,
            "grades": dict(self.grades),
            "sum_probability_of_default": self.sum_probability_of_default,
            "bins": self.bins.to_json(),
        }

    def add(self, other: "BookCounts") -> None:
        """Add another count's figures to this one; raises ValueError when their reference bins differ."""
        self.rows += other.rows
        self.scored += other.scored
        self.invalid += other.invalid
        self.sum_probability_of_default += other.sum_probability_of_default
        for grade, count in other.grades.items():
            self.grades[grade] = self.grades.get(grade, 0) + count
        self.bins += other.bins

    def report(self) -> dict[str, Any]:
        """Return the counts with the mean PD over scored rows (None when none was scored), grades sorted."""
        mean = self.sum_probability_of_default / self.scored if self.scored else None
        return {
            "rows": self.rows,
            "scored": self.scored,
            "invalid": self.invalid,
            "grades": dict(sorted(self.grades.items())),
            "mean_probability_of_default": mean,
        }


def book_drift(counts: BookCounts, reference: ReferenceDistributions | None) -> dict[str, Any] | None:
    """Return the scored rows' PSI and verdict per input and on the score, shaped as `monitoring drift --format
    json`; None without a reference or a scored row."""
    if reference is None or not counts.scored or not counts.bins.counts:
        return None
    return drift_json(drifts_of_counts(counts.bins, reference), rows=counts.scored)
