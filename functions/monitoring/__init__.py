"""Watching the live model: PSI against the training reference, back-tests and their statistics, text, JSON
and HTML reports; `python -m functions.monitoring` (cli.py) and the daily drift Lambda (`job.handler`).

May import `functions.audit`, `functions.clientfiles`, `functions.scoring` and the root modules; the job
imports no command module.
"""

__all__ = ["backtest", "cli", "job", "psi", "report", "stats", "tables"]
