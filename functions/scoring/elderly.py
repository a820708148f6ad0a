"""The elderly rule of Regulation B, in the score itself: an elderly applicant's age never counts against them.

12 CFR 1002.6(b)(2)(ii): a scoring system may use age "provided that the age of an elderly applicant is not
assigned a negative factor or value"; 1002.2(o): "elderly means age 62 or older"; 1002.2(v): a negative factor
or value is one "less favorable than the factor, value, or weight assigned to the class of applicants that are not
classified as elderly and are most favored by a creditor on the basis of age".

Method (a bounded search at serving): an elderly row is scored at every non-elderly age (18-61, all else equal)
and, when one of them gives a lower PD, its age is replaced by the most favourable one (the youngest among ties)
before the PD and the reasons are measured. The served PD is then the minimum of its own PD and the PDs at
ages 18-61, and the reasons are measured at an age no non-elderly age beats, so "age" never raises its PD.
The ensemble reads age through one model feature, so its PD is constant between consecutive age thresholds:
the youngest age 18 and, per threshold t in [18, 61), the first integer above t reach every PD of 18-61
(`non_elderly_ages`; tests/scoring/test_elderly.py checks the equivalence on the shipped model), and only the
trees that split on age are walked again (`TreeEnsemble.raw_score_with`). A reason's impact is then measured at
the age the score used: the PD minus the PD with its group at the reference profile, that age unchanged.
"""

from collections.abc import Callable
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from functions.scoring.contract import FEATURE_NAMES
from functions.scoring.features import MODEL_FEATURES, engineer
from functions.scoring.manifest_parts import ElderlyRule
from functions.scoring.trees import TreeEnsemble

Matrix = npt.NDArray[np.float64]
Scores = Callable[
    [Matrix, Matrix], Matrix
]  # (rows x 23 inputs, ages) -> PD at own age, then at each (rows x 1+ages)

ELDERLY_AGE: Final[Literal[62]] = 62  # 12 CFR 1002.2(o): "Elderly means age 62 or older."
YOUNGEST_AGE: Final[Literal[18]] = 18  # the contract's minimum age
AGE_COLUMN: Final = FEATURE_NAMES.index("age")
AGE_FEATURE: Final = MODEL_FEATURES.index("age")
# Age bands of the fairness and selection tables (the card, the what-if): the last band is the elderly class.
AGE_BANDS: Final = (
    (YOUNGEST_AGE, 29, "18-29"),
    (30, 39, "30-39"),
    (40, 49, "40-49"),
    (50, ELDERLY_AGE - 1, f"50-{ELDERLY_AGE - 1}"),
    (ELDERLY_AGE, 100, f"{ELDERLY_AGE}+"),  # 12 CFR 1002.2(o)
)
ALL_NON_ELDERLY: Final = tuple(float(age) for age in range(YOUNGEST_AGE, ELDERLY_AGE))  # 18 .. 61
ELDERLY_RULE: Final = ElderlyRule(
    elderly_age=ELDERLY_AGE,
    non_elderly_ages=(YOUNGEST_AGE, 61),
    method="most_favourable_non_elderly_age",
    source="12 CFR 1002.6(b)(2)(ii); definitions 1002.2(o) (elderly) and 1002.2(v) (negative factor or value)",
)


def non_elderly_ages(ensemble: TreeEnsemble) -> Matrix:
    """Return the ages in 18..61 that reach every distinct PD the ensemble gives over 18..61 (ascending).

    A split sends age <= t left: ages in (t_i, t_i+1] share every leaf, so the youngest integer of each such
    interval within 18..61 (18, or floor(t) + 1 for a threshold t in [18, 61)) stands for all of them.
    """
    splits = ensemble.is_split & (ensemble.feature == AGE_FEATURE)
    cuts = np.unique(ensemble.threshold[splits])
    inside = cuts[(cuts >= YOUNGEST_AGE) & (cuts < ELDERLY_AGE - 1)]
    ages: Matrix = np.unique(np.concatenate([[float(YOUNGEST_AGE)], np.floor(inside) + 1.0]))
    return ages


def most_favourable_age(raw: Matrix, ages: Matrix | tuple[float, ...], *, scores: Scores) -> Matrix:
    """Return raw inputs (rows x 23) with each elderly row's age set to the non-elderly age of lowest PD when
    that PD is below the row's own (12 CFR 1002.6(b)(2)(ii)); `raw` itself when no row changes.

    `ages` are the non-elderly ages to try (ascending); `scores` gives the PD of rows (rows x 23) at their own age
    and at each age (rows x 1 + ages). Rows under 62 are not re-scored: their cost is one comparison.
    """
    if raw.ndim != 2 or raw.shape[1] != len(FEATURE_NAMES):
        return raw  # not rows x 23: `engineer` refuses it with the shape it expected
    elderly = np.flatnonzero(raw[:, AGE_COLUMN] >= ELDERLY_AGE)
    if elderly.size == 0:
        return raw
    tried = np.asarray(ages, dtype=np.float64)
    pds = scores(raw[elderly], tried)
    best = np.argmin(pds[:, 1:], axis=1)  # the first (youngest) of equal minima
    lower = pds[np.arange(elderly.size), 1 + best] < pds[:, 0]
    if not lower.any():
        return raw
    served = raw.copy()
    served[elderly[lower], AGE_COLUMN] = tried[best[lower]]
    return served


def by_rows(probability: Callable[[Matrix], Matrix]) -> Scores:
    """Return `scores` for `most_favourable_age` from a PD function of raw inputs (rows x 23 -> rows): each row
    is repeated once per age (any model, e.g. training's scikit-learn pipeline)."""

    def scores(raw: Matrix, ages: Matrix) -> Matrix:
        variants = np.repeat(raw, ages.size + 1, axis=0)  # per row: itself, then each age
        variants.reshape(raw.shape[0], ages.size + 1, raw.shape[1])[:, 1:, AGE_COLUMN] = ages
        return probability(variants).reshape(raw.shape[0], ages.size + 1)

    return scores


def by_walk(ensemble: TreeEnsemble) -> Scores:
    """Return `scores` for `most_favourable_age` through the ensemble's re-walk (`TreeEnsemble.raw_score_with`):
    each row is walked once, and only the trees that split on age again, once per age; an age that reaches the
    row's own leaves gives its own PD exactly, so only a truly lower PD changes the age."""

    def scores(raw: Matrix, ages: Matrix) -> Matrix:
        features = engineer(raw)  # age is a model feature as it is: no other feature is built from it
        own, at_ages = ensemble.raw_score_with(features, AGE_FEATURE, ages)
        return ensemble.calibrate(np.column_stack([own, at_ages]))

    return scores
