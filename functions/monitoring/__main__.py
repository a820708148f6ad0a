"""`python -m functions.monitoring`: the monitoring command (functions/monitoring/cli.py)."""

from functions.monitoring.cli import main

raise SystemExit(main())
