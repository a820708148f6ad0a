"""Measure the Lambda task root: ours against a reference-style stack built the same way; write docs/benchmarks.md.

python -m benchmarks.taskroot [--no-write]

Both are built as the Dockerfile builds ours: `pip install --target DIR --platform manylinux2014_x86_64
--python-version 3.11 --only-binary=:all:`, then the code and model are added (ours: functions/ and the
serving files of model/; reference: a joblib RandomForest of 100 trees is not added, only its libraries).
The reference installs fastapi, mangum and pydantic at our pins, the same AWS SDK and Powertools pins,
plus pandas, joblib and scikit-learn (the newest releases pip finds for that platform).
"""

import argparse
import re
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from functions.scoring.manifest import SERVING_FILES
from scripts.taskroot import PLATFORM_FLAGS, dependencies_dir

ROOT: Final = Path(__file__).resolve().parent.parent
DOC: Final = ROOT / "docs" / "benchmarks.md"
HEADING: Final = "## Lambda task root"
SHARED: Final = ("fastapi", "mangum", "pydantic", "aws-lambda-powertools", "boto3")


def say(message: str) -> None:
    """Print one line of the CLI."""
    print(message, flush=True)


def pins() -> dict[str, str]:
    """Return our runtime pins from functions/requirements.txt."""
    found = {}
    for line in (ROOT / "functions" / "requirements.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", line)
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def install(target: Path, requirements: list[str]) -> None:
    """Install requirements for the Lambda platform into target, with the flags the task-root test uses."""
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target"]
    subprocess.run([*pip, str(target), *PLATFORM_FLAGS, *requirements], check=True)


def megabytes(folder: Path) -> float:
    """Return the size of every file under folder, in MB (10^6 bytes)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def largest(folder: Path, *, count: int = 4) -> str:
    """Name the largest top-level entries of a task root."""
    sizes = sorted(
        ((megabytes(p) if p.is_dir() else p.stat().st_size / 1e6, p.name) for p in folder.iterdir()),
        reverse=True,
    )
    return ", ".join(f"{name} {size:.1f}" for size, name in sizes[:count])


def measure() -> dict[str, tuple[float, str]]:
    """Measure our task root (the test's cached build) and a reference one built now; return sizes and largest parts."""
    ours = pins()
    say("our task root: the dependencies scripts/taskroot.py builds for the tests (cached under build/)")
    ours_root = dependencies_dir()
    code = megabytes(ROOT / "functions")
    model = sum((ROOT / "model" / name).stat().st_size for name in ("model.json", *SERVING_FILES)) / 1e6
    with tempfile.TemporaryDirectory() as scratch:
        reference_root = Path(scratch) / "reference"
        say("building the reference-style task root")
        install(
            reference_root,
            [*(f"{name}=={ours[name]}" for name in SHARED), "pandas", "joblib", "scikit-learn"],
        )
        return {
            "ours": (megabytes(ours_root) + code + model, largest(ours_root)),
            "reference": (megabytes(reference_root), largest(reference_root)),
        }


def render(results: dict[str, tuple[float, str]]) -> str:
    """Return the docs section."""
    ours, reference = results["ours"][0], results["reference"][0]
    verdict = "met" if ours <= 0.6 * reference else "**missed**"
    return "\n".join(
        [
            HEADING,
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `python -m benchmarks.taskroot` (installs from PyPI).",
            "",
            "| task root | size (MB) | largest parts (MB) |",
            "| --- | --- | --- |",
            f"| ours: functions/requirements.txt + functions/ + model serving files | {ours:.1f} | {results['ours'][1]} |",
            f"| reference style: + pandas, joblib, scikit-learn (no model) | {reference:.1f} | {results['reference'][1]} |",
            "",
            f"Ratio {ours / reference:.2f} (target <= 0.6): {verdict}. The image adds the same base layer to both.",
            "",
        ]
    )


def write(section: str) -> None:
    """Replace (or append) this section of docs/benchmarks.md, keeping the others."""
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n\n"
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    DOC.write_text(text)


def main(argv: list[str] | None = None) -> int:
    """Measure, print and (unless --no-write) record the task-root sizes."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    section = render(measure())
    say(section)
    if not args.no_write:
        write(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
