"""What the page shows of one client's prediction and of a scored file."""

from typing import Final

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from functions.scoring.contract import Prediction
from functions.scoring.manifest import Manifest
from ui.batch import (
    BatchScorer,
    ParsedFile,
    ScoredFile,
    UnreadableFileError,
    decision_text,
    read_clients,
    score_rows,
)
from ui.card import scaling_note, split_rows
from ui.charts import gauge, grade_bands, histogram, reasons_chart
from ui.provenance import CONTAINS_TRAINING_DATA, IS_TRAINING_DATA, training_overlap
from ui.results import results_table, scored_csv, target_summary

PD_FORMAT: Final = "%.1f%%"  # a PD in percent with one decimal, as everywhere on the page


def read_upload(upload: UploadedFile, *, key: str, scored_key: str) -> ParsedFile | None:
    """Read an upload once per file (not on every rerun) into session `key`, forgetting its old scores;
    show why it is unreadable and return None then."""
    if st.session_state.get(f"{key}_id") != upload.file_id:
        try:
            st.session_state[key] = read_clients(upload.getvalue(), name=upload.name)
        except UnreadableFileError as problem:
            st.session_state[key] = problem
        st.session_state[f"{key}_id"] = upload.file_id
        st.session_state.pop(scored_key, None)
    parsed = st.session_state[key]
    if isinstance(parsed, Exception):
        st.error(str(parsed))
        return None
    if parsed.note:
        st.info(f"{upload.name}: {parsed.note}.")
    return parsed  # type: ignore[no-any-return]


def score_file(client: BatchScorer, parsed: ParsedFile) -> ScoredFile:
    """Score a file's valid rows in chunks, with a progress bar."""
    progress = st.progress(0.0, text="Scoring...")

    def report(done: int, total: int) -> None:
        progress.progress(done / total, text=f"Scored {done:,} of {total:,} rows")

    return score_rows(client, parsed, on_progress=report)


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
        st.dataframe(reasons_table(prediction), hide_index=True, width="stretch")
    else:
        st.info("No factor raises this client's PD above the low-risk reference profile.")
    st.caption(
        f"Adverse-action notice: **{NOTICE_TEXT[prediction.adverse_action_notice]}** ({prediction.notice_basis})."
    )
    st.caption(f"Model {prediction.model_version} · request {prediction.request_id}")


NOTICE_TEXT: Final = {"required": "required", "exempt": "exempt", "not_applicable": "not applicable"}


def reasons_table(prediction: Prediction) -> pd.DataFrame:
    """Return one line per reason: the client's own figures, the code's adverse-action statement, the impact (pp)."""
    return pd.DataFrame(
        [
            {"Reason": r.text, "Statement on a notice": r.statement, "Impact (pp)": round(100 * r.impact, 1)}
            for r in prediction.reasons
        ]
    )


def _show_failed(failed: pd.DataFrame) -> None:
    many = len(failed) > 1
    st.warning(f"{len(failed):,} row{'s were' if many else ' was'} not scored; the reason is listed here.")
    st.dataframe(
        failed[[c for c in ("row", "ID", "problem") if c in failed.columns]],
        hide_index=True,
        width="stretch",
        column_config={"row": "Row", "problem": st.column_config.TextColumn("Problem", width="large")},
    )


def in_sample_note(overlap: str | None, manifest: Manifest | None) -> str:
    """Say whether the file is (or contains) the model's own data, and that in-sample figures flatter it."""
    if manifest is None or overlap is None:
        return (
            "Figures on rows the model was trained on overstate its quality: if this file holds rows of the "
            "training data, read the held-out test figures on the Model tab instead."
        )
    train, _, test = split_rows(manifest)
    what = "is" if overlap == IS_TRAINING_DATA else "contains"
    return (
        f"This file {what} the data model {manifest.version} was built from (its rows match the manifest's "
        f"data hash): {train:,} of those rows trained the model and {test:,} tested it, so these figures are "
        "mostly in-sample and overstate its quality. The held-out test figures are on the Model tab."
    )


def _show_against_target(
    parsed: ParsedFile, scored: ScoredFile, threshold: float, manifest: Manifest | None
) -> None:
    summary = target_summary(parsed, scored)
    if summary is None:
        st.caption("Add the target column (default.payment.next.month) to see AUC and a confusion matrix.")
        return
    st.subheader("Against the file's target")
    overlap = training_overlap(parsed, manifest) if manifest is not None else None
    if overlap in (IS_TRAINING_DATA, CONTAINS_TRAINING_DATA):
        st.warning(in_sample_note(overlap, manifest))
    else:
        st.caption(in_sample_note(None, manifest))
    quality = st.columns(4)
    area = "n/a" if summary.auc is None else f"{summary.auc:.3f}"
    quality[0].metric("AUC", area, help="Needs both classes in the target.")
    quality[1].metric("Precision", "n/a" if summary.precision is None else f"{summary.precision:.1%}")
    quality[2].metric("Recall", "n/a" if summary.recall is None else f"{summary.recall:.1%}")
    quality[3].metric("Rows with a target", f"{summary.rows:,}")
    st.markdown(f"Confusion matrix at the threshold (PD ≥ {threshold:.1%})")
    counts = summary.counts
    st.table(
        pd.DataFrame(
            [[f"{counts['tn']:,}", f"{counts['fp']:,}"], [f"{counts['fn']:,}", f"{counts['tp']:,}"]],
            index=["actual: no default", "actual: default"],
            columns=["predicted: no default", "predicted: default"],
        )
    )


LEAD_COLUMNS: Final = ("row", "ID", "pd", "grade", "score", "decision")
REASON_COLUMNS: Final = ("top_reason", "top_statement", "notice")


def show_batch(parsed: ParsedFile, scored: ScoredFile, manifest: Manifest | None = None) -> None:
    """Show the scored file: counts, results with row errors, PD histogram, download and target metrics."""
    results = results_table(parsed, scored)
    if scored.stopped:
        st.error(f"Scoring stopped: {scored.stopped}")
    failed = results[results["problem"] != ""]
    counts = st.columns(4)
    counts[0].metric("Rows scored", f"{len(scored.predictions):,}")
    counts[1].metric("Rows with errors", f"{len(failed):,}")
    if scored.predictions:
        defaults = [prediction.predicted_default for prediction in scored.predictions.values()]
        counts[2].metric("Mean PD", f"{results['pd'].mean():.1%}")
        counts[3].metric("Default predicted", f"{np.mean(defaults):.1%}")
    if len(failed):
        _show_failed(failed)
    st.dataframe(
        results.assign(pd=(100 * results["pd"]).round(1)),  # in percent with one decimal (72.1%)
        hide_index=True,
        width="stretch",
        # A refused row's problem beside its empty PD, before the reasons' longer texts.
        column_order=[c for c in (*LEAD_COLUMNS, "problem", *REASON_COLUMNS) if c in results.columns],
        column_config={
            "row": st.column_config.NumberColumn("Row", help="Data row of the file (the header is row 0)."),
            "pd": st.column_config.ProgressColumn("PD", min_value=0.0, max_value=100.0, format=PD_FORMAT),
            "grade": "Grade",
            "score": "Score",
            "decision": "Decision",
            "top_reason": "Top reason",
            "top_statement": st.column_config.TextColumn("Its statement on a notice", width="medium"),
            "notice": "Adverse-action notice",
            "problem": st.column_config.TextColumn("Problem", width="large"),
        },
    )
    csv = scored_csv(parsed, results)
    st.download_button("Download scored CSV", csv, file_name="scored.csv", mime="text/csv", key="download")
    if not scored.predictions:
        return
    threshold = next(iter(scored.predictions.values())).threshold
    st.altair_chart(histogram(results, threshold), width="stretch")
    _show_against_target(parsed, scored, threshold, manifest)
