"""Watching the live model: PSI against the training reference, back-tests and their statistics, text, JSON
and HTML reports; `python -m functions.monitoring` (cli.py), the daily drift Lambda (`job.handler`); the closed
loop (`loop/`, with the S3 drop of outcome files, `loop.outcome_drop.handler`) and the validation pack (`validation/`).

May import `functions.audit`, `functions.clientfiles`, `functions.scoring` and the root modules; the Lambdas
import no command module.
"""

__all__ = ["backtest", "cli", "job", "loop", "psi", "report", "stats", "tables", "validation"]
