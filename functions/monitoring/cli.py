"""Watch the live model from the command line: population drift and outcomes against the training reference.

python -m functions.monitoring drift CURRENT [--format table|json] [--report DIR] [--model DIR]
python -m functions.monitoring outcomes FILE [--format table|json] [--report DIR] [--model DIR]
python -m functions.monitoring record-outcomes FILE | realised [...]   (functions/monitoring/loop/cli.py)
python -m functions.monitoring validate [...]   (the validation pack: functions/monitoring/validation/cli.py)
"""

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from functions.clientfiles.rows import ClientFileError, read_client_file
from functions.config import MODEL_DIR
from functions.monitoring.backtest import back_test
from functions.monitoring.loop.cli import add_commands, run_command
from functions.monitoring.psi import population_drift
from functions.monitoring.report import drift_report, outcomes_report
from functions.monitoring.tables import drift_json, drift_table, emit, outcomes_json, outcomes_table
from functions.monitoring.validation.cli import add_validate, run_validate
from functions.scoring import model as scoring
from functions.scoring.manifest import Manifest, ModelUnavailable
from functions.scoring.model import points_of
from functions.scoring.reference import Vector

DRIFT_REPORT: Final = "drift.html"
OUTCOMES_REPORT: Final = "outcomes.html"


class MonitoringError(RuntimeError):
    """The command cannot run: the message says what is missing and what to do."""


def score_rows(raw: Vector, model_dir: Path) -> tuple[Manifest, Vector, Vector]:
    """Score rows x 23 raw inputs with the verified model: return its manifest, PDs and points."""
    try:
        model = scoring.load_model(model_dir)
    except ModelUnavailable as err:
        raise MonitoringError(str(err)) from err
    manifest = model.manifest
    probabilities = np.asarray(model.probabilities(raw), dtype=np.float64)
    return manifest, probabilities, points_of(probabilities, manifest.score_scaling)


def check_report(folder: Path) -> None:
    """Refuse a --report path that exists and is not a folder, before any work; raises MonitoringError."""
    if folder.exists() and not folder.is_dir():
        raise MonitoringError(
            f"--report {folder} is a file; give a folder for the HTML report (created if need be)"
        )


def write_report(folder: Path, name: str, html: str) -> None:
    """Write the HTML report `name` into `folder` (created if need be); raises MonitoringError if it cannot."""
    check_report(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(html, encoding="utf-8")
    except OSError as err:
        raise MonitoringError(
            f"cannot write the report into {folder} ({err}); give a writable folder"
        ) from err


def run_drift(path: Path, *, model_dir: Path, report: Path | None) -> tuple[str, dict[str, Any]]:
    """Compute the drift of a client file against the manifest's reference; return (table, JSON value)."""
    clients = read_client_file(path)
    manifest, _, points = score_rows(clients.raw, model_dir)
    if manifest.reference is None:
        raise MonitoringError(
            f"{model_dir.name}/model.json records no reference distributions; retrain with `make train`"
        )
    drifts = population_drift(clients.raw, points, manifest.reference)
    rows = clients.raw.shape[0]
    if report is not None:
        write_report(report, DRIFT_REPORT, drift_report(drifts, rows=rows))
    return drift_table(drifts, rows=rows), drift_json(drifts, rows=rows)


def run_outcomes(path: Path, *, model_dir: Path, report: Path | None) -> tuple[str, dict[str, Any]]:
    """Back-test the model on a client file carrying the realised default flag; return (table, JSON value)."""
    clients = read_client_file(path, need_target=True)
    if clients.target is None:  # read_client_file refuses such a file already; this keeps the type narrow
        raise MonitoringError(f"{path.name}: no default flag column")
    if (classes := np.unique(clients.target)).size < 2:
        raise MonitoringError(
            f"{path.name}: every client's default flag is {int(classes[0])}; a back-test compares defaulters "
            "with non-defaulters (AUC, KS, calibration), so the file needs both"
        )
    manifest, probabilities, points = score_rows(clients.raw, model_dir)
    outcomes = back_test(
        clients.target, probabilities, points, bands=manifest.grade_bands, scaling=manifest.score_scaling
    )
    if report is not None:
        write_report(report, OUTCOMES_REPORT, outcomes_report(outcomes))
    return outcomes_table(outcomes), outcomes_json(outcomes)


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
        command.add_argument("--model", type=Path, default=MODEL_DIR, help="model folder (model.json)")
    add_commands(commands, MODEL_DIR)
    add_validate(commands, MODEL_DIR)
    args = parser.parse_args(argv)
    if args.command == "validate":
        return run_validate(args)
    if args.command in ("record-outcomes", "realised"):
        return run_command(args)
    run = run_drift if args.command == "drift" else run_outcomes
    try:
        if args.report is not None:
            check_report(args.report)
        table, value = run(args.file, model_dir=args.model, report=args.report)
    except (ClientFileError, MonitoringError) as err:
        emit(f"error: {err}", error=True)
        return 2
    emit(json.dumps(value) if args.format == "json" else table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
