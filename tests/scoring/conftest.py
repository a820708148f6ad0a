"""Fixtures the scoring tests share: the shipped model under the name they use."""

import pytest

from functions.scoring.model import ScoringModel


@pytest.fixture(scope="session")
def model(shipped_model: ScoringModel) -> ScoringModel:
    """The shipped model (tests/conftest.py's `shipped_model`)."""
    return shipped_model
