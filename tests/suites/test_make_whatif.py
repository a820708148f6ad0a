"""`make whatif`: file names reach the command through the environment, so spaces and `$(...)` stay text."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from scripts.cfn import ROOT
from training.synthetic import generate_rows, to_dataset_csv


def make_whatif(
    tmp_path: Path, *arguments: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `make whatif` as a user types it (the venv taken as built), one worker."""
    outer = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}
    base = {name: value for name, value in os.environ.items() if name not in outer}
    return subprocess.run(
        ["make", "--no-print-directory", "-s", "-o", ".venv/bin/.installed", "whatif", "WORKERS=1", *arguments],
        cwd=ROOT, env=base | (env or {}), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("through", ["command line", "environment"])
def test_a_file_name_with_spaces_and_a_command_substitution_stays_text(tmp_path: Path, through: str) -> None:
    book = tmp_path / "my book $(touch pwned).csv"
    book.write_text(to_dataset_csv(generate_rows(30, seed=4)))
    if through == "command line":
        result = make_whatif(tmp_path, f"IN={book}")
    else:
        result = make_whatif(tmp_path, env={"IN": str(book)})
    assert result.returncode == 0, result.stderr
    written = json.loads(Path(f"{book}.whatif.json").read_text())
    assert written["arms"]["champion"]["rows"] == 30
    assert Path(f"{book}.whatif.html").is_file()
    assert not (ROOT / "pwned").exists() and not (tmp_path / "pwned").exists()


def test_without_a_file_it_says_how_to_call_it_and_exits_2(tmp_path: Path) -> None:
    result = make_whatif(tmp_path, env={"IN": ""})
    assert result.returncode == 2
    assert "usage: make whatif IN=clients.csv" in result.stderr
