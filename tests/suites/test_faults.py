"""Faults: damaged artifacts through the app, a read-only filesystem, personal data in logs, and an audit
store outage with the real retry configuration.

Complements tests/scoring/test_model.py (load_model refuses damaged files) and tests/audit/test_stores.py (each fault
code fails closed once): here the whole app is observed under each fault, timed and logged.
"""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import pytest
from fastapi.testclient import TestClient

from functions.config import MODEL_DIR
from scripts.local import ROOT
from training.synthetic import HIGH_RISK, TYPICAL

TABLE: Final = "credit-default-audit"
HASH_KEY: Final = "k" * 40


# --- artifact faults ---------------------------------------------------------------------------------


def flip_byte(model_dir: Path) -> None:
    data = bytearray((model_dir / "serving.npz").read_bytes())
    data[len(data) // 2] ^= 0x01
    (model_dir / "serving.npz").write_bytes(bytes(data))


def truncate(model_dir: Path) -> None:
    data = (model_dir / "serving.npz").read_bytes()
    (model_dir / "serving.npz").write_bytes(data[: len(data) // 2])


def remove(model_dir: Path) -> None:
    (model_dir / "serving.npz").unlink()


def edit_manifest(model_dir: Path, change: Callable[[dict[str, Any]], None]) -> None:
    manifest = json.loads((model_dir / "model.json").read_text())
    change(manifest)
    (model_dir / "model.json").write_text(json.dumps(manifest))


def wrong_hash(model_dir: Path) -> None:
    edit_manifest(model_dir, lambda m: m["artifacts"].update({"serving.npz": "0" * 64}))


def wrong_numpy(model_dir: Path) -> None:
    edit_manifest(model_dir, lambda m: m["libraries"].update({"numpy": "1.26.4"}))


DAMAGES: Final = {
    "flipped byte": (flip_byte, "serving.npz", "does not match the manifest"),
    "truncated file": (truncate, "serving.npz", "does not match the manifest"),
    "missing file": (remove, "serving.npz", "missing"),
    "manifest hash mismatch": (wrong_hash, "serving.npz", "does not match the manifest"),
    "wrong library version": (wrong_numpy, "model.json", "built with numpy 1.26.4"),
}
_watching: list[str] = []  # audit events seen while a test watches for unpickling


def _watch(event: str, args: tuple[Any, ...]) -> None:
    if _watching and event == "pickle.find_class":
        _watching.append(f"{event} {args[:2]}")
    elif _watching and event == "open" and str(args[0]).endswith((".joblib", ".pkl", ".pickle")):
        _watching.append(f"open {args[0]}")


sys.addaudithook(_watch)  # audit hooks cannot be removed; this one only records while `_watching` is on


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_artifact_refuses_to_serve_with_one_log_line(
    client: TestClient,
    configure: Callable[..., None],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    damage: str,
) -> None:
    spoil, name, problem = DAMAGES[damage]
    model_dir = tmp_path / "model"
    shutil.copytree(MODEL_DIR, model_dir)
    spoil(model_dir)
    configure(MODEL_DIR=str(model_dir))
    _watching.append("on")
    try:
        answers = [
            client.get("/v1/health"),
            client.post("/v1/predict", json=TYPICAL),
            client.post("/v1/predict/batch", json={"applicants": [TYPICAL, HIGH_RISK]}),
            client.get("/v1/model"),
        ]
    finally:
        seen, _watching[:] = _watching[1:], []
    assert seen == [], "nothing may be unpickled or a pickle opened while serving"
    for answer in answers:
        assert answer.status_code == 503
        error = answer.json()["error"]
        assert error["code"] == "model_unavailable"
        assert name in error["message"]
        assert "probability_of_default" not in answer.text
    logged = [line for line in capsys.readouterr().out.splitlines() if "model unavailable" in line]
    assert len(logged) == 1, logged
    assert name in logged[0]
    assert problem in logged[0]


def test_healthy_copy_serves(client: TestClient, configure: Callable[..., None], tmp_path: Path) -> None:
    # The control for the damages above: the copy itself, undamaged, serves.
    shutil.copytree(MODEL_DIR, tmp_path / "model")
    configure(MODEL_DIR=str(tmp_path / "model"))
    assert client.get("/v1/health").status_code == 200
    assert client.post("/v1/predict", json=TYPICAL).status_code == 200


# --- read-only filesystem ----------------------------------------------------------------------------

# Runs in a fresh process. An audit hook refuses every write outside TMPDIR with EROFS, as Lambda's
# read-only filesystem does; chmod alone would not stop root. It then serves two events and reports.
READ_ONLY_RUNNER: Final = r"""
import errno, json, os, sys
writable = os.path.realpath(os.environ["TMPDIR"])
blocked = []
WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def outside(path):
    if isinstance(path, int):
        return False
    real = os.path.realpath(os.fsdecode(path))
    return not (real == writable or real.startswith(writable + os.sep) or real == "/dev/null")


def read_only(event, args):
    if event == "open":
        path, mode, flags = args
        writes = (mode is not None and any(c in str(mode) for c in "wax+")) or (
            mode is None and isinstance(flags, int) and flags & WRITE
        )
        if writes and outside(path):
            blocked.append(os.fsdecode(path))
            raise OSError(errno.EROFS, "Read-only file system", path)
    elif event in ("os.mkdir", "os.remove", "os.rmdir", "os.rename", "os.replace", "os.truncate",
                   "os.chmod", "os.symlink", "os.link", "os.utime"):
        if args and outside(args[0]):
            blocked.append(f"{event} {args[0]}")
            raise OSError(errno.EROFS, "Read-only file system", args[0])


sys.addaudithook(read_only)
try:
    open(os.path.join(sys.argv[1], "probe"), "w")
except OSError as err:
    probe = err.errno
else:
    probe = None
from functions.api.app import handler
answers = {}
for name in sys.argv[2:]:
    with open(os.path.join(sys.argv[1], "events", name + ".json")) as handle:
        answers[name] = handler(json.load(handle), None)["statusCode"]
print("RESULT " + json.dumps({"probe": probe, "answers": answers, "blocked": blocked}))
"""


def test_handler_serves_with_only_tmp_writable(tmp_path: Path) -> None:
    task = tmp_path / "task"
    for folder in ("functions", "model", "events"):
        shutil.copytree(ROOT / folder, task / folder, ignore=shutil.ignore_patterns("__pycache__"))
    writable = tmp_path / "tmp"
    writable.mkdir()
    for path in [task, *task.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(task),
        "HOME": str(writable),
        "TMPDIR": str(writable),
        "OMP_NUM_THREADS": "1",
        "AWS_LAMBDA_FUNCTION_NAME": "credit-default-scoring",
    }
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                READ_ONLY_RUNNER,
                str(task),
                "rest-health",
                "rest-predict",
                "http-predict",
            ],
            cwd=task,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        for path in [task, *task.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-2000:]
    result = json.loads(lines[0][len("RESULT ") :])
    assert result["probe"] == 30  # errno.EROFS: the guard really refuses writes outside TMPDIR
    assert result["answers"] == {"rest-health": 200, "rest-predict": 200, "http-predict": 200}
    # Besides the probe, only bytecode caches were refused (Python skips those silently), so the app
    # itself never tries to write outside TMPDIR.
    others = [path for path in result["blocked"] if not path.endswith("probe")]
    assert all("__pycache__" in path for path in others), others
