"""The credit strategy: its file format (file.py), checks against the model (checks.py), the vectorised decision
engine and champion-challenger split (engine.py), the engine's decision per cell compiled once per strategy
(cells.py) and the fields it adds to the API's answer (answer.py).

May import `functions.scoring` (contract, manifest, adverse) and the root modules; numpy, pydantic and PyYAML
only. Imports none of its modules here: `functions.scoring.contract` imports answer.py.
"""

__all__ = ["answer", "cells", "checks", "engine", "file"]
