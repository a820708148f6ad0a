"""Streamlit frontend of the scoring API: score one client or a CSV file, see why, and read the model card.

streamlit run frontend.py                              # the local app at http://127.0.0.1:8000
CREDIT_API_URL=http://127.0.0.1:3000 streamlit run frontend.py   # sam local start-api, or a deployed URL
streamlit run frontend.py -- --stack-name credit-default [--region eu-west-1]
"""

import argparse
import io
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

import altair as alt
import httpx
import numpy as np
import pandas as pd
import streamlit as st
from botocore.exceptions import BotoCoreError, ClientError
from numpy.typing import NDArray
from pydantic import ValidationError

from functions.contract import (
    BILLS,
    EXAMPLES,
    FEATURE_BY_NAME,
    FEATURE_NAMES,
    FEATURES,
    MAX_BATCH,
    MONTHS,
    PAY_STATUS,
    PAY_STATUS_CODES,
    PAYMENTS,
    TARGET,
    Applicant,
    FeatureSpec,
)
from functions.errors import FieldError, hint, to_field_errors
from scripts.smoke import Endpoint, SmokeError, resolve_endpoint

DEFAULT_URL: Final = "http://127.0.0.1:8000"  # the local app that `make api` and `make run` start
HEALTH_TIMEOUT: Final = 5.0  # seconds; health is cheap, a slow answer means trouble
SCORE_TIMEOUT: Final = 30.0  # seconds; API Gateway gives up at 29 s, a cold Lambda start takes a few
MODEL_DIR: Final = Path(__file__).resolve().parent / "model"
PLOTS: Final = {
    "roc.png": "ROC curve",
    "precision_recall.png": "Precision and recall",
    "calibration.png": "Calibration",
    "score_distribution.png": "Score distribution",
    "confusion_matrix.png": "Confusion matrix at the threshold",
}
PROFILE: Final = ("limit_bal", "age", "education", "sex", "marriage")
PROFILE_LABELS: Final = {
    "limit_bal": "Credit limit (NT$)",
    "age": "Age (years)",
    "education": "Education",
    "sex": "Sex",
    "marriage": "Marital status",
}
TARGET_COLUMNS: Final = ("default.payment.next.month", "default payment next month", TARGET)
GRADE_COLOURS: Final = {"A": "#2e7d32", "B": "#8bc34a", "C": "#fbc02d", "D": "#f57c00", "E": "#c62828"}
PRESETS: Final[dict[str, dict[str, int]]] = EXAMPLES
PRESET_LABELS: Final = {"typical": "Typical client", "high_risk": "High-risk client"}
HISTORY_COLUMNS: Final = {"status": PAY_STATUS, "bill": BILLS, "paid": PAYMENTS}
ADVICE: Final = {
    403: " Check the API key (sidebar, or resolve it from the stack) and that the URL is the stack's ApiUrl.",
    404: " No such route: the URL must be the API's base URL (a deployed stack's ends in /Prod).",
    429: " Too many requests: wait a moment and try again.",
    503: " No decision was made; try again later.",
    504: " The gateway timed out; try again, or send fewer rows at a time.",
}
T = TypeVar("T")


class ApiCallError(Exception):
    """An API call that returned no answer: a readable message, the HTTP status and the invalid fields."""

    def __init__(self, message: str, *, status: int | None = None, fields: Sequence[FieldError] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.fields = list(fields)


class UnreadableFileError(ValueError):
    """An upload that cannot be read as clients at all (not CSV, contract columns missing, no rows)."""


@dataclass(frozen=True)
class RowProblem:
    """Why one row of an uploaded file was not scored."""

    row: int  # 1-based data row of the file (the header is row 0)
    column: str
    message: str


@dataclass
class ParsedFile:
    """An uploaded CSV: its cells as text, the rows valid under the contract, and the invalid ones."""

    table: pd.DataFrame
    applicants: list[dict[str, Any]]  # valid rows, as the API takes them
    positions: list[int]  # 0-based row of `table` for each valid applicant
    problems: list[RowProblem]
    id_column: str | None
    target: (
        NDArray[np.float64] | None
    )  # 1 default, 0 no default, NaN unreadable; None without a target column


@dataclass
class ScoredFile:
    """The API's predictions for an uploaded file, the rows it could not score, and why it stopped early."""

    predictions: dict[int, dict[str, Any]] = field(default_factory=dict)  # row position -> prediction
    problems: list[RowProblem] = field(default_factory=list)
    stopped: str | None = None


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Read `--stack-name` and `--region`, given after `--` on the streamlit command line."""
    parser = argparse.ArgumentParser(prog="streamlit run frontend.py --", add_help=False)
    parser.add_argument("--stack-name", default="", help="CloudFormation stack with ApiUrl and ApiKeyId")
    parser.add_argument("--region", default="", help="AWS region of the stack")
    return parser.parse_known_args(argv)[0]


def call_api(endpoint: Endpoint, method: str, path: str, *, body: Any = None, timeout: float) -> Any:
    """Send one request and return the JSON answer; raise ApiCallError saying what went wrong and why."""
    headers = {"accept": "application/json"}
    if endpoint.api_key:
        headers["x-api-key"] = endpoint.api_key
    try:
        response = httpx.request(method, endpoint.url + path, json=body, headers=headers, timeout=timeout)
    except httpx.TimeoutException as err:
        raise ApiCallError(
            f"{endpoint.url} did not answer within {timeout:g} s. Is it overloaded or starting up? Try again."
        ) from err
    except (httpx.HTTPError, httpx.InvalidURL) as err:
        raise ApiCallError(
            f"Cannot reach {endpoint.url} ({err}). Is the API running? `make api` starts it on {DEFAULT_URL}."
        ) from err
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.is_success and answer is not None:
        return answer
    raise to_problem(response.status_code, answer, response.reason_phrase)


def to_problem(status: int, answer: Any, reason: str) -> ApiCallError:
    """Turn an error answer (the API's schema, or API Gateway's `{"message"}`) into an ApiCallError."""
    error = answer.get("error") if isinstance(answer, dict) else None
    fields, request_id = [], ""
    if isinstance(error, dict):
        fields = [FieldError.model_validate(item) for item in error.get("fields") or []]
        request_id = f", request id {error['request_id']}" if error.get("request_id") else ""
        message = str(error.get("message") or reason)
    else:
        message = str(answer.get("message") or reason) if isinstance(answer, dict) else reason
    if status == 422 and fields:  # the API's message points at its `fields` list; the form shows them
        plural = "s" if len(fields) > 1 else ""
        message = (
            f"The API refused {len(fields)} input{plural}; see the message{plural} beside the field{plural}"
        )
    message = message.rstrip(".")
    return ApiCallError(
        f"{message} (HTTP {status}{request_id}).{ADVICE.get(status, '')}", status=status, fields=fields
    )


@st.cache_data(ttl=30, show_spinner=False)
def check_health(url: str, api_key: str) -> dict[str, Any]:
    """Return the endpoint's /v1/health answer (cached for 30 s; failures are not cached)."""
    return dict(call_api(Endpoint(url, api_key), "GET", "/v1/health", timeout=HEALTH_TIMEOUT))


@st.cache_data(ttl=300, show_spinner=False)
def fetch_manifest(url: str, api_key: str) -> dict[str, Any]:
    """Return the model's manifest from /v1/model (cached for 5 minutes)."""
    return dict(call_api(Endpoint(url, api_key), "GET", "/v1/model", timeout=SCORE_TIMEOUT))


def refresh() -> None:
    """Forget the cached health and manifest, so the next run asks the endpoint again."""
    check_health.clear()
    fetch_manifest.clear()


def manifest_or_none(endpoint: Endpoint) -> dict[str, Any] | None:
    """Return the manifest, or None when the endpoint cannot give it (the caller shows less)."""
    try:
        return fetch_manifest(endpoint.url, endpoint.api_key)
    except ApiCallError:
        return None


def score_one(endpoint: Endpoint, applicant: Mapping[str, Any]) -> dict[str, Any]:
    """Score one applicant with POST /v1/predict."""
    return dict(call_api(endpoint, "POST", "/v1/predict", body=dict(applicant), timeout=SCORE_TIMEOUT))


def score_batch(endpoint: Endpoint, applicants: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Score up to MAX_BATCH applicants with POST /v1/predict/batch; answers keep the input order."""
    body = {"applicants": [dict(applicant) for applicant in applicants]}
    answer = call_api(endpoint, "POST", "/v1/predict/batch", body=body, timeout=SCORE_TIMEOUT)
    predictions = list(answer.get("predictions", [])) if isinstance(answer, dict) else []
    if len(predictions) != len(applicants):
        raise ApiCallError(
            f"The API answered {len(predictions)} predictions for {len(applicants)} applicants."
        )
    return predictions


def coerce(value: Any, spec: FeatureSpec) -> Any:
    """Give a cell the type the contract expects: blanks become None, text that is no number stays text."""
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
        try:
            value = float(value)
        except ValueError:
            return value  # the contract rejects it with a message naming the column
    if isinstance(value, bool):
        return value  # the contract refuses booleans as numbers
    if value is None or pd.isna(value):
        return None
    number = float(value)
    return int(number) if spec.kind != "amount" and number.is_integer() else number


def history_table(applicant: Mapping[str, Any]) -> pd.DataFrame:
    """Lay out the six months of status, bill and payment as one table, newest month first."""
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
            label = {"status": "repayment status", "bill": "bill", "paid": "paid"}[column]
            return f"{MONTHS[names.index(name)]} {label}"
    return name


def describe(error: FieldError, *, label: str) -> str:
    """Say what is wrong with one input and what it accepts."""
    accepts = f" (accepts {error.hint})" if error.hint else ""
    return f"{label}: {error.message}{accepts}"


def read_clients(data: bytes) -> ParsedFile:
    """Read a CSV in the dataset's layout (or with the contract's names) and check each row against it."""
    try:
        table = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, skipinitialspace=True)
    except ValueError as err:  # pandas' parser, empty-data and decoding errors are all ValueErrors
        raise UnreadableFileError(f"This is not a readable CSV file ({err}).") from err
    columns = {str(name).strip().strip('"').lower(): str(name) for name in table.columns}
    missing = [spec.column for spec in FEATURES if spec.required and spec.name not in columns]
    if missing:
        raise UnreadableFileError(
            f"The file has no column {', '.join(missing)}. Expected the dataset's header (ID, LIMIT_BAL, "
            "SEX, ..., PAY_AMT6, optionally default.payment.next.month) or the API's lower-case names."
        )
    if table.empty:
        raise UnreadableFileError("The file has a header but no rows.")
    applicants: list[dict[str, Any]] = []
    positions: list[int] = []
    problems: list[RowProblem] = []
    present = [spec for spec in FEATURES if spec.name in columns]
    for position, record in enumerate(table.to_dict("records")):
        values = {spec.name: coerce(record[columns[spec.name]], spec) for spec in present}
        try:
            applicant = Applicant.model_validate(
                {name: value for name, value in values.items() if value is not None}
            )
        except ValidationError as err:
            for error in to_field_errors(err.errors(), max_batch=MAX_BATCH):
                column = columns.get(error.field, error.field)
                problems.append(RowProblem(position + 1, column, describe(error, label=column)))
            continue
        applicants.append(applicant.model_dump())
        positions.append(position)
    target_column = next((columns[name] for name in TARGET_COLUMNS if name in columns), None)
    target = None
    if target_column is not None:
        labels = pd.to_numeric(table[target_column], errors="coerce").to_numpy(dtype=float)
        target = np.where(np.isin(labels, (0.0, 1.0)), labels, np.nan)
    return ParsedFile(table, applicants, positions, problems, columns.get("id"), target)


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Yield consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def score_chunk(
    endpoint: Endpoint, part: Sequence[tuple[int, dict[str, Any]]]
) -> tuple[dict[int, dict[str, Any]], list[RowProblem]]:
    """Score one chunk of (row position, applicant); report rows the API refuses (422), resend the rest."""
    try:
        return dict(zip([p for p, _ in part], score_batch(endpoint, [a for _, a in part]), strict=True)), []
    except ApiCallError as problem:
        refused = {error.index for error in problem.fields if error.index is not None}
        if problem.status != 422 or not refused:
            raise
        problems = []
        for error in problem.fields:
            if error.index is not None:
                column = error.field.rsplit(".", 1)[-1].upper()
                problems.append(RowProblem(part[error.index][0] + 1, column, describe(error, label=column)))
    rest = [item for index, item in enumerate(part) if index not in refused]
    if not rest:
        return {}, problems
    return dict(zip([p for p, _ in rest], score_batch(endpoint, [a for _, a in rest]), strict=True)), problems


def score_rows(
    endpoint: Endpoint, parsed: ParsedFile, *, on_progress: Callable[[int, int], object]
) -> ScoredFile:
    """Score the valid rows in chunks of at most MAX_BATCH; stop at the first failure that is not a 422."""
    scored = ScoredFile()
    rows = list(zip(parsed.positions, parsed.applicants, strict=True))
    done = 0
    for part in chunks(rows, MAX_BATCH):
        try:
            predictions, problems = score_chunk(endpoint, part)
        except ApiCallError as problem:
            scored.stopped = str(problem)
            scored.problems += [RowProblem(p + 1, "", "not scored: the API failed") for p, _ in rows[done:]]
            break
        scored.predictions.update(predictions)
        scored.problems += problems
        done += len(part)
        on_progress(done, len(rows))
    return scored


def results_table(parsed: ParsedFile, scored: ScoredFile) -> pd.DataFrame:
    """One line per uploaded row: PD, grade, score, decision and top reason, or why it was not scored."""
    problems: dict[int, list[str]] = {}
    for problem in [*parsed.problems, *scored.problems]:
        problems.setdefault(problem.row, []).append(problem.message)
    lines = []
    for position in range(len(parsed.table)):
        prediction = scored.predictions.get(position)
        line: dict[str, Any] = {"row": position + 1}
        if parsed.id_column is not None:
            line["ID"] = parsed.table[parsed.id_column].iloc[position]
        if prediction is None:
            line.update(pd=None, grade="", score=None, decision="", top_reason="")
        else:
            reasons = prediction["reasons"]
            line.update(
                pd=prediction["probability_of_default"],
                grade=prediction["risk_grade"],
                score=prediction["score"],
                decision=decision_text(prediction["predicted_default"]),
                top_reason=reasons[0]["text"] if reasons else "",
            )
        line["problem"] = "; ".join(problems.get(position + 1, []))
        lines.append(line)
    return pd.DataFrame(lines).astype({"pd": "float64", "score": "Int64"})


def scored_csv(parsed: ParsedFile, results: pd.DataFrame) -> bytes:
    """Return the uploaded file with the prediction columns appended, as CSV."""
    scored = parsed.table.copy()
    scored["probability_of_default"] = results["pd"].to_numpy()
    scored["risk_grade"] = results["grade"].to_numpy()
    scored["score"] = results["score"].astype("Int64").to_numpy()
    scored["predicted_default"] = results["decision"].map({decision_text(True): 1, decision_text(False): 0})
    scored["top_reason"] = results["top_reason"].to_numpy()
    scored["problem"] = results["problem"].to_numpy()
    return str(scored.to_csv(index=False)).encode()


def auc(labels: NDArray[Any], scores: NDArray[Any]) -> float | None:
    """Return the ROC AUC by the rank-sum (Mann-Whitney) formula, ties at mean rank; None for one class."""
    positives = labels == 1
    n_pos = int(positives.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[inverse]  # 1-based mean rank of each tie group
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def confusion(labels: NDArray[Any], predicted: NDArray[Any]) -> dict[str, int]:
    """Count true and false negatives and positives."""
    actual, flagged = labels == 1, predicted.astype(bool)
    return {
        "tn": int((~actual & ~flagged).sum()),
        "fp": int((~actual & flagged).sum()),
        "fn": int((actual & ~flagged).sum()),
        "tp": int((actual & flagged).sum()),
    }


def decision_text(predicted_default: bool) -> str:
    """Word the API's decision for a credit analyst."""
    return "default predicted" if predicted_default else "no default predicted"


def grade_bands(manifest: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Return the grade bands as PD intervals [start, end) from the manifest (none without one)."""
    bands, start = [], 0.0
    for band in (manifest or {}).get("grade_bands", []):
        end = min(float(band["max_pd"]), 1.0)
        bands.append({"grade": band["grade"], "label": band.get("label", ""), "start": start, "end": end})
        start = end
    return bands


def gauge(probability: float, threshold: float, bands: Sequence[Mapping[str, Any]]) -> alt.LayerChart:
    """Draw the PD as a bar over the grade bands, with the decision threshold as a dashed line."""
    x = alt.X("start:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%", title=None, grid=False))
    # Heights are fractions of the chart; every layer hides its y axis (Vega-Lite fails on mixed axes).
    y, y_text = (alt.Y(f"{name}:Q", scale=alt.Scale(domain=[0, 1]), axis=None) for name in ("low", "text"))
    point = pd.DataFrame({"start": [0.0], "end": [probability], "low": [0.3], "high": [0.62]})
    point["label"] = f"PD {probability:.1%}"
    line = pd.DataFrame({"start": [threshold], "low": [0.0], "high": [1.0], "text": [0.1]})
    line["label"] = f"threshold {threshold:.1%}"
    layers: list[alt.Chart] = []
    if bands:
        zones = pd.DataFrame(bands).assign(low=0.0, high=1.0)
        letters = pd.DataFrame(
            {"grade": zones["grade"], "start": (zones["start"] + zones["end"]) / 2, "text": 0.85}
        )
        colour = alt.Color(
            "grade:N",
            scale=alt.Scale(domain=list(GRADE_COLOURS), range=list(GRADE_COLOURS.values())),
            legend=None,
        )
        layers += [
            alt.Chart(zones)
            .mark_rect(opacity=0.3)
            .encode(x=x, x2="end:Q", y=y, y2="high:Q", color=colour, tooltip=["grade", "label"]),
            alt.Chart(letters)
            .mark_text(fontWeight="bold")
            .encode(x=x, y=y_text, text="grade:N", color=colour),
        ]
    layers += [
        alt.Chart(point)
        .mark_rect(color="#1a237e")
        .encode(x=x, x2="end:Q", y=y, y2="high:Q", tooltip=["label"]),
        alt.Chart(line).mark_rule(strokeDash=[5, 3], size=2, color="black").encode(x=x, y=y, y2="high:Q"),
        alt.Chart(line).mark_text(align="left", dx=4).encode(x=x, y=y_text, text="label:N"),
    ]
    return alt.LayerChart(layer=layers, height=80)


def reasons_chart(reasons: Sequence[Mapping[str, Any]]) -> alt.LayerChart:
    """Draw the reason codes as bars of the PD points each adds, each reason written above its bar."""
    table = pd.DataFrame(
        {
            "rank": range(len(reasons)),  # the API sends the largest impact first
            "reason": [r["text"] for r in reasons],
            "impact": [100 * r["impact"] for r in reasons],
            "code": [r["code"] for r in reasons],
        }
    )
    table["label"] = table["impact"].map(lambda v: f"+{v:.1f} pp")
    y = alt.Y("rank:O", axis=None)
    x = alt.X("impact:Q", title="PD points added against the low-risk reference profile")
    bars = alt.Chart(table).mark_bar(size=12, yOffset=8, color="#c62828")
    text = alt.Chart(table).mark_text(align="left", baseline="bottom", dy=-2)
    value = alt.Chart(table).mark_text(align="left", dx=4, dy=8)
    return alt.LayerChart(
        layer=[
            bars.encode(x=x, y=y, tooltip=["code", "reason", "label"]),
            text.encode(x=alt.value(0), y=y, text="reason:N"),
            value.encode(x="impact:Q", y=y, text="label:N"),
        ],
        height=alt.Step(46),
    )


def histogram(results: pd.DataFrame, threshold: float) -> alt.LayerChart:
    """Draw the distribution of the scored rows' PD, coloured by decision, with the threshold."""
    scored = results.dropna(subset=["pd"])
    bars = (
        alt.Chart(scored)
        .mark_bar()
        .encode(
            x=alt.X("pd:Q", bin=alt.Bin(extent=[0, 1], step=0.05), axis=alt.Axis(format="%"), title="PD"),
            y=alt.Y("count():Q", title="Clients"),
            color=alt.Color("decision:N", title="Decision", scale=alt.Scale(range=["#c62828", "#2e7d32"])),
        )
    )
    rule = (
        alt.Chart(pd.DataFrame({"threshold": [threshold]}))
        .mark_rule(strokeDash=[5, 3], size=2)
        .encode(x="threshold:Q")
    )
    return alt.LayerChart(layer=[bars, rule], height=260)


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
    """Fill the form with a preset client and forget the previous result."""
    preset = PRESETS[name]
    for field_name in PROFILE:
        spec, value = FEATURE_BY_NAME[field_name], preset.get(field_name)
        st.session_state[f"profile_{field_name}"] = float(value) if spec.kind == "amount" and value else value
    st.session_state.history_base = history_table(preset)
    st.session_state.pop("history", None)  # drop the table's edits, which were made on the old preset
    st.session_state.pop("single", None)
    st.session_state.preset = name


def use_stack() -> None:
    """Resolve the API URL and key from the stack's outputs into the sidebar fields."""
    name, region = st.session_state.stack_name.strip(), st.session_state.region.strip()
    if not name:
        st.session_state.stack_note = ("error", "Enter the name of a stack deployed from template.yaml.")
        return
    try:
        found = resolve_endpoint(name, region=region or None)
    except (SmokeError, BotoCoreError, ClientError) as err:
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


def show_prediction(prediction: Mapping[str, Any], manifest: Mapping[str, Any] | None) -> None:
    """Show PD against the threshold, grade, score, decision and the reasons' impact."""
    probability, threshold = prediction["probability_of_default"], prediction["threshold"]
    grade = prediction["risk_grade"]
    label = {band["grade"]: band["label"] for band in grade_bands(manifest)}.get(grade)
    first, second = st.columns(2), st.columns(2)
    first[0].metric(
        "Probability of default",
        f"{probability:.1%}",
        delta=f"{100 * (probability - threshold):+.1f} pp vs threshold",
        delta_color="inverse",
        help="Calibrated probability that the client defaults next month.",
    )
    first[1].metric("Risk grade", grade, delta=label, delta_color="off", delta_arrow="off", help="A to E.")
    second[0].metric(
        "Score", prediction["score"], help="600 at 50:1 good:bad odds; 20 points double the odds."
    )
    second[1].metric("Threshold", f"{threshold:.1%}", help="A default is predicted at a PD at or above it.")
    decision = decision_text(prediction["predicted_default"]).capitalize()
    if prediction["predicted_default"]:
        st.warning(f"**{decision}**: the PD of {probability:.1%} reaches the threshold of {threshold:.1%}.")
    else:
        st.success(f"**{decision}**: the PD of {probability:.1%} is below the threshold of {threshold:.1%}.")
    st.altair_chart(gauge(probability, threshold, grade_bands(manifest)), width="stretch", height=110)
    st.markdown("**Why**: the factors that raise this client's PD")
    if prediction["reasons"]:
        st.altair_chart(reasons_chart(prediction["reasons"]), width="stretch")
    else:
        st.info("No factor raises this client's PD above the low-risk reference profile.")
    st.caption(f"Model {prediction['model_version']} · request {prediction['request_id']}")


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
        defaults = [prediction["predicted_default"] for prediction in scored.predictions.values()]
        counts[2].metric("Mean PD", f"{results['pd'].mean():.1%}")
        counts[3].metric("Default predicted", f"{np.mean(defaults):.1%}")
    if len(failed):
        many = len(failed) > 1
        st.warning(
            f"{len(failed):,} row{'s were' if many else ' was'} not scored; the reason is listed here."
        )
        st.dataframe(
            failed[[c for c in ("row", "ID", "problem") if c in failed.columns]],
            hide_index=True,
            width="stretch",
            column_config={"row": "Row", "problem": st.column_config.TextColumn("Problem", width="large")},
        )
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
    st.download_button(
        "Download scored CSV",
        scored_csv(parsed, results),
        file_name="scored.csv",
        mime="text/csv",
        key="download",
    )
    if not scored.predictions:
        return
    threshold = next(iter(scored.predictions.values()))["threshold"]
    st.altair_chart(histogram(results, threshold), width="stretch")
    if parsed.target is None:
        st.caption("Add the target column (default.payment.next.month) to see AUC and a confusion matrix.")
        return
    positions = np.array(sorted(scored.predictions))
    labels = parsed.target[positions]
    known = ~np.isnan(labels)
    pds = np.array([scored.predictions[p]["probability_of_default"] for p in positions])
    flagged = np.array([scored.predictions[p]["predicted_default"] for p in positions])
    area = auc(labels[known], pds[known])
    counts_ = confusion(labels[known], flagged[known])
    st.subheader("Against the file's target")
    quality = st.columns(4)
    quality[0].metric(
        "AUC", "n/a" if area is None else f"{area:.3f}", help="Needs both classes in the target."
    )
    tp, fp, fn = counts_["tp"], counts_["fp"], counts_["fn"]
    quality[1].metric("Precision", f"{tp / (tp + fp):.1%}" if tp + fp else "n/a")
    quality[2].metric("Recall", f"{tp / (tp + fn):.1%}" if tp + fn else "n/a")
    quality[3].metric("Rows with a target", int(known.sum()))
    st.markdown(f"Confusion matrix at the threshold (PD ≥ {threshold:.1%})")
    st.table(
        pd.DataFrame(
            [[counts_["tn"], counts_["fp"]], [counts_["fn"], counts_["tp"]]],
            index=["actual: no default", "actual: default"],
            columns=["predicted: no default", "predicted: default"],
        )
    )


def number(value: Any) -> str:
    """Show a metric with three decimals, or a dash where there is none."""
    return f"{value:.3f}" if isinstance(value, int | float) else "—"


def show_manifest(manifest: Mapping[str, Any]) -> None:
    """Show the model's version, metrics beside the reference app's, threshold, grade bands and fairness."""
    metrics = manifest.get("metrics", {})
    test, reference = metrics.get("test", {}), metrics.get("reference_app_published", {})
    top = st.columns(4)
    top[0].metric("Version", manifest.get("version", "?"))
    top[1].metric(
        "Threshold", f"{manifest.get('threshold', float('nan')):.1%}", help=manifest.get("threshold_policy")
    )
    top[2].metric("Test ROC AUC", f"{test.get('roc_auc', float('nan')):.3f}")
    top[3].metric("Training rows", f"{manifest.get('data', {}).get('rows', 0):,}")
    st.caption(manifest.get("model", {}).get("estimator", ""))
    names = {
        "accuracy": "Accuracy",
        "precision": "Precision",
        "recall": "Recall",
        "f1": "F1",
        "roc_auc": "ROC AUC",
        "pr_auc": "PR AUC",
        "precision_at_recall_0.68": "Precision at recall 0.68",
        "brier": "Brier score",
        "ece": "Calibration error (ECE)",
    }
    comparison = pd.DataFrame(
        {
            "This model (test split)": [number(test.get(k)) for k in names],
            "Reference app (published)": [number(reference.get(k)) for k in names],
        },
        index=list(names.values()),
    )
    left, right = st.columns(2)
    with left:
        st.markdown("**Metrics** (at the threshold where one applies)")
        st.dataframe(comparison, width="stretch")
    with right:
        st.markdown("**Risk grades**")
        bands = pd.DataFrame(grade_bands(manifest))
        if not bands.empty:
            bands["PD range"] = [
                f"{s:.0%} to {e:.0%}" for s, e in zip(bands["start"], bands["end"], strict=True)
            ]
            st.dataframe(bands[["grade", "PD range", "label"]], hide_index=True, width="stretch")
        scaling = manifest.get("score_scaling", {})
        if scaling:
            st.caption(
                f"Score {scaling.get('anchor_score')} at {scaling.get('anchor_odds'):g}:1 good:bad odds; "
                f"{scaling.get('points_to_double_odds')} points double the odds; "
                f"range {scaling.get('min')} to {scaling.get('max')}."
            )
    if manifest.get("fairness"):
        with st.expander("Fairness on the test split (sex and marriage are not model inputs)"):
            st.dataframe(pd.DataFrame(manifest["fairness"]), hide_index=True, width="stretch")


def show_plots(served_version: str | None) -> None:
    """Show the model card's plots from the local model/ folder, saying which model they describe."""
    found = [(MODEL_DIR / name, caption) for name, caption in PLOTS.items() if (MODEL_DIR / name).is_file()]
    if not found:
        st.info(
            "No plots: `make train` writes the model card's plots to model/; the API does not serve them."
        )
        return
    local = (
        json.loads((MODEL_DIR / "model.json").read_text()).get("version")
        if (MODEL_DIR / "model.json").is_file()
        else None
    )
    st.caption(
        f"Plots from the local model/ folder (model {local or '?'}, written by `make train`): the API does "
        "not serve them, so they describe this checkout's model."
    )
    if served_version and local and served_version != local:
        st.warning(f"The endpoint serves model {served_version}, but the local plots describe model {local}.")
    columns = st.columns(2)
    for index, (path, caption) in enumerate(found):
        columns[index % 2].image(str(path), caption=caption, width="stretch")


def sidebar() -> tuple[Endpoint, dict[str, Any]]:
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
    health: dict[str, Any] = {}
    try:
        health = check_health(endpoint.url, endpoint.api_key)
        st.success(f"Healthy · model {health.get('model_version', '?')} · audit {health.get('audit', '?')}")
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
            st.markdown(
                "**Last six months** (newest first): repayment status, bill statement and amount paid"
            )
            history = st.data_editor(
                st.session_state.history_base, key="history", column_config=history_config(), width="stretch"
            )
            slots["history"], slots["general"] = st.empty(), st.empty()
            submitted = st.form_submit_button("Score client", key="score_client", type="primary")
    with result_column:
        if submitted:
            profile = {name: st.session_state[f"profile_{name}"] for name in PROFILE}
            try:
                with st.spinner("Scoring..."):
                    st.session_state.single = {
                        "prediction": score_one(endpoint, to_applicant(profile, history))
                    }
            except ApiCallError as problem:
                st.session_state.single = {"problem": problem}
        outcome = st.session_state.get("single", {})
        if "problem" in outcome:
            show_problem(outcome["problem"], slots)
        elif "prediction" in outcome:
            show_prediction(outcome["prediction"], manifest_or_none(endpoint))
        else:
            st.info("Choose a preset or fill in the form, then score the client.")


def batch_tab(endpoint: Endpoint) -> None:
    """Render the CSV upload; check the file's rows, score the valid ones on request and show the results."""
    upload = st.file_uploader(
        "CSV file of clients",
        type=["csv"],
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
    if st.session_state.get("parsed_id") != upload.file_id:  # read each upload once, not on every rerun
        try:
            st.session_state.parsed = read_clients(upload.getvalue())
        except UnreadableFileError as problem:
            st.session_state.parsed = problem
        st.session_state.parsed_id = upload.file_id
        st.session_state.pop("scored", None)
    parsed = st.session_state.parsed
    if isinstance(parsed, Exception):
        st.error(str(parsed))
        return
    st.caption(
        f"{len(parsed.table):,} rows · {len(parsed.applicants):,} valid · "
        f"{len({p.row for p in parsed.problems}):,} invalid (listed, not sent) · "
        f"target column {'present' if parsed.target is not None else 'absent'}"
    )
    label = f"Score {len(parsed.applicants):,} rows"
    if st.button(label, key="score_file", type="primary", disabled=not parsed.applicants):
        progress = st.progress(0.0, text="Scoring...")

        def report(done: int, total: int) -> None:
            progress.progress(done / total, text=f"Scored {done:,} of {total:,} rows")

        st.session_state.scored = score_rows(endpoint, parsed, on_progress=report)
    if "scored" in st.session_state:
        show_batch(parsed, st.session_state.scored)


def model_tab(endpoint: Endpoint, health: Mapping[str, Any]) -> None:
    """Render the served model's manifest and the local model card's plots."""
    manifest: dict[str, Any] | None = None
    try:
        manifest = fetch_manifest(endpoint.url, endpoint.api_key)
    except ApiCallError as problem:
        st.error(f"The model card is unavailable: {problem}")
    if manifest is not None:
        show_manifest(manifest)
    st.subheader("Model card plots")
    show_plots(manifest.get("version") if manifest else health.get("model_version"))


def main() -> None:
    """Render the page: configuration, sidebar, then the three tabs."""
    st.set_page_config(page_title="Credit default scoring", page_icon="💳", layout="wide")
    init_state(parse_args(sys.argv[1:]))
    with st.sidebar:
        endpoint, health = sidebar()
    st.title("Credit default scoring")
    st.caption(f"Probability that a credit-card client defaults next month, from {endpoint.url}")
    single, batch, model = st.tabs(["Single client", "Batch file", "Model"])
    with single:
        single_client_tab(endpoint)
    with batch:
        batch_tab(endpoint)
    with model:
        model_tab(endpoint, health)


if __name__ == "__main__":  # streamlit runs the page as __main__; the tests import its functions
    main()
