"""Checks of the GitHub workflows and the Makefile that actionlint does not make: what a step installs covers what
it runs, every image build is one Lambda accepts, and the Deploy workflow ships the commit CI tested.

Each returns a list of problems (empty when the files are right), so a test can feed it a broken copy.
"""

import ast
import importlib.metadata
import re
import sys
from pathlib import Path
from typing import Any, Final

import yaml

from scripts.cfn import ROOT

WORKFLOWS: Final = ROOT / ".github" / "workflows"
LOCAL_PACKAGES: Final = frozenset({"functions", "scripts", "ui", "training", "benchmarks"})
LAMBDA_BUILD_FLAGS: Final = ("--provenance=false", "--sbom=false")  # else an image index Lambda rejects


def load_workflow(name: str) -> dict[str, Any]:
    """Load a GitHub workflow; YAML 1.1 reads the `on` key as True, so it is renamed back."""
    loaded: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    loaded["on"] = loaded.pop(True, loaded.get("on"))
    return loaded


def steps_of(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    """Return every step of every job of a workflow."""
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def module_file(module: str) -> Path | None:
    """Return the source file of a module of this repository, or None for any other module."""
    base = ROOT.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def third_party_imports(module: str) -> set[str]:
    """Return the top-level names of the packages a module of this repository imports, following its own imports."""
    seen: set[str] = set()
    found: set[str] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        path = module_file(name)
        if name in seen or path is None:
            continue
        seen.add(name)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in imported:
                top = target.split(".")[0]
                if top in LOCAL_PACKAGES:
                    pending.append(target)
                elif top not in sys.stdlib_module_names:
                    found.add(top)
    return found


def requirement_names(path: Path) -> set[str]:
    """Return the normalised distribution names a requirements file installs, following its `-r` includes."""
    names: set[str] = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            names |= requirement_names(path.parent / line[3:].strip())
        elif line and not line.startswith("-"):
            names.add(normalise(re.split(r"[\[=<>~! ;]", line, maxsplit=1)[0]))
    return names


def normalise(name: str) -> str:
    """Normalise a distribution name (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def install_problems(module: str, requirement_files: list[Path]) -> list[str]:
    """List packages `python -m module` imports that the requirement files do not install."""
    installed: set[str] = set()
    for path in requirement_files:
        installed |= requirement_names(path)
    distributions = importlib.metadata.packages_distributions()
    problems = []
    for top in sorted(third_party_imports(module)):
        names = {normalise(name) for name in distributions.get(top, [top])}
        if not names & installed:
            files = ", ".join(path.relative_to(ROOT).as_posix() for path in requirement_files)
            problems.append(
                f"{module} imports {top} ({', '.join(sorted(names))}), which {files} does not install"
            )
    return problems


def step_install_problems(step: dict[str, Any]) -> list[str]:
    """List what a step's bare `python -m MODULE` runs that its `pip install -r FILE` does not install.

    `.venv/bin/python` (built by `make install`) is not a bare python: it has every development pin.
    """
    script = step.get("run", "")
    files = [ROOT / name for name in re.findall(r"pip install [^\n]*?-r (\S+)", script)]
    problems = []
    for module in re.findall(r"(?<![\w/.-])python -m ([\w.]+)", script):
        if module_file(module) is not None:
            problems += install_problems(module, files)
    return problems


def build_commands(text: str) -> list[str]:
    """Return each `docker build` / `docker buildx build` command of a script or Makefile, continuations joined."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return re.findall(r"docker (?:buildx )?build\b[^\n]*", joined)


def build_problems(text: str, where: str) -> list[str]:
    """List image builds without the flags that keep the pushed digest a plain image manifest."""
    return [
        f"{where}: `{command[:60]}…` lacks {' '.join(flag for flag in LAMBDA_BUILD_FLAGS if flag not in command)}"
        " (the containerd image store pushes an image index with attestations, which Lambda rejects)"
        for command in build_commands(text)
        if not all(flag in command for flag in LAMBDA_BUILD_FLAGS)
    ]


def deployed_commit_problems(deploy: dict[str, Any]) -> list[str]:
    """List places where the Deploy workflow uses the dispatching commit instead of the one CI tested."""
    problems = []
    for step in steps_of(deploy):
        text = yaml.safe_dump(step)
        if "github.sha" in text:
            problems.append(
                f"step {step.get('name') or step.get('uses')}: uses github.sha, not the tested run's commit"
            )
        if str(step.get("uses", "")).startswith("actions/checkout") and "steps.run.outputs.sha" not in text:
            problems.append("the checkout does not take the commit of the CI run being deployed (steps.run)")
    return problems
