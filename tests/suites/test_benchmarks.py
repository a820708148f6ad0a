"""benchmarks/results.py and the load benchmark's tables: figures go to build/bench/, the doc only when asked."""

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

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


def strategy_round(p50: float, batch: float) -> dict[str, Any]:
    return {
        "p50_ms": p50,
        "batch_ms": batch,
        "p50_cpu_ms": p50 / 2,
        "batch_cpu_ms": batch / 2,
        "sha256": ["a", "b"],
    }


def test_strategy_benchmark_reports_medians_best_rounds_and_the_share_added() -> None:
    from benchmarks import strategy, strategy_report

    rounds = {
        "without": [strategy_round(1.0, 100.0), strategy_round(3.0, 90.0), strategy_round(1.2, 95.0)],
        "with": [strategy_round(1.1, 99.0), strategy_round(1.3, 120.0), strategy_round(1.2, 98.0)],
        "before": [strategy_round(1.5, 110.0), strategy_round(1.4, 100.0), strategy_round(1.6, 105.0)],
    }
    figured = strategy.summary(rounds)
    assert (figured["without_p50_ms"], figured["with_p50_ms"]) == (1.2, 1.2)
    assert figured["batch_ms_vs_without"] == pytest.approx(99.0 / 95.0 - 1)
    assert figured["best_batch_ms_vs_without"] == pytest.approx(98.0 / 90.0 - 1)
    assert figured["p50_cpu_ms_vs_before"] == pytest.approx(1.2 / 1.5 - 1)
    assert strategy.identical(rounds)
    section = strategy_report.report(
        figured,
        before="f24d611",
        same_answers=True,
        rounds=3,
        calls=10,
        load=(0.5, 0.7),
        pairs=30,
    )
    assert "/v1/predict\n+0.0%, batch of 1,000 +0.0%." in section
    assert (
        "| Warm /v1/predict p50, 10 calls (ms) | 1.200 | 1.200 | +0.0% | +10.0% | +0.0% | < +10 % | met |"
        in section
    )
    assert "| /v1/predict/batch, 1,000 applicants, median of 10 (ms) | 105.0 | 99.0 | -5.7% |" in section
    assert "--before f24d611 --rounds 3 --write-docs" in section
    assert "30 pairs of batches" in section


def test_strategy_rounds_rotate_the_variants_order() -> None:
    from benchmarks.strategy import rotated

    orders = [rotated(["without", "with", "before"], number) for number in range(4)]
    assert orders[1] == ["with", "before", "without"]
    assert [order[0] for order in orders] == ["without", "with", "before", "without"]


def test_the_without_switch_serves_answers_without_the_strategy(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import functions.api.app as served
    from benchmarks.strategy import SWITCHED, WITHOUT

    for name in SWITCHED:
        monkeypatch.setattr(served, name, getattr(served, name))  # restored after the test
    exec(WITHOUT, {})  # noqa: S102 - the benchmark's own switch, as its runner runs it
    answer = client.post("/v1/predict/batch", json={"applicants": [TYPICAL, TYPICAL]}).json()
    fields = [*served.MODEL_FIELDS, "model_version", "request_id"]
    assert [list(p) for p in answer["predictions"]] == [fields, fields]
    assert list(client.post("/v1/predict", json=TYPICAL).json()) == fields


def test_strategy_section_warns_when_the_machine_had_more_work_than_cpus() -> None:
    from benchmarks.strategy_report import busy

    assert busy((0.1, 0.2)) == ""
    assert "read the CPU-time columns" in busy((64.0, 1.0))
