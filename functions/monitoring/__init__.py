"""Watching the live model: PSI against the training reference, back-tests and their statistics, text, JSON
and HTML reports; `python -m functions.monitoring` (cli.py), the daily drift Lambda (`job.handler`)
and the S3 drop of outcome files (`outcome_drop.handler`).

May import `functions.audit`, `functions.clientfiles`, `functions.scoring` and the root modules; the Lambdas
import no command module.
"""

__all__ = ["backtest", "cli", "job", "outcome_drop", "psi", "report", "stats", "tables"]
