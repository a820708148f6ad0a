"""Fixtures the API tests share: the shipped model, for answers computed without HTTP."""

import pytest

from functions.scoring.model import ScoringModel


@pytest.fixture(scope="session")
def model(shipped_model: ScoringModel) -> ScoringModel:
    """The shipped model, loaded directly (no HTTP; tests/conftest.py's `shipped_model`)."""
    return shipped_model
