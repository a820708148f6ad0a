"""The strategy what-if on a scored book: additive tallies per chunk (tally.py), the book's summary (summary.py),
its HTML page (report.py) and the command `python -m functions.portfolio whatif` (run.py).

May import `functions.monitoring`, `functions.clientfiles`, `functions.scoring`, `functions.portfolio.shard` and
the root modules; no Lambda imports it.
"""

__all__ = ["report", "run", "summary", "tally"]
