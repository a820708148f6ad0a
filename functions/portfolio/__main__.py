"""`python -m functions.portfolio score IN OUT`: the book command (functions/portfolio/cli.py)."""

import os
import sys

from functions.portfolio.cli import main
from functions.portfolio.pool import EXIT_CODES

code = main()
if code in EXIT_CODES.values():
    # Interrupted: the workers are stopped and the temporary files removed, and the message is out. Exit now: a
    # worker terminated while sending a result leaves ProcessPoolExecutor's manager thread blocked on a partial
    # message, and the interpreter's exit would join it forever (seen under load in the SIGTERM test).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
raise SystemExit(code)
