"""docs/architecture.md names only packages, modules and entry points that exist, and every package of functions/."""

import importlib
import re

import pytest

from scripts.local import ROOT

DOC = ROOT / "docs" / "architecture.md"
TEXT = DOC.read_text()


def _paths() -> list[str]:
    return sorted(set(re.findall(r"(?:functions|training|ui|scripts|benchmarks|tests)/[\w/.]*\w", TEXT)))


def _dotted() -> list[str]:
    return sorted(set(re.findall(r"\bfunctions(?:\.\w+)+", TEXT)))


@pytest.mark.parametrize("path", _paths())
def test_every_path_the_page_names_exists(path: str) -> None:
    assert (ROOT / path).exists(), f"docs/architecture.md names {path}, which does not exist"


@pytest.mark.parametrize("dotted", _dotted())
def test_every_module_or_entry_point_the_page_names_imports(dotted: str) -> None:
    module, _, attribute = dotted.rpartition(".")
    try:
        importlib.import_module(dotted)
    except ModuleNotFoundError:
        assert hasattr(importlib.import_module(module), attribute), f"{dotted} does not exist"


def test_the_page_names_every_package_of_functions() -> None:
    packages = sorted(p.parent.name for p in (ROOT / "functions").glob("*/__init__.py"))
    missing = [p for p in packages if f"functions/{p}/" not in TEXT]
    assert packages and missing == []
