"""What would change the decision: the smallest change of actionable inputs that turns a refer or a decline into
an approval under the served strategy, checked by re-scoring with the served model (`ScoringModel.probabilities`).

Actionable: payments (pay_amt1-6) and balances (bill_amt1-6) in NT$, and the repayment status only as "bring the
account current" (every pay_* above 0 set to 0, "revolving credit"). Never touched: age, education, sex, marriage
and the credit limit (`IMMUTABLE`). Copying the cut-off band's typical profile crosses the cut-off for few clients,
so amounts are searched: each direction (`DIRECTIONS`) is tried from the client as is and, when late, from the
client brought current; its amounts on a geometric grid are re-scored in one batch, the smallest approved one is
refined by bisection in whole NT$ (every step re-scored), and the direction with the smallest total NT$ change wins
(ties: without bringing current, then `DIRECTIONS` order). PD is not monotone in amounts, so the answer is the
smallest change found on the grid and its bracket, not a proof that no smaller one exists.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from functions.scoring.contract import BILLS, FEATURE_NAMES, MAX_AMOUNT, PAY_STATUS, PAYMENTS
from functions.scoring.model import ScoringModel
from functions.scoring.strategy.engine import Strategy

Vector = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float64]
Move = Callable[[Vector, Vector], Matrix]  # (client's 23 inputs, amounts in NT$) -> one row per amount

IMMUTABLE: Final = ("limit_bal", "sex", "education", "marriage", "age")
AMOUNTS: Final = PAYMENTS + BILLS  # the NT$ inputs a change may move
GRID_POINTS: Final = 40  # amounts per direction, geometric from NT$100 to the direction's upper bound
SMALLEST_STEP: Final = 100.0  # NT$: the grid's first amount after 0
MIN_UPPER: Final = 10_000.0  # NT$: payments are tried up to at least this much
_AT: Final = {name: i for i, name in enumerate(FEATURE_NAMES)}
_PAY: Final = np.array([_AT[name] for name in PAYMENTS])
_BILL: Final = np.array([_AT[name] for name in BILLS])
_STATUS: Final = np.array([_AT[name] for name in PAY_STATUS])
_AMOUNT: Final = np.array([_AT[name] for name in AMOUNTS])


def _rows(client: Vector, amounts: Vector) -> Matrix:
    return np.repeat(client[None, :], amounts.size, axis=0)


def _pay_latest(client: Vector, amounts: Vector) -> Matrix:
    rows = _rows(client, amounts)
    rows[:, _AT["pay_amt1"]] += amounts
    return rows


def _pay_down_latest(client: Vector, amounts: Vector) -> Matrix:
    rows = _pay_latest(client, amounts)
    rows[:, _AT["bill_amt1"]] -= amounts
    return rows


def _lower_latest_balance(client: Vector, amounts: Vector) -> Matrix:
    rows = _rows(client, amounts)
    rows[:, _AT["bill_amt1"]] -= amounts
    return rows


def _lower_balances(client: Vector, amounts: Vector) -> Matrix:
    rows = _rows(client, amounts)  # each positive balance lowered by the amount, never below 0
    owed = np.maximum(rows[:, _BILL], 0.0)
    rows[:, _BILL] -= np.minimum(amounts[:, None], owed)
    return rows


def _raise_payments(client: Vector, amounts: Vector) -> Matrix:
    rows = _rows(client, amounts)  # the amount more in each of the six months
    rows[:, _PAY] += amounts[:, None]
    return rows


def _latest_owed(client: Vector) -> float:
    return max(float(client[_AT["bill_amt1"]]), 0.0)


def _largest_owed(client: Vector) -> float:
    return max(float(client[_BILL].max()), 0.0)


def _payment_room(client: Vector) -> float:
    """Return the largest extra payment tried: twice what is owed, at least the limit or NT$10,000 (contract cap)."""
    owed = float(np.maximum(client[_BILL], 0.0).sum())
    room = MAX_AMOUNT - float(client[_PAY].max())
    return min(max(2.0 * owed, float(client[_AT["limit_bal"]]), MIN_UPPER), room)


# name -> (how it moves the inputs, what it asks of the client, the largest amount it tries in NT$)
DIRECTIONS: Final[dict[str, tuple[Move, str, Callable[[Vector], float]]]] = {
    "pay_latest": (_pay_latest, "pay more in the latest month (September)", _payment_room),
    "pay_down_latest": (
        _pay_down_latest,
        "pay more in September, lowering the latest balance by as much",
        _latest_owed,
    ),
    "lower_latest_balance": (_lower_latest_balance, "carry a lower latest balance (September)", _latest_owed),
    "lower_balances": (_lower_balances, "carry lower balances in every month (not below 0)", _largest_owed),
    "raise_payments": (_raise_payments, "pay more in each of the six months", _payment_room),
}
BRING_CURRENT: Final = "bring the account current (no payment late)"


@dataclass(frozen=True)
class Recourse:
    """One client's answer: PD and decision now, the approval cut-off, and the change found (or why none)."""

    probability_of_default: float
    decision: str
    approve_below: float  # PD at which the approve band ends (the strategy's first non-approve band)
    message: str
    direction: str | None = None  # a DIRECTIONS name, "bring_current" alone; None: no change needed or found
    brings_current: bool = False
    proposed: Vector | None = None  # the 23 inputs after the change
    total_change: float = 0.0  # NT$: sum of |change| over the amount inputs
    reached_pd: float | None = None
    reached_decision: str | None = None


def approve_cutoff(strategy: Strategy) -> float:
    """Return the PD at which the strategy's approve band(s) from PD 0 end (0 when PD 0 is not approved)."""
    for start, band in zip(strategy.band_starts.tolist(), strategy.spec.pd_bands, strict=True):
        if band.decision != "approve":
            return float(start)
    return 1.0


def bring_current(client: Vector) -> Vector:
    """Return the client's inputs with every late repayment status (above 0) set to 0, revolving credit."""
    current = client.copy()
    current[_STATUS] = np.minimum(current[_STATUS], 0.0)
    return current


def _grid(upper: float) -> Vector:
    """Return 0 and GRID_POINTS whole-NT$ amounts, geometric from SMALLEST_STEP to `upper` (ascending, unique)."""
    upper = float(np.floor(upper))
    if upper < SMALLEST_STEP:
        return np.array([0.0, upper]) if upper > 0 else np.array([0.0])
    amounts = np.round(np.geomspace(SMALLEST_STEP, upper, GRID_POINTS))
    return np.asarray(np.unique(np.concatenate([[0.0], amounts])), dtype=np.float64)


class _Judge:
    """Re-score candidate rows with the served model and the strategy: approved or not (counts the walks)."""

    def __init__(self, model: ScoringModel, strategy: Strategy) -> None:
        self.model, self.strategy, self.walks = model, strategy, 0

    def __call__(self, rows: Matrix) -> tuple[Vector, npt.NDArray[np.bool_]]:
        """Return the PD of each row (rows x 23) and whether the strategy approves it."""
        self.walks += 1
        pd = self.model.probabilities(rows)
        return pd, self.strategy.apply(rows, pd).decision == "approve"


def _tries(client: Vector) -> list[tuple[str, bool, Vector, Move, Vector]]:
    """Return every (direction, brought current, start, move, grid): as is, and brought current when late."""
    starts = [(False, client)]
    if (client[_STATUS] > 0).any():
        starts.append((True, bring_current(client)))
    return [
        (name, current, start, move, _grid(upper(start)))
        for current, start in starts
        for name, (move, _, upper) in DIRECTIONS.items()
    ]


def _bisect(tries: list[tuple[str, bool, Vector, Move, Vector]], brackets: Matrix, judge: _Judge) -> Vector:
    """Narrow each (try, lo, hi) bracket, hi approved and lo not, to whole NT$ (or 0.1 % of hi); return the hi's."""
    lo, hi = brackets[:, 1].copy(), brackets[:, 2].copy()
    while True:
        active = np.flatnonzero(hi - lo > np.maximum(1.0, hi / 1000.0))
        if not active.size:
            return hi
        mid = np.floor((lo[active] + hi[active]) / 2.0)
        rows = np.vstack(
            [
                tries[int(brackets[k, 0])][3](tries[int(brackets[k, 0])][2], mid[j : j + 1])
                for j, k in enumerate(active)
            ]
        )
        approved = judge(rows)[1]
        hi[active[approved]] = mid[approved]
        lo[active[~approved]] = mid[~approved]


def _brackets(tries: list[tuple[str, bool, Vector, Move, Vector]], judge: _Judge) -> Matrix:
    """Re-score every try's grid in one batch; return (try, lo, hi) of each try that some amount approves."""
    rows = np.vstack([move(start, grid) for _, _, start, move, grid in tries])
    approved = judge(rows)[1]
    brackets, offset = [], 0
    for k, (*_, grid) in enumerate(tries):
        hits = np.flatnonzero(approved[offset : offset + grid.size])
        offset += grid.size
        if hits.size:
            first = int(hits[0])
            brackets.append((k, grid[first - 1] if first else -1.0, grid[first]))
    return np.array(brackets, dtype=np.float64).reshape(-1, 3)


def find_recourse(model: ScoringModel, strategy: Strategy, client: Vector) -> Recourse:
    """Return the smallest change found (total NT$ over the amount inputs) that makes `strategy` approve one client's
    23 raw inputs, re-scored by `model`; or say that it is approved already, or that no actionable change suffices.
    """
    client = np.asarray(client, dtype=np.float64).reshape(len(FEATURE_NAMES))
    judge, cutoff = _Judge(model, strategy), approve_cutoff(strategy)
    pd, approved = judge(client[None, :])
    now = strategy.apply(client[None, :], pd).decision[0]
    pd_now, decision = float(pd[0]), str(now)
    if approved[0]:
        return Recourse(pd_now, decision, cutoff, message="approved already: nothing needs to change")
    tries = _tries(client)
    brackets = _brackets(tries, judge)
    if not brackets.size:
        return Recourse(pd_now, decision, cutoff, message=NONE_SUFFICES)
    amounts = _bisect(tries, brackets, judge)
    candidates = []
    for (k, _, _), amount in zip(brackets.tolist(), amounts.tolist(), strict=True):
        name, current, start, move, _ = tries[int(k)]
        row = move(start, np.array([amount]))[0]
        cost = float(np.abs(row[_AMOUNT] - client[_AMOUNT]).sum())
        candidates.append((cost, current, int(k), "bring_current" if amount == 0 else name, row))
    for cost, current, _, name, row in sorted(candidates, key=lambda c: c[:3]):
        reached, ok = judge(row[None, :])  # checked again on its own: the proposal is what the model approves
        if ok[0]:
            return Recourse(
                pd_now,
                decision,
                cutoff,
                direction=name,
                brings_current=current,
                proposed=row,
                total_change=cost,
                reached_pd=float(reached[0]),
                reached_decision="approve",
                message=describe_change(client, row, name, current),
            )
    return Recourse(pd_now, decision, cutoff, message=NONE_SUFFICES)


NONE_SUFFICES: Final = (
    "no change of payments, balances or repayment status (brought current) found that the strategy approves; "
    "the decision rests on inputs that cannot change (credit limit, age, education) or on a policy rule"
)


def changes(client: Vector, proposed: Vector) -> list[tuple[str, float, float]]:
    """Return (input, now, proposed) for each of the 23 inputs the proposal changes, in contract order."""
    moved = np.flatnonzero(np.asarray(proposed) != np.asarray(client))
    return [(FEATURE_NAMES[i], float(client[i]), float(proposed[i])) for i in moved.tolist()]


def describe_change(client: Vector, proposed: Vector, direction: str, current: bool) -> str:
    """Say in words what the client would do: bring the account current and/or the direction's NT$ amount."""
    parts = [BRING_CURRENT] if current else []
    if direction != "bring_current":
        moved = np.abs(proposed[_AMOUNT] - client[_AMOUNT])
        parts.append(f"{DIRECTIONS[direction][1]}: NT${moved.sum():,.0f} in total")
    return "; ".join(parts).capitalize()
