"""Fixtures the API tests share: the shipped model (answers computed without HTTP) and a risky applicant."""

from typing import Any

import pytest

from functions.scoring.model import ScoringModel
from training.synthetic import HIGH_RISK


@pytest.fixture(scope="session")
def model(shipped_model: ScoringModel) -> ScoringModel:
    """The shipped model, loaded directly (no HTTP; tests/conftest.py's `shipped_model`)."""
    return shipped_model


@pytest.fixture
def risky_applicant() -> dict[str, Any]:
    """A client with recent late payments and a maxed-out card."""
    return dict(HIGH_RISK)
