"""The Streamlit frontend: its pure batch and form functions, and the page in AppTest against the real app."""

import json
import socket
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import numpy as np
import pytest
from moto import mock_aws
from sklearn.metrics import roc_auc_score
from streamlit.testing.v1 import AppTest

import frontend
from functions.contract import FEATURE_BY_NAME, FEATURES, MAX_BATCH, Applicant
from scripts.local import free_port
from training.synthetic import HIGH_RISK, TYPICAL, generate_rows, to_dataset_csv

PAGE = "../frontend.py"  # AppTest.from_file resolves it against this file
TIMEOUT = 30  # seconds per AppTest run: scoring goes through a real HTTP server


def lower_case_csv(rows: list[dict[str, Any]]) -> str:
    """Render rows with the contract's lower-case names, no ID and no target."""
    names = [spec.name for spec in FEATURES]
    return "\n".join([",".join(names), *(",".join(f"{row[n]:g}" for n in names) for row in rows)]) + "\n"


def api_prediction(url: str, applicant: dict[str, Any]) -> dict[str, Any]:
    """Score an applicant straight through the API, for comparison with what the page shows."""
    answer: dict[str, Any] = httpx.post(f"{url}/v1/predict", json=applicant, timeout=10).json()
    return answer


def metrics_of(at: AppTest) -> dict[str, str]:
    """Map each st.metric label on the page to its shown value."""
    return {metric.label: metric.value for metric in at.metric}


def decision_of(at: AppTest) -> str:
    """Return the decision the result's banner states in bold (a warning for default, else a success)."""
    banners = [*at.main.warning, *at.main.success]
    assert len(banners) == 1
    return str(banners[0].value).split("**")[1]


@pytest.fixture
def page_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the page without stack arguments or an API key from the environment."""
    monkeypatch.setattr(sys, "argv", ["frontend.py"])
    monkeypatch.delenv("CREDIT_API_KEY", raising=False)


@pytest.fixture
def app(live_api: str, page_env: None, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The page, run once against the live API given by CREDIT_API_URL."""
    monkeypatch.setenv("CREDIT_API_URL", live_api)
    return AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake AWS credentials and region, with every AWS call answered by moto."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


def create_stack(name: str, *, url: str) -> str:
    """Create an API key and a plain stack whose outputs name the URL and the key; return the key's value."""
    key = boto3.client("apigateway").create_api_key(name=f"{name}-key", enabled=True, value="k" * 40)
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"ApiUrl": {"Value": f"{url}/"}, "ApiKeyId": {"Value": key["id"]}},
    }
    boto3.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    return str(key["value"])


# --- presets and the form ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "expected"), [("typical", TYPICAL), ("high_risk", HIGH_RISK)])
def test_presets_equal_test_clients_and_pass_contract(name: str, expected: dict[str, Any]) -> None:
    assert frontend.PRESETS[name] == expected
    Applicant.model_validate(frontend.PRESETS[name])


@pytest.mark.parametrize("name", ["typical", "high_risk"])
def test_to_applicant_rebuilds_preset_from_form_and_table(name: str) -> None:
    preset = frontend.PRESETS[name]
    profile = {field: preset[field] for field in frontend.PROFILE}
    applicant = frontend.to_applicant(profile, frontend.history_table(preset))
    assert applicant == preset
    assert all(isinstance(applicant[f], int) for f in ("pay_0", "pay_6", "age", "education"))
    assert isinstance(applicant["bill_amt1"], float)


def test_to_applicant_turns_blank_cells_into_none() -> None:
    table = frontend.history_table(TYPICAL)
    table.loc[table.index[2], "bill"] = np.nan
    table.loc[table.index[0], "status"] = None
    applicant = frontend.to_applicant(dict(TYPICAL, sex=None), table)
    assert applicant["bill_amt3"] is None
    assert applicant["pay_0"] is None
    assert applicant["sex"] is None


@pytest.mark.parametrize(
    ("value", "name", "expected"),
    [
        ("2", "pay_0", 2),
        ("2.0", "pay_0", 2),
        (" 5000 ", "bill_amt1", 5000.0),
        ("-12.5", "bill_amt1", -12.5),
        ("", "age", None),
        ("abc", "age", "abc"),
        (np.int64(3), "education", 3),
        (np.float64(1.5), "pay_0", 1.5),
        (float("nan"), "limit_bal", None),
        (True, "pay_0", True),
    ],
)
def test_coerce_gives_contract_types_and_leaves_the_rest_to_it(value: Any, name: str, expected: Any) -> None:
    result = frontend.coerce(value, FEATURE_BY_NAME[name])
    assert result == expected
    assert type(result) is type(expected)


# --- batch: parsing, chunking, metrics ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "id_column", "has_target"),
    [
        (to_dataset_csv(generate_rows(12, seed=1), target=[0, 1] * 6), "ID", True),
        (to_dataset_csv(generate_rows(12, seed=1), with_id=False), None, False),
        (lower_case_csv(generate_rows(12, seed=1)), None, False),
        ("\ufeff" + to_dataset_csv(generate_rows(12, seed=1), target=[0] * 12), "ID", True),
    ],
    ids=["dataset-layout", "no-id-no-target", "lower-case-names", "excel-bom"],
)
def test_read_clients_accepts_each_layout(text: str, id_column: str | None, has_target: bool) -> None:
    parsed = frontend.read_clients(text.encode())
    assert parsed.problems == []
    assert parsed.positions == list(range(12))
    assert parsed.applicants == [
        Applicant.model_validate(row).model_dump() for row in generate_rows(12, seed=1)
    ]
    assert parsed.id_column == id_column
    assert (parsed.target is not None) == has_target


def test_read_clients_reports_bad_rows_and_keeps_the_rest() -> None:
    text = to_dataset_csv(generate_rows(6, seed=2), target=[0, 1, 0, 1, 0, 1]).splitlines()
    cells = [line.split(",") for line in text]
    header = [name.strip('"') for name in cells[0]]
    cells[2][header.index("PAY_0")] = "12"  # row 2: out of range
    cells[4][header.index("LIMIT_BAL")] = "lots"  # row 4: not a number
    cells[5][header.index("AGE")] = ""  # row 5: missing
    parsed = frontend.read_clients("\n".join(",".join(line) for line in cells).encode())
    assert parsed.positions == [0, 2, 5]
    assert [(p.row, p.column) for p in parsed.problems] == [(2, "PAY_0"), (4, "LIMIT_BAL"), (5, "AGE")]
    assert "less than or equal to 9" in parsed.problems[0].message
    assert "accepts an integer code from -2 to 9" in parsed.problems[0].message


def test_read_clients_keeps_unreadable_targets_out_of_metrics() -> None:
    text = to_dataset_csv(generate_rows(3, seed=3), target=[1, 0, 7])
    parsed = frontend.read_clients(text.encode())
    assert parsed.target is not None
    assert parsed.target[:2].tolist() == [1.0, 0.0]
    assert np.isnan(parsed.target[2])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'"ID","LIMIT_BAL","AGE"\n1,20000,30\n', "no column EDUCATION, PAY_0"),
        (to_dataset_csv([]).encode(), "no rows"),
        (b"", "not a readable CSV"),
    ],
    ids=["missing-columns", "header-only", "empty"],
)
def test_read_clients_rejects_unreadable_file(data: bytes, message: str) -> None:
    with pytest.raises(frontend.UnreadableFileError, match=message):
        frontend.read_clients(data)


@pytest.mark.parametrize("n", [0, 1, MAX_BATCH - 1, MAX_BATCH, MAX_BATCH + 1, 2 * MAX_BATCH + 500])
def test_chunks_cover_all_rows_within_batch_limit(n: int) -> None:
    parts = list(frontend.chunks(list(range(n)), MAX_BATCH))
    assert all(1 <= len(part) <= MAX_BATCH for part in parts)
    assert [i for part in parts for i in part] == list(range(n))


def test_auc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 500)
    scores = np.round(rng.random(500) * 0.5 + labels * 0.2, 2)  # rounded: many ties
    assert frontend.auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


@pytest.mark.parametrize("labels", [np.zeros(5), np.ones(5), np.array([])])
def test_auc_is_undefined_with_one_class(labels: np.ndarray) -> None:
    assert frontend.auc(labels, np.linspace(0, 1, len(labels))) is None


def test_confusion_counts_each_cell() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1, 1])
    flagged = np.array([False, True, False, True, True, False, True])
    assert frontend.confusion(labels, flagged) == {"tn": 2, "fp": 1, "fn": 1, "tp": 3}


def test_score_rows_sends_chunks_within_limit_and_keeps_order(live_api: str) -> None:
    rows = generate_rows(25, seed=4) * 90  # 2,250 rows: three requests
    parsed = frontend.read_clients(to_dataset_csv(rows).encode())
    progress: list[tuple[int, int]] = []
    scored = frontend.score_rows(
        frontend.Endpoint(live_api, ""),
        parsed,
        on_progress=lambda done, total: progress.append((done, total)),
    )
    assert progress == [(1000, 2250), (2000, 2250), (2250, 2250)]
    assert scored.problems == []
    assert scored.stopped is None
    assert sorted(scored.predictions) == list(range(2250))
    first = api_prediction(live_api, parsed.applicants[7])
    assert scored.predictions[7]["probability_of_default"] == pytest.approx(first["probability_of_default"])
    assert scored.predictions[7 + 25]["probability_of_default"] == pytest.approx(
        first["probability_of_default"]
    )


def test_score_chunk_reports_refused_row_and_scores_the_rest(live_api: str) -> None:
    rows = generate_rows(4, seed=5)
    bad = dict(rows[1], pay_0=12)  # past local validation, as if the API's contract were stricter
    part = [(10, rows[0]), (11, bad), (12, rows[2]), (13, rows[3])]
    predictions, problems = frontend.score_chunk(frontend.Endpoint(live_api, ""), part)
    assert sorted(predictions) == [10, 12, 13]
    assert [(p.row, p.column) for p in problems] == [(12, "PAY_0")]
    assert "less than or equal to 9" in problems[0].message


def test_score_rows_stops_when_endpoint_is_down() -> None:
    parsed = frontend.read_clients(to_dataset_csv(generate_rows(5, seed=6)).encode())
    down = frontend.Endpoint(f"http://127.0.0.1:{free_port()}", "")
    scored = frontend.score_rows(down, parsed, on_progress=lambda done, total: None)
    assert scored.predictions == {}
    assert scored.stopped is not None
    assert "Cannot reach" in scored.stopped
    assert [p.row for p in scored.problems] == [1, 2, 3, 4, 5]


def test_results_and_scored_csv_carry_predictions_and_row_errors(live_api: str) -> None:
    rows = generate_rows(4, seed=7)
    rows[2]["age"] = 12
    parsed = frontend.read_clients(to_dataset_csv(rows, target=[0, 1, 0, 1]).encode())
    scored = frontend.score_rows(
        frontend.Endpoint(live_api, ""), parsed, on_progress=lambda done, total: None
    )
    results = frontend.results_table(parsed, scored)
    assert list(results.columns) == ["row", "ID", "pd", "grade", "score", "decision", "top_reason", "problem"]
    assert results["pd"].notna().tolist() == [True, True, False, True]
    assert results["problem"].iloc[2].startswith("AGE: ")
    csv_lines = frontend.scored_csv(parsed, results).decode().splitlines()
    assert csv_lines[0].endswith(
        "probability_of_default,risk_grade,score,predicted_default,top_reason,problem"
    )
    assert len(csv_lines) == 5


# --- API calls and errors ----------------------------------------------------------------------------------
def test_score_one_raises_422_with_fields(live_api: str) -> None:
    with pytest.raises(frontend.ApiCallError) as caught:
        frontend.score_one(frontend.Endpoint(live_api, ""), dict(TYPICAL, pay_0=12, age=None))
    assert caught.value.status == 422
    assert {f.field for f in caught.value.fields} == {"pay_0", "age"}
    assert "beside the fields" in str(caught.value)


def test_call_api_times_out_readably() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        endpoint = frontend.Endpoint(f"http://127.0.0.1:{silent.getsockname()[1]}", "")
        with pytest.raises(frontend.ApiCallError, match=r"did not answer within 0\.5 s"):
            frontend.call_api(endpoint, "GET", "/v1/health", timeout=0.5)


UNAVAILABLE = {
    "error": {"code": "model_unavailable", "message": "No model.", "request_id": "r1", "fields": []}
}


@pytest.mark.parametrize(
    ("status", "answer", "expected"),
    [
        (403, {"message": "Forbidden"}, "Forbidden (HTTP 403). Check the API key"),
        (503, UNAVAILABLE, "No model (HTTP 503, request id r1). No decision was made"),
        (502, None, "Bad Gateway (HTTP 502)."),
    ],
)
def test_to_problem_words_error_answers(status: int, answer: Any, expected: str) -> None:
    assert str(frontend.to_problem(status, answer, "Bad Gateway")).startswith(expected)


@pytest.mark.parametrize(
    ("argv", "stack", "region"),
    [
        (["--stack-name", "credit-default", "--region", "eu-west-1"], "credit-default", "eu-west-1"),
        (["tests/test_frontend.py", "-q"], "", ""),  # pytest's own argv, as AppTest leaves it
    ],
)
def test_parse_args_reads_stack_and_ignores_the_rest(argv: list[str], stack: str, region: str) -> None:
    args = frontend.parse_args(argv)
    assert (args.stack_name, args.region) == (stack, region)


# --- the page in AppTest against the real app --------------------------------------------------------------
def test_page_shows_health_and_model_version(app: AppTest, live_api: str) -> None:
    version = httpx.get(f"{live_api}/v1/health", timeout=5).json()["model_version"]
    assert not app.exception
    assert [s.value for s in app.sidebar.success] == [f"Healthy · model {version} · audit disabled"]
    assert app.text_input(key="api_url").value == live_api


@pytest.mark.parametrize("preset", ["typical", "high_risk"])
def test_page_scores_preset_as_the_api_does(app: AppTest, live_api: str, preset: str) -> None:
    app.button(key=f"preset_{preset}").click().run()
    app.button(key="score_client").click().run()
    expected = api_prediction(live_api, frontend.PRESETS[preset])
    shown = metrics_of(app)
    assert not app.exception
    assert not app.error
    assert shown["Probability of default"] == f"{expected['probability_of_default']:.1%}"
    assert shown["Risk grade"] == expected["risk_grade"]
    assert shown["Score"] == str(expected["score"])
    assert decision_of(app) == frontend.decision_text(expected["predicted_default"]).capitalize()
    assert len(app.get("vega_lite_chart")) >= 1 + bool(expected["reasons"])  # gauge, reasons


def test_page_shows_high_risk_as_default_and_typical_as_not(app: AppTest) -> None:
    app.button(key="preset_high_risk").click().run()
    app.button(key="score_client").click().run()
    assert decision_of(app) == "Default predicted"
    app.button(key="preset_typical").click().run()
    app.button(key="score_client").click().run()
    assert decision_of(app) == "No default predicted"


def test_page_shows_422_beside_the_table(app: AppTest) -> None:
    app.session_state["history"] = {"edited_rows": {2: {"bill": None}}, "added_rows": [], "deleted_rows": []}
    app.button(key="score_client").click().run()
    errors = [e.value for e in app.error]
    assert not app.exception
    assert "July bill: Input should be a valid number (accepts a number (NT$) from -10,000,000" in errors[0]
    assert any("The API refused 1 input" in e and "HTTP 422" in e for e in errors)
    assert "Probability of default" not in metrics_of(app)


def test_page_reports_endpoint_down_without_traceback(
    page_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("CREDIT_API_URL", url)
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert f"Cannot reach {url}" in at.sidebar.error[0].value
    at.button(key="score_client").click().run()
    assert not at.exception
    errors = [e.value for e in at.main.error]
    assert any(e.startswith(f"Cannot reach {url}") and "make api" in e for e in errors)
    assert any(e.startswith("The model card is unavailable") for e in errors)


def test_page_scores_uploaded_file_with_row_errors_and_metrics(app: AppTest) -> None:
    rows = generate_rows(30, seed=8)
    rows[4]["pay_0"] = 12
    target = [int(t) for t in np.random.default_rng(8).integers(0, 2, 30)]
    app.file_uploader(key="batch_file").upload(
        "clients.csv", to_dataset_csv(rows, target=target).encode(), "text/csv"
    )
    app.run()
    assert "30 rows · 29 valid · 1 invalid" in " ".join(c.value for c in app.caption)
    app.button(key="score_file").click().run()
    shown = metrics_of(app)
    assert not app.exception
    assert shown["Rows scored"] == "29"
    assert shown["Rows with errors"] == "1"
    assert float(shown["AUC"]) == pytest.approx(0.5, abs=0.5)
    results = next(frame.value for frame in app.dataframe if "top_reason" in frame.value.columns)
    listed = next(
        frame.value for frame in app.dataframe if list(frame.value.columns) == ["row", "ID", "problem"]
    )
    assert listed["row"].tolist() == [5]
    assert len(results) == 30
    assert results["problem"].iloc[4].startswith("PAY_0: ")
    assert results["pd"].isna().sum() == 1
    assert app.get("download_button")


def test_page_reports_unreadable_upload(app: AppTest) -> None:
    app.file_uploader(key="batch_file").upload("notes.csv", b"just,some\ntext,here\n", "text/csv").run()
    assert not app.exception
    assert "The file has no column LIMIT_BAL" in app.error[0].value


def test_page_resolves_stack_from_command_line(
    aws: None, live_api: str, page_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = create_stack("credit-default", url=live_api)
    monkeypatch.setattr(sys, "argv", ["frontend.py", "--stack-name", "credit-default"])
    monkeypatch.delenv("CREDIT_API_URL", raising=False)
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.session_state["api_url"] == live_api
    assert at.session_state["api_key"] == key
    assert at.sidebar.success[0].value == f"Using stack credit-default: {live_api}"
    assert at.sidebar.success[1].value.startswith("Healthy")


def test_page_resolves_stack_from_sidebar(aws: None, app: AppTest, live_api: str) -> None:
    key = create_stack("scoring-test", url=live_api)
    app.text_input(key="api_url").set_value("http://127.0.0.1:9")
    app.text_input(key="stack_name").set_value("scoring-test")
    app.button(key="use_stack").click().run()
    assert app.session_state["api_url"] == live_api
    assert app.session_state["api_key"] == key
    assert app.sidebar.success[1].value.startswith("Healthy")


def test_page_reports_unknown_stack(aws: None, app: AppTest) -> None:
    app.text_input(key="stack_name").set_value("no-such-stack")
    app.button(key="use_stack").click().run()
    assert not app.exception
    assert "Stack no-such-stack: " in app.sidebar.error[0].value
    assert "does not exist" in app.sidebar.error[0].value
