"""The reasons' reference, compared at training, and how far one-at-a-time impacts are from adding up.

Regulation B's commentary 9(b)(2)-5 names two ways to pick the reasons of a scoring system: compare the client
with the applicants at or slightly above the minimum passing score (here: approved just below the PD cut-off),
or with all applicants (here: the non-defaulters, whose medians
with every repayment status "paid in full" are the shipped `reference_profile`). Training measures both on the
declined test clients and records how often they agree, and the gap |PD - PD(reference) - sum of impacts| of
the one-at-a-time impacts (each factor group swapped alone); the card renders both from the manifest.
"""

from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from functions.scoring.contract import FEATURE_NAMES
from functions.scoring.elderly import ELDERLY_AGE, by_walk, most_favourable_age, non_elderly_ages
from functions.scoring.features import engineer
from functions.scoring.manifest import Manifest
from functions.scoring.manifest_parts import ReasonMethod
from functions.scoring.reasons import (
    MAX_REASONS,
    REASON_GROUPS,
    Ranked,
    group_tags,
    measure_impacts,
    rank_reasons,
)
from functions.scoring.trees import TreeEnsemble

Profile = dict[str, float]
# "At or slightly above the minimum passing score": approved training clients with threshold - 0.05 <= PD < threshold
# (a higher score is a lower PD, so just above the passing score is just below the PD cut-off).
CUTOFF_BAND: Final = 0.05
_INDEX: Final = {name: i for i, name in enumerate(FEATURE_NAMES)}


def served(ensemble: TreeEnsemble, raw: NDArray[Any]) -> NDArray[np.float64]:
    """Return raw inputs (rows x 23) with the elderly rule applied, as `ScoringModel.served_inputs` does."""
    raw = np.asarray(raw, dtype=np.float64)
    return most_favourable_age(raw, non_elderly_ages(ensemble), scores=by_walk(ensemble))


def cutoff_profile(ensemble: TreeEnsemble, X_train: NDArray[Any], *, threshold: float) -> tuple[Profile, int]:
    """Return the medians (observed values) of the approved training clients (rows x 23) nearest the cut-off, and
    their count (Regulation B commentary 9(b)(2)-5); raises ValueError when no training client is in the band.
    """
    raw = served(ensemble, X_train)
    pd = ensemble.predict_proba(engineer(raw))
    band = raw[(pd >= threshold - CUTOFF_BAND) & (pd < threshold)]
    if band.shape[0] == 0:
        raise ValueError(f"no training client has a PD in [{threshold - CUTOFF_BAND:.4f}, {threshold:.4f})")
    medians = np.quantile(band, 0.5, axis=0, method="inverted_cdf")
    return {name: float(value) for name, value in zip(FEATURE_NAMES, medians, strict=True)}, band.shape[0]


def _ranked(
    ensemble: TreeEnsemble, raw: NDArray[np.float64], reference: Profile
) -> tuple[NDArray[Any], Ranked]:
    _, impacts = measure_impacts(ensemble, raw, engineer(raw), reference=reference, tags=group_tags(ensemble))
    return impacts, rank_reasons(impacts)


def agreement(first: Ranked, second: Ranked) -> tuple[float, float]:
    """Return the share of rows whose first listed reason is the same, and whose listed set (up to four) is."""
    top1, top_set = [], []
    for a, n, b, m in zip(
        first.groups.tolist(),
        first.listed.tolist(),
        second.groups.tolist(),
        second.listed.tolist(),
        strict=True,
    ):
        top1.append((a[:1] if n else []) == (b[:1] if m else []))
        top_set.append(set(a[:n]) == set(b[:m]))
    return float(np.mean(top1)), float(np.mean(top_set))


def additivity_gaps(
    ensemble: TreeEnsemble, raw: NDArray[np.float64], impacts: NDArray[Any], reference: Profile
) -> NDArray[np.float64]:
    """Return |PD - PD(every group at the reference) - sum of the groups' impacts| per row (PD points)."""
    pd = ensemble.predict_proba(engineer(raw))
    at_reference = raw.copy()
    for inputs in REASON_GROUPS.values():
        for name in inputs:
            at_reference[:, _INDEX[name]] = reference[name]
    gaps: NDArray[np.float64] = np.abs(
        pd - ensemble.predict_proba(engineer(at_reference)) - impacts.sum(axis=0)
    )
    return gaps


def reason_method(
    ensemble: TreeEnsemble,
    X_train: NDArray[Any],
    X_test: NDArray[Any],
    *,
    threshold: float,
    reference: Profile,
) -> ReasonMethod | None:
    """Compare the shipped reference with the cut-off population's on the declined test clients (rows x 23).

    Returns None when no training client is near the cut-off or no test client is declined (tiny data).
    """
    try:
        cutoff, clients = cutoff_profile(ensemble, X_train, threshold=threshold)
    except ValueError:
        return None
    raw = served(ensemble, X_test)
    raw = raw[ensemble.predict_proba(engineer(raw)) >= threshold]
    if raw.shape[0] == 0:
        return None
    impacts, ours = _ranked(ensemble, raw, reference)
    _, theirs = _ranked(ensemble, raw, cutoff)
    top1, top_set = agreement(ours, theirs)
    gaps = additivity_gaps(ensemble, raw, impacts, reference)
    return ReasonMethod(
        shipped="non_defaulter_medians",
        compared="cutoff_population",
        cutoff_band=(threshold - CUTOFF_BAND, threshold),
        cutoff_clients=clients,
        cutoff_profile=cutoff,
        declined_clients=raw.shape[0],
        top1_agreement=top1,
        top_set_agreement=top_set,
        additivity="one_at_a_time",
        additivity_gap_median=float(np.median(gaps)),
        additivity_gap_p90=float(np.quantile(gaps, 0.9)),
    )


def reason_lines(method: ReasonMethod | None) -> list[str]:
    """Render the card's section on the reasons: reference, the alternative's agreement, additivity."""
    if method is None:  # a manifest written before the comparison existed
        return ["## Reasons", "The reason method is not recorded in this manifest; run `make train`.", ""]
    low, high = method.cutoff_band
    cut = method.cutoff_profile
    return [
        "## Reasons: method, reference and additivity",
        "",
        "Each reason is a factor group (latest status, status history, utilisation, payments, credit limit, age,",
        "education) and its impact: the client's PD minus the PD with that group alone set to the reference.",
        f"Reference shipped: **{method.shipped}**, the medians of the training part's non-defaulters with every",
        'repayment status "paid in full" (Regulation B commentary 9(b)(2)-5 allows a comparison with all',
        "applicants; here, those who paid).",
        "",
        f"Alternative compared ({method.compared}, the commentary's applicants at or slightly above the minimum",
        f"passing score): the medians of the {method.cutoff_clients:,} approved training clients with"
        f" {low:.4f} ≤ PD < {high:.4f}. On the {method.declined_clients:,} declined test clients the first reason is",
        f"the same for {method.top1_agreement:.1%} and the listed set (up to {MAX_REASONS}) for"
        f" {method.top_set_agreement:.1%}.",
        "The non-defaulter medians are shipped: the first reason, the one a notice leads with, mostly agrees; the",
        "cut-off population's medians describe no one (a limit of"
        f" NT${cut['limit_bal']:,.0f} with a bill of NT${cut['bill_amt1']:,.0f} and a payment of"
        f" NT${cut['pay_amt1']:,.0f}), and they move",
        "whenever the cut-off moves, so a client's reasons would change with the policy rather than with the",
        "client. The good payers' profile is stable across cut-offs and names what separates a client from them.",
        "",
        f"Additivity, decided: **{method.additivity.replace('_', '-')}** impacts (each group swapped alone). They do"
        " not add up",
        "to PD − PD(reference): on the declined test clients |PD − PD(reference) − Σ impacts| has a median of"
        f" {method.additivity_gap_median:.3f}",
        f"and a 90th percentile of {method.additivity_gap_p90:.3f} PD points. Exact group Shapley values (128"
        " coalitions of the 7 groups",
        "per client) would add up exactly; their cost is in docs/benchmarks.md (`benchmarks/reasons.py`) and breaks",
        'the speed budget of the API and the batch, so an impact reads "how much lower the PD would be with this',
        'factor alone typical of good payers", not a share of the PD.',
        "",
    ]


def reasons_section(manifest: Manifest) -> list[str]:
    """Render the card's reasons section from the manifest (Markdown lines)."""
    return reason_lines(manifest.reason_method)


def elderly_lines(manifest: Manifest) -> list[str]:
    """Render the card's lines on the elderly rule: what is served, how, and its source."""
    rule = manifest.elderly_rule
    youngest, oldest = rule.non_elderly_ages
    return [
        "",
        f"The elderly rule ({rule.source}): an applicant aged {rule.elderly_age} or older is never given a PD",
        f"above the one the same applicant would get at the most favoured non-elderly age (the lowest PD over ages"
        f" {youngest}–{oldest},",
        "every other input unchanged), and age is never among their reasons. Method"
        f" (`{rule.method}`): a bounded search at serving;",
        "such a row is scored at every age the trees tell apart within"
        f" {youngest}–{oldest} and its age replaced by the most favourable one",
        "when that PD is lower (functions/scoring/elderly.py), before the PD and the reasons are measured. The test",
        f"metrics, grades and fairness below are those of the served PD. The rule starts at {ELDERLY_AGE} by law;"
        " the trees and the",
        "threshold are unchanged.",
        *_elderly_calibration(manifest),
    ]


def _elderly_calibration(manifest: Manifest) -> list[str]:
    """Say what the rule does to the 62+ band's calibration, from the fairness table."""
    band = next((row for row in manifest.fairness if row.attribute == "age" and row.group == "62+"), None)
    if band is None or band.mean_pd is None or band.observed_default_rate is None:
        return []
    return [
        f"On the test split's {band.n} clients aged 62+, the served mean PD is {band.mean_pd:.1%} against an observed",
        f"default rate of {band.observed_default_rate:.1%}: a cost of the rule, a legal bound on the score, not an estimate.",
    ]
