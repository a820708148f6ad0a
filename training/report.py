"""The model card, the CLI summary, and the fairness and grade tables of the held-out test predictions.

Every figure the card quotes is read from the typed `Manifest`; the plots live in training/plots.py.
"""

from typing import Any, Final

import pandas as pd
from numpy.typing import NDArray

from functions.scoring.contract import EDUCATION_CODES, FEATURE_NAMES, MARRIAGE_CODES, SEX_CODES
from functions.scoring.elderly import AGE_BANDS
from functions.scoring.manifest import GradeBand, Manifest
from functions.scoring.manifest_parts import REFERENCE_RECALL, FairnessRow, GradeOutcome
from training.evidence import evidence_lines
from training.plots import PLOTS
from training.reason_method import elderly_lines, reasons_section

AT_RECALL: Final = f"at recall ≥ {REFERENCE_RECALL * 100:.0f} %"


def test_frame(X: NDArray[Any], y: NDArray[Any], probability_of_default: NDArray[Any]) -> pd.DataFrame:
    """Return the test clients' 23 inputs (rows x 23) with their 0/1 outcome and PD in [0, 1]."""
    frame = pd.DataFrame(X, columns=list(FEATURE_NAMES))
    frame["default"] = y
    frame["probability_of_default"] = probability_of_default
    return frame


def _group_rates(frame: pd.DataFrame, *, attribute: str, group: str, threshold: float) -> FairnessRow:
    predicted = frame["probability_of_default"] >= threshold
    positives = frame["default"] == 1
    return FairnessRow(
        attribute=attribute,
        group=group,
        n=len(frame),
        selection_rate=float(predicted.mean()),
        tpr=float(predicted[positives].mean()) if positives.any() else None,
        fpr=float(predicted[~positives].mean()) if (~positives).any() else None,
        mean_pd=float(frame["probability_of_default"].mean()),
        observed_default_rate=float(positives.mean()),
    )


def fairness_table(frame: pd.DataFrame, *, threshold: float) -> tuple[FairnessRow, ...]:
    """Return selection rate, TPR, FPR, mean PD and observed default rate by SEX, MARRIAGE, EDUCATION, AGE band."""
    groups: list[tuple[str, str, pd.DataFrame]] = []
    for attribute, codes in (
        ("sex", SEX_CODES),
        ("marriage", MARRIAGE_CODES),
        ("education", EDUCATION_CODES),
    ):
        groups += [(attribute, label, frame[frame[attribute] == code]) for code, label in codes.items()]
    groups += [("age", label, frame[frame["age"].between(low, high)]) for low, high, label in AGE_BANDS]
    return tuple(
        _group_rates(rows, attribute=attribute, group=label, threshold=threshold)
        for attribute, label, rows in groups
        if len(rows)
    )


def grade_table(frame: pd.DataFrame, bands: tuple[GradeBand, ...]) -> tuple[GradeOutcome, ...]:
    """Return the test clients per grade (PD band) with their observed default rate (0 for an empty band)."""
    outcomes = []
    low = 0.0
    for band in bands:
        pod = frame["probability_of_default"]
        group = frame[(pod >= low) & (pod < band.max_pd)]
        observed = float(group["default"].mean()) if len(group) else 0.0
        outcomes.append(
            GradeOutcome(
                grade=band.grade,
                pd_from=low,
                pd_to=min(band.max_pd, 1.0),
                n=len(group),
                observed_default_rate=observed,
            )
        )
        low = band.max_pd
    return tuple(outcomes)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"  # None: no client of that class in the group


def test_rows(manifest: Manifest) -> int:
    """Return the number of held-out test clients (the confusion matrix's total)."""
    test = manifest.metrics.test
    return test.tn + test.fp + test.fn + test.tp


def _title(manifest: Manifest) -> list[str]:
    return [
        "# Model card: credit-default",
        "",
        f"Version `{manifest.version}`. Written by `make train`; do not edit by hand.",
        "",
    ]


def _scope_section(manifest: Manifest) -> list[str]:
    """The validator's first questions: horizon, default definition, window, rate, what the PD is not, data codes."""
    counts = manifest.data.late_one_month
    if counts is None:
        finding = "- Repayment codes: not counted in this manifest; run `make train`."
    else:
        later = ", ".join(f"`{name.upper()}` {count:,}" for name, count in list(counts.items())[1:])
        finding = (
            f"- Repayment codes are not a consistent delinquency counter: `PAY_0 = 1` (one month late) for "
            f"{counts.get('pay_0', 0):,} clients, but {later}. A consistent count of months late would show "
            "one-month arrears in every month of a crisis; April–August almost never do, so the columns use "
            "the codes differently. The model reads each status as a code, not as a count of months."
        )
    return [
        "## Scope for a validator",
        "- Horizon: **one month**. The PD is the probability of default on the next month's payment — not "
        "Basel's one-year PD, not IFRS 9's 12-month or lifetime PD.",
        "- Default definition: the dataset's target, *default payment next month* (the client missed the "
        "October 2005 payment), as recorded by the issuing bank; no days-past-due threshold is documented.",
        "- Development window: repayment history April–September 2005, during Taiwan's card-debt crisis "
        f"(2005–2006); default rate {_pct(manifest.data.default_rate)} of {manifest.data.rows:,} clients.",
        "- No long-run average, no margin of conservatism, not an IRB model: the PD is calibrated to this "
        "one crisis-period sample and is not fit for capital requirements.",
        finding,
        "",
    ]


def _intro_and_data(manifest: Manifest) -> list[str]:
    data, split = manifest.data, manifest.split
    held_out = f"{(1 - split.test_size) * 100:.0f}/{split.test_size * 100:.0f}"
    how = "stratified" if split.stratified else "random"
    return [
        "## Intended use",
        "Estimate the probability that a credit-card client defaults on next month's payment (PD), to support a",
        "credit officer's decision with a score, a risk grade and the factors that raise the risk. Not for",
        "automated decisions without human review, and not for populations unlike Taiwan's 2005 card holders.",
        "",
        "## Data",
        f'UCI "Default of Credit Card Clients" (Yeh & Lien 2009, CC BY 4.0): {data.rows:,} clients,',
        f"{_pct(data.default_rate)} defaults, table sha256 `{data.table_sha256[:16]}...`.",
        f"Split: {held_out} {how} (random_state {split.random_state}) for the held-out test set;"
        f" {split.validation_size_of_train * 100:.0f} % of the training part for",
        "validation (model choice, boosting rounds, threshold).",
        "",
    ]


def _model_section(manifest: Manifest) -> list[str]:
    model, m, scaling = manifest.model, manifest.metrics, manifest.score_scaling
    used = manifest.features_used
    monotone = ", ".join(n for n in manifest.monotone_increasing if n in used)
    return [
        "## Model",
        f"Selection: {manifest.selection_policy}.",
        f"{model.estimator}; {model.rounds} rounds, {model.calibration}",
        "calibration. SEX and MARRIAGE are never inputs (prohibited bases for a credit decision; accepted by the",
        f"API only for the fairness report). Features used: {', '.join(used)}.",
        f"PD never decreases when a repayment status rises (monotone constraints on {monotone}).",
        "",
        f"AGE and EDUCATION are used. Dropping them costs {m.validation_auc - m.without_age_education_validation_auc:.4f}"
        f" validation AUC ({m.validation_auc:.4f} vs {m.without_age_education_validation_auc:.4f}) and"
        f" {m.cv_auc_mean - m.without_age_education_cv_auc:.4f} CV AUC (the `..._without_age_education` row",
        "below). Where the law forbids age-based decisions, drop them from the shipped booster's features in",
        "`training/candidates.py` (`BOOSTERS`) and retrain; note that the reason codes can then no longer cite them.",
        *elderly_lines(manifest),
        "",
        f"Decision threshold: PD ≥ {manifest.threshold:.4f} ({manifest.threshold_policy}).",
        f"Score: {scaling.anchor_score} points at {scaling.anchor_odds:g}:1 good:bad odds,"
        f" {scaling.points_to_double_odds} points to double the odds, clipped to {scaling.min}–{scaling.max}.",
        "",
    ]


def _metrics_section(manifest: Manifest) -> list[str]:
    m = manifest.metrics
    test, base, ref = m.test, m.baseline_test, m.reference_app_published
    ks = "—" if manifest.evidence is None else f"{manifest.evidence.ks:.4f}"
    return [
        f"## Metrics (held-out test set, {test_rows(manifest):,} clients, default class)",
        "",
        "| metric | this model | reference approach, retrained here | reference app, published |",
        "| --- | --- | --- | --- |",
        f"| ROC-AUC | {test.roc_auc:.4f} | {base.roc_auc:.4f} | not published |",
        f"| Gini (2·AUC − 1) | {2 * test.roc_auc - 1:.4f} | {2 * base.roc_auc - 1:.4f} | not published |",
        f"| Kolmogorov–Smirnov | {ks} | — | — |",
        f"| 5-fold CV AUC (training part) | {m.cv_auc_mean:.4f} ± {m.cv_auc_std:.4f} | — | — |",
        f"| PR-AUC | {test.pr_auc:.4f} | {base.pr_auc:.4f} | — |",
        f"| Brier | {test.brier:.4f} | {base.brier:.4f} | — |",
        f"| ECE (10 quantile bins) | {test.ece:.4f} | {base.ece:.4f} | — |",
        f"| accuracy | {_pct(test.accuracy)} | {_pct(base.accuracy)} | {_pct(ref.accuracy)} |",
        f"| precision | {_pct(test.precision)} | {_pct(base.precision)} | {_pct(ref.precision)} |",
        f"| recall | {_pct(test.recall)} | {_pct(base.recall)} | {_pct(ref.recall)} |",
        f"| F1 | {_pct(test.f1)} | {_pct(base.f1)} | {_pct(ref.f1)} |",
        f"| precision {AT_RECALL} | {_pct(test.precision_at_recall)} | {_pct(base.precision_at_recall)}"
        f" | {_pct(ref.precision)} |",
        "",
        f"Thresholds: this model {test.threshold:.4f}; reference approach 0.5. Serving parity (numpy ensemble vs",
        f"scikit-learn, all rows): max |ΔPD| = {m.serving_parity_max_abs:.1e}.",
        "",
    ]


def _tables_section(manifest: Manifest) -> list[str]:
    not_compliant = "no (uses SEX, MARRIAGE; not monotone)"
    return [
        "### Candidates (validation split)",
        "",
        f"| candidate | compliant | rounds | validation AUC | validation precision {AT_RECALL} | 5-fold CV AUC |",
        "| --- | --- | --- | --- | --- | --- |",
        *[
            f"| {c.name} | {'yes' if c.compliant else not_compliant} | {c.rounds or '—'} | {c.validation_auc:.4f}"
            f" | {c.validation_precision_at_recall:.4f} | {c.cv_auc_mean:.4f} ± {c.cv_auc_std:.4f} |"
            for c in manifest.candidates
        ],
        "",
        "### Grades (test set)",
        "",
        "| grade | PD band | clients | observed default rate |",
        "| --- | --- | --- | --- |",
        *[
            f"| {g.grade} | {g.pd_from:.2f}–{g.pd_to:.2f} | {g.n:,} | {_pct(g.observed_default_rate)} |"
            for g in manifest.grades_observed
        ],
        "",
        "## Fairness (test set, at the shipped threshold)",
        "SEX and MARRIAGE are not inputs; they still correlate with inputs, so the table shows how each group fares.",
        "",
        "| attribute | group | clients | selection rate | TPR | FPR | mean PD | observed default rate |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *[
            f"| {r.attribute} | {r.group} | {r.n:,} | {_pct(r.selection_rate)} | {_pct(r.tpr)} |"
            f" {_pct(r.fpr)} | {_pct(r.mean_pd)} | {_pct(r.observed_default_rate)} |"
            for r in manifest.fairness
        ],
        "",
    ]


def model_card(manifest: Manifest) -> str:
    """Render MODEL_CARD.md (Markdown text) from the manifest."""
    limitations = [
        "## Limitations",
        "- One bank, Taiwan, April–September 2005: a different economy, product or population needs retraining.",
        "- Undocumented codes (EDUCATION 0, 5, 6; MARRIAGE 0) are kept as they are; small groups in the fairness",
        "  table have wide uncertainty.",
        "- Reason codes measure the PD change when a factor group is set to the low-risk reference profile; they",
        "  explain the model, not the client's true circumstances.",
        "",
        "## Plots",
        "",
        *[f"![{name[:-4]}]({name})" for name in PLOTS],
        "",
    ]
    sections = (
        _title,
        _scope_section,
        _intro_and_data,
        _model_section,
        _metrics_section,
        _tables_section,
        reasons_section,
        _evidence_section,
    )
    return "\n".join([line for section in sections for line in section(manifest)] + limitations)


def _evidence_section(manifest: Manifest) -> list[str]:
    if manifest.evidence is None:  # a manifest written before the evidence existed
        return ["## Validation evidence", "Not recorded in this manifest; run `make train`.", ""]
    return evidence_lines(manifest.evidence, manifest.score_scaling)


def summary(manifest: Manifest) -> str:
    """Return a few lines comparing the shipped model with the reference app (test set, percentages)."""
    test, ref = manifest.metrics.test, manifest.metrics.reference_app_published
    return "\n".join(
        [
            f"model {manifest.version}: test ROC-AUC {test.roc_auc:.4f} (CV {manifest.metrics.cv_auc_mean:.4f}),"
            f" Brier {test.brier:.4f}, ECE {test.ece:.4f}",
            f"  at threshold {test.threshold:.3f}: accuracy {_pct(test.accuracy)}, precision {_pct(test.precision)},"
            f" recall {_pct(test.recall)}, F1 {_pct(test.f1)}",
            f"  reference app: accuracy {_pct(ref.accuracy)}, precision {_pct(ref.precision)},"
            f" recall {_pct(ref.recall)}, F1 {_pct(ref.f1)}; precision {AT_RECALL}:"
            f" {_pct(test.precision_at_recall)} vs {_pct(ref.precision)}",
        ]
    )
