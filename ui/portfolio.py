"""The batch tab's offer for a file larger than one API request: the deployed stack's portfolio job, or, without
a stack, the `make score` command that scores it on this machine with the same code."""

import io
import shlex
import time
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any, Final

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from functions.scoring.contract import MAX_BATCH
from ui.client import Endpoint
from ui.portfolio_job import (
    Outcome,
    RunError,
    Stack,
    aws_errors,
    fetch_outcome,
    map_counts,
    progress_line,
    read_stack,
    run_name,
    session,
    start_run,
    summary_uri,
    upload_book,
)

POLL_SECONDS: Final = 2.0  # between two looks at the run
FOLLOW_SECONDS: Final = 600.0  # the page follows a run this long per click; the run goes on in AWS after
JOB: Final = "portfolio_job"  # session key: the run of the uploaded file


def score_command(filename: str) -> str:
    """Return the `make score` command that scores `filename` on this machine, shell-quoted to paste safely."""
    name = PurePosixPath(filename).name
    scored = f"{PurePosixPath(name).stem}-scored.csv"
    return f"make score IN={shlex.quote(name)} OUT={shlex.quote(scored)}"


def explain_local(filename: str, rows: int) -> None:
    """Explain how to score a large file on this machine, and that a deployed stack takes it whole."""
    st.info(
        f"This file has {rows:,} rows, more than one API request takes ({MAX_BATCH:,}): the button above sends "
        f"it in requests of {MAX_BATCH:,}. To score a whole book at once on this machine, on all cores with "
        "the same PDs and reasons, run in the repository:"
    )
    st.code(score_command(filename), language="bash")
    st.caption(
        "It writes the scored CSV (one row per input row, invalid rows kept with an `error`) and "
        "`OUT.summary.json` beside it: counts per grade, mean PD, and PSI against the training reference. "
        "With a deployed stack (sidebar: From a CloudFormation stack), this tab sends the file to its "
        "portfolio job on AWS instead."
    )


@st.cache_data(ttl=300, show_spinner=False)
def find_stack(name: str, region: str) -> Stack:
    """Read the stack's portfolio outputs (cached for 5 minutes); raises RunError saying what to do."""
    try:
        return read_stack(session(region or None).client("cloudformation"), name)
    except aws_errors() as err:
        raise RunError(
            f"stack {name}: cannot be read ({err}); check your AWS credentials and region"
        ) from err


def deployed_stack(endpoint: Endpoint) -> Stack | None:
    """Return the sidebar's stack when the endpoint is its API, else None; warn when its job cannot be used."""
    name = str(st.session_state.get("stack_name", "")).strip()
    if not name:
        return None
    try:
        stack = find_stack(name, str(st.session_state.get("region", "")).strip())
    except RunError as err:
        st.warning(f"No portfolio job: {err}.")
        return None
    return stack if stack.api_url and stack.api_url == endpoint.url else None


def submit(stack: Stack, upload: UploadedFile, region: str | None) -> dict[str, Any]:
    """Upload the file to the stack's input bucket and start a run; return the session's record of it."""
    aws, now = session(region), datetime.now(UTC)
    key = upload_book(aws.client("s3"), stack, io.BytesIO(upload.getvalue()), upload.name, now=now)
    name = run_name(upload.name, now=now)
    arn = start_run(aws.client("stepfunctions"), stack, stack.input_bucket, key, name=name)
    return {"file_id": upload.file_id, "name": name, "arn": arn, "region": region, "line": "starting"}


def follow(stack: Stack, job: dict[str, Any]) -> None:
    """Show the run's progress until it ends (then store its outcome in `job`) or FOLLOW_SECONDS pass."""
    aws = session(job["region"])
    sfn, bar = aws.client("stepfunctions"), st.progress(0.0, text="Starting the run...")
    deadline = time.monotonic() + FOLLOW_SECONDS
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=job["arn"])
        if described["status"] != "RUNNING":
            job["outcome"] = fetch_outcome(aws.client("s3"), stack, job["name"], described)
            bar.progress(1.0, text=f"Run {described['status'].lower()}")
            return
        counts = map_counts(sfn, job["arn"])
        job["line"] = progress_line(counts)
        done = counts["succeeded"] / counts["total"] if counts and counts["total"] else 0.0
        bar.progress(done, text=job["line"].capitalize())
        time.sleep(POLL_SECONDS)


def show_outcome(stack: Stack, job: dict[str, Any], outcome: Outcome) -> None:
    """Show how the run ended: counts, PSI verdicts and the scored file, or what failed and where to look."""
    summary = outcome.summary or {}
    if outcome.scored is None:
        failed = ", ".join(
            f"shard {s['index']} (from line {s['first_line']})" for s in summary.get("failed_shards", [])
        )
        st.error(
            f"The run ended {outcome.status.lower()} ({outcome.problem.strip(': ')}). "
            + (f"Not scored: {failed}. " if failed else "")
            + f"See {summary_uri(stack, job['name'])}, fix the input or retry with the button above."
        )
        return
    counts = st.columns(4)
    counts[0].metric("Rows", f"{summary['rows']:,}")
    counts[1].metric("Invalid rows", f"{summary['invalid']:,}", help="Kept in place with an `error` column.")
    mean = summary.get("mean_probability_of_default")
    counts[2].metric("Mean PD", "n/a" if mean is None else f"{mean:.1%}")
    drift = summary.get("drift")
    moved = [name for name, verdict in (drift or {}).get("verdict", {}).items() if verdict != "stable"]
    counts[3].metric(
        "Drifted inputs",
        "n/a" if drift is None else f"{len(moved)}",
        help="PSI ≥ 0.10 against the training reference.",
    )
    if moved:
        st.caption("Not stable against the training reference (PSI ≥ 0.10): " + ", ".join(moved))
    st.download_button(
        "Download the scored book",
        outcome.scored,
        file_name=f"{job['name']}-scored.csv",
        mime="text/csv",
        key="portfolio_download",
    )
    st.caption(f"Summary: {summary_uri(stack, job['name'])}")


def portfolio_offer(endpoint: Endpoint, upload: UploadedFile, *, rows: int) -> None:
    """Offer a file of more than MAX_BATCH rows to the endpoint's stack's portfolio job, or explain `make score`."""
    if rows <= MAX_BATCH:
        return
    stack = deployed_stack(endpoint)
    if stack is None:
        explain_local(upload.name, rows)
        return
    st.subheader("Portfolio job")
    st.caption(
        f"{rows:,} rows is more than one API request: the stack's portfolio job scores the whole file at once "
        "on AWS (Step Functions over S3, the same model), then this page offers the scored file."
    )
    region = str(st.session_state.get("region", "")).strip() or None
    job: dict[str, Any] | None = st.session_state.get(JOB)
    try:
        if st.button(f"Score all {rows:,} rows on the portfolio job", key="portfolio_start", type="primary"):
            job = st.session_state[JOB] = submit(stack, upload, region)
            follow(stack, job)
        elif job and job["file_id"] == upload.file_id and st.session_state.get("portfolio_follow"):
            follow(stack, job)
    except aws_errors() as err:
        st.error(f"AWS refused ({err}). Check your credentials, region and the stack, then try again.")
        return
    if not job or job["file_id"] != upload.file_id:
        return
    if "outcome" in job:
        show_outcome(stack, job, job["outcome"])
        return
    st.info(f"The run {job['name']} goes on in AWS ({job['line']}); follow it again to see the result.")
    st.button("Follow the run", key="portfolio_follow")
