"""A resolved strategy compiled into lookup tables for the engine (engine.py): every cell - a PD interval between
the PD bands' and the risk grades' edges, the first policy rule that holds (or none), a utilisation band - is
decided once when the strategy is loaded, by the rules of docs/strategy.md written on arrays below, so that a row
costs three searches and a few lookups, whether the engine decides one client or a whole book.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from functions.scoring.strategy.checks import RuleTests, rule_tests
from functions.scoring.strategy.file import ACTIONS, DECISIONS, LineManagement, PdBand, PolicyRule

Vector = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float64]
Indexes = npt.NDArray[np.intp]
Labels = npt.NDArray[np.str_]

_DECISION_LABELS = np.array(DECISIONS)
_ACTION_LABELS = np.array(ACTIONS)


@dataclass(frozen=True)
class Cells:
    """The strategy's decision per cell: cell = (PD interval x (rules + 1) + first rule) x bands + utilisation band,
    where the first rule is the number of rules when none holds."""

    pd_edges: Vector  # the inner edges of the PD bands and of the risk grades, ascending, each once
    utilisation_edges: Vector  # inner edges between utilisation bands
    rules: RuleTests | None
    interval_stride: Indexes  # 1 element: (rules + 1) x utilisation bands
    rule_stride: Indexes  # 1 element: utilisation bands
    severity: Indexes  # index into DECISIONS: 0 approve, 1 refer, 2 decline
    decision: Labels
    decided_by: Labels  # the winning rule's code or the PD band's name
    action: Indexes  # index into ACTIONS
    line_action: Labels
    percent: Vector  # the action's percentage of the current limit

    def locate(self, raw: Matrix, pd: Vector, utilisation: Vector) -> Indexes:
        """Return each row's cell from its raw inputs (rows x 23), PD (n) and utilisation (n)."""
        cell = self.pd_edges.searchsorted(pd, side="right") * self.interval_stride
        cell += self.utilisation_edges.searchsorted(utilisation, side="right")
        if self.rules is not None:
            cell += self.rules.holding(raw) * self.rule_stride
        return cell


def compile_cells(
    bands: Sequence[PdBand],
    rules: Sequence[PolicyRule],
    lines: LineManagement,
    *,
    band_starts: Vector,
    grade_limits: Vector,
    utilisation_edges: Vector,
    cell_actions: Indexes,
    cell_percents: Vector,
) -> Cells:
    """Decide every cell of a resolved strategy: rules, then bands, then the line matrix or refer's or decline's
    action (bands ascending from PD 0, grades x utilisation bands in the matrix); raises nothing."""
    tests = rule_tests([r.when for r in rules])
    rules = rules if tests is not None else ()  # no condition at all: no rule can fire
    band_edges, grade_edges = band_starts[1:], grade_limits[:-1]  # PD 1 falls in the last band, or grade
    pd_edges = np.unique(np.concatenate((band_edges, grade_edges)))
    # An interval's band (grade) is the number of band (grade) edges at or below its lower edge: what a search of
    # a PD in the interval among the band's (grade's) own edges returns, NaN included (it sorts after every edge).
    lows = np.concatenate(([-np.inf], pd_edges))
    band_of, grade_of = (np.searchsorted(edges, lows, side="right") for edges in (band_edges, grade_edges))
    shape = (len(lows), len(rules) + 1, len(utilisation_edges) + 1)
    interval, fired, utilisation = (axis.ravel() for axis in np.indices(shape))
    band, grade = band_of[interval], grade_of[interval]

    # The decision: the first firing rule's if at least as severe as the PD band's, else the band's; no rule
    # firing reads the sentinel -1, which never wins.
    band_severity = np.array([DECISIONS.index(b.decision) for b in bands], dtype=np.intp)
    rule_severity = np.array([DECISIONS.index(r.decision) for r in rules] + [-1], dtype=np.intp)
    severity = band_severity[band]
    wins = rule_severity[fired] >= severity
    severity = np.where(wins, rule_severity[fired], severity)
    decider = np.where(wins, len(bands) + fired, band)
    deciders = np.array([b.name for b in bands] + [r.code for r in rules])

    # The line action: the matrix's cell if approved, else the file's refer or decline action.
    override = np.array([-1, *(ACTIONS.index(cell.action) for cell in (lines.refer, lines.decline))])
    percents = np.array([0.0, lines.refer.percent, lines.decline.percent])
    overridden = severity > 0
    action = np.where(overridden, override[severity], cell_actions[grade, utilisation]).astype(np.intp)
    percent = np.where(overridden, percents[severity], cell_percents[grade, utilisation])
    return Cells(
        pd_edges=pd_edges,
        utilisation_edges=utilisation_edges,
        rules=tests,
        interval_stride=np.array([shape[1] * shape[2]], dtype=np.intp),
        rule_stride=np.array([shape[2]], dtype=np.intp),
        severity=severity,
        decision=_DECISION_LABELS[severity],
        decided_by=deciders[decider],
        action=action,
        line_action=_ACTION_LABELS[action],
        percent=np.asarray(percent, dtype=np.float64),
    )
