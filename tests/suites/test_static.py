"""Static security checks: bandit finds nothing of medium or high severity in the code we ship or run,
and every `# nosec` names the check it silences and says why. (checkov and hadolint run in
tests/suites/test_template.py; ruff and mypy strict in `make lint`.)"""

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

from scripts.local import ROOT

BANDIT: Final = Path(sys.executable).with_name("bandit")
SCANNED: Final = ("functions", "training", "scripts", "benchmarks", "ui", "frontend.py")
NOSEC: Final = re.compile(r"#\s*nosec\b(?P<rest>.*)$")


def bandit(*targets: str | Path) -> dict[str, Any]:
    """Run bandit at medium severity and above; return its JSON report."""
    done = subprocess.run(
        [str(BANDIT), "-r", *map(str, targets), "-ll", "-f", "json", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr  # 1 means findings; anything else is a crash
    report: dict[str, Any] = json.loads(done.stdout)
    assert not report["errors"], report["errors"]
    return report


def test_bandit_finds_no_medium_or_high_issue() -> None:
    report = bandit(*SCANNED)
    findings = [
        f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_severity']}: {r['issue_text']}"
        for r in report["results"]
    ]
    assert findings == []
    assert report["metrics"]["_totals"]["loc"] > 1000  # it really read the code


def test_bandit_catches_an_injected_issue(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(
        "import subprocess\n\n\ndef run(cmd):\n    subprocess.call(cmd, shell=True)\n"
    )
    report = bandit(tmp_path)
    assert [r["test_id"] for r in report["results"]] == ["B602"]


def test_every_nosec_names_its_check_and_says_why() -> None:
    files = [ROOT / SCANNED[-1], *(p for folder in SCANNED[:-1] for p in (ROOT / folder).rglob("*.py"))]
    unjustified = []
    for path in files:
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            found = NOSEC.search(line)
            if found is None:
                continue
            names_check = re.match(r"\s*B\d{3}", found["rest"])
            because = re.sub(r"^\s*(B\d{3}[,\s]*)+", "", found["rest"]).strip(" ()#:-")
            comment_above = number > 0 and lines[number - 1].strip().startswith("#")
            if not names_check or not (because or comment_above):
                unjustified.append(f"{path.relative_to(ROOT)}:{number + 1}: {line.strip()}")
    assert unjustified == []
