"""ui/monitoring.py: drift and back-test of a scored file with generated rows, a fake API client, and the tab."""

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest

from functions.api.app import get_app
from functions.monitoring.backtest import back_test
from functions.monitoring.stats import auc
from functions.scoring.contract import FEATURE_NAMES, Prediction
from functions.scoring.manifest import SCORE_SCALING, Manifest
from functions.scoring.model import to_matrix
from functions.scoring.reference import SCORE, build_reference
from training.synthetic import generate_rows, to_dataset_csv
from ui import batch, monitoring


def fake_probability(applicant: dict[str, Any]) -> float:
    """A PD that rises with the latest repayment status, so a shift in pay_0 shifts the score too."""
    return float(min(0.05 + 0.12 * max(applicant["pay_0"], 0) + (applicant["age"] % 7) / 100, 0.99))


HELD: dict[str, Any] = dict.fromkeys(("line_percent", "exposure_at_default", "expected_loss"), 0.0)
HELD |= {"decided_by": "band", "line_action": "hold", "arm": "champion", "strategy_version": "fake"}
HELD |= {"adverse_action_notice": "not_applicable", "notice_basis": "fake"}


def fake_prediction(applicant: dict[str, Any]) -> Prediction:
    """A prediction made from the applicant alone, with the shipped scaling's points."""
    probability = fake_probability(applicant)
    return Prediction(
        probability_of_default=probability,
        predicted_default=probability >= 0.3,
        threshold=0.3,
        score=SCORE_SCALING.points(probability),  # the policy every manifest holds
        risk_grade="A",
        reasons=[],
        model_version="fake",
        request_id="r",
        decision="decline" if probability >= 0.3 else "approve",
        **HELD,  # the strategy's other fields: a hold at the current limit
        new_limit=applicant["limit_bal"],
    )


class FakeClient:
    """Answers batches as the API would, from `fake_prediction`."""

    def predict_batch(self, applicants: Sequence[dict[str, Any]], /) -> list[Prediction]:
        return [fake_prediction(applicant) for applicant in applicants]


@pytest.fixture(scope="module")
def training_rows() -> list[dict[str, Any]]:
    """Generated clients standing in for the training population."""
    return generate_rows(2000, seed=3)


@pytest.fixture(scope="module")
def manifest(training_rows: list[dict[str, Any]], shipped_manifest: Manifest) -> Manifest:
    """The shipped manifest with reference distributions frozen on the generated training rows."""
    shipped = shipped_manifest
    raw = to_matrix(training_rows)
    points = np.array([fake_prediction(row).score for row in training_rows], dtype=float)
    return shipped.model_copy(update={"reference": build_reference(raw, points)})


def scored_file(
    rows: list[dict[str, Any]], target: list[int] | None = None
) -> tuple[batch.ParsedFile, batch.ScoredFile]:
    """Write rows in the dataset's layout, read them as the tab does and score them with the fake client."""
    parsed = batch.read_clients(to_dataset_csv(rows, target=target).encode())
    return parsed, batch.score_rows(FakeClient(), parsed, on_progress=lambda done, total: None)


def test_the_training_population_itself_is_stable(
    manifest: Manifest, training_rows: list[dict[str, Any]]
) -> None:
    result = monitoring.monitor_file(*scored_file(training_rows), manifest)
    assert result.rows == 2000
    assert result.drifts is not None
    assert [d.name for d in result.drifts] == [*FEATURE_NAMES, SCORE]
    assert max(d.psi for d in result.drifts) < 1e-12
    assert {d.verdict for d in result.drifts} == {"stable"}
    assert result.outcomes is None and result.why_no_outcomes == "the file has no default flag column"


def test_late_payers_only_shift_pay_0_and_the_score(
    manifest: Manifest, training_rows: list[dict[str, Any]]
) -> None:
    late = [row for row in training_rows if row["pay_0"] >= 1]
    result = monitoring.monitor_file(*scored_file(late), manifest)
    assert result.drifts is not None
    verdicts = {d.name: d.verdict for d in result.drifts}
    assert verdicts["pay_0"] == verdicts[SCORE] == "shifted"
    assert verdicts["limit_bal"] == "stable"
    table = monitoring.drift_frame(result.drifts, rows=result.rows).set_index("input")
    assert table.loc["pay_0", "verdict"] == "shifted"
    assert "→" in table.loc["pay_0", "moved"]
    assert table.loc["limit_bal", "moved"] == ""


def test_a_model_without_reference_gives_no_drift_but_still_a_back_test(manifest: Manifest) -> None:
    rows = generate_rows(300, seed=5)
    target = [int(t) for t in np.random.default_rng(5).integers(0, 2, 300)]
    bare = manifest.model_copy(update={"reference": None})
    result = monitoring.monitor_file(*scored_file(rows, target), bare, rounds=50)
    assert result.drifts is None
    assert result.outcomes is not None and result.outcomes.rows == 300


def test_back_test_compares_the_apis_pd_with_the_files_default_flag(manifest: Manifest) -> None:
    rows = generate_rows(400, seed=6)
    rows[7]["pay_0"] = 12  # refused by the contract: neither scored nor back-tested
    rng = np.random.default_rng(6)
    target = [int(rng.random() < fake_probability(row)) for row in rows]
    result = monitoring.monitor_file(*scored_file(rows, target), manifest, rounds=100)
    kept = [i for i in range(400) if i != 7]
    labels = np.array([target[i] for i in kept])
    probabilities = np.array([fake_probability(rows[i]) for i in kept])
    assert result.rows == 399
    assert result.outcomes is not None
    assert result.outcomes.auc == pytest.approx(auc(labels, probabilities), abs=1e-12)
    assert result.outcomes.auc_interval[0] < result.outcomes.auc < result.outcomes.auc_interval[1]
    assert sum(g.clients for g in result.outcomes.grades) == 399
    assert result.outcomes.defaults == int(labels.sum())


def test_back_test_needs_both_classes(manifest: Manifest) -> None:
    rows = generate_rows(50, seed=7)
    result = monitoring.monitor_file(*scored_file(rows, [0] * 50), manifest)
    assert result.outcomes is None
    assert "both defaults and non-defaults" in result.why_no_outcomes


def test_grades_frame_shows_rates_in_percent_and_the_traffic_light(shipped_manifest: Manifest) -> None:
    y = np.array([1] * 30 + [0] * 70)
    probabilities = np.full(100, 0.05)  # grade A predicts 5 %, 30 % default: PD far too low
    outcomes = back_test(
        y,
        probabilities,
        np.full(100, 640.0),
        bands=shipped_manifest.grade_bands,
        scaling=shipped_manifest.score_scaling,
        rounds=20,
    )
    frame = monitoring.grades_frame(outcomes)
    assert frame.loc[0, "predicted"] == "5.0%" and frame.loc[0, "observed"] == "30.0%"
    assert frame.loc[0, "light"] == "red (PD too low)"
    assert frame.loc[0, "clients"] == "100"


# --- the tab, in AppTest with the fake client -------------------------------------------------------------
def tab_script(client: "batch.BatchScorer", manifest: "Manifest | None") -> None:
    """The Monitoring tab alone (AppTest runs this function's body as a page)."""
    from ui.monitoring import monitoring_tab

    monitoring_tab(client, manifest)


def tab(manifest: Manifest | None) -> AppTest:
    """Run the tab once with the fake client and the given manifest."""
    return AppTest.from_function(
        tab_script, default_timeout=30, kwargs={"client": FakeClient(), "manifest": manifest}
    ).run()


def upload_and_score(at: AppTest, rows: list[dict[str, Any]], target: list[int] | None = None) -> AppTest:
    """Upload generated rows to the tab and press its score button."""
    at.file_uploader(key="monitor_file").upload(
        "clients.csv", to_dataset_csv(rows, target=target).encode(), "text/csv"
    )
    at.run()
    at.button(key="monitor_score").click().run()
    return at


def test_tab_shows_psi_moved_bins_and_back_test(
    manifest: Manifest, training_rows: list[dict[str, Any]]
) -> None:
    late = [row for row in training_rows if row["pay_0"] >= 1][:300]
    rng = np.random.default_rng(9)
    target = [int(rng.random() < fake_probability(row)) for row in late]
    at = upload_and_score(tab(manifest), late, target)
    assert not at.exception and not at.error
    psi = next(frame.value for frame in at.dataframe if "PSI" in frame.value.columns)
    assert psi.set_index("input").loc["pay_0", "verdict"] == "shifted"
    assert len(psi) == 24
    shown = {metric.label: metric.value for metric in at.metric}
    assert float(shown["AUC"]) == pytest.approx(0.5, abs=0.5)
    assert "Brier score" in shown
    charts = at.get("vega_lite_chart")
    assert len(charts) >= 2  # at least one characteristic analysis and the back-test


def test_tab_says_when_the_model_has_no_reference(manifest: Manifest) -> None:
    at = upload_and_score(tab(manifest.model_copy(update={"reference": None})), generate_rows(20, seed=2))
    assert not at.exception
    warning = at.warning[0].value
    assert f"Model {manifest.version} has no reference distributions" in warning
    assert "make train" in warning
    assert "No back-test: the file has no default flag column." in [c.value for c in at.caption]


def test_tab_points_to_the_batch_tab_and_the_decision_log(
    manifest: Manifest, configure: Callable[..., None], tmp_path: Path
) -> None:
    configure(DECISION_LOG=str(tmp_path / "var" / "decisions.sqlite"))
    at = tab(manifest)
    at.radio(key="monitor_source").set_value(monitoring.BATCH).run()
    assert "Score a file on the Batch file tab first" in at.info[0].value
    at.radio(key="monitor_source").set_value(monitoring.DECISIONS).run()
    assert "No decision log at decisions.sqlite: `make run` records each decision" in at.caption[0].value
    assert not at.exception


def test_tab_shows_the_drift_of_the_decisions_this_machine_recorded(
    manifest: Manifest, configure: Callable[..., None], tmp_path: Path, referenced_model_dir: Path
) -> None:
    """Decisions the API recorded in the local log (as under `make run`) are compared with the reference."""
    log = tmp_path / "var" / "decisions.sqlite"
    configure(
        DECISION_LOG=str(log), AUDIT_TABLE=None, AUDIT_HASH_KEY=None, MODEL_DIR=str(referenced_model_dir)
    )
    with TestClient(get_app()) as client:
        batch_of = {"applicants": generate_rows(60, seed=41)}
        assert client.post("/v1/predict/batch", json=batch_of).status_code == 200
        message, drifts, rows = monitoring.recent_drift(24)
        assert (drifts, rows) == ((), 60) and "PSI needs at least 200" in message
        for _ in range(3):
            assert client.post("/v1/predict/batch", json=batch_of).status_code == 200
    at = tab(manifest)
    at.radio(key="monitor_source").set_value(monitoring.DECISIONS).run()
    assert not at.exception and not at.error
    assert "240 decisions of this model in the last 24 h." in [c.value for c in at.caption]
    psi = next(frame.value for frame in at.dataframe if "PSI" in frame.value.columns)
    assert list(psi["input"]) == [*FEATURE_NAMES, SCORE]


def test_tab_reports_an_unreadable_upload_and_a_missing_manifest(shipped_manifest: Manifest) -> None:
    at = tab(None)
    assert "manifest is unavailable" in at.error[0].value
    at = tab(shipped_manifest)
    at.file_uploader(key="monitor_file").upload("notes.csv", b"just,some\ntext,here\n", "text/csv").run()
    assert not at.exception
    assert "The file has no column LIMIT_BAL" in at.error[0].value


def test_drift_frame_on_three_rows_judges_nothing(
    manifest: Manifest, training_rows: list[dict[str, Any]]
) -> None:
    late = [row for row in training_rows if row["pay_0"] >= 2][:3]
    result = monitoring.monitor_file(*scored_file(late), manifest)
    assert result.drifts is not None and result.rows == 3
    table = monitoring.drift_frame(result.drifts, rows=result.rows)
    assert set(table["verdict"]) == {"too few rows to judge (3 < 200)"}
    assert set(table["moved"]) == {""}
