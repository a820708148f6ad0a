"""Fixtures the UI tests share: the shipped manifest (charts, card, monitoring tab)."""

import pytest

from functions.scoring.manifest import Manifest


@pytest.fixture(scope="session")
def manifest(shipped_manifest: Manifest) -> Manifest:
    """The shipped manifest (tests/conftest.py's `shipped_manifest`); a test module may override it."""
    return shipped_manifest
