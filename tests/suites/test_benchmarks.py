"""benchmarks/results.py and the load benchmark's tables: figures go to build/bench/, the doc only when asked."""

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from benchmarks import portfolio, results
from benchmarks.load import Phase, summary, totals
from benchmarks.portfolio import Figure
from functions.scoring.model import to_matrix
from training.synthetic import TYPICAL

DOC = "# Benchmarks\n\nIntro.\n\n## Serving\n\nold serving\n\n## Lambda task root\n\nsizes\n"


def test_results_go_to_a_git_ignored_folder() -> None:
    assert results.RESULTS_DIR.relative_to(results.ROOT).parts[0] == "build"
    assert "build/" in (results.ROOT / ".gitignore").read_text().splitlines()


def test_write_results_records_figures_with_the_machine(tmp_path: Path) -> None:
    path = results.write_results("load", {"errors": 0}, folder=tmp_path / "bench")
    record = json.loads(path.read_text())
    assert path == tmp_path / "bench" / "load.json"
    assert (record["benchmark"], record["errors"]) == ("load", 0)
    assert {"measured_utc", "python", "cpu"} <= record.keys()


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("## Serving", DOC.replace("## Serving\n\nold serving\n", "## Serving\n\nnew\n")),
        ("## Load on loopback", DOC + "\n## Load on loopback\n\nnew\n"),
    ],
    ids=["replaces-its-section", "appends-a-new-one"],
)
def test_write_section_changes_only_its_section(tmp_path: Path, heading: str, expected: str) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(DOC)
    results.write_section(heading, f"{heading}\n\nnew\n", doc)
    assert doc.read_text() == expected


def test_load_totals_its_bursts_per_stack() -> None:
    phases = [
        Phase("this API", "steady", 10, 0, 1.0, [1.0] * 10),
        Phase("this API", "burst 1", 4, 1, 0.5, [2.0] * 4),
        Phase("this API", "burst 2", 6, 0, 0.5, [4.0] * 6),
    ]
    kept = totals(phases)
    assert [(p.phase, p.requests, p.errors, p.seconds) for p in kept] == [
        ("steady", 10, 0, 1.0),
        ("all bursts", 10, 1, 1.0),
    ]
    assert kept[1].figures()["requests_per_s"] == 10.0
    assert summary(kept).splitlines()[3] == "| this API | all bursts | 10 | 1 | 10 | 4.0 | 4.0 | 4.0 |"


def portfolio_figures() -> list[Figure]:
    return [
        Figure("(a) this predictor, PD alone", 1000, 0.01, 100_000.0, 100_000.0, 5.0),
        Figure("(a) this predictor, PD + reasons (assess)", 1000, 0.1, 10_000.0, 10_000.0, 20.0),
        Figure("(b) scikit-learn predict_proba + pandas, PD alone", 1000, 0.02, 50_000.0, 50_000.0, 4.0),
        Figure("(c) SHAP TreeExplainer + calibration, PD + attributions", 100, 0.1, 1_000.0, 1_000.0, 1.0),
    ]


def test_portfolio_report_tabulates_every_stack_and_the_ratios_to_the_targets() -> None:
    section = portfolio.report(
        portfolio_figures(), load=1.5, chunk=500, data="clients.csv", options=" --rows 1000"
    )
    assert section.startswith(portfolio.HEADING + "\n")
    assert (
        "| (c) SHAP TreeExplainer + calibration, PD + attributions | 100 | 0.10 | 1,000 | 1,000 | 1 |"
        in section
    )
    assert "- 1,000 rows: PD alone 2.0 x scikit-learn's predict_proba (target >= 1);" in section
    assert "PD + reasons 10.0 x SHAP (target >= 10, here on one core); by CPU time." in section
    assert "load average 1.5" in section and f"{portfolio.COMMAND} --rows 1000\n" in section


def test_portfolio_writes_its_figures_as_json(tmp_path: Path) -> None:
    figures = [asdict(f) for f in portfolio_figures()]
    path = results.write_results("portfolio", {"figures": figures}, folder=tmp_path)
    assert json.loads(path.read_text())["figures"][1]["rows_per_s"] == 10_000.0
    rows = np.tile(to_matrix([TYPICAL]), (3, 1))
    command = portfolio.portfolio_command(rows, tmp_path)  # (a') the real command, end to end
    assert command.rows == 3 and command.stack.startswith("(a') portfolio command")
    assert command.rows_per_s > 0 and 0 < command.peak_mb < 2_000
    assert list(tmp_path.iterdir()) == [path]  # its scratch folder is gone


def test_strategy_benchmark_reports_medians_over_rounds_and_the_share_added() -> None:
    from benchmarks import strategy

    rounds = {
        "baseline": [
            {"p50_ms": 1.0, "batch_ms": 100.0},
            {"p50_ms": 3.0, "batch_ms": 90.0},
            {"p50_ms": 1.2, "batch_ms": 95.0},
        ],
        "strategy": [
            {"p50_ms": 1.1, "batch_ms": 99.0},
            {"p50_ms": 1.3, "batch_ms": 120.0},
            {"p50_ms": 1.2, "batch_ms": 98.0},
        ],
    }
    medians = strategy.summary(rounds)
    assert (medians["baseline_p50_ms"], medians["strategy_p50_ms"]) == (1.2, 1.2)
    assert medians["batch_added"] == pytest.approx(99.0 / 95.0 - 1)
    section = strategy.report(
        medians, baseline="main", rounds=3, calls=10, load=0.5, parts={"strategy_1_us": 40.0}
    )
    assert "| Warm /v1/predict p50, 10 calls (ms) | 1.200 | 1.200 | +0.0% | < +10 % | met |" in section
    assert "takes\n40 µs for one client" in section
