"""benchmarks/assess.py: tree against tree, rows per CPU second and a digest of the answers, tiny."""

import json
from pathlib import Path

import pytest

from benchmarks import assess
from benchmarks.results import ROOT


def test_assess_benchmark_runs_tiny_and_reports_equal_answers(real_data_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench" / "assess.json"
    code = assess.main(
        ["--data", str(real_data_path), "--runs", "1", "--rows", "30", "--chunk", "20", "--out", str(out)]
        + ["--names", "this", "again", str(ROOT), str(ROOT)]
    )
    figures = json.loads(out.read_text())
    assert code == 0 and figures["trees"] == ["this", "again"]
    assert figures["this"]["digests"] == figures["again"]["digests"]  # the same tree answers alike
    assert all(speed > 0 for name in ("this", "again") for speed in figures[name]["rows_per_s"])


@pytest.mark.parametrize(("digests", "said"), [(["a", "a"], "bit for bit"), (["a", "b"], "differ")])
def test_assess_report_says_whether_answers_agree_and_the_target_is_met(
    digests: list[str], said: str
) -> None:
    figures = {
        "before": {"rows_per_s": [20_000.0], "digests": digests[:1]},
        "after": {"rows_per_s": [50_000.0], "digests": digests[1:]},
    }
    section = assess.report(figures, load=0.5, command="python -m benchmarks.assess", rows=100, chunk=10)
    assert section.startswith(assess.HEADING + "\n") and said in section
    assert "| after | 1 | 50,000 | 50,000 | 50,000 | 20.0 | 2.50 |" in section
    assert "is met by\nafter" in section
