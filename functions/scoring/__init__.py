"""The pure model: the 23 inputs (contract), features, the numpy tree ensemble and its bit masks, reference bins,
reason codes, the verified manifest and `ScoringModel` (assess -> points, grade, decision, reasons).

Imports nothing else of the product but `functions.config`; numpy and pydantic only (no scikit-learn, pandas or scipy).
"""

__all__ = [
    "contract",
    "features",
    "leafmasks",
    "manifest",
    "manifest_parts",
    "model",
    "reasons",
    "reference",
    "trees",
]
