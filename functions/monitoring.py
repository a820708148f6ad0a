"""Watch the live model from the command line: population drift and outcomes against the training reference.

python -m functions.monitoring drift CURRENT [--format table|json] [--report DIR] [--model DIR]
python -m functions.monitoring outcomes FILE [--format table|json] [--report DIR] [--model DIR]
"""

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from functions import scoring
from functions.backtest import Outcomes, back_test
from functions.clientfile import ClientFileError, read_clients
from functions.config import MODEL_DIR
from functions.drift import Drift, moved_bins, population_drift
from functions.htmlreport import drift_report, outcomes_report
from functions.manifest import Manifest, ModelUnavailable, ScoreScaling

Vector = npt.NDArray[np.float64]

DEFAULT_MODEL_DIR: Final = MODEL_DIR
DRIFT_REPORT: Final = "drift.html"
OUTCOMES_REPORT: Final = "outcomes.html"


class MonitoringError(RuntimeError):
    """The command cannot run: the message says what is missing and what to do."""


def points_of(probabilities: Vector, scaling: ScoreScaling) -> Vector:
    """Return the scorecard points of each PD in [0, 1] under the manifest's scaling (integers as floats)."""
    return np.asarray(
        [scaling.points(p) for p in np.asarray(probabilities, dtype=np.float64).tolist()], dtype=np.float64
    )


def score_rows(raw: Vector, model_dir: Path) -> tuple[Manifest, Vector, Vector]:
    """Score rows x 23 raw inputs with the verified model: return its manifest, PDs and points."""
    try:
        model = scoring.load_model(model_dir)
    except ModelUnavailable as err:
        raise MonitoringError(str(err)) from err
    manifest = model.manifest
    probabilities = np.asarray(model.probabilities(raw), dtype=np.float64)
    return manifest, probabilities, points_of(probabilities, manifest.score_scaling)


def drift_json(drifts: Sequence[Drift], *, rows: int) -> dict[str, Any]:
    """Shape drift as `{"psi": {name: value}, "verdict": {name: verdict}, "rows": n}` (inputs, then "score")."""
    return {
        "psi": {d.name: d.psi for d in drifts},
        "verdict": {d.name: d.verdict for d in drifts},
        "rows": rows,
    }


def drift_table(drifts: Sequence[Drift], *, rows: int) -> str:
    """Render drift as a fixed-width table, with the bins that moved most for each input that is not stable."""
    lines = [f"{rows:,} rows", f"{'input':<12} {'PSI':>8}  verdict      bins that moved most"]
    for drift in drifts:
        moved = ""
        if drift.verdict != "stable":
            moved = ", ".join(f"{b.label} {b.expected:.1%}->{b.actual:.1%}" for b in moved_bins(drift))
        lines.append(f"{drift.name:<12} {drift.psi:>8.4f}  {drift.verdict:<12} {moved}".rstrip())
    return "\n".join(lines)


def outcomes_json(outcomes: Outcomes) -> dict[str, Any]:
    """Shape a back-test as plain JSON values (intervals as two-element lists)."""
    return json.loads(json.dumps(asdict(outcomes)))  # type: ignore[no-any-return]


def outcomes_table(outcomes: Outcomes) -> str:
    """Render a back-test as fixed-width text: summary, grades with traffic lights, gains by score band."""
    o = outcomes
    lines = [
        f"{o.rows:,} clients, {o.defaults:,} defaults",
        f"AUC   {o.auc:.4f}  (95 % bootstrap {o.auc_interval[0]:.4f}-{o.auc_interval[1]:.4f})   Gini {o.gini:.4f}   KS {o.ks:.4f}",
        f"Brier {o.brier:.4f}  (95 % bootstrap {o.brier_interval[0]:.4f}-{o.brier_interval[1]:.4f})",
        f"calibration in the large: mean PD {o.mean_pd:.4f} - default rate {o.default_rate:.4f} = {o.calibration_in_the_large:+.4f}",
        "",
        f"{'grade':<6}{'clients':>8}{'defaults':>9}{'mean PD':>9}{'observed':>9}  {'Jeffreys 95 %':<15} light",
    ]
    for g in o.grades:
        interval = f"{g.interval_95[0]:.3f}-{g.interval_95[1]:.3f}"
        light = f"{g.light} {g.direction}".strip()
        lines.append(
            f"{g.grade:<6}{g.clients:>8,}{g.defaults:>9,}{g.predicted:>9.4f}{g.observed:>9.4f}  {interval:<15} {light}"
        )
    lines += ["", f"{'score band':<12}{'clients':>8}{'defaults':>9}{'rate':>8}{'odds':>8}{'captured':>10}"]
    for r in o.gains:
        odds = "-" if r.odds is None else f"{r.odds:.2f}"
        lines.append(
            f"{r.band:<12}{r.clients:>8,}{r.defaults:>9,}{r.default_rate:>8.3f}{odds:>8}{r.captured:>10.1%}"
        )
    return "\n".join(lines)


def run_drift(path: Path, *, model_dir: Path, report: Path | None) -> tuple[str, dict[str, Any]]:
    """Compute the drift of a client file against the manifest's reference; return (table, JSON value)."""
    clients = read_clients(path)
    manifest, _, points = score_rows(clients.raw, model_dir)
    if manifest.reference is None:
        raise MonitoringError(
            f"{model_dir.name}/model.json records no reference distributions; retrain with `make train`"
        )
    drifts = population_drift(clients.raw, points, manifest.reference)
    rows = clients.raw.shape[0]
    if report is not None:
        report.mkdir(parents=True, exist_ok=True)
        (report / DRIFT_REPORT).write_text(drift_report(drifts, rows=rows))
    return drift_table(drifts, rows=rows), drift_json(drifts, rows=rows)


def run_outcomes(path: Path, *, model_dir: Path, report: Path | None) -> tuple[str, dict[str, Any]]:
    """Back-test the model on a client file carrying the realised default flag; return (table, JSON value)."""
    clients = read_clients(path, need_target=True)
    if clients.target is None:  # read_clients refuses such a file already; this keeps the type narrow
        raise MonitoringError(f"{path.name}: no default flag column")
    manifest, probabilities, points = score_rows(clients.raw, model_dir)
    outcomes = back_test(
        clients.target, probabilities, points, bands=manifest.grade_bands, scaling=manifest.score_scaling
    )
    if report is not None:
        report.mkdir(parents=True, exist_ok=True)
        (report / OUTCOMES_REPORT).write_text(outcomes_report(outcomes))
    return outcomes_table(outcomes), outcomes_json(outcomes)


def emit(text: str, *, error: bool = False) -> None:
    """Write one block of the command's output (stdout, or stderr for errors)."""
    (sys.stderr if error else sys.stdout).write(text + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run `drift` or `outcomes`; return 0, or 2 with a message when the file or the model cannot be used."""
    parser = argparse.ArgumentParser(
        prog="python -m functions.monitoring", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("drift", "PSI per input and on the score against the training reference"),
        ("outcomes", "back-test PDs against the realised default flag"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("file", type=Path, help="client CSV in the UCI or Kaggle layout")
        command.add_argument("--format", choices=("table", "json"), default="table")
        command.add_argument(
            "--report", type=Path, default=None, help="folder for a self-contained HTML report"
        )
        command.add_argument(
            "--model", type=Path, default=DEFAULT_MODEL_DIR, help="model folder (model.json)"
        )
    args = parser.parse_args(argv)
    run = run_drift if args.command == "drift" else run_outcomes
    try:
        table, value = run(args.file, model_dir=args.model, report=args.report)
    except (ClientFileError, MonitoringError) as err:
        emit(f"error: {err}", error=True)
        return 2
    emit(json.dumps(value) if args.format == "json" else table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
