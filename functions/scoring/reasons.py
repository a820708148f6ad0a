"""Reason codes: the factor groups that raise a client's probability of default, their impacts and wording.

A group's impact is the client's PD minus the PD with the group's inputs set to the manifest's low-risk
reference profile (a counterfactual "what if this factor were typical of good payers"). Reasons are the
groups with a positive impact, largest first, at most `MAX_REASONS`.
"""

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from functions.scoring.adverse.statements import STATEMENTS
from functions.scoring.contract import (
    BILLS,
    FEATURE_NAMES,
    PAY_STATUS,
    PAYMENTS,
    ReasonCode,
)
from functions.scoring.features import INPUTS_OF, MODEL_FEATURES, RATIO_CAP, engineer
from functions.scoring.trees import TreeEnsemble
from functions.scoring.wording import UTILISATION_SHOWN_UP_TO, describe, payment_text, utilisation_text

Matrix = npt.NDArray[np.float64]
Profile = Mapping[str, float]  # the manifest's reference profile: a value per contract input
Tags = npt.NDArray[np.uint8]  # per node, a bit per reason group its split reads

# Factor groups, in tie-breaking order: each is swapped for the reference profile to measure its impact.
REASON_GROUPS: Final[dict[str, tuple[str, ...]]] = {
    "latest_status": ("pay_0",),
    "status_history": PAY_STATUS[1:],
    "utilisation": BILLS,
    "payments": PAYMENTS,
    "credit_limit": ("limit_bal",),
    "age": ("age",),
    "education": ("education",),
}
MAX_REASONS: Final = 4
# A reason must move PD by at least this much (0.1 percentage point, the precision impacts are shown at):
# smaller effects are rounding noise to a credit officer and are never listed.
MIN_IMPACT: Final = 0.001
SMALL_BATCH: Final = 16  # up to this many rows, reasons are measured by one walk over all variants
IMPACT_DECIMALS: Final = 10  # impacts agree across batch sizes only to rounding; report them to 1e-10
_INDEX: Final = {name: i for i, name in enumerate(FEATURE_NAMES)}
_FEATURE: Final = {name: i for i, name in enumerate(MODEL_FEATURES)}


def group_tags(ensemble: TreeEnsemble) -> npt.NDArray[np.uint8]:
    """Tag each node (shape: nodes) with a bit per reason group whose inputs its split feature is built from."""
    tags = np.zeros(ensemble.value.size, dtype=np.uint8)
    for bit, inputs in enumerate(REASON_GROUPS.values()):
        touched = [i for i, name in enumerate(MODEL_FEATURES) if set(INPUTS_OF[name]) & set(inputs)]
        reads = ensemble.is_split & np.isin(ensemble.feature, touched)
        tags |= np.where(reads, np.uint8(1 << bit), np.uint8(0)).astype(np.uint8)
    return tags


def counterfactuals(raw: Matrix, reference: Mapping[str, float]) -> list[Matrix]:
    """Return one copy of the raw inputs (rows x 23) per reason group, that group set to `reference`."""
    variants = []
    for inputs in REASON_GROUPS.values():
        variant = raw.copy()
        for name in inputs:
            variant[:, _INDEX[name]] = reference[name]
        variants.append(variant)
    return variants


def explain_rows(
    ensemble: TreeEnsemble, raw: Matrix, features: Matrix, *, reference: Profile, tags: Tags
) -> tuple[Matrix, list[tuple[ReasonCode, ...]]]:
    """Return each row's PD (rows) and its reasons, from raw inputs (rows x 23) and their model `features`."""
    probabilities, impacts = measure_impacts(ensemble, raw, features, reference=reference, tags=tags)
    return probabilities, word_reasons(rank_reasons(impacts), raw, features)


@dataclass(frozen=True)
class Ranked:
    """Each row's reasons as numbers: group indices (rows x MAX_REASONS, largest impact first), their impacts,
    and how many are listed (rows; the listed ones are a prefix: impact >= MIN_IMPACT)."""

    groups: npt.NDArray[np.intp]
    impacts: Matrix
    listed: npt.NDArray[np.intp]


def rank_reasons(impacts: Matrix) -> Ranked:
    """Rank every row's groups at once from impacts (groups x rows), as `top_reasons` does row by row."""
    by_row = np.ascontiguousarray(impacts.T)
    # A stable sort of the negated impacts keeps group order among ties, like `sorted` in `top_reasons`.
    groups = np.argsort(-by_row, axis=1, kind="stable")[:, :MAX_REASONS]
    top = np.take_along_axis(by_row, groups, axis=1)
    return Ranked(groups=groups, impacts=top, listed=(top >= MIN_IMPACT).sum(axis=1))


def word_reasons(ranked: Ranked, raw: Matrix, features: Matrix) -> list[tuple[ReasonCode, ...]]:
    """Word every row's listed reasons (as `top_reasons` would), each distinct text phrased once per group."""
    rows, slots = np.nonzero(np.arange(MAX_REASONS) < ranked.listed[:, None])  # row by row, in rank order
    groups = ranked.groups[rows, slots]
    texts = np.empty(rows.size, dtype=object)
    for group, code in enumerate(REASON_GROUPS):
        chosen = np.flatnonzero(groups == group)
        if chosen.size:
            phrased, inverse = _phrases(code, raw, features, rows[chosen])
            texts[chosen] = np.array(phrased, dtype=object)[inverse]
    codes = np.array(list(REASON_GROUPS), dtype=object)[groups].tolist()
    validate = ReasonCode.__pydantic_validator__.validate_python  # what ReasonCode(...) runs, minus a frame
    with gc_paused():
        built = [
            validate({"code": code, "text": text, "impact": impact, "statement": STATEMENTS[code]})
            for code, text, impact in zip(
                codes, texts.tolist(), ranked.impacts[rows, slots].tolist(), strict=True
            )
        ]
        ends = np.cumsum(ranked.listed).tolist()
        return [
            tuple(built[end - listed : end]) for end, listed in zip(ends, ranked.listed.tolist(), strict=True)
        ]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small acyclic objects (a batch's answers).

    The switch is process-wide: with threads, another one's exit may re-enable it early, which costs only speed.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _phrases(
    code: str, raw: Matrix, features: Matrix, rows: npt.NDArray[np.intp]
) -> tuple[list[str], npt.NDArray[np.intp]]:
    """Phrase `code` once per distinct key of what its text reads among `rows` (as `describe` would): the texts,
    and the index of each row's text among them."""
    values = _text_values(code, raw[rows], features[rows])
    keys = _text_keys(code, values)
    if keys.shape[1] == 1:
        _, first, inverse = np.unique(keys[:, 0], return_index=True, return_inverse=True)
    else:  # each row's int64s as one opaque value: what np.unique(axis=0) does, more slowly
        whole = keys.view(np.dtype((np.void, keys.dtype.itemsize * keys.shape[1])))
        _, first, inverse = np.unique(whole[:, 0], return_index=True, return_inverse=True)
    if code == "utilisation":
        phrased = [utilisation_text(ratio) for ratio in values[first, 0].tolist()]
    elif code == "payments":
        phrased = [payment_text(int(branch), shown) for branch, shown in values[first].tolist()]
    else:
        inputs, built = raw[rows[first]].tolist(), features[rows[first]].tolist()
        phrased = [
            describe(
                code,
                dict(zip(FEATURE_NAMES, row, strict=True)),
                dict(zip(MODEL_FEATURES, engineered, strict=True)),
            )
            for row, engineered in zip(inputs, built, strict=True)
        ]
    return phrased, inverse.reshape(-1)


def _text_values(code: str, raw: Matrix, features: Matrix) -> Matrix:
    """Return, per row, every value `describe(code, ...)` reads (rows x k, C order): equal bits, equal text."""
    if code == "payments":  # the text reads the amount or the ratio only in the branch that prints it
        paid: Matrix = np.zeros(raw.shape[0], dtype=np.float64)
        for name in PAYMENTS:  # left to right, as `sum` adds them in `_payments`
            paid = paid + raw[:, _INDEX[name]]
        none, no_bill = paid == 0, raw[:, _INDEX["bill_amt2"]] <= 0
        ratio = features[:, _FEATURE["payment_ratio_latest"]]
        capped = ratio >= RATIO_CAP
        branch = np.select([none, no_bill, capped], [0.0, 1.0, 2.0], 3.0)
        shown = np.select([none, no_bill, capped], [0.0, raw[:, _INDEX["pay_amt1"]], 0.0], ratio)
        values = np.column_stack([branch, shown])
    elif code == "utilisation":
        values = features[:, [_FEATURE["utilisation_latest"]]]
    else:
        values = raw[:, [_INDEX[name] for name in REASON_GROUPS[code]]]
    return np.ascontiguousarray(values)


def _text_keys(code: str, values: Matrix) -> npt.NDArray[np.int64]:
    """Return, per row, int64 keys (rows x k) of `_text_values`' values: equal keys, equal text.

    Bits, not values: -0.0 and 0.0 compare equal but print differently ("NT$-0", "-0%"). A percentage shown
    with no decimals reads only the integer its value x 100 rounds to: Python's `%` format multiplies by 100 in
    floating point and rounds half to even, as `np.rint` does, so equal rounded bits give equal text and a
    chunk phrases each shown percentage once, not each ratio. The payment-status history's text reads only how
    many months were late and the worst of them, or, with none late, how many were revolving.
    """
    if code == "utilisation":  # three wordings: above UTILISATION_SHOWN_UP_TO, below zero, a percentage
        ratio = values[:, 0]
        shown = np.where(
            ratio > UTILISATION_SHOWN_UP_TO, np.inf, np.where(ratio < 0, -np.inf, np.rint(ratio * 100))
        )
        return shown.view(np.int64)[:, None]
    if code == "payments":  # branch 3 shows its ratio as a percentage; branch 1 an amount in NT$
        shown = np.where(values[:, 0] == 3.0, np.rint(values[:, 1] * 100), values[:, 1])
        return np.ascontiguousarray(np.column_stack([values[:, 0], shown])).view(np.int64)
    if code == "status_history":
        history = np.trunc(values)  # int() of each status, as `describe` reads them
        late = (history > 0).sum(axis=1)
        key = np.where(late > 0, late * 100 + history.max(axis=1), -1 - (history == 0).sum(axis=1))
        return np.asarray(key, dtype=np.int64)[:, None]
    return values.view(np.int64)


def _read_variant(raw: Matrix, features: Matrix, group: str, reference: Profile, read: set[int]) -> Matrix:
    """Return the model features (rows x features) with `group`'s inputs at `reference`, exact in every feature
    the ensemble reads: when it reads no engineered feature built from them, only their own columns change."""
    inputs = REASON_GROUPS[group]
    touched = [i for i, name in enumerate(MODEL_FEATURES) if i in read and set(INPUTS_OF[name]) & set(inputs)]
    if any(MODEL_FEATURES[i] not in inputs for i in touched):  # an engineered feature read: build them all
        variant = raw.copy()
        variant[:, [_INDEX[name] for name in inputs]] = [reference[name] for name in inputs]
        return engineer(variant)
    features = features.copy()
    for name in inputs:
        features[:, _FEATURE[name]] = reference[name]
    return features


def measure_impacts(
    ensemble: TreeEnsemble, raw: Matrix, features: Matrix, *, reference: Profile, tags: Tags
) -> tuple[Matrix, Matrix]:
    """Return each row's PD (rows) and each group's impact on it (groups x rows, rounded to 1e-10).

    `features` are the model features of `raw` (rows x 23), engineered once by the caller; only the
    counterfactual variants are engineered here.
    """
    if raw.shape[0] <= SMALL_BATCH:  # few rows: one walk over every variant costs fewer numpy calls
        variants = counterfactuals(raw, reference)
        stacked = np.vstack([features, engineer(np.vstack(variants))])
        log_odds: Matrix = ensemble.raw_score(stacked).reshape(len(variants) + 1, -1)
    else:
        read = set(ensemble.read_features)
        log_odds = ensemble.rewalk(
            features, [_read_variant(raw, features, g, reference, read) for g in REASON_GROUPS], tags=tags
        )
    probabilities = ensemble.calibrate(log_odds)
    impacts = np.round(probabilities[0] - probabilities[1:], IMPACT_DECIMALS)
    return probabilities[0], impacts


def top_reasons(
    impacts: list[float], inputs: Mapping[str, float], features: Mapping[str, float]
) -> tuple[ReasonCode, ...]:
    """Return up to MAX_REASONS reasons whose impact is at least MIN_IMPACT, largest first (ties: group order).

    `inputs` are the client's 23 contract inputs, `features` the model features built from them.
    """
    codes = list(REASON_GROUPS)
    ranked = sorted(range(len(codes)), key=lambda g: -impacts[g])[:MAX_REASONS]
    return tuple(
        ReasonCode(
            code=codes[g],
            text=describe(codes[g], inputs, features),
            impact=impacts[g],
            statement=STATEMENTS[codes[g]],
        )
        for g in ranked
        if impacts[g] >= MIN_IMPACT
    )
