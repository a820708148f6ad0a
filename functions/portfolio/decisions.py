"""The strategy's columns and totals in a scored book: the same engine as the API (`functions.scoring.strategy.engine`),
applied to a whole chunk at once. A book is decided by the champion alone (a challenger is simulated, not drawn).
"""

from pathlib import Path
from typing import Any, Final

import numpy as np

from functions.clientfiles.cells import csv_field
from functions.scoring.contract import FEATURE_NAMES
from functions.scoring.manifest import Manifest
from functions.scoring.strategy.engine import Labels, Matrix, Outcomes, Strategy, Vector, read_strategy
from functions.scoring.strategy.file import ACTIONS, DECISIONS

STRATEGY_COLUMNS: Final = (
    "decision",
    "decided_by",
    "line_action",
    "line_percent",
    "new_limit",
    "exposure_at_default",
    "expected_loss",
    "adverse_action_notice",
)
_LIMIT: Final = FEATURE_NAMES.index("limit_bal")
_loaded: dict[tuple[Path, str], Strategy] = {}


def book_strategy(path: Path, manifest: Manifest) -> Strategy:
    """Read and verify the strategy once per process for this model; raises StrategyError."""
    key = (path.resolve(), manifest.version)
    if key not in _loaded:
        _loaded[key] = read_strategy(path, manifest=manifest)
    return _loaded[key]


def decide_book(strategy: Strategy, raw: Matrix, pd: Vector) -> Outcomes:
    """Apply the champion to rows x 23 raw inputs and their PD (the API's engine, row for row)."""
    return strategy.apply(raw, pd)


def strategy_cells(outcomes: Outcomes) -> list[list[str]]:
    """Return each row's strategy cells in STRATEGY_COLUMNS order: labels, percent, whole NT$ limit, NT$ cents,
    and the adverse-action notice (functions.scoring.adverse.notice). The book writes them through
    `strategy_template`; this row-by-row form is the reference its tests compare the templates with."""
    columns = zip(
        outcomes.decision.tolist(),
        outcomes.decided_by.tolist(),
        outcomes.line_action.tolist(),
        outcomes.line_percent.tolist(),
        outcomes.new_limit.tolist(),
        outcomes.exposure_at_default.tolist(),
        outcomes.expected_loss.tolist(),
        outcomes.adverse_action_notice.tolist(),
        strict=True,
    )
    return [
        [decision, rule, action, f"{percent:g}", f"{limit:.0f}", f"{ead:.2f}", f"{loss:.2f}", notice]
        for decision, rule, action, percent, limit, ead, loss, notice in columns
    ]


# line_percent, new_limit, exposure_at_default, expected_loss: a template's fields
STRATEGY_NUMBERS: Final = 4


def strategy_labels(outcomes: Outcomes) -> tuple[Labels, Labels, Labels, Labels]:
    """Return the label columns a template quotes: decision, the deciding rule, line action, adverse-action notice."""
    return outcomes.decision, outcomes.decided_by, outcomes.line_action, outcomes.adverse_action_notice


def strategy_numbers(outcomes: Outcomes) -> list[list[float]]:
    """Return the columns a template's fields take (STRATEGY_NUMBERS of them): percent, limit, EAD and EL."""
    return [
        outcomes.line_percent.tolist(),
        outcomes.new_limit.tolist(),
        outcomes.exposure_at_default.tolist(),
        outcomes.expected_loss.tolist(),
    ]


def braced(text: str) -> str:
    """Return `text` as literal text of a str.format template (its braces doubled)."""
    return text.replace("{", "{{").replace("}", "}}")


def strategy_template(labels: tuple[str, str, str, str], *, first: int = 0) -> str:
    """Return one outcome's strategy cells as csv.writer writes `strategy_cells`, as a str.format template: its
    labels as CSV fields and format fields `first` to `first + 3` for the percent, limit, EAD and EL."""
    decision, rule, action, notice = (braced(csv_field(label)) for label in labels)
    percent, limit, ead, loss = range(first, first + STRATEGY_NUMBERS)
    return f"{decision},{rule},{action},{{{percent}:g}},{{{limit}:.0f}},{{{ead}:.2f}},{{{loss}:.2f}},{notice}"


def strategy_totals(outcomes: Outcomes, raw: Matrix) -> dict[str, Any]:
    """Return a chunk's counts by decision and line action and its NT$ sums: EAD, EL, limit added and removed."""
    change = outcomes.new_limit - raw[:, _LIMIT]
    return {
        "decisions": {name: int(np.count_nonzero(outcomes.decision == name)) for name in DECISIONS},
        "line_actions": {name: int(np.count_nonzero(outcomes.line_action == name)) for name in ACTIONS},
        "exposure_at_default": float(outcomes.exposure_at_default.sum()),
        "expected_loss": float(outcomes.expected_loss.sum()),
        "limit_added": float(change[change > 0].sum()),
        "limit_removed": float(-change[change < 0].sum()),
    }


def add_totals(mine: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """Return the sum of two chunks' strategy totals (an empty dict is zero)."""
    if not mine:
        return {key: dict(value) if isinstance(value, dict) else value for key, value in other.items()}
    summed: dict[str, Any] = {}
    for key, value in other.items():
        if isinstance(value, dict):
            summed[key] = {name: mine[key].get(name, 0) + count for name, count in value.items()}
        else:
            summed[key] = mine[key] + value
    return summed
