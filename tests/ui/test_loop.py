"""ui/loop.py: the Monitoring tab's closed loop over a prepared decision log, in AppTest."""

from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from functions.audit.decision import DecisionRecord
from functions.audit.outcomes import FinalDecision
from functions.audit.outcomes_sqlite import SqliteOutcomeLog
from functions.monitoring.loop.join import close_loop
from functions.scoring.manifest import Manifest
from functions.scoring.model import to_matrix
from training.synthetic import generate_rows
from ui.loop import LOG_SOURCE, record_upload

SPAN = {"since_day": "2026-03-01", "until_day": "2026-03-31"}


@pytest.fixture(scope="module")
def records(make_records: Callable[..., list[DecisionRecord]]) -> list[DecisionRecord]:
    """400 recorded decisions of generated clients."""
    return make_records(to_matrix(generate_rows(400, seed=71)))


@pytest.fixture
def log(records: list[DecisionRecord], tmp_path: Path, configure: Callable[..., None]) -> Path:
    """The local decision log (DECISION_LOG): the decisions, 10 low-side and 6 high-side overrides."""
    path = tmp_path / "decisions.sqlite"
    store = SqliteOutcomeLog(path)
    store.write(records, deadline=None)
    declined = [r for r in records if r.decision.predicted_default][:10]
    approved = [r for r in records if not r.decision.predicted_default][:6]
    for record, action in [*((r, "approve") for r in declined), *((r, "decline") for r in approved)]:
        store.record_final(
            FinalDecision(record.key, action, "other", "f" * 64, "test", "2026-04-01T00:00:00Z")
        )
    configure(DECISION_LOG=str(path))
    return path


def outcome_csv(records: list[DecisionRecord], *, flip: bool = False) -> bytes:
    """An outcome file for 300 of the decisions (every third defaulted; `flip` reverses them) and one unknown key."""
    lines = [f"{r.key},{(i % 3 == 0) != flip},2026-11-30" for i, r in enumerate(records[:300])]
    return "\n".join(["decision_key,defaulted,observed_on", *lines, "nobody#1,false,2026-11-30"]).encode()


def tab_script(manifest: "Manifest") -> None:
    """The Monitoring tab alone, with no API client (the closed loop does not score)."""
    from ui.monitoring import monitoring_tab

    monitoring_tab(None, manifest)  # type: ignore[arg-type]


def loop_tab(manifest: Manifest) -> AppTest:
    """Open the tab on the decision log's closed loop, over every day since the fixture's decisions."""
    at = AppTest.from_function(tab_script, default_timeout=60, kwargs={"manifest": manifest}).run()
    at.radio(key="monitor_source").set_value(LOG_SOURCE).run()
    return at.number_input(key="loop_days").set_value(36500).run()


def test_upload_records_outcomes_and_the_tab_shows_grades_and_overrides(
    log: Path, records: list[DecisionRecord], manifest: Manifest
) -> None:
    at = loop_tab(manifest)
    assert not at.exception and not at.error
    at.file_uploader(key="outcome_file").upload("outcomes.csv", outcome_csv(records), "text/csv").run()
    at.button(key="record_outcomes").click().run()
    assert not at.exception and not at.error
    shown = {metric.label: metric.value for metric in at.metric}
    assert (shown["Outcomes recorded"], shown["Unknown keys"], shown["Conflicts"]) == ("300", "1", "0")
    report = close_loop(
        SqliteOutcomeLog(log).read_joined(**SPAN),
        bands=manifest.grade_bands,
        reference=manifest.reference,
        **SPAN,
    )
    assert report.overall is not None and report.overall.realised is not None and report.overrides is not None
    assert shown["Realised default rate"] == f"{report.overall.realised.default_rate:.2%}"
    assert (
        shown["Low-side override rate"] == f"{10 / 16:.1%}"
        and shown["High-side override rate"] == f"{6 / 16:.1%}"
    )
    grades = next(frame.value for frame in at.dataframe if "realised" in frame.value.columns)
    assert list(grades["grade"]) == [g.grade for g in report.overall.grades]
    realised = [f"{g.joined.observed_default_rate:.2%}" if g.joined else "-" for g in report.overall.grades]
    assert list(grades["realised"]) == realised
    lights = [
        f"{g.joined.light} {g.joined.direction}".strip() if g.joined else "-" for g in report.overall.grades
    ]
    worded = [x.replace(" under", " (PD too low)").replace(" over", " (PD too high)") for x in lights]
    assert list(grades["light"]) == worded
    overrides = next(frame.value for frame in at.dataframe if "low side" in frame.value.columns)
    first = overrides.set_index("group").loc["all"]
    assert (first["low side"], first["high side"], first["reviewed"]) == ("10", "6", "16")
    sexes = report.overrides.groups["sex"]
    assert {f"sex {k}" for k in sexes} <= set(overrides["group"])


def test_a_conflicting_or_bad_file_records_nothing_and_says_why(
    log: Path, records: list[DecisionRecord]
) -> None:
    assert record_upload("outcomes.csv", outcome_csv(records)).recorded == 300
    conflict = record_upload("later.csv", outcome_csv(records, flip=True))
    assert (conflict.recorded, conflict.conflicts) == (0, 300) and "nothing was recorded" in conflict.problem
    again = record_upload("outcomes.csv", outcome_csv(records))
    assert (again.recorded, again.unchanged, again.unknown) == (0, 300, 1)
    bad = record_upload(
        "../bad name.csv", b"decision_key,defaulted,observed_on\nreq-0000#1,maybe,2026-11-30\n"
    )
    assert bad.file == "bad_name.csv" and "line 2: defaulted" in bad.problem and bad.recorded == 0


def test_without_a_log_the_tab_says_where_it_looked(
    tmp_path: Path, configure: Callable[..., None], manifest: Manifest
) -> None:
    configure(DECISION_LOG=str(tmp_path / "none.sqlite"))
    at = AppTest.from_function(tab_script, default_timeout=60, kwargs={"manifest": manifest}).run()
    at.radio(key="monitor_source").set_value(LOG_SOURCE).run()
    assert not at.exception
    assert any("No decision log at none.sqlite" in caption.value for caption in at.caption)
    assert len(at.get("file_uploader")) == 0  # nothing to record outcomes into
