"""Whole-book scoring: one shard (`shard.score_client_rows`, `shard.handler`) and its lines (`lines`), the Step
Functions steps (`prepare.handler`, `summarise.handler`), the local command `python -m functions.portfolio score` (cli.py) and
the strategy what-if (`whatif/`, `python -m functions.portfolio whatif`).

May import monitoring, audit, clientfiles, scoring and the root modules; independent of `functions.api`;
no Lambda imports the command.
"""

__all__ = ["cli", "files", "lines", "pool", "prepare", "shard", "summarise", "whatif"]
