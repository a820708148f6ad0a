"""The closed loop over a joined SQLite log: a change of concept, overrides by group, the gap metric, commands."""

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from functions.audit.decision import DecisionRecord
from functions.audit.outcomes import FinalDecision, Outcome
from functions.audit.outcomes_sqlite import SqliteOutcomeLog
from functions.monitoring.cli import main
from functions.monitoring.loop.join import close_loop, gap_metrics, publish, rounds_for
from functions.scoring.manifest import read_manifest
from functions.scoring.model import to_matrix
from training.synthetic import generate_rows

SHIPPED = Path(__file__).resolve().parents[2] / "model"
SPAN = {"since_day": "2026-03-01", "until_day": "2026-03-31"}


@pytest.fixture(scope="module")
def records(make_records: Callable[..., list[DecisionRecord]]) -> list[DecisionRecord]:
    """10,000 recorded decisions of generated clients."""
    return make_records(to_matrix(generate_rows(10_000, seed=51)))


def changed_concept(records: list[DecisionRecord]) -> list[Outcome]:
    """Outcomes drawn from the PDs, then 5 pp more defaults in grades B and C (inputs unchanged)."""
    rng = np.random.default_rng(52)
    pds = np.array([r.decision.probability_of_default for r in records])
    y = rng.random(pds.size) < pds
    grades = np.array([r.decision.risk_grade for r in records])
    for grade in ("B", "C"):
        members = np.flatnonzero(grades == grade)
        healthy = members[~y[members]]
        y[rng.choice(healthy, round(0.05 * members.size), replace=False)] = True
    return [Outcome(r.key, bool(flag), "2026-11-30") for r, flag in zip(records, y, strict=True)]


def test_a_change_of_concept_shows_in_the_lights_and_the_published_gap(
    records: list[DecisionRecord],
    tmp_path: Path,
    configure: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = SqliteOutcomeLog(tmp_path / "decisions.sqlite")
    log.write(records, deadline=None)
    manifest = read_manifest(SHIPPED)
    before = close_loop(
        log.read_joined(**SPAN), bands=manifest.grade_bands, reference=manifest.reference, **SPAN
    )
    log.record_outcomes(changed_concept(records))
    after = close_loop(
        log.read_joined(**SPAN), bands=manifest.grade_bands, reference=manifest.reference, **SPAN
    )
    assert before.overall is not None and after.overall is not None and after.overall.realised is not None
    assert before.overall.realised is None  # no outcome yet: expectation only
    assert abs(after.overall.expected.default_rate - before.overall.expected.default_rate) < 0.005
    lights = {g.grade: g.joined.light for g in after.overall.grades if g.joined is not None}
    assert lights["B"] in {"amber", "red"} and lights["C"] in {"amber", "red"}
    configure(AWS_LAMBDA_FUNCTION_NAME="credit-default-drift", POWERTOOLS_METRICS_DISABLED=None)
    capsys.readouterr()
    published = publish(after)
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["DefaultRateGap"] == pytest.approx(after.overall.realised.rate_gap)
    assert line["route"] == "job:outcomes" and published["DefaultRateGap"][1] > 0.01
    assert {"DefaultRateGap", "RealisedDefaultRate", "ExpectedDefaultRate"} <= {
        m["Name"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    }


def test_overrides_from_recorded_finals_are_counted_by_group(
    records: list[DecisionRecord], tmp_path: Path
) -> None:
    log = SqliteOutcomeLog(tmp_path / "decisions.sqlite")
    log.write(records, deadline=None)
    rng = np.random.default_rng(53)
    declined = [r for r in records if r.decision.predicted_default]
    approved = [r for r in records if not r.decision.predicted_default]
    low = [declined[i] for i in rng.choice(len(declined), 200, replace=False)]
    high = [approved[i] for i in rng.choice(len(approved), 200, replace=False)]
    for record, action in [*((r, "approve") for r in low), *((r, "decline") for r in high)]:
        log.record_final(FinalDecision(record.key, action, "other", "f" * 64, "test", "2026-04-01T00:00:00Z"))
    manifest = read_manifest(SHIPPED)
    report = close_loop(
        log.read_joined(**SPAN), bands=manifest.grade_bands, reference=manifest.reference, **SPAN
    )
    assert report.overrides is not None
    assert (report.overrides.overall.low_side, report.overrides.overall.high_side) == (200, 200)
    assert report.overrides.overall.reviewed == 400
    sexes = report.overrides.groups["sex"]
    expected = {"1": 0, "2": 0}
    for record in low:
        expected[str(manifest.reference.inputs[1].categories[record.bins["sex"]])] += 1  # type: ignore[union-attr,index]
    assert {label: f.low_side for label, f in sexes.items() if label in expected} == expected
    assert "OutcomeDecisions" in gap_metrics(report) and "DefaultRateGap" not in gap_metrics(report)


def test_bootstrap_rounds_shrink_for_large_windows() -> None:
    assert rounds_for(5_000) == 1000 and rounds_for(1_000_000) == 100 and rounds_for(100_000) == 200


def test_commands_record_an_outcome_file_and_report_the_loop(
    records: list[DecisionRecord],
    tmp_path: Path,
    configure: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "decisions.sqlite"
    SqliteOutcomeLog(path).write(records[:300], deadline=None)
    configure(DECISION_LOG=str(path))
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "decision_key,defaulted,observed_on\nreq-0000#1,maybe,2026-11-30\nreq-0000#2,true,2999-01-01\n"
    )
    assert main(["record-outcomes", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "line 2: defaulted" in err and "line 3: observed_on" in err and "nothing was recorded" in err
    good = tmp_path / "good.csv"
    lines = [f"{r.key},{i % 3 == 0},2026-11-30" for i, r in enumerate(records[:300])]
    good.write_text(
        "\n".join(["decision_key,defaulted,observed_on", *lines, "nobody#1,false,2026-11-30"]) + "\n"
    )
    assert main(["record-outcomes", str(good)]) == 0
    assert "300 outcomes recorded" in capsys.readouterr().out and main(["record-outcomes", str(good)]) == 0
    assert "0 outcomes recorded, 300 already recorded" in capsys.readouterr().out
    days = str(
        (date.today() - date(2026, 3, 1)).days + 1
    )  # back to the records' March 2026, whenever this runs
    assert main(["realised", "--days", days, "--format", "json", "--report", str(tmp_path / "r")]) == 0
    value = json.loads(capsys.readouterr().out)
    assert value["overall"]["realised"]["rows"] == 300 and value["overall"]["realised"]["defaults"] == 100
    html = (tmp_path / "r" / "realised.html").read_text()
    assert "Overrides" in html and "Grades" in html and "<script" not in html
    assert main(["realised"]) == 0 and "overrides" in capsys.readouterr().out
