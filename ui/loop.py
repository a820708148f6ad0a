"""The Monitoring tab's closed loop over the local decision log (DECISION_LOG): an outcome file recorded into it
by the code `make outcomes` runs, expected against realised per grade, and the override figures.
"""

import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import pandas as pd
import streamlit as st

from functions.audit.decision import AuditUnavailableError
from functions.audit.outcomes import OutcomeConflictError
from functions.audit.outcomes_sqlite import SqliteOutcomeLog
from functions.config import LOCAL_DECISION_LOG, get_settings
from functions.monitoring.loop.cli import record_file
from functions.monitoring.loop.join import LoopReport, close_loop
from functions.monitoring.loop.outcome_file import OutcomeFileError
from functions.monitoring.loop.overrides import OverrideAnalysis
from functions.monitoring.loop.report import GRADE_HEADER, grade_rows, override_row
from functions.scoring.manifest import Manifest
from ui.limits import MAX_UPLOAD_MB

LOG_SOURCE: Final = "Decision log: outcomes and overrides"
OVERRIDE_COLUMNS: Final = (
    "group",
    "reviewed",
    "low side",
    "low-side rate",
    "low side defaulted",
    "high side",
    "high-side rate",
    "high side defaulted",
)
SAFE_NAME: Final = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Recorded:
    """What became of one uploaded outcome file: counts per fate, and the error that stopped it ("" if none)."""

    file: str
    recorded: int = 0
    unchanged: int = 0
    unknown: int = 0
    synthetic: int = 0
    conflicts: int = 0
    problem: str = ""


def log_path() -> Path:
    """Return the local decision log's path (DECISION_LOG, else `make run`'s var/decisions.sqlite)."""
    return get_settings().decision_log or LOCAL_DECISION_LOG


def missing_log_caption(path: Path) -> str:
    """Say that there is no decision log at `path`, and how to get one."""
    return (
        f"No decision log at {path.name}: set DECISION_LOG to the API's local log (`make run` records each "
        "decision in var/decisions.sqlite). On AWS the daily job reports the same figures (docs/monitoring.md)."
    )


def record_upload(name: str, data: bytes) -> Recorded:
    """Record an uploaded outcome file into the local log, as `make outcomes` does; never raises."""
    shown = SAFE_NAME.sub("_", Path(name).name) or "outcomes.csv"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / shown  # errors name the file the user chose
        path.write_bytes(data)
        try:
            receipt = record_file(path)
        except OutcomeConflictError as err:
            return Recorded(shown, conflicts=len(err.keys), problem=f"{err}; nothing was recorded")
        except (OutcomeFileError, AuditUnavailableError) as err:
            return Recorded(shown, problem=str(err))
    return Recorded(
        shown,
        recorded=len(receipt.recorded),
        unchanged=len(receipt.unchanged),
        unknown=len(receipt.unknown),
        synthetic=len(receipt.synthetic),
    )


def read_loop(manifest: Manifest, *, days: int, now: datetime) -> tuple[LoopReport | None, str]:
    """Close the loop over the log's last `days` days: (report, "") or (None, why not)."""
    path = log_path()
    if not path.is_file():
        return None, missing_log_caption(path)
    until = now.date().isoformat()
    since = (now.date() - timedelta(days=days)).isoformat()
    try:
        joined = SqliteOutcomeLog(path).read_joined(since_day=since, until_day=until)
    except AuditUnavailableError as err:
        return None, f"The decision log cannot be read: {err}."
    report = close_loop(
        joined, bands=manifest.grade_bands, reference=manifest.reference, since_day=since, until_day=until
    )
    if report.overall is None:
        return None, f"No decisions recorded from {since} to {until} in {path.name}."
    return report, ""


def grade_frame(report: LoopReport) -> pd.DataFrame:
    """Tabulate expected (mean PD) against realised per grade over the report's span."""
    rows = grade_rows(report.overall)[0] if report.overall is not None else []
    frame = pd.DataFrame(rows, columns=list(GRADE_HEADER))
    frame["light"] = (
        frame["light"].str.replace(" under", " (PD too low)").str.replace(" over", " (PD too high)")
    )
    return frame


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def override_frame(analysis: OverrideAnalysis) -> pd.DataFrame:
    """Tabulate the overrides overall, then per group value (sex, marriage, age band)."""
    rows = [list(override_row("all", analysis.overall, decimals=1))] + [
        list(override_row(f"{group} {value}", figures, decimals=1))
        for group, values in analysis.groups.items()
        for value, figures in values.items()
    ]
    return pd.DataFrame(rows, columns=list(OVERRIDE_COLUMNS))


def show_recorded(result: Recorded) -> None:
    """Show what became of an uploaded outcome file."""
    cells = st.columns(4)
    cells[0].metric("Outcomes recorded", f"{result.recorded:,}")
    cells[1].metric("Already recorded", f"{result.unchanged:,}")
    cells[2].metric("Unknown keys", f"{result.unknown:,}")
    cells[3].metric("Conflicts", f"{result.conflicts:,}")
    if result.problem:
        st.error(f"{result.file}: not recorded. {result.problem}")
    elif result.synthetic:
        st.caption(f"{result.synthetic:,} outcomes of synthetic (smoke-test) decisions skipped.")


def show_loop(report: LoopReport) -> None:
    """Show expected against realised per grade, then the override figures."""
    overall = report.overall
    if overall is None:  # read_loop returns no report without decisions; this keeps the type narrow
        return
    st.subheader("Expected against realised per grade")
    cells = st.columns(4)
    cells[0].metric("Decisions", f"{overall.expected.rows:,}")
    cells[1].metric("Expected default rate", f"{overall.expected.default_rate:.2%}")
    realised = overall.realised
    cells[2].metric("Outcomes joined", f"{0 if realised is None else realised.rows:,}")
    cells[3].metric("Realised default rate", "-" if realised is None else f"{realised.default_rate:.2%}")
    st.caption(
        f"Decisions from {report.since_day} to {report.until_day}. Mean PD over every decision; realised over "
        "those with an outcome, with the Jeffreys light of the grade (green: the mean PD lies in the 95 % "
        "interval of the realised rate)."
        + (
            ""
            if realised is None
            else f" Gap realised − expected on joined rows: {realised.rate_gap * 100:+.2f} pp."
        )
    )
    st.dataframe(grade_frame(report), hide_index=True, width="stretch")
    if report.overrides is None:
        return
    st.subheader("Overrides")
    figures = report.overrides.overall
    sides = st.columns(3)
    sides[0].metric("Reviewed decisions", f"{figures.reviewed:,}")
    sides[1].metric("Low-side override rate", _share(figures.low_side_rate))
    sides[2].metric("High-side override rate", _share(figures.high_side_rate))
    st.caption(
        "Low side: the model declines and the reviewer approves; high side: the reverse. Rates over reviewed "
        "decisions; 'defaulted' is the realised default rate of the overridden ones (SR 11-7)."
    )
    st.dataframe(override_frame(report.overrides), hide_index=True, width="stretch")


def outcome_upload() -> None:
    """Offer an outcome file and record it on request; show what became of the last one."""
    upload = st.file_uploader(
        "Outcome file (CSV: decision_key, defaulted, observed_on)",
        type=["csv"],
        max_upload_size=MAX_UPLOAD_MB,
        key="outcome_file",
        help="As `make outcomes FILE=…`: a file with a bad line is refused whole.",
    )
    if upload is not None and st.button("Record outcomes", key="record_outcomes", type="primary"):
        st.session_state.outcomes_recorded = record_upload(upload.name, upload.getvalue())
    recorded = st.session_state.get("outcomes_recorded")
    if isinstance(recorded, Recorded):
        show_recorded(recorded)


def _cached_loop(manifest: Manifest, path: Path, *, days: int) -> tuple[LoopReport | None, str]:
    """Return `read_loop`, computed again only when the log file, the days, the model or the date change
    (the bootstrap takes seconds on tens of thousands of decisions; every widget reruns the page)."""
    now = datetime.now(UTC)
    state = path.stat()
    key = (str(path), state.st_mtime_ns, state.st_size, days, manifest.version, now.date().isoformat())
    kept = st.session_state.get("loop_report")
    if kept is not None and kept[0] == key:
        return kept[1]  # type: ignore[no-any-return]
    with st.spinner("Joining outcomes to decisions..."):
        result = read_loop(manifest, days=days, now=now)
    st.session_state.loop_report = (key, result)
    return result


def loop_section(manifest: Manifest) -> None:
    """Render the closed loop: the outcome upload, then expected against realised and the overrides."""
    path = log_path()
    if not path.is_file():
        st.caption(missing_log_caption(path))
        return
    outcome_upload()
    days = int(
        st.number_input("Days of decisions", min_value=1, max_value=36500, value=400, step=1, key="loop_days")
    )
    report, why = _cached_loop(manifest, path, days=days)
    if report is None:
        st.caption(why)
        return
    show_loop(report)
