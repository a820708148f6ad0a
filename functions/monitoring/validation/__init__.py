"""The validation pack: the ECB's 2019 validation tests (ecb.py), the pack over the decision log and two scored
books (pack.py), its HTML (report.py) and the command `python -m functions.monitoring validate` (cli.py).

May import `functions.monitoring` (psi, stats, backtest, tables, report, loop), `functions.audit`, `functions.clientfiles`,
`functions.scoring` and the root modules; no Lambda imports it. Imports none of its modules here.
"""

__all__ = ["cli", "ecb", "pack", "report"]
