"""The Model tab: the served model's card from its manifest, and the local model card's plots."""

import ast
import math
from pathlib import Path
from typing import Final

import pandas as pd
import streamlit as st

from functions.scoring.manifest import MANIFEST_FILE, Manifest, ModelUnavailable, parse_manifest
from functions.scoring.manifest_parts import REFERENCE_RECALL
from ui.charts import confusion_chart, grade_bands

MODEL_DIR: Final = Path(__file__).resolve().parent.parent / "model"
PLOTS: Final = {
    "roc.png": "ROC curve",
    "precision_recall.png": "Precision and recall",
    "calibration.png": "Calibration",
    "score_distribution.png": "Score distribution",
}  # the confusion matrix is drawn from the served manifest instead (model/confusion_matrix.png hid a count)


def scaling_note(manifest: Manifest | None) -> str:
    """Say how scorecard points follow from the odds, from the manifest's scaling."""
    if manifest is None:
        return "Scorecard points: higher means a lower PD (the scaling is on the Model tab)."
    scaling = manifest.score_scaling
    return (
        f"{scaling.anchor_score} at {scaling.anchor_odds:g}:1 good:bad odds; "
        f"{scaling.points_to_double_odds} points double the odds; range {scaling.min} to {scaling.max}."
    )


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


def split_rows(manifest: Manifest) -> tuple[int, int, int]:
    """Return the training, validation (part of training) and test rows, as training's stratified split cuts them."""
    rows, split = manifest.data.rows, manifest.split
    test = math.ceil(rows * split.test_size)  # scikit-learn's train_test_split rounds the test part up
    train = rows - test
    return train, math.ceil(train * split.validation_size_of_train), test


def estimator_text(estimator: str) -> str:
    """Word the manifest's estimator readably: its parameters as `name value`, not a Python dict."""
    start, end = estimator.find("{"), estimator.rfind("}")
    if start < 0 or end < start:
        return estimator
    try:
        params = ast.literal_eval(estimator[start : end + 1])
    except (ValueError, SyntaxError):
        return estimator
    if not isinstance(params, dict):
        return estimator
    settings = ", ".join(f"{str(key).replace('_', ' ')} {value}" for key, value in params.items())
    rest = estimator[end + 1 :].strip(" ,")
    return " · ".join(part for part in (estimator[:start].strip(), settings, rest) if part)


def split_note(manifest: Manifest) -> str:
    """Say what was fitted and how the rows were split, from the manifest."""
    train, validation, test = split_rows(manifest)
    return (
        f"{estimator_text(manifest.model.estimator)}. Trained on {train:,} clients ({train - validation:,} to "
        f"fit, {validation:,} to choose rounds and threshold, then refitted on all {train:,}); tested on the "
        f"other {test:,} ({manifest.split.test_size:.0%} of {manifest.data.rows:,})."
    )


def fairness_frame(manifest: Manifest) -> pd.DataFrame:
    """Tabulate the fairness rows for reading: clients with separators, rates in percent with one decimal."""
    rates = ("selection_rate", "tpr", "fpr", "mean_pd", "observed_default_rate")
    return pd.DataFrame(
        {
            "attribute": row.attribute,
            "group": row.group,
            "clients": f"{row.n:,}",
            **{name: "—" if getattr(row, name) is None else f"{getattr(row, name):.1%}" for name in rates},
        }
        for row in manifest.fairness
    )


def show_manifest(manifest: Manifest) -> None:
    """Show the model's version, metrics beside the reference app's, threshold, grade bands and fairness."""
    train, _, test = split_rows(manifest)
    top = st.columns([2, 1, 1, 1, 1])  # room for the whole 12-character version
    top[0].metric("Version", manifest.version)
    top[1].metric("Threshold", f"{manifest.threshold:.1%}", help=manifest.threshold_policy)
    top[2].metric("Test ROC AUC", f"{manifest.metrics.test.roc_auc:.3f}")
    top[3].metric("Training rows", f"{train:,}", help="Rows the served model was fitted on.")
    top[4].metric("Test rows", f"{test:,}", help="Held-out rows the test metrics come from.")
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
    held_out = manifest.metrics.test
    st.markdown(f"**Confusion matrix on the test split** at the threshold (PD ≥ {manifest.threshold:.1%})")
    st.altair_chart(confusion_chart(held_out.tn, held_out.fp, held_out.fn, held_out.tp), width="stretch")
    if manifest.fairness:
        with st.expander("Fairness on the test split (sex and marriage are not model inputs)"):
            st.dataframe(fairness_frame(manifest), hide_index=True, width="stretch")


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
