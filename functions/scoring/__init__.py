"""The pure model: the 23 inputs (contract), features, the numpy tree ensemble, its bit masks and the re-walk of
what a variant can change (rewalk), reference bins, reason codes and their words (wording), the elderly rule of Regulation B, the verified
manifest, `ScoringModel` (assess -> points, grade, decision, reasons); adverse action (`adverse/`: the reason codes' statements, the notice rule, what would change
a decision) and the credit strategy (`strategy/`: file, checks, the vectorised decision engine).

Imports nothing else of the product but `functions.config`; numpy, pydantic and PyYAML only (no scikit-learn, pandas or scipy).
"""

__all__ = [
    "adverse",
    "contract",
    "elderly",
    "features",
    "leafmasks",
    "manifest",
    "manifest_parts",
    "model",
    "reasons",
    "reference",
    "rewalk",
    "strategy",
    "trees",
    "wording",
]
