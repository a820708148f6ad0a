"""Streamlit frontend of the scoring API: score one client or a CSV file, see why, and read the model card.

streamlit run frontend.py                              # the local app at http://127.0.0.1:8000
CREDIT_API_URL=http://127.0.0.1:3000 streamlit run frontend.py   # sam local start-api, or a deployed URL
streamlit run frontend.py -- --stack-name credit-default [--region eu-west-1]
"""

import argparse
import os
import sys
from collections.abc import Sequence

import streamlit as st

from functions.scoring.contract import MAX_BATCH, Health
from functions.scoring.manifest import Manifest
from ui.batch import UPLOAD_TYPES
from ui.card import show_manifest, show_plots
from ui.client import DEFAULT_URL, ApiCallError, ApiClient, Endpoint, StackError, resolve_endpoint
from ui.form import client_form, load_preset, show_problem
from ui.limits import MAX_UPLOAD_MB
from ui.monitoring import monitoring_tab
from ui.portfolio import portfolio_offer
from ui.recourse import STATE as RECOURSE_STATE
from ui.recourse import show_recourse
from ui.strategy import strategy_tab
from ui.views import read_upload, score_file, show_batch, show_prediction


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Read `--stack-name` and `--region`, given after `--` on the streamlit command line."""
    parser = argparse.ArgumentParser(prog="streamlit run frontend.py --", add_help=False)
    parser.add_argument("--stack-name", default="", help="CloudFormation stack with ApiUrl and ApiKeyId")
    parser.add_argument("--region", default="", help="AWS region of the stack")
    return parser.parse_known_args(argv)[0]


@st.cache_data(ttl=30, show_spinner=False)
def check_health(url: str, api_key: str) -> Health:
    """Return the endpoint's /v1/health answer (cached for 30 s; failures are not cached)."""
    return ApiClient(Endpoint(url, api_key)).health()


@st.cache_data(ttl=300, show_spinner=False)
def fetch_manifest(url: str, api_key: str) -> Manifest:
    """Return the served model's manifest from /v1/model (cached for 5 minutes)."""
    return ApiClient(Endpoint(url, api_key)).manifest()


def refresh() -> None:
    """Forget the cached health and manifest, so the next run asks the endpoint again."""
    check_health.clear()
    fetch_manifest.clear()


def manifest_or_none(endpoint: Endpoint) -> Manifest | None:
    """Return the manifest, or None when the endpoint cannot give it (the caller shows less)."""
    try:
        return fetch_manifest(endpoint.url, endpoint.api_key)
    except ApiCallError:
        return None


def use_stack() -> None:
    """Resolve the API URL and key from the stack's outputs into the sidebar fields."""
    name, region = st.session_state.stack_name.strip(), st.session_state.region.strip()
    if not name:
        st.session_state.stack_note = ("error", "Enter the name of a stack deployed from template.yaml.")
        return
    try:
        found = resolve_endpoint(name, region=region or None)
    except StackError as err:
        st.session_state.stack_note = ("error", f"Stack {name}: {err}")
        return
    st.session_state.api_url, st.session_state.api_key = found.url, found.api_key
    st.session_state.stack_note = ("success", f"Using stack {name}: {found.url}")


def init_state(args: argparse.Namespace) -> None:
    """Fill the session's defaults once: endpoint from the environment or the stack, the typical client."""
    if "api_url" in st.session_state:
        return
    st.session_state.api_url = os.environ.get("CREDIT_API_URL", DEFAULT_URL)
    st.session_state.api_key = os.environ.get("CREDIT_API_KEY", "")
    st.session_state.stack_name, st.session_state.region = args.stack_name, args.region
    if args.stack_name:
        use_stack()
    load_preset("typical")


def sidebar() -> tuple[Endpoint, Health | None]:
    """Render the endpoint settings and the endpoint's health; return the endpoint and its health answer."""
    st.header("Endpoint")
    st.text_input(
        "API URL",
        key="api_url",
        help=f"Local app {DEFAULT_URL}, `sam local start-api` http://127.0.0.1:3000, or a deployed stack's "
        "ApiUrl. Default: CREDIT_API_URL.",
    )
    st.text_input(
        "API key", key="api_key", type="password", help="Only a deployed stack needs it (CREDIT_API_KEY)."
    )
    with st.expander("From a CloudFormation stack"):
        st.text_input("Stack name", key="stack_name", placeholder="credit-default")
        st.text_input("Region", key="region", placeholder="from your AWS configuration")
        st.button(
            "Use this stack", key="use_stack", on_click=use_stack, help="Reads its ApiUrl and ApiKeyId."
        )
    if "stack_note" in st.session_state:
        kind, note = st.session_state.stack_note
        (st.success if kind == "success" else st.error)(note)
    endpoint = Endpoint(st.session_state.api_url.strip().rstrip("/"), st.session_state.api_key.strip())
    if not endpoint.url:
        st.info("Enter the API URL to start.")
        st.stop()
    health = None
    try:
        health = check_health(endpoint.url, endpoint.api_key)
        st.success(f"Healthy · model {health.model_version} · audit {health.audit}")
    except ApiCallError as problem:
        st.error(str(problem))
    st.button(
        "Check again", key="recheck", on_click=refresh, help="Ask the endpoint again for health and model."
    )
    return endpoint, health


def single_client_tab(endpoint: Endpoint) -> None:
    """Render the client form beside its result; score the client when the form is submitted."""
    form_column, result_column = st.columns([3, 2], gap="large")
    with form_column:
        applicant, slots = client_form()
    with result_column:
        if applicant is not None:
            try:
                st.session_state.pop(RECOURSE_STATE, None)
                with st.spinner("Scoring..."):
                    prediction = ApiClient(endpoint).predict(applicant)
                    st.session_state.single = {"prediction": prediction, "applicant": applicant}
            except ApiCallError as problem:
                st.session_state.single = {"problem": problem}
        outcome = st.session_state.get("single", {})
        if "problem" in outcome:
            show_problem(outcome["problem"], slots)
        elif "prediction" in outcome:
            show_prediction(outcome["prediction"], manifest_or_none(endpoint))
            show_recourse(ApiClient(endpoint), outcome["applicant"], outcome["prediction"])
        else:
            st.info("Choose a preset or fill in the form, then score the client.")


def batch_tab(endpoint: Endpoint) -> None:
    """Render the CSV upload; check the rows, score the valid ones on request (or a large file as a portfolio job)."""
    upload = st.file_uploader(
        "CSV file of clients",
        type=list(UPLOAD_TYPES),
        max_upload_size=MAX_UPLOAD_MB,
        key="batch_file",
        help="The dataset's layout: upper-case header (LIMIT_BAL, SEX, ..., PAY_AMT6), with or without ID "
        "and default.payment.next.month; the API's lower-case names work too.",
    )
    if upload is None:
        st.info(
            "Upload a CSV in the dataset's layout. Each row is checked against the contract first; rows that "
            f"fail are listed and not sent. The rest are scored in requests of at most {MAX_BATCH:,} rows."
        )
        return
    parsed = read_upload(upload, key="parsed", scored_key="scored")
    if parsed is None:
        return
    st.caption(
        f"{len(parsed.table):,} rows · {len(parsed.applicants):,} valid · "
        f"{len({p.row for p in parsed.problems}):,} invalid (listed, not sent) · "
        f"target column {'present' if parsed.target is not None else 'absent'}"
    )
    label = f"Score {len(parsed.applicants):,} rows"
    if st.button(label, key="score_file", type="primary", disabled=not parsed.applicants):
        st.session_state.scored = score_file(ApiClient(endpoint), parsed)
    portfolio_offer(endpoint, upload, rows=len(parsed.table))  # more rows than one request: the whole book
    if "scored" in st.session_state:
        show_batch(parsed, st.session_state.scored, manifest_or_none(endpoint))


def model_tab(endpoint: Endpoint, health: Health | None) -> None:
    """Render the served model's manifest and the local model card's plots."""
    manifest = None
    try:
        manifest = fetch_manifest(endpoint.url, endpoint.api_key)
    except ApiCallError as problem:
        st.error(f"The model card is unavailable: {problem}")
    if manifest is not None:
        show_manifest(manifest)
    st.subheader("Model card plots")
    show_plots(manifest.version if manifest else health.model_version if health else None)


def main() -> None:
    """Render the page: configuration, sidebar, then the five tabs."""
    st.set_page_config(page_title="Credit default scoring", page_icon="💳", layout="wide")
    init_state(parse_args(sys.argv[1:]))
    with st.sidebar:
        endpoint, health = sidebar()
    st.title("Credit default scoring")
    st.caption(f"Probability that a credit-card client defaults next month, from {endpoint.url}")
    single, batch, strategy, model, monitor = st.tabs(
        ["Single client", "Batch file", "Strategy", "Model", "Monitoring"]
    )
    with single:
        single_client_tab(endpoint)
    with batch:
        batch_tab(endpoint)
    with strategy:
        strategy_tab(manifest_or_none(endpoint))
    with model:
        model_tab(endpoint, health)
    with monitor:
        monitoring_tab(ApiClient(endpoint), manifest_or_none(endpoint))


if __name__ == "__main__":  # streamlit runs the page as __main__; the tests import its functions
    main()
