"""Build the Lambda task root as the Dockerfile does, and resolve it for the image's Python without running it.

Task roots of functions/requirements.txt, one set of pins:
- for the running CPython (3.11 here, 3.11 and 3.13 in GitHub CI) with manylinux2014 wheels, executed with
  `python -I -S` so it sees nothing of the dev venv;
- for the image's CPython 3.13 (Amazon Linux 2023, glibc 2.34: manylinux_2_28 wheels), executed by a CPython 3.13
  found on this machine (`image_python`: pyenv's, or python3.13 on PATH); and resolved with `pip --dry-run`, so a
  pin without a wheel there fails here, before Docker ever runs.
"""

import fcntl
import fnmatch
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

from scripts.cfn import load_template

ROOT: Final = Path(__file__).resolve().parent.parent
REQUIREMENTS: Final = ROOT / "functions" / "requirements.txt"
BUILD: Final = ROOT / "build"
# Executed by tests/suites/test_taskroot.py and tests/suites/test_image_runtime.py with the running interpreter, so its wheels must be for that Python.
RUNNING_PYTHON: Final = f"{sys.version_info.major}.{sys.version_info.minor}"
PLATFORM_FLAGS: Final = (
    "--platform",
    "manylinux2014_x86_64",
    "--python-version",
    RUNNING_PYTHON,
    "--only-binary=:all:",
)
# The image: public.ecr.aws/lambda/python:3.13 (Amazon Linux 2023, glibc 2.34). Both tags, because some
# wheels carry only the older manylinux2014 name.
IMAGE_PYTHON: Final = "3.13"
IMAGE_PLATFORM_FLAGS: Final = (
    "--platform",
    "manylinux_2_28_x86_64",
    "--platform",
    "manylinux2014_x86_64",
    "--python-version",
    IMAGE_PYTHON,
    "--only-binary=:all:",
)
DEV_REQUIREMENTS: Final = ROOT / "requirements-dev.txt"
PIP: Final = (sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-cache-dir")


def pip_problems(stderr: str) -> str:
    """Return pip's error output without the warnings about unreachable local indexes."""
    return "\n".join(line for line in stderr.splitlines() if not line.startswith("WARNING: Location"))


def platform_flags(python: str) -> tuple[str, ...]:
    """Return pip's platform flags for a task root of this Python version (the image's platform for 3.13)."""
    return IMAGE_PLATFORM_FLAGS if python == IMAGE_PYTHON else PLATFORM_FLAGS


def install_dependencies(target: Path, python: str = RUNNING_PYTHON, *requirements: str) -> None:
    """Install functions/requirements.txt (or the given requirements) into target for a Python; raise on failure."""
    wanted = list(requirements) or ["-r", str(REQUIREMENTS)]
    command = [*PIP, "--quiet", "--target", str(target), *platform_flags(python), *wanted]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)  # noqa: S603 (fixed pip arguments)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(wanted)} does not install as binary wheels for Python {python}:\n"
            + pip_problems(result.stderr)[-3000:]
        )


def image_python() -> Path:
    """Return a CPython 3.13 to run the image's task root with: IMAGE_PYTHON_BIN, pyenv's, or python3.13 on PATH."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates = [os.environ.get("IMAGE_PYTHON_BIN")]
    candidates += sorted(
        str(p) for p in pyenv_root.glob(f"versions/{IMAGE_PYTHON}.*/bin/python{IMAGE_PYTHON}")
    )
    candidates.append(shutil.which(f"python{IMAGE_PYTHON}"))
    for candidate in candidates:
        # pyenv's shims run only the versions pyenv has selected: the version's own binary, never the shim.
        if candidate and Path(candidate).is_file() and "/shims/" not in candidate:
            return Path(candidate)
    raise FileNotFoundError(
        f"no CPython {IMAGE_PYTHON} to run the image's task root: `pyenv install {IMAGE_PYTHON}`, or put "
        f"python{IMAGE_PYTHON} on PATH, or set IMAGE_PYTHON_BIN"
    )


def interpreter(python: str) -> str:
    """Return the interpreter that runs a task root of this Python version."""
    return sys.executable if python == RUNNING_PYTHON else str(image_python())


def awslambdaric_dir(python: str) -> Path:
    """Return awslambdaric (the pin of requirements-dev.txt) installed for a Python, once, under build/."""
    (pin,) = re.findall(r"^awslambdaric==\S+", DEV_REQUIREMENTS.read_text(), re.MULTILINE)
    return built_once(f"awslambdaric-py{python.replace('.', '')}-{pin.split('==')[1]}", python, pin)


def dependencies_dir(python: str = RUNNING_PYTHON) -> Path:
    """Return the installed dependencies for a Python, built once per requirements hash under build/."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:16]
    return built_once(f"taskroot-py{python.replace('.', '')}-{digest}", python)


def built_once(name: str, python: str, *requirements: str) -> Path:
    """Return build/NAME with the requirements installed for a Python, installing them the first time."""
    folder = BUILD / name
    BUILD.mkdir(exist_ok=True)
    # pytest runs on several workers: one builds, the others wait on the lock and then reuse the build.
    with (BUILD / f"{folder.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".complete").exists():
            partial = folder.with_name(folder.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            install_dependencies(partial, python, *requirements)
            (partial / ".complete").touch()
            shutil.rmtree(folder, ignore_errors=True)
            partial.rename(folder)
    return folder


def dockerignore_patterns() -> list[str]:
    """Return the .dockerignore patterns in order, comments and blank lines dropped."""
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def docker_ignores(relative: str, patterns: list[str]) -> bool:
    """Tell whether Docker leaves a context path out: the last pattern matching it or a parent wins."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[:end]) for end in range(1, len(parts) + 1)]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern.removeprefix("!").rstrip("/")
        variants = {body, body.replace("**/", "")}  # Docker's ** also matches no folder at all
        if any(fnmatch.fnmatchcase(prefix, variant) for prefix in prefixes for variant in variants):
            ignored = not negated
    return ignored


def copy_like_docker(source: Path, target: Path) -> None:
    """Copy a folder of the build context as `COPY` would, leaving out what .dockerignore excludes."""
    patterns = dockerignore_patterns()
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(ROOT).as_posix()
        if path.is_file() and "__pycache__" not in path.parts and not docker_ignores(relative, patterns):
            destination = target / path.relative_to(source.parent)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)


def function_environment(task_root: Path) -> dict[str, str]:
    """Return the function's environment from template.yaml, audit off (no table, no secret) and no AWS."""
    template = load_template()
    variables = template["Resources"]["ScoringFunction"]["Properties"]["Environment"]["Variables"]
    parameters = template["Parameters"]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LAMBDA_TASK_ROOT": str(task_root),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "credit-default-scoring",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
    }
    for name, value in variables.items():
        if isinstance(value, str):
            env[name] = value
        elif set(value) == {"Ref"} and value["Ref"] in parameters:
            env[name] = str(parameters[value["Ref"]]["Default"])
    return env


def build_task_root(python: str = RUNNING_PYTHON) -> Path:
    """Return the task root as the image gets it: the cached dependencies, then functions/ and model/ copied anew."""
    folder = dependencies_dir(python)
    for name in ("functions", "model"):
        shutil.rmtree(folder / name, ignore_errors=True)
        copy_like_docker(ROOT / name, folder)
    return folder


def resolve_for_image(requirements: Path = REQUIREMENTS) -> dict[str, str]:
    """Resolve requirements for the image's Python and platform without installing; return name -> wheel file."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        command = [
            *PIP,
            "--quiet",
            "--dry-run",
            "--ignore-installed",
            "--report",
            str(report),
            "--target",
            str(Path(scratch) / "target"),
            *IMAGE_PLATFORM_FLAGS,
            "-r",
            str(requirements),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)  # noqa: S603 (fixed pip arguments)
        if result.returncode != 0:
            raise RuntimeError(
                f"{requirements.name} has no wheel set for CPython {IMAGE_PYTHON} on manylinux_2_28_x86_64 "
                f"(the image's platform):\n" + pip_problems(result.stderr)[-3000:]
            )
        installs = json.loads(report.read_text())["install"]
    return {
        item["metadata"]["name"].lower().replace("_", "-"): item["download_info"]["url"].rsplit("/", 1)[-1]
        for item in installs
    }
