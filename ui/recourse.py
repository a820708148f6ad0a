"""The single-client view's "What would change this decision" section: asks POST /v1/recourse on request for a
client the strategy refers or declines, and shows the change, the PD it reaches and the inputs it moves."""

from collections.abc import Mapping
from typing import Any, Final

import pandas as pd
import streamlit as st

from functions.scoring.adverse.recourse_answer import RecourseAnswer
from functions.scoring.contract import Prediction
from ui.client import ApiCallError, ApiClient
from ui.form import field_label

STATE: Final = "recourse"  # session key of the last answer (or problem); cleared when a client is scored
TITLE: Final = "What would change this decision"


def changes_table(answer: RecourseAnswer) -> pd.DataFrame:
    """Return one line per changed input: its label as the form shows it, the value now and the value proposed."""
    changes = answer.proposal.changes if answer.proposal else []
    return pd.DataFrame(
        [{"input": field_label(c.input), "now": c.current, "proposed": c.proposed} for c in changes],
        columns=["input", "now", "proposed"],
    )


def show_recourse(client: ApiClient, applicant: Mapping[str, Any], prediction: Prediction) -> None:
    """For a referred or declined client, offer the recourse search; show its last answer, or why it failed."""
    if prediction.decision == "approve":
        return
    answered = st.session_state.get(STATE)
    with st.expander(TITLE, expanded=answered is not None):
        st.caption(
            "The smallest change of payments and balances (NT$), or bringing the account current, that the "
            "credit strategy would approve, checked by re-scoring. Age, education and the credit limit never change."
        )
        if st.button("Find the smallest change", key="recourse_find"):
            try:
                with st.spinner("Searching..."):
                    answered = st.session_state[STATE] = client.recourse(applicant)
            except ApiCallError as problem:
                answered = st.session_state[STATE] = problem
        if isinstance(answered, ApiCallError):
            st.error(str(answered))
        elif isinstance(answered, RecourseAnswer):
            _show_answer(answered)


def _show_answer(answer: RecourseAnswer) -> None:
    if answer.proposal is None:
        st.info(answer.message.capitalize())
        return
    proposal = answer.proposal
    columns = st.columns(2)
    columns[0].metric(
        "PD it would reach",
        f"{proposal.probability_of_default:.1%}",
        delta=f"{100 * (proposal.probability_of_default - answer.probability_of_default):+.1f} pp",
        delta_color="inverse",
    )
    columns[1].metric(
        "Approved below", f"{answer.approve_below:.1%}", help="The strategy's approve band ends here."
    )
    st.success(f"**{proposal.summary}** → {proposal.decision}.")
    st.dataframe(
        changes_table(answer),
        hide_index=True,
        width="stretch",
        column_config={
            "input": "Input",
            "now": st.column_config.NumberColumn("Now", format="%.0f"),
            "proposed": st.column_config.NumberColumn("Proposed", format="%.0f"),
        },
    )
