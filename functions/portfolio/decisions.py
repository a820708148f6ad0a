"""The strategy's columns and totals in a scored book: the same engine as the API (`functions.scoring.strategy.engine`),
applied to a whole chunk at once. A book is decided by the champion alone (a challenger is simulated, not drawn).
"""

from pathlib import Path
from typing import Any, Final

import numpy as np

from functions.clientfiles.cells import csv_field
from functions.scoring.contract import FEATURE_NAMES
from functions.scoring.manifest import Manifest
from functions.scoring.strategy.engine import Matrix, Outcomes, Strategy, Vector, read_strategy
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
    and the adverse-action notice (functions.scoring.adverse.notice)."""
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


def _escaped(label: str) -> str:
    """Return a label as its CSV field, with braces doubled for str.format."""
    return csv_field(label).replace("{", "{{").replace("}", "}}")


def strategy_text(outcomes: Outcomes) -> list[str]:
    """Return each row's strategy cells as CSV text, as csv.writer writes `strategy_cells` (commas between,
    quoted where needed); the labels of each distinct outcome are quoted and joined once, the numbers per row."""
    labels = zip(
        outcomes.decision.tolist(),
        outcomes.decided_by.tolist(),
        outcomes.line_action.tolist(),
        outcomes.adverse_action_notice.tolist(),
        strict=True,
    )
    templates: dict[tuple[str, ...], str] = {}  # labels -> "decision,rule,action,{percent},...,notice"
    keys = []
    for key in labels:
        if key not in templates:
            decision, rule, action, notice = (_escaped(label) for label in key)
            templates[key] = f"{decision},{rule},{action},{{:g}},{{:.0f}},{{:.2f}},{{:.2f}},{notice}"
        keys.append(templates[key])
    numbers = zip(
        keys,
        outcomes.line_percent.tolist(),
        outcomes.new_limit.tolist(),
        outcomes.exposure_at_default.tolist(),
        outcomes.expected_loss.tolist(),
        strict=True,
    )
    return [template.format(percent, limit, ead, loss) for template, percent, limit, ead, loss in numbers]


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
