"""The Monitoring tab: drift of a scored client file against the training reference and, when the file carries
the realised default flag, its back-test per grade (pure logic first, then what the tab shows).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import numpy as np
import pandas as pd
import streamlit as st

from functions.audit.decision import AuditUnavailableError, SqliteDecisionLog
from functions.config import DRIFT_MIN_DECISIONS, LOCAL_DECISION_LOG, get_settings
from functions.monitoring.backtest import back_test
from functions.monitoring.job import measure
from functions.monitoring.psi import Drift, moved_bins, population_drift
from functions.monitoring.tables import MIN_DRIFT_ROWS, shown_verdict
from functions.scoring.manifest import Manifest, ModelUnavailable
from functions.scoring.manifest_parts import BackTest
from functions.scoring.model import to_matrix
from ui.batch import UPLOAD_TYPES, BatchScorer, ParsedFile, ScoredFile
from ui.charts import backtest_chart, moved_chart
from ui.limits import MAX_UPLOAD_MB
from ui.loop import LOG_SOURCE, loop_section
from ui.views import read_upload, score_file

UPLOAD, BATCH, DECISIONS = "An uploaded file", "The batch tab's scored file", "Recent decisions"
RECENT_MIN_DECISIONS: Final = DRIFT_MIN_DECISIONS  # as the drift job: fewer give PSI too noisy to judge
ROW_PX: Final = 35  # height of one st.dataframe row
DIRECTIONS: Final = {"under": "(PD too low)", "over": "(PD too high)", "": ""}


@dataclass(frozen=True)
class FileMonitoring:
    """What the tab shows of one scored file: drift (None without reference) and outcomes (None, see `why`)."""

    rows: int  # scored rows
    drifts: tuple[Drift, ...] | None
    outcomes: BackTest | None
    why_no_outcomes: str = ""


def monitor_file(
    parsed: ParsedFile, scored: ScoredFile, manifest: Manifest, *, rounds: int = 1000
) -> FileMonitoring:
    """Compute the drift of the scored rows and, with a default flag of both classes, their back-test."""
    positions = sorted(scored.predictions)
    by_position = dict(zip(parsed.positions, parsed.applicants, strict=True))
    raw = to_matrix([by_position[p] for p in positions])
    probabilities = np.array([scored.predictions[p].probability_of_default for p in positions])
    points = np.array([scored.predictions[p].score for p in positions], dtype=np.float64)
    drifts = None
    if manifest.reference is not None and positions:
        drifts = population_drift(raw, points, manifest.reference)
    if parsed.target is None:
        return FileMonitoring(len(positions), drifts, None, "the file has no default flag column")
    labels = parsed.target[np.asarray(positions, dtype=np.intp)] if positions else np.array([])
    known = ~np.isnan(labels)
    if len(np.unique(labels[known])) < 2:
        why = "the back-test needs scored rows with both defaults and non-defaults in the default flag"
        return FileMonitoring(len(positions), drifts, None, why)
    outcomes = back_test(
        labels[known].astype(np.int64),
        probabilities[known],
        points[known],
        bands=manifest.grade_bands,
        scaling=manifest.score_scaling,
        rounds=rounds,
    )
    return FileMonitoring(len(positions), drifts, outcomes)


def drift_frame(drifts: Sequence[Drift], *, rows: int) -> pd.DataFrame:
    """Tabulate PSI per input and on the score, with the verdict (none below MIN_DRIFT_ROWS rows) and, unless
    stable, the bins that moved."""
    table = []
    for drift in drifts:
        moved = ""
        if drift.verdict != "stable" and rows >= MIN_DRIFT_ROWS:
            moved = ", ".join(f"{b.label}: {b.expected:.1%} → {b.actual:.1%}" for b in moved_bins(drift))
        table.append(
            {
                "input": drift.name,
                "PSI": round(drift.psi, 4),
                "verdict": shown_verdict(drift, rows=rows),
                "moved": moved,
            }
        )
    return pd.DataFrame(table, columns=["input", "PSI", "verdict", "moved"])


def grades_frame(outcomes: BackTest) -> pd.DataFrame:
    """Tabulate the back-test per grade: clients, defaults, predicted and observed rates, interval and light."""
    return pd.DataFrame(
        [
            {
                "grade": g.grade,
                "clients": f"{g.clients:,}",
                "defaults": f"{g.defaults:,}",
                "predicted": f"{g.mean_pd:.1%}",
                "observed": f"{g.observed_default_rate:.1%}",
                "Jeffreys 95 %": f"{g.interval_95[0]:.1%} to {g.interval_95[1]:.1%}",
                "light": f"{g.light} {DIRECTIONS[g.direction]}".strip(),
            }
            for g in outcomes.grades
        ]
    )


def show_drift(drifts: Sequence[Drift], *, rows: int) -> None:
    """Show the PSI table, then a characteristic analysis chart for each input that is not stable."""
    st.subheader("Population stability (PSI against the training reference)")
    st.caption(
        f"{rows:,} scored rows. PSI below 0.10 is stable, 0.10 to 0.25 worth investigating, 0.25 or more "
        "a shifted population; `score` is the scorecard points the API gave."
    )
    table = drift_frame(drifts, rows=rows)
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        height=ROW_PX * (len(table) + 1) + 3,  # every input at once, no scrolling
        column_config={
            "PSI": st.column_config.NumberColumn("PSI", format="%.4f"),
            "moved": st.column_config.TextColumn(
                "Bins that moved most (training → this file)", width="large"
            ),
        },
    )
    if rows < MIN_DRIFT_ROWS:
        st.info(
            f"{rows:,} scored rows: too few to judge drift (at least {MIN_DRIFT_ROWS:,}); on so few rows PSI "
            "is mostly sampling noise, shown for information only."
        )
        return
    moving = [drift for drift in drifts if drift.verdict != "stable"]
    if not moving:
        st.success("Every input and the score are stable against the training population.")
        return
    st.markdown("**Characteristic analysis**: share of clients per reference bin, training against this file")
    for drift in moving:
        st.altair_chart(moved_chart(drift), width="stretch")


def show_outcomes(outcomes: BackTest) -> None:
    """Show the back-test: AUC and Brier with bootstrap intervals, then predicted against observed per grade."""
    st.subheader("Back-test against the file's default flag")
    top = st.columns(4)
    low, high = outcomes.auc_interval
    top[0].metric("AUC", f"{outcomes.auc:.3f}", help=f"95 % bootstrap interval {low:.3f} to {high:.3f}")
    top[0].caption(f"95 % interval {low:.3f} to {high:.3f}")
    low, high = outcomes.brier_interval
    top[1].metric("Brier score", f"{outcomes.brier:.4f}", help="Mean squared gap between PD and outcome.")
    top[1].caption(f"95 % interval {low:.4f} to {high:.4f}")
    top[2].metric("Mean PD", f"{outcomes.mean_pd:.1%}")
    top[3].metric("Observed default rate", f"{outcomes.default_rate:.1%}")
    st.caption(
        f"{outcomes.rows:,} clients with a default flag, {outcomes.defaults:,} defaults. Per grade: green when the "
        "mean PD lies in the Jeffreys 95 % interval of the observed rate, amber outside it but inside the "
        "99.9 % interval, red beyond."
    )
    st.altair_chart(backtest_chart(outcomes.grades), width="stretch")
    st.dataframe(grades_frame(outcomes), hide_index=True, width="stretch")


def show_monitoring(result: FileMonitoring, manifest: Manifest) -> None:
    """Show drift (or why there is none) and the back-test (or why there is none) of one scored file."""
    if result.rows == 0:
        st.error("No row of this file was scored, so there is nothing to compare; see the rows' problems.")
        return
    if result.drifts is None:
        st.warning(
            f"Model {manifest.version} has no reference distributions, so its drift cannot be measured. "
            "Retrain with `make train` and serve the new model to see drift here."
        )
    else:
        show_drift(result.drifts, rows=result.rows)
    if result.outcomes is None:
        st.caption(f"No back-test: {result.why_no_outcomes}.")
    else:
        show_outcomes(result.outcomes)


def _monitored(parsed: ParsedFile, scored: ScoredFile, manifest: Manifest) -> FileMonitoring:
    """Return the file's monitoring, computed once per scored file and model (the bootstrap takes seconds)."""
    kept = st.session_state.get("monitoring")
    if kept is not None and kept[0] is scored and kept[1] == manifest.version:
        return kept[2]  # type: ignore[no-any-return]
    with st.spinner("Comparing with the training reference..."):
        result = monitor_file(parsed, scored, manifest)
    st.session_state.monitoring = (scored, manifest.version, result)
    return result


def _uploaded(client: BatchScorer) -> tuple[ParsedFile, ScoredFile] | None:
    """Read the tab's own upload once, score it on request; return it once scored."""
    upload = st.file_uploader(
        "CSV file of clients",
        type=list(UPLOAD_TYPES),
        max_upload_size=MAX_UPLOAD_MB,
        key="monitor_file",
        help="Any layout the Batch file tab accepts.",
    )
    if upload is None:
        st.info(
            "Upload clients in the dataset's layout; with the default flag column you also get a back-test."
        )
        return None
    parsed = read_upload(upload, key="monitor_parsed", scored_key="monitor_scored")
    if parsed is None:
        return None
    label = f"Score {len(parsed.applicants):,} rows and compare"
    if st.button(label, key="monitor_score", type="primary", disabled=not parsed.applicants):
        st.session_state.monitor_scored = score_file(client, parsed)
    scored = st.session_state.get("monitor_scored")
    if scored is None:
        return None
    if scored.stopped:
        st.error(f"Scoring stopped: {scored.stopped}")
    return parsed, scored


def recent_drift(hours: int) -> tuple[str, tuple[Drift, ...], int]:
    """Measure the drift of this machine's decision log over the last `hours` h: (message, drifts, rows)."""
    path = get_settings().decision_log or LOCAL_DECISION_LOG
    if not path.is_file():
        return (
            f"No decision log at {path.name}: `make run` records each decision in var/decisions.sqlite. On AWS the "
            "daily drift job publishes the same PSI to CloudWatch (docs/monitoring.md).",
            (),
            0,
        )
    try:
        counted, drifts, _ = measure(
            SqliteDecisionLog(path), now=datetime.now(UTC), hours=hours, min_decisions=RECENT_MIN_DECISIONS
        )
    except ModelUnavailable as err:
        return f"Drift not measured: {err}.", (), 0
    except AuditUnavailableError as err:  # not SQLite, corrupt or locked: a message, never an exception box
        return f"Drift not measured: {err}.", (), 0
    if not drifts:
        return (
            f"{counted.rows:,} decisions of this model in the last {hours} h: PSI needs at least "
            f"{RECENT_MIN_DECISIONS:,}.",
            (),
            counted.rows,
        )
    return f"{counted.rows:,} decisions of this model in the last {hours} h.", drifts, counted.rows


def show_recent_decisions() -> None:
    """Show the drift of the decisions this machine's API recorded (the local decision log)."""
    hours = int(st.number_input("Hours of decisions", min_value=1, max_value=24 * 31, value=24, step=1))
    message, drifts, rows = recent_drift(hours)
    st.caption(message)
    if drifts:
        show_drift(drifts, rows=rows)


def monitoring_tab(client: BatchScorer, manifest: Manifest | None) -> None:
    """Render the Monitoring tab: choose the clients, then show their drift and back-test, or the closed loop."""
    if manifest is None:
        st.error(
            "The served model's manifest is unavailable, so there is no reference; check the endpoint in the sidebar."
        )
        return
    sources = [UPLOAD, BATCH, DECISIONS, LOG_SOURCE]
    source = st.radio("Clients", sources, key="monitor_source", horizontal=True)
    if source == LOG_SOURCE:
        loop_section(manifest)
        return
    if source == DECISIONS:
        show_recent_decisions()
        return
    if source == BATCH:
        parsed, scored = st.session_state.get("parsed"), st.session_state.get("scored")
        if not isinstance(parsed, ParsedFile) or scored is None:
            st.info("Score a file on the Batch file tab first, or upload one here.")
            return
        chosen: tuple[ParsedFile, ScoredFile] | None = (parsed, scored)
    else:
        chosen = _uploaded(client)
    if chosen is not None:
        show_monitoring(_monitored(*chosen, manifest), manifest)
