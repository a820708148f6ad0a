"""The closed loop: the outcome file's reader and checks (outcome_file.py), shared by the command, the UI and the
S3 drop Lambda (`outcome_drop.handler`); expected against realised per month and grade (expected.py, join.py),
overrides (overrides.py), their table and HTML (report.py) and the commands `record-outcomes` and `realised` (cli.py).

May import `functions.monitoring` (psi, stats, backtest, tables, report), `functions.audit`, `functions.scoring`
and the root modules; the Lambdas import no command module. Imports none of its modules here.
"""

__all__ = ["cli", "expected", "join", "outcome_drop", "outcome_file", "overrides", "report"]
