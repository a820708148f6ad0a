"""frontend.py: the page in AppTest against the real app, its command line, and what it may import."""

import re
import sys
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import frontend
from scripts.local import ROOT, free_port
from training.synthetic import generate_rows, to_dataset_csv
from ui.batch import decision_text
from ui.form import PRESETS

PAGE = "../../frontend.py"  # AppTest.from_file resolves it against this file
TIMEOUT = 30  # seconds per AppTest run: scoring goes through a real HTTP server


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


# --- the page's command line and imports -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "stack", "region"),
    [
        (["--stack-name", "credit-default", "--region", "eu-west-1"], "credit-default", "eu-west-1"),
        (["tests/ui/test_frontend.py", "-q"], "", ""),  # pytest's own argv, as AppTest leaves it
    ],
)
def test_parse_args_reads_stack_and_ignores_the_rest(argv: list[str], stack: str, region: str) -> None:
    args = frontend.parse_args(argv)
    assert (args.stack_name, args.region) == (stack, region)


@pytest.mark.parametrize(
    "path", ["frontend.py", *(f"ui/{p.name}" for p in sorted((ROOT / "ui").glob("*.py")))]
)
def test_ui_imports_no_script_and_spells_no_metric_key(path: str) -> None:
    text = (ROOT / path).read_text()
    assert not re.search(r"^\s*(from|import) (scripts|tests|benchmarks)\b", text, re.MULTILINE)
    assert not re.search(r"precision_at_recall_|\[\"metrics\"\]|get\(\"metrics\"", text)


# --- the page in AppTest against the real app --------------------------------------------------------------
def test_page_shows_health_and_model_version(app: AppTest, live_api: str) -> None:
    version = httpx.get(f"{live_api}/v1/health", timeout=5).json()["model_version"]
    assert not app.exception
    assert [s.value for s in app.sidebar.success] == [f"Healthy · model {version} · audit disabled"]
    assert app.text_input(key="api_url").value == live_api


def test_page_shows_the_served_manifest(app: AppTest, live_api: str) -> None:
    manifest = httpx.get(f"{live_api}/v1/model", timeout=5).json()
    shown = metrics_of(app)
    assert shown["Version"] == manifest["version"]
    assert (shown["Training rows"], shown["Test rows"]) == ("22,500", "7,500")  # of 30,000, split 75/25
    assert manifest["data"]["rows"] == 30_000 and manifest["split"]["test_size"] == 0.25
    assert "30,000" not in shown.values()
    assert shown["Threshold"] == f"{manifest['threshold']:.1%}"
    captions = " ".join(c.value for c in app.caption)
    scaling = manifest["score_scaling"]
    assert f"Score {scaling['anchor_score']} at {scaling['anchor_odds']:g}:1 good:bad odds" in captions
    assert "tested on the other 7,500 (25% of 30,000)" in captions
    assert "{'learning_rate'" not in captions
    assert len(app.get("vega_lite_chart")) == 1  # the test split's confusion matrix, drawn from the manifest


@pytest.mark.parametrize("preset", ["typical", "high_risk"])
def test_page_scores_preset_as_the_api_does(app: AppTest, live_api: str, preset: str) -> None:
    app.button(key=f"preset_{preset}").click().run()
    app.button(key="score_client").click().run()
    expected = api_prediction(live_api, PRESETS[preset])
    shown = metrics_of(app)
    assert not app.exception
    assert not app.error
    assert shown["Probability of default"] == f"{expected['probability_of_default']:.1%}"
    assert shown["Risk grade"] == expected["risk_grade"]
    assert shown["Score"] == str(expected["score"])
    assert decision_of(app) == decision_text(expected["predicted_default"]).capitalize()
    assert len(app.get("vega_lite_chart")) >= 1 + bool(expected["reasons"])  # gauge, reasons


def test_page_shows_high_risk_as_default_and_typical_as_not(app: AppTest) -> None:
    app.button(key="preset_high_risk").click().run()
    app.button(key="score_client").click().run()
    assert decision_of(app) == "Default predicted"
    app.button(key="preset_typical").click().run()
    app.button(key="score_client").click().run()
    assert decision_of(app) == "No default predicted"


def test_page_shows_what_would_change_a_declined_clients_decision(app: AppTest, live_api: str) -> None:
    app.button(key="preset_high_risk").click().run()
    app.button(key="score_client").click().run()
    assert [e.label for e in app.expander].count("What would change this decision") == 1
    assert any(
        frame.value.columns.tolist()[:2] == ["Reason", "Statement on a notice"] for frame in app.dataframe
    )
    # pay_0 = 3: currently delinquent, so the decline sends no adverse-action notice (12 CFR 1002.2(c)(2)(ii))
    assert any("Adverse-action notice: **exempt**" in c.value for c in app.caption)
    app.button(key="recourse_find").click().run()
    expected = httpx.post(f"{live_api}/v1/recourse", json=PRESETS["high_risk"], timeout=10).json()["proposal"]
    assert not app.exception and not app.error
    assert metrics_of(app)["PD it would reach"] == f"{expected['probability_of_default']:.1%}"
    assert any(expected["summary"] in s.value for s in app.success)
    app.button(key="preset_typical").click().run()
    app.button(key="score_client").click().run()
    assert "What would change this decision" not in [
        e.label for e in app.expander
    ]  # approved: nothing to change
    assert "PD it would reach" not in metrics_of(app)


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
    api_stack: Callable[..., str], live_api: str, page_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = api_stack("credit-default", url=f"{live_api}/")
    monkeypatch.setattr(sys, "argv", ["frontend.py", "--stack-name", "credit-default"])
    monkeypatch.delenv("CREDIT_API_URL", raising=False)
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.session_state["api_url"] == live_api
    assert at.session_state["api_key"] == key
    assert at.sidebar.success[0].value == f"Using stack credit-default: {live_api}"
    assert at.sidebar.success[1].value.startswith("Healthy")


def test_page_resolves_stack_from_sidebar(api_stack: Callable[..., str], app: AppTest, live_api: str) -> None:
    key = api_stack("scoring-test", url=f"{live_api}/")
    app.text_input(key="api_url").set_value("http://127.0.0.1:9")
    app.text_input(key="stack_name").set_value("scoring-test")
    app.button(key="use_stack").click().run()
    assert app.session_state["api_url"] == live_api
    assert app.session_state["api_key"] == key
    assert app.sidebar.success[1].value.startswith("Healthy")


def test_page_reports_unknown_stack(fake_aws: None, app: AppTest) -> None:
    app.text_input(key="stack_name").set_value("no-such-stack")
    app.button(key="use_stack").click().run()
    assert not app.exception
    assert "Stack no-such-stack: " in app.sidebar.error[0].value
    assert "does not exist" in app.sidebar.error[0].value


def test_page_monitors_a_file_scored_by_the_api(app: AppTest, live_api: str) -> None:
    manifest = httpx.get(f"{live_api}/v1/model", timeout=5).json()
    rows = generate_rows(40, seed=13)
    target = [int(t) for t in np.random.default_rng(13).integers(0, 2, 40)]
    app.file_uploader(key="monitor_file").upload(
        "clients.csv", to_dataset_csv(rows, target=target).encode(), "text/csv"
    )
    app.run()
    app.button(key="monitor_score").click().run()
    assert not app.exception
    if manifest.get("reference") is None:  # the shipped model predates reference distributions
        assert any("has no reference distributions" in w.value for w in app.warning)
    else:
        assert any("PSI" in frame.value.columns for frame in app.dataframe)
    grades = next(frame.value for frame in app.dataframe if "Jeffreys 95 %" in frame.value.columns)
    assert sum(int(n.replace(",", "")) for n in grades["clients"]) == 40
    assert "Brier score" in metrics_of(app)
