"""The single-client form: profile inputs and the six-month table built from the contract, presets, and
the API's field messages shown beside the inputs they concern."""

from collections.abc import Mapping
from typing import Any, Final

import pandas as pd
import streamlit as st

from functions.api.errors import hint
from functions.scoring.contract import (
    BILLS,
    EXAMPLES,
    FEATURE_BY_NAME,
    FEATURE_NAMES,
    MONTHS,
    PAY_STATUS,
    PAY_STATUS_CODES,
    PAYMENTS,
    FeatureSpec,
)
from ui.batch import coerce, describe
from ui.client import ApiCallError

PROFILE: Final = ("limit_bal", "age", "education", "sex", "marriage")
PROFILE_LABELS: Final = {
    "limit_bal": "Credit limit (NT$)",
    "age": "Age (years)",
    "education": "Education",
    "sex": "Sex",
    "marriage": "Marital status",
}
PRESETS: Final[dict[str, dict[str, int]]] = EXAMPLES
PRESET_LABELS: Final = {"typical": "Typical client", "high_risk": "High-risk client"}
HISTORY_COLUMNS: Final = {"status": PAY_STATUS, "bill": BILLS, "paid": PAYMENTS}
HISTORY_LABELS: Final = {"status": "repayment status", "bill": "bill", "paid": "paid"}


def history_table(applicant: Mapping[str, Any]) -> pd.DataFrame:
    """Lay out the six months of status, bill and payment as one table (6 rows x 3), newest month first."""
    columns = {column: [applicant.get(name) for name in names] for column, names in HISTORY_COLUMNS.items()}
    table = pd.DataFrame(columns, index=pd.Index(MONTHS, name="Month"))
    return table.astype({"status": "Int64", "bill": "float64", "paid": "float64"})


def to_applicant(profile: Mapping[str, Any], history: pd.DataFrame) -> dict[str, Any]:
    """Combine the profile inputs and the six-month table into the API's body; blank cells become None."""
    values = {name: profile.get(name) for name in PROFILE}
    for column, names in HISTORY_COLUMNS.items():
        values.update(zip(names, history[column].tolist(), strict=True))
    return {name: coerce(values[name], FEATURE_BY_NAME[name]) for name in FEATURE_NAMES}


def field_label(name: str) -> str:
    """Name a contract field as the form shows it (a table cell is its month and column)."""
    if name in PROFILE_LABELS:
        return PROFILE_LABELS[name]
    for column, names in HISTORY_COLUMNS.items():
        if name in names:
            return f"{MONTHS[names.index(name)]} {HISTORY_LABELS[column]}"
    return name


def profile_input(spec: FeatureSpec) -> None:
    """Render the input of one profile field with the contract's limits and description."""
    key, label = f"profile_{spec.name}", PROFILE_LABELS[spec.name]
    note = f"{spec.description} Accepts {hint(spec)}."
    if spec.codes is not None:
        codes = spec.codes
        options: list[int | None] = [*([] if spec.required else [None]), *codes]
        st.selectbox(
            label,
            options,
            key=key,
            help=note,
            format_func=lambda code: "not given" if code is None else f"{code} · {codes[code]}",
        )
    elif spec.kind == "amount":
        low = (
            spec.minimum + 1 if spec.exclusive_minimum else spec.minimum
        )  # whole NT$: 1 is the least above 0
        st.number_input(
            label, min_value=low, max_value=spec.maximum, step=10_000.0, format="%.0f", key=key, help=note
        )
    else:
        st.number_input(
            label, min_value=int(spec.minimum), max_value=int(spec.maximum), step=1, key=key, help=note
        )


def column_help(spec: FeatureSpec) -> str:
    """Describe a six-month field for its whole column: the contract names the month, the table's rows do."""
    return f"{spec.description.replace(f' in {MONTHS[0]} 2005', '')} Accepts {hint(spec)}."


def history_config() -> dict[str, Any]:
    """Configure the six-month table's columns with the contract's codes, limits and descriptions."""
    status, bill, paid = (FEATURE_BY_NAME[names[0]] for names in HISTORY_COLUMNS.values())
    amounts = {
        column: st.column_config.NumberColumn(
            label,
            min_value=spec.minimum,
            max_value=spec.maximum,
            step=1,
            format="localized",
            required=True,
            help=column_help(spec),
        )
        for column, label, spec in (("bill", "Bill (NT$)", bill), ("paid", "Paid (NT$)", paid))
    }
    return {
        "_index": st.column_config.TextColumn("Month", disabled=True, width="small", help="Months of 2005."),
        "status": st.column_config.SelectboxColumn(
            "Repayment status",
            width="medium",
            options=list(PAY_STATUS_CODES),
            required=True,
            help=column_help(status),
            format_func=lambda code: f"{code} · {PAY_STATUS_CODES[int(code)]}",
        ),
        **amounts,
    }


def load_preset(name: str) -> None:
    """Fill the form with a preset client (a key of PRESETS) and forget the previous result."""
    preset = PRESETS[name]
    for field_name in PROFILE:
        spec, value = FEATURE_BY_NAME[field_name], preset.get(field_name)
        st.session_state[f"profile_{field_name}"] = float(value) if spec.kind == "amount" and value else value
    st.session_state.history_base = history_table(preset)
    st.session_state.pop("history", None)  # drop the table's edits, which were made on the old preset
    st.session_state.pop("single", None)
    st.session_state.preset = name


def client_form() -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Render presets and the form; return the applicant when submitted (else None) and the message slots."""
    with st.container(horizontal=True, vertical_alignment="center"):
        for name, label in PRESET_LABELS.items():
            st.button(label, key=f"preset_{name}", on_click=load_preset, args=(name,))
        st.caption(f"Loaded: {PRESET_LABELS[st.session_state.preset].lower()}; edit any field.")
    slots: dict[str, Any] = {}  # placeholders beside the fields, for the API's messages about them
    with st.form("client"):
        st.markdown("**Credit line and profile**")
        for row in (PROFILE[:3], PROFILE[3:]):
            for column, name in zip(st.columns(3), row, strict=False):
                with column:
                    profile_input(FEATURE_BY_NAME[name])
                    slots[name] = st.empty()
        st.caption(
            "Sex and marital status are taken for fairness reporting only; the model does not use them."
        )
        st.markdown("**Last six months** (newest first): repayment status, bill statement and amount paid")
        history = st.data_editor(
            st.session_state.history_base, key="history", column_config=history_config(), width="stretch"
        )
        slots["history"], slots["general"] = st.empty(), st.empty()
        submitted = st.form_submit_button("Score client", key="score_client", type="primary")
    if not submitted:
        return None, slots
    profile = {name: st.session_state[f"profile_{name}"] for name in PROFILE}
    return to_applicant(profile, history), slots


def show_problem(problem: ApiCallError, slots: Mapping[str, Any]) -> None:
    """Show an API error above the result and each invalid input's message beside its field."""
    st.error(str(problem))
    beside: dict[str, list[str]] = {}
    for error in problem.fields:
        name = error.field.rsplit(".", 1)[-1]
        slot = "history" if any(name in names for names in HISTORY_COLUMNS.values()) else name
        beside.setdefault(slot if slot in slots else "general", []).append(
            describe(error, label=field_label(name))
        )
    for slot, messages in beside.items():
        slots[slot].error("\n\n".join(messages))
