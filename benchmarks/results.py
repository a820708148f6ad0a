"""Where benchmark results go: a JSON file per benchmark under build/bench/ (git-ignored), and a section of
docs/benchmarks.md only when asked (`--write-docs`, `make bench-docs`)."""

import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parent.parent
RESULTS_DIR: Final = ROOT / "build" / "bench"
DOC: Final = ROOT / "docs" / "benchmarks.md"


def say(text: str, *, result: bool = False) -> None:
    """Print progress to stderr, or the result to stdout."""
    print(text, file=sys.stdout if result else sys.stderr, flush=True)


def cpu_name() -> str:
    """Return the CPU's model name from /proc/cpuinfo (or what platform knows)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    found = (line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    return next(found, platform.processor() or "unknown CPU")


def write_results(name: str, figures: dict[str, Any], *, folder: Path = RESULTS_DIR) -> Path:
    """Write `folder/<name>.json`: the figures with the time, Python and CPU they were measured on."""
    record = {
        "benchmark": name,
        "measured_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpu": cpu_name(),
        **figures,
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def write_section(heading: str, section: str, path: Path = DOC) -> None:
    """Replace the `heading` section (`## ...` to the next `## `) of the document, keeping every other one."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start = text.find(heading + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(heading))
        text = text[:start] + section + ("\n" + text[end + 1 :] if end >= 0 else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def shown(path: Path) -> str:
    """Name a path relative to the project root when it is inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
