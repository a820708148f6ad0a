"""Adverse action: one statement per reason code (statements.py), the adverse-action notice rule (notice.py)
and what would change a decision (recourse.py, its API answer in recourse_answer.py).

May import `functions.scoring` (contract, model, strategy) and the root modules; numpy and pydantic only.
Imports none of its modules here.
"""

__all__ = ["notice", "recourse", "recourse_answer", "statements"]
