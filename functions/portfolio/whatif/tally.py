"""What-if of a credit strategy on a scored book: additive tallies per chunk of rows, then one summary.

A tally is a mapping of named sums (clients, PD sums, NT$), so chunks scored on a pool add up exactly; the
command (`python -m functions.portfolio whatif`, whatif/run.py), its HTML report and the UI's Strategy tab
all summarise with the same functions. Pure: arrays in, numbers out.
"""

from collections import defaultdict
from collections.abc import Mapping
from typing import Final

import numpy as np
import numpy.typing as npt

from functions.scoring.contract import FEATURE_NAMES, MARRIAGE_CODES, SEX_CODES
from functions.scoring.elderly import AGE_BANDS
from functions.scoring.strategy.engine import Outcomes, Strategy
from functions.scoring.strategy.file import ACTIONS, DECISIONS

Vector = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float64]
Targets = npt.NDArray[np.int64]  # 1 default, 0 none, -1 unknown (no column, or the cell was not 0 or 1)
Tally = defaultdict[str, float]  # named sums: clients, PD, NT$; a missing name is 0

PD_BINS: Final = 200  # PD histogram of the book, for the trade-off curve (cut-offs every 0.005)
_AT: Final = {name: i for i, name in enumerate(FEATURE_NAMES)}


def new_tally(**values: float) -> Tally:
    """Return a tally holding `values` (every other name reads 0)."""
    return defaultdict(float, values)


def add(total: Tally, part: Mapping[str, float]) -> None:
    """Add a tally's sums into `total` (chunks of a book add up exactly: counts and sums only)."""
    for key, value in part.items():
        total[key] += value


def group_labels(raw: Matrix) -> dict[str, npt.NDArray[np.str_]]:
    """Return each row's sex, marriage and age-band label (rows x 23 raw inputs; a missing code is 0)."""
    sex = raw[:, _AT["sex"]].astype(np.int64)
    marriage = raw[:, _AT["marriage"]].astype(np.int64)
    age = raw[:, _AT["age"]]
    ages = np.full(len(raw), "unknown", dtype="U8")
    for low, high, label in AGE_BANDS:
        ages[(age >= low) & (age <= high)] = label
    sexes = np.array([SEX_CODES.get(code, "not given") for code in range(3)])
    marriages = np.array([MARRIAGE_CODES[code] for code in range(4)])
    return {
        "sex": sexes[np.clip(sex, 0, 2)],
        "marriage": marriages[np.clip(marriage, 0, 3)],
        "age_band": ages,
    }


def adverse_actions(outcomes: Outcomes) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Return the rows that get an adverse-action notice: (declined, limit lowered), by the one rule of
    `functions.scoring.adverse.notice` (12 CFR 1002.2(c)(1); none for a currently delinquent account, (c)(2)(ii))."""
    required = outcomes.adverse_action_notice == "required"
    declined = outcomes.decision == "decline"
    return declined & required, ~declined & required


def tally(
    strategy: Strategy,
    outcomes: Outcomes,
    raw: Matrix,
    pd: Vector,
    target: Targets,
    *,
    grades: tuple[str, ...],
) -> Tally:
    """Sum what one strategy decided on rows x 23 inputs with their PD and 0/1/-1 target: counts, PD, NT$."""
    sums = new_tally(rows=len(pd))
    known = target >= 0
    approved = outcomes.decision == "approve"
    for name in DECISIONS:
        chosen = outcomes.decision == name
        sums[f"decision:{name}"] += int(chosen.sum())
        sums[f"decision_pd:{name}"] += float(pd[chosen].sum())
        _outcome(sums, f"decision:{name}", chosen & known, pd, target)
    band = np.clip(
        np.searchsorted(strategy.band_starts, pd, side="right") - 1, 0, len(strategy.band_starts) - 1
    )
    for index, spec in enumerate(strategy.spec.pd_bands):
        chosen = band == index
        sums[f"band:{spec.name}"] += int(chosen.sum())
        sums[f"band_pd:{spec.name}"] += float(pd[chosen].sum())
        _outcome(sums, f"band:{spec.name}", chosen & known, pd, target)
    grade = np.minimum(np.searchsorted(strategy.grade_limits, pd, side="right"), len(grades) - 1)
    for index, name in enumerate(grades):
        chosen = grade == index
        sums[f"grade:{name}"] += int(chosen.sum())
        sums[f"grade_el:{name}"] += float(outcomes.expected_loss[chosen].sum())
        sums[f"grade_ead:{name}"] += float(outcomes.exposure_at_default[chosen].sum())
    change = outcomes.new_limit - raw[:, _AT["limit_bal"]]
    sums["limit_added"] += float(change[change > 0].sum())
    sums["limit_removed"] += float(-change[change < 0].sum())
    for action in ACTIONS:
        sums[f"line:{action}"] += int((outcomes.line_action == action).sum())
    declined, lowered = adverse_actions(outcomes)
    sums["notice:decline"] += int(declined.sum())
    sums["notice:line_decrease"] += int(lowered.sum())
    for attribute, labels in group_labels(raw).items():
        for label in np.unique(labels).tolist():
            chosen = labels == label
            sums[f"group:{attribute}={label}"] += int(chosen.sum())
            sums[f"group_approved:{attribute}={label}"] += int((chosen & approved).sum())
    return sums


def _outcome(sums: Tally, key: str, rows: npt.NDArray[np.bool_], pd: Vector, target: Targets) -> None:
    """Add the rows with a known outcome: their count, defaults and PD sum."""
    sums[f"known:{key}"] += int(rows.sum())
    sums[f"defaults:{key}"] += int(target[rows].sum())
    sums[f"known_pd:{key}"] += float(pd[rows].sum())


def swap_tally(champion: Outcomes, challenger: Outcomes, pd: Vector, target: Targets) -> Tally:
    """Sum the champion decision x challenger decision counts, with each swap set's PD sum and outcomes."""
    sums = new_tally()
    known = target >= 0
    for before in DECISIONS:
        for after in DECISIONS:
            chosen = (champion.decision == before) & (challenger.decision == after)
            key = f"swap:{before}>{after}"
            sums[key] += int(chosen.sum())
            sums[f"swap_pd:{before}>{after}"] += float(pd[chosen].sum())
            _outcome(sums, key, chosen & known, pd, target)
    return sums


def evaluate(
    strategies: dict[str, Strategy], raw: Matrix, pd: Vector, target: Targets, *, grades: tuple[str, ...]
) -> Tally:
    """Tally each arm (`champion`, and `challenger` if given) on the same rows, and their swaps; keys `arm/...`."""
    outcomes = {arm: strategy.apply(raw, pd) for arm, strategy in strategies.items()}
    sums = new_tally()
    for arm, strategy in strategies.items():
        for key, value in tally(strategy, outcomes[arm], raw, pd, target, grades=grades).items():
            sums[f"{arm}/{key}"] += value
    if len(outcomes) == 2:
        add(sums, swap_tally(outcomes["champion"], outcomes["challenger"], pd, target))
    at = np.minimum((pd * PD_BINS).astype(np.int64), PD_BINS - 1)
    counts, pd_sums = np.bincount(at, minlength=PD_BINS), np.bincount(at, weights=pd, minlength=PD_BINS)
    for index in np.flatnonzero(counts).tolist():
        sums[f"pd_bin:{index}"] += int(counts[index])
        sums[f"pd_bin_sum:{index}"] += float(pd_sums[index])
    return sums


def tradeoff(pd: Vector, cutoffs: Vector) -> tuple[Vector, Vector]:
    """Return, for each cut-off, the approval rate (PD < cut-off) and the expected bad rate (mean PD) of approved."""
    ordered = np.sort(np.asarray(pd, dtype=np.float64))
    counts = np.searchsorted(ordered, cutoffs, side="left")
    sums = np.concatenate([[0.0], np.cumsum(ordered)])[counts]
    rates = counts / max(len(ordered), 1)
    bad = np.divide(sums, counts, out=np.full(len(counts), np.nan), where=counts > 0)
    return rates.astype(np.float64), bad.astype(np.float64)
