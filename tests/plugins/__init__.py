"""Test plugins, loaded with -p from pyproject.toml: the fixtures conftest.py would otherwise hold, by topic."""
