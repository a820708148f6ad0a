"""`make test` on a bare machine: the `system` target installs Chromium with apt-get when running as root, and
otherwise stops with one line saying what to install before any test runs; `.ci/run` only calls `make test`."""

import os
import subprocess
from pathlib import Path

from scripts.cfn import ROOT

APT_GET = """#!/bin/sh
echo "$*" >> "$APT_LOG"
case "$1" in install) touch "$CHROMIUM_STAND_IN"; chmod +x "$CHROMIUM_STAND_IN" ;; esac
"""


def make_system(tmp_path: Path, *, as_root: bool, chromium: Path) -> subprocess.CompletedProcess[str]:
    """Run `make system` with a Chromium path and a recording apt-get stand-in."""
    apt_get = tmp_path / "apt-get"
    apt_get.write_text(APT_GET)
    apt_get.chmod(0o755)
    # A fresh make, as a user types it, even when this test itself runs under `make test`.
    outer = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "CHROMIUM_PATH"}
    env = {name: value for name, value in os.environ.items() if name not in outer}
    env |= {"APT_LOG": str(tmp_path / "apt.log"), "CHROMIUM_STAND_IN": str(chromium)}
    return subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-s",
            "system",
            f"CHROMIUM_PATH={chromium}",
            f"AS_ROOT={'yes' if as_root else ''}",
            f"APT_GET={apt_get}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_without_chromium_and_not_root_says_what_to_install_and_exits_2(tmp_path: Path) -> None:
    result = make_system(tmp_path, as_root=False, chromium=tmp_path / "no-chromium")
    assert result.returncode == 2
    (line,) = [line for line in result.stderr.splitlines() if not line.startswith("make:")]
    assert "apt-get install -y chromium" in line and "CHROMIUM_PATH" in line
    assert not (tmp_path / "apt.log").exists()


def test_without_chromium_as_root_installs_it_with_apt_get(tmp_path: Path) -> None:
    chromium = tmp_path / "chromium"
    result = make_system(tmp_path, as_root=True, chromium=chromium)
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "apt.log").read_text().splitlines()
    assert calls[0].startswith("update")
    assert calls[1].startswith("install -y") and calls[1].endswith("chromium")
    assert chromium.is_file()


def test_with_chromium_nothing_is_installed(tmp_path: Path) -> None:
    chromium = tmp_path / "chromium"
    chromium.touch()
    chromium.chmod(0o755)
    result = make_system(tmp_path, as_root=True, chromium=chromium)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "apt.log").exists()


def test_make_test_checks_the_system_before_any_test() -> None:
    outer = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}
    result = subprocess.run(
        ["make", "-n", "test", "CHROMIUM_PATH=/nonexistent", "AS_ROOT="],
        cwd=ROOT,
        env={name: value for name, value in os.environ.items() if name not in outer},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    plan = result.stdout
    assert "apt-get install -y" in plan and "-m pytest" in plan
    assert plan.index("apt-get install -y") < plan.index("-m pytest")


def test_ci_entry_point_only_calls_make_test() -> None:
    lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if not line.startswith("#")]
    assert lines[-1] == "exec make test"
    assert not [line for line in lines if "chromium" in line.lower() or "pytest" in line]
