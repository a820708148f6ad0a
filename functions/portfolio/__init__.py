"""Whole-book scoring: one shard (`shard.score_client_rows`, `shard.handler`), the Step Functions steps
(`prepare.handler`, `summarise.handler`) and the local command `python -m functions.portfolio score` (cli.py).

May import monitoring, audit, clientfiles, scoring and the root modules; independent of `functions.api`;
no Lambda imports the command.
"""

__all__ = ["cli", "prepare", "shard", "summarise"]
