"""Commands of the closed loop over the local decision log (DECISION_LOG, default var/decisions.sqlite).

python -m functions.monitoring record-outcomes FILE     # CSV: decision_key,defaulted,observed_on
python -m functions.monitoring realised [--days 400] [--format table|json] [--report DIR] [--model DIR]
"""

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from functions.audit.decision import AuditUnavailableError
from functions.audit.outcomes import OutcomeConflictError, OutcomeReceipt
from functions.audit.outcomes_sqlite import SqliteOutcomeLog
from functions.config import LOCAL_DECISION_LOG, get_settings
from functions.monitoring.loop.join import close_loop, loop_json
from functions.monitoring.loop.outcome_file import MAX_LISTED, OutcomeFileError, read_outcome_file
from functions.monitoring.loop.report import loop_html, loop_table
from functions.monitoring.tables import emit
from functions.scoring.manifest import ModelUnavailable, read_manifest

LOOP_REPORT: Final = "realised.html"


def local_log() -> SqliteOutcomeLog:
    """Return the local decision log; raises OutcomeFileError when there is none yet."""
    path = get_settings().decision_log or LOCAL_DECISION_LOG
    if not path.is_file():
        raise OutcomeFileError(f"No decision log at {path}: `make run` records decisions there.")
    return SqliteOutcomeLog(path)


def record_file(path: Path) -> OutcomeReceipt:
    """Record an outcome file into the local log (`make outcomes`, the UI); raises OutcomeFileError,
    OutcomeConflictError (nothing recorded) or AuditUnavailableError."""
    outcomes = read_outcome_file(path, today=datetime.now(UTC).date())
    return local_log().record_outcomes(outcomes)


def record_outcomes(path: Path) -> str:
    """Record an outcome file into the local log; return a summary line."""
    receipt = record_file(path)
    unknown = f": {', '.join(receipt.unknown[:MAX_LISTED])}" if receipt.unknown else ""
    return (
        f"{len(receipt.recorded):,} outcomes recorded, {len(receipt.unchanged):,} already recorded, "
        f"{len(receipt.synthetic):,} synthetic skipped, {len(receipt.unknown):,} unknown keys{unknown}"
    )


def realised(*, days: int, model_dir: Path, fmt: str, report: Path | None) -> str:
    """Compare expected with realised over the log's last `days` days; return the table or JSON text."""
    try:
        manifest = read_manifest(model_dir)
    except ModelUnavailable as err:
        raise OutcomeFileError(str(err)) from err
    until = datetime.now(UTC).date()
    since = (until - timedelta(days=days)).isoformat()
    joined = local_log().read_joined(since_day=since, until_day=until.isoformat())
    loop = close_loop(
        joined,
        bands=manifest.grade_bands,
        reference=manifest.reference,
        since_day=since,
        until_day=until.isoformat(),
    )
    if report is not None:
        report.mkdir(parents=True, exist_ok=True)
        (report / LOOP_REPORT).write_text(loop_html(loop))
    return json.dumps(loop_json(loop)) if fmt == "json" else loop_table(loop)


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]", model_dir: Path) -> None:
    """Add `record-outcomes` and `realised` to the monitoring command's subcommands."""
    record = commands.add_parser("record-outcomes", help="record an outcome file in the local decision log")
    record.add_argument("file", type=Path, help="CSV with decision_key, defaulted, observed_on")
    loop = commands.add_parser(
        "realised", help="expected against realised and overrides from the decision log"
    )
    loop.add_argument("--days", type=int, default=400, help="decisions of the last this many days")
    loop.add_argument("--format", choices=("table", "json"), default="table")
    loop.add_argument("--report", type=Path, default=None, help="folder for a self-contained HTML report")
    loop.add_argument("--model", type=Path, default=model_dir, help="model folder (model.json)")


def run_command(args: argparse.Namespace) -> int:
    """Run `record-outcomes` or `realised`; 2 with a message when the input must be fixed, 1 for a fault."""
    try:
        if args.command == "record-outcomes":
            text = record_outcomes(args.file)
        else:
            text = realised(days=args.days, model_dir=args.model, fmt=args.format, report=args.report)
    except (OutcomeFileError, OutcomeConflictError) as err:
        emit(f"error: {err}", error=True)
        return 2
    except AuditUnavailableError as err:
        emit(f"error: {err}; nothing was recorded", error=True)
        return 1
    emit(text)
    return 0
