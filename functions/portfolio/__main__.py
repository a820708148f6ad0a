"""`python -m functions.portfolio score IN OUT`: the book command (functions/portfolio/cli.py)."""

from functions.portfolio.cli import main

raise SystemExit(main())
