"""The pure model: the 23 inputs (contract), features, the numpy tree ensemble and its bit masks, reference bins,
reason codes and their adverse-action statements, the adverse-action notice rule, what would change a
decision (recourse), the elderly rule of Regulation B, the verified manifest, `ScoringModel` (assess -> points, grade,
decision, reasons) and the credit
strategy (file, checks, the vectorised decision engine).

Imports nothing else of the product but `functions.config`; numpy, pydantic and PyYAML only (no scikit-learn, pandas or scipy).
"""

__all__ = [
    "contract",
    "elderly",
    "features",
    "leafmasks",
    "manifest",
    "manifest_parts",
    "model",
    "notice",
    "reasons",
    "recourse",
    "recourse_answer",
    "reference",
    "statements",
    "strategy",
    "strategy_checks",
    "strategy_file",
    "trees",
]
