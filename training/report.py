"""The model card and its plots, written from the held-out test predictions."""

from pathlib import Path
from typing import Any, Final

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.calibration import calibration_curve
from sklearn.metrics import precision_recall_curve, roc_curve

from functions.contract import EDUCATION_CODES, FEATURE_NAMES, MARRIAGE_CODES, SEX_CODES
from functions.manifest import ScoreScaling
from training.metrics import REFERENCE_APP

PLOTS: Final = (
    "roc.png",
    "precision_recall.png",
    "calibration.png",
    "score_distribution.png",
    "confusion_matrix.png",
)
AGE_BANDS: Final = [
    (18, 29, "18-29"),
    (30, 39, "30-39"),
    (40, 49, "40-49"),
    (50, 59, "50-59"),
    (60, 100, "60+"),
]


def test_frame(X: NDArray[Any], y: NDArray[Any], pd_: NDArray[Any]) -> pd.DataFrame:
    """Return the test clients' inputs with their outcome and PD."""
    frame = pd.DataFrame(X, columns=list(FEATURE_NAMES))
    frame["default"] = y
    frame["pd"] = pd_
    return frame


def _group_rates(frame: pd.DataFrame, threshold: float) -> dict[str, float | None]:
    predicted = frame["pd"] >= threshold
    positives = frame["default"] == 1
    return {
        "n": len(frame),
        "selection_rate": float(predicted.mean()),
        "tpr": float(predicted[positives].mean()) if positives.any() else None,
        "fpr": float(predicted[~positives].mean()) if (~positives).any() else None,
        "mean_pd": float(frame["pd"].mean()),
        "observed_default_rate": float(positives.mean()),
    }


def fairness_table(frame: pd.DataFrame, *, threshold: float) -> list[dict[str, Any]]:
    """Return selection rate, TPR, FPR, mean PD and observed default rate by SEX, MARRIAGE, AGE band, EDUCATION."""
    rows: list[dict[str, Any]] = []
    for attribute, codes in (
        ("sex", SEX_CODES),
        ("marriage", MARRIAGE_CODES),
        ("education", EDUCATION_CODES),
    ):
        for code, label in codes.items():
            group = frame[frame[attribute] == code]
            if len(group):
                rows.append({"attribute": attribute, "group": label, **_group_rates(group, threshold)})
    for low, high, label in AGE_BANDS:
        group = frame[frame["age"].between(low, high)]
        if len(group):
            rows.append({"attribute": "age", "group": label, **_group_rates(group, threshold)})
    return rows


def grade_table(frame: pd.DataFrame, bands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the test clients per grade with their observed default rate."""
    rows = []
    low = 0.0
    for band in bands:
        group = frame[(frame["pd"] >= low) & (frame["pd"] < band["max_pd"])]
        rows.append(
            {
                "grade": band["grade"],
                "pd_from": low,
                "pd_to": min(band["max_pd"], 1.0),
                "n": len(group),
                "observed_default_rate": float(group["default"].mean()) if len(group) else 0.0,
            }
        )
        low = band["max_pd"]
    return rows


def count_colour(count: int, top: int) -> str:
    """Pick the text colour of a confusion-matrix cell on the "Blues" map: white on the dark half, else black."""
    return "white" if top and count > top / 2 else "black"


def write_plots(
    out: Path, y: NDArray[Any], pd_: NDArray[Any], *, threshold: float, score_scaling: ScoreScaling
) -> None:
    """Write ROC, precision-recall, calibration, score distribution and confusion-matrix PNGs."""
    plt.rcParams.update({"figure.figsize": (5.5, 4.2), "figure.dpi": 100, "svg.hashsalt": "fixed"})
    fpr, tpr, _ = roc_curve(y, pd_)
    fig, ax = plt.subplots()
    ax.plot(fpr, tpr, label="model")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, held-out test set")
    ax.legend()
    _save(fig, out / "roc.png")

    precision, recall, _ = precision_recall_curve(y, pd_)
    fig, ax = plt.subplots()
    ax.plot(recall, precision, label="model")
    ax.scatter(
        [REFERENCE_APP["recall"]],
        [REFERENCE_APP["precision"]],
        color="red",
        zorder=3,
        label="reference app (published)",
    )
    predicted = pd_ >= threshold
    ax.scatter(
        [predicted[y == 1].mean()],
        [y[predicted].mean()],
        color="black",
        marker="x",
        zorder=3,
        label=f"shipped threshold {threshold:.2f}",
    )
    ax.set(xlabel="recall (default class)", ylabel="precision", title="Precision-recall, test set")
    ax.legend()
    _save(fig, out / "precision_recall.png")

    observed, predicted_mean = calibration_curve(y, pd_, n_bins=10, strategy="quantile")
    fig, ax = plt.subplots()
    ax.plot(predicted_mean, observed, "o-", label="model (10 quantile bins)")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.set(xlabel="mean predicted PD", ylabel="observed default rate", title="Calibration, test set")
    ax.legend()
    _save(fig, out / "calibration.png")

    scores = np.array([score_scaling.points(float(p)) for p in pd_])
    fig, ax = plt.subplots()
    bins = np.arange(scores.min(), scores.max() + 10, 10).tolist()
    ax.hist(scores[y == 0], bins=bins, alpha=0.6, label="no default")
    ax.hist(scores[y == 1], bins=bins, alpha=0.6, label="default")
    ax.set(
        xlabel="score (higher is safer)", ylabel="clients", title="Score distribution by outcome, test set"
    )
    ax.legend()
    _save(fig, out / "score_distribution.png")

    matrix = np.array([[np.sum((y == a) & (predicted == b)) for b in (0, 1)] for a in (0, 1)])
    fig, ax = plt.subplots()
    ax.imshow(matrix, cmap="Blues")
    for (a, b), count in np.ndenumerate(matrix):
        ax.text(b, a, f"{count:,}", ha="center", va="center", color=count_colour(count, int(matrix.max())))
    ax.set(
        xticks=[0, 1],
        yticks=[0, 1],
        xticklabels=["no default", "default"],
        yticklabels=["no default", "default"],
        xlabel="predicted",
        ylabel="actual",
        title=f"Confusion matrix at threshold {threshold:.2f}",
    )
    _save(fig, out / "confusion_matrix.png")


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"  # None: no client of that class in the group


def model_card(manifest: dict[str, Any]) -> str:
    """Render MODEL_CARD.md from the manifest."""
    test = manifest["metrics"]["test"]
    base = manifest["metrics"]["baseline_test"]
    ref = manifest["metrics"]["reference_app_published"]
    m = manifest["metrics"]
    lines = [
        "# Model card: credit-default",
        "",
        f"Version `{manifest['version']}`. Written by `make train`; do not edit by hand.",
        "",
        "## Intended use",
        "Estimate the probability that a credit-card client defaults on next month's payment (PD), to support a",
        "credit officer's decision with a score, a risk grade and the factors that raise the risk. Not for",
        "automated decisions without human review, and not for populations unlike Taiwan's 2005 card holders.",
        "",
        "## Data",
        f'UCI "Default of Credit Card Clients" (Yeh & Lien 2009, CC BY 4.0): {manifest["data"]["rows"]:,} clients,',
        f"{_pct(manifest['data']['default_rate'])} defaults, table sha256 `{manifest['data']['table_sha256'][:16]}...`.",
        "Split: 75/25 stratified (random_state 42) for the held-out test set; 20 % of the training part for",
        "validation (model choice, boosting rounds, threshold).",
        "",
        "## Model",
        f"Selection: {manifest['selection_policy']}.",
        f"{manifest['model']['estimator']}; {manifest['model']['rounds']} rounds, {manifest['model']['calibration']}",
        "calibration. SEX and MARRIAGE are never inputs (prohibited bases for a credit decision; accepted by the",
        f"API only for the fairness report). Features used: {', '.join(manifest['features_used'])}.",
        f"PD never decreases when a repayment status rises (monotone constraints on"
        f" {', '.join(n for n in manifest['monotone_increasing'] if n in manifest['features_used'])}).",
        "",
        f"AGE and EDUCATION are used. Dropping them costs {m['validation_auc'] - m['without_age_education_validation_auc']:.4f}"
        f" validation AUC ({m['validation_auc']:.4f} vs {m['without_age_education_validation_auc']:.4f}) and"
        f" {m['cv_auc_mean'] - m['without_age_education_cv_auc']:.4f} CV AUC (the `..._without_age_education` row",
        "below). Where the law forbids age-based decisions, drop them from the shipped booster's features in",
        "`training/train.py` (`BOOSTERS`) and retrain; note that the reason codes can then no longer cite them.",
        "",
        f"Decision threshold: PD ≥ {manifest['threshold']:.4f} ({manifest['threshold_policy']}).",
        f"Score: {manifest['score_scaling']['anchor_score']} points at {manifest['score_scaling']['anchor_odds']:g}:1"
        f" good:bad odds, {manifest['score_scaling']['points_to_double_odds']} points to double the odds,"
        f" clipped to {manifest['score_scaling']['min']}–{manifest['score_scaling']['max']}.",
        "",
        "## Metrics (held-out test set, 7,500 clients, default class)",
        "",
        "| metric | this model | reference approach, retrained here | reference app, published |",
        "| --- | --- | --- | --- |",
        f"| ROC-AUC | {test['roc_auc']:.4f} | {base['roc_auc']:.4f} | not published |",
        f"| 5-fold CV AUC (training part) | {m['cv_auc_mean']:.4f} ± {m['cv_auc_std']:.4f} | — | — |",
        f"| PR-AUC | {test['pr_auc']:.4f} | {base['pr_auc']:.4f} | — |",
        f"| Brier | {test['brier']:.4f} | {base['brier']:.4f} | — |",
        f"| ECE (10 quantile bins) | {test['ece']:.4f} | {base['ece']:.4f} | — |",
        f"| accuracy | {_pct(test['accuracy'])} | {_pct(base['accuracy'])} | {_pct(ref['accuracy'])} |",
        f"| precision | {_pct(test['precision'])} | {_pct(base['precision'])} | {_pct(ref['precision'])} |",
        f"| recall | {_pct(test['recall'])} | {_pct(base['recall'])} | {_pct(ref['recall'])} |",
        f"| F1 | {_pct(test['f1'])} | {_pct(base['f1'])} | {_pct(ref['f1'])} |",
        f"| precision at recall ≥ 68 % | {_pct(test['precision_at_recall_0.68'])} | {_pct(base['precision_at_recall_0.68'])} | {_pct(ref['precision'])} |",
        "",
        f"Thresholds: this model {test['threshold']:.4f}; reference approach 0.5. Serving parity (numpy ensemble vs",
        f"scikit-learn, all rows): max |ΔPD| = {m['serving_parity_max_abs']:.1e}.",
        "",
        "### Candidates (validation split)",
        "",
        "| candidate | compliant | rounds | validation AUC | validation precision at recall ≥ 68 % | 5-fold CV AUC |",
        "| --- | --- | --- | --- | --- | --- |",
        *[
            f"| {c['name']} | {'yes' if c['compliant'] else 'no (uses SEX, MARRIAGE; not monotone)'} | {c['rounds'] or '—'} |"
            f" {c['validation_auc']:.4f} | {c['validation_precision_at_recall_0.68']:.4f} | {c['cv_auc_mean']:.4f} ± {c['cv_auc_std']:.4f} |"
            for c in manifest["candidates"]
        ],
        "",
        "### Grades (test set)",
        "",
        "| grade | PD band | clients | observed default rate |",
        "| --- | --- | --- | --- |",
        *[
            f"| {g['grade']} | {g['pd_from']:.2f}–{g['pd_to']:.2f} | {g['n']:,} | {_pct(g['observed_default_rate'])} |"
            for g in manifest["grades_observed"]
        ],
        "",
        "## Fairness (test set, at the shipped threshold)",
        "SEX and MARRIAGE are not inputs; they still correlate with inputs, so the table shows how each group fares.",
        "",
        "| attribute | group | clients | selection rate | TPR | FPR | mean PD | observed default rate |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *[
            f"| {r['attribute']} | {r['group']} | {r['n']:,} | {_pct(r['selection_rate'])} | {_pct(r['tpr'])} |"
            f" {_pct(r['fpr'])} | {_pct(r['mean_pd'])} | {_pct(r['observed_default_rate'])} |"
            for r in manifest["fairness"]
        ],
        "",
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
    return "\n".join(lines)


def summary(manifest: dict[str, Any]) -> str:
    """Return a few lines comparing the shipped model with the reference app."""
    test = manifest["metrics"]["test"]
    ref = manifest["metrics"]["reference_app_published"]
    return "\n".join(
        [
            f"model {manifest['version']}: test ROC-AUC {test['roc_auc']:.4f} (CV {manifest['metrics']['cv_auc_mean']:.4f}),"
            f" Brier {test['brier']:.4f}, ECE {test['ece']:.4f}",
            f"  at threshold {test['threshold']:.3f}: accuracy {_pct(test['accuracy'])}, precision {_pct(test['precision'])},"
            f" recall {_pct(test['recall'])}, F1 {_pct(test['f1'])}",
            f"  reference app: accuracy {_pct(ref['accuracy'])}, precision {_pct(ref['precision'])},"
            f" recall {_pct(ref['recall'])}, F1 {_pct(ref['f1'])}; precision at recall ≥ 68 %:"
            f" {_pct(test['precision_at_recall_0.68'])} vs {_pct(ref['precision'])}",
            "  card: model/MODEL_CARD.md",
        ]
    )
