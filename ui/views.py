"""What the page shows: one client's prediction, a scored file, and the served model's card."""

from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
import streamlit as st

from functions.contract import Prediction
from functions.manifest import MANIFEST_FILE, Manifest, ModelUnavailable, parse_manifest
from functions.records import REFERENCE_RECALL
from ui.batch import ParsedFile, ScoredFile, decision_text, results_table, scored_csv, target_summary
from ui.charts import gauge, grade_bands, histogram, reasons_chart

MODEL_DIR: Final = Path(__file__).resolve().parent.parent / "model"
PLOTS: Final = {
    "roc.png": "ROC curve",
    "precision_recall.png": "Precision and recall",
    "calibration.png": "Calibration",
    "score_distribution.png": "Score distribution",
    "confusion_matrix.png": "Confusion matrix at the threshold",
}


def scaling_note(manifest: Manifest | None) -> str:
    """Say how scorecard points follow from the odds, from the manifest's scaling."""
    if manifest is None:
        return "Scorecard points: higher means a lower PD (the scaling is on the Model tab)."
    scaling = manifest.score_scaling
    return (
        f"{scaling.anchor_score} at {scaling.anchor_odds:g}:1 good:bad odds; "
        f"{scaling.points_to_double_odds} points double the odds; range {scaling.min} to {scaling.max}."
    )


def show_prediction(prediction: Prediction, manifest: Manifest | None) -> None:
    """Show PD against the threshold, grade, score, decision and the reasons' impact."""
    probability, threshold = prediction.probability_of_default, prediction.threshold
    bands = grade_bands(manifest)
    label = {band.grade: band.label for band in bands}.get(prediction.risk_grade)
    first, second = st.columns(2), st.columns(2)
    first[0].metric(
        "Probability of default",
        f"{probability:.1%}",
        delta=f"{100 * (probability - threshold):+.1f} pp vs threshold",
        delta_color="inverse",
        help="Calibrated probability that the client defaults next month.",
    )
    first[1].metric(
        "Risk grade", prediction.risk_grade, delta=label, delta_color="off", delta_arrow="off", help="A to E."
    )
    second[0].metric("Score", prediction.score, help=scaling_note(manifest))
    second[1].metric("Threshold", f"{threshold:.1%}", help="A default is predicted at a PD at or above it.")
    decision = decision_text(prediction.predicted_default).capitalize()
    if prediction.predicted_default:
        st.warning(f"**{decision}**: the PD of {probability:.1%} reaches the threshold of {threshold:.1%}.")
    else:
        st.success(f"**{decision}**: the PD of {probability:.1%} is below the threshold of {threshold:.1%}.")
    st.altair_chart(gauge(probability, threshold, bands), width="stretch", height=110)
    st.markdown("**Why**: the factors that raise this client's PD")
    if prediction.reasons:
        st.altair_chart(reasons_chart(prediction.reasons), width="stretch")
    else:
        st.info("No factor raises this client's PD above the low-risk reference profile.")
    st.caption(f"Model {prediction.model_version} · request {prediction.request_id}")


def _show_failed(failed: pd.DataFrame) -> None:
    many = len(failed) > 1
    st.warning(f"{len(failed):,} row{'s were' if many else ' was'} not scored; the reason is listed here.")
    st.dataframe(
        failed[[c for c in ("row", "ID", "problem") if c in failed.columns]],
        hide_index=True,
        width="stretch",
        column_config={"row": "Row", "problem": st.column_config.TextColumn("Problem", width="large")},
    )


def _show_against_target(parsed: ParsedFile, scored: ScoredFile, threshold: float) -> None:
    summary = target_summary(parsed, scored)
    if summary is None:
        st.caption("Add the target column (default.payment.next.month) to see AUC and a confusion matrix.")
        return
    st.subheader("Against the file's target")
    quality = st.columns(4)
    area = "n/a" if summary.auc is None else f"{summary.auc:.3f}"
    quality[0].metric("AUC", area, help="Needs both classes in the target.")
    quality[1].metric("Precision", "n/a" if summary.precision is None else f"{summary.precision:.1%}")
    quality[2].metric("Recall", "n/a" if summary.recall is None else f"{summary.recall:.1%}")
    quality[3].metric("Rows with a target", summary.rows)
    st.markdown(f"Confusion matrix at the threshold (PD ≥ {threshold:.1%})")
    counts = summary.counts
    st.table(
        pd.DataFrame(
            [[counts["tn"], counts["fp"]], [counts["fn"], counts["tp"]]],
            index=["actual: no default", "actual: default"],
            columns=["predicted: no default", "predicted: default"],
        )
    )


def show_batch(parsed: ParsedFile, scored: ScoredFile) -> None:
    """Show the scored file: counts, results with row errors, PD histogram, download and target metrics."""
    results = results_table(parsed, scored)
    if scored.stopped:
        st.error(f"Scoring stopped: {scored.stopped}")
    failed = results[results["problem"] != ""]
    counts = st.columns(4)
    counts[0].metric("Rows scored", len(scored.predictions))
    counts[1].metric("Rows with errors", len(failed))
    if scored.predictions:
        defaults = [prediction.predicted_default for prediction in scored.predictions.values()]
        counts[2].metric("Mean PD", f"{results['pd'].mean():.1%}")
        counts[3].metric("Default predicted", f"{np.mean(defaults):.1%}")
    if len(failed):
        _show_failed(failed)
    st.dataframe(
        results,
        hide_index=True,
        width="stretch",
        column_config={
            "row": st.column_config.NumberColumn("Row", help="Data row of the file (the header is row 0)."),
            "pd": st.column_config.ProgressColumn("PD", min_value=0.0, max_value=1.0, format="percent"),
            "grade": "Grade",
            "score": "Score",
            "decision": "Decision",
            "top_reason": "Top reason",
            "problem": st.column_config.TextColumn("Problem", width="large"),
        },
    )
    csv = scored_csv(parsed, results)
    st.download_button("Download scored CSV", csv, file_name="scored.csv", mime="text/csv", key="download")
    if not scored.predictions:
        return
    threshold = next(iter(scored.predictions.values())).threshold
    st.altair_chart(histogram(results, threshold), width="stretch")
    _show_against_target(parsed, scored, threshold)


def number(value: float | None) -> str:
    """Show a metric with three decimals, or a dash where there is none."""
    return "—" if value is None else f"{value:.3f}"


def metrics_table(manifest: Manifest) -> pd.DataFrame:
    """Tabulate the test split's metrics beside the reference app's published ones (a dash where none)."""
    test, published = manifest.metrics.test, manifest.metrics.reference_app_published
    rows = [
        ("Accuracy", test.accuracy, published.accuracy),
        ("Precision", test.precision, published.precision),
        ("Recall", test.recall, published.recall),
        ("F1", test.f1, published.f1),
        ("ROC AUC", test.roc_auc, None),
        ("PR AUC", test.pr_auc, None),
        (f"Precision at recall {REFERENCE_RECALL:g}", test.precision_at_recall, None),
        ("Brier score", test.brier, None),
        ("Calibration error (ECE)", test.ece, None),
    ]
    return pd.DataFrame(
        {
            "This model (test split)": [number(ours) for _, ours, _ in rows],
            "Reference app (published)": [number(theirs) for _, _, theirs in rows],
        },
        index=[name for name, _, _ in rows],
    )


def split_note(manifest: Manifest) -> str:
    """Say what was fitted and how the rows were split, from the manifest."""
    split, rows = manifest.split, manifest.data.rows
    test_rows = round(rows * split.test_size)
    return (
        f"{manifest.model.estimator} · trained on {1 - split.test_size:.0%} of {rows:,} clients, "
        f"tested on the other {split.test_size:.0%} ({test_rows:,} clients)"
    )


def show_manifest(manifest: Manifest) -> None:
    """Show the model's version, metrics beside the reference app's, threshold, grade bands and fairness."""
    top = st.columns(4)
    top[0].metric("Version", manifest.version)
    top[1].metric("Threshold", f"{manifest.threshold:.1%}", help=manifest.threshold_policy)
    top[2].metric("Test ROC AUC", f"{manifest.metrics.test.roc_auc:.3f}")
    top[3].metric("Training rows", f"{manifest.data.rows:,}")
    st.caption(split_note(manifest))
    left, right = st.columns(2)
    with left:
        st.markdown("**Metrics** (at the threshold where one applies)")
        st.dataframe(metrics_table(manifest), width="stretch")
    with right:
        st.markdown("**Risk grades**")
        bands = pd.DataFrame(
            {"grade": b.grade, "PD range": f"{b.start:.0%} to {b.end:.0%}", "label": b.label}
            for b in grade_bands(manifest)
        )
        st.dataframe(bands, hide_index=True, width="stretch")
        st.caption(f"Score {scaling_note(manifest)}")
    if manifest.fairness:
        with st.expander("Fairness on the test split (sex and marriage are not model inputs)"):
            fairness = pd.DataFrame(row.model_dump() for row in manifest.fairness)
            st.dataframe(fairness, hide_index=True, width="stretch")


def local_version(model_dir: Path = MODEL_DIR) -> str | None:
    """Return the version of the manifest in the local model/ folder, or None when there is none to read."""
    path = model_dir / MANIFEST_FILE
    try:
        return parse_manifest(path.read_text(), name=path.name).version
    except (OSError, UnicodeDecodeError, ModelUnavailable):
        return None


def show_plots(served_version: str | None) -> None:
    """Show the model card's plots from the local model/ folder, saying which model they describe."""
    found = [(MODEL_DIR / name, caption) for name, caption in PLOTS.items() if (MODEL_DIR / name).is_file()]
    if not found:
        st.info(
            "No plots: `make train` writes the model card's plots to model/; the API does not serve them."
        )
        return
    local = local_version()
    st.caption(
        f"Plots from the local model/ folder (model {local or '?'}, written by `make train`): the API does "
        "not serve them, so they describe this checkout's model."
    )
    if served_version and local and served_version != local:
        st.warning(f"The endpoint serves model {served_version}, but the local plots describe model {local}.")
    columns = st.columns(2)
    for index, (path, caption) in enumerate(found):
        columns[index % 2].image(str(path), caption=caption, width="stretch")
