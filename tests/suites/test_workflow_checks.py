"""The workflows and the Makefile (scripts/workflow_checks.py): steps install what they run, images are built as
Lambda accepts them, Deploy ships the tested commit; and the push step, run with stand-ins for docker and aws."""

import copy
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from scripts.cfn import ROOT
from scripts.workflow_checks import (
    WORKFLOWS,
    build_problems,
    deployed_commit_problems,
    load_workflow,
    step_install_problems,
    steps_of,
    third_party_imports,
)


def step(workflow: dict[str, Any], name: str) -> dict[str, Any]:
    """Return the step of a workflow with this name."""
    (found,) = [s for s in steps_of(workflow) if s.get("name") == name]
    return found


def test_every_step_installs_what_it_runs() -> None:
    for name in ("ci.yml", "deploy.yml", "retrain.yml"):
        assert [p for s in steps_of(load_workflow(name)) for p in step_install_problems(s)] == [], name


def test_smoke_step_without_httpx_is_caught() -> None:
    # N2: the smoke test imports httpx (ui/client.py); the runtime pins alone do not install it.
    assert "httpx" in third_party_imports("scripts.smoke")
    smoke = copy.deepcopy(step(load_workflow("deploy.yml"), "Smoke-test the deployed API"))
    smoke["run"] = smoke["run"].replace("requirements-smoke.txt", "functions/requirements.txt")
    assert "httpx" in " ".join(step_install_problems(smoke))


def test_every_image_build_is_one_lambda_accepts() -> None:
    assert build_problems((WORKFLOWS / "ci.yml").read_text(), "ci.yml") == []
    assert build_problems((ROOT / "Makefile").read_text(), "Makefile") == []
    assert len(build_problems("docker buildx build --platform linux/amd64 \\\n  --load .", "x")) == 1
    assert build_problems("docker build --provenance=false --sbom=false .", "x") == []


def test_deploy_ships_the_commit_ci_tested() -> None:
    deploy = load_workflow("deploy.yml")
    assert deployed_commit_problems(deploy) == []
    broken = copy.deepcopy(deploy)
    checkout = next(s for s in steps_of(broken) if str(s.get("uses", "")).startswith("actions/checkout"))
    checkout["with"]["ref"] = "${{ github.event.workflow_run.head_sha || github.sha }}"
    assert "github.sha" in " ".join(deployed_commit_problems(broken))


# --- the push step, run as GitHub runs it, with docker and aws replaced by recording stand-ins ------------
DOCKER = """#!/bin/sh
echo "docker $*" >> "$CALLS"
[ "$1" = push ] && touch "$STATE/pushed"
exit 0
"""
AWS = """#!/bin/sh
echo "aws $*" >> "$CALLS"
if [ -e "$STATE/pushed" ] || [ -n "$ALREADY_PUSHED" ]; then
  printf 'sha256:%s\\t%s\\n' "$(printf 'a%.0s' $(seq 64))" "$MEDIA_TYPE"
  exit 0
fi
echo "An error occurred (ImageNotFoundException)" >&2
exit 254
"""
MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def run_push(tmp_path: Path, *, already_pushed: bool, media_type: str = MANIFEST) -> tuple[int, str, str]:
    """Run the Deploy workflow's push step; return its exit code, the calls it made and its outputs."""
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    for name, text in (("docker", DOCKER), ("aws", AWS)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    push = step(load_workflow("deploy.yml"), "Push the tested image and resolve its digest")
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "CALLS": str(tmp_path / "calls"),
        "STATE": str(state),
        "ALREADY_PUSHED": "1" if already_pushed else "",
        "MEDIA_TYPE": media_type,
        "REGISTRY": "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        "REPOSITORY": "credit-default",
        "SHA": "0123abc",
        "RUN_ID": "42",
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
    }
    (tmp_path / "calls").touch()
    (tmp_path / "output").touch()
    result = subprocess.run(
        ["bash", "-e", "-c", push["run"]], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    return result.returncode, (tmp_path / "calls").read_text(), (tmp_path / "output").read_text()


IMAGE = "image=123456789012.dkr.ecr.eu-west-1.amazonaws.com/credit-default@sha256:" + "a" * 64


def test_push_step_pushes_a_new_tag_and_reads_the_digest_from_ecr(tmp_path: Path) -> None:
    code, calls, output = run_push(tmp_path, already_pushed=False)
    assert code == 0, calls
    assert calls.count("docker push") == 1
    assert "RepoDigests" not in calls and "aws ecr describe-images" in calls
    assert output.strip() == IMAGE


def test_push_step_rerun_skips_the_push_of_an_immutable_tag(tmp_path: Path) -> None:
    # N4: the repository is IMMUTABLE; a second push of the tag would fail the re-run.
    code, calls, output = run_push(tmp_path, already_pushed=True)
    assert code == 0, calls
    assert "docker push" not in calls
    assert output.strip() == IMAGE


@pytest.mark.parametrize(
    "media_type",
    ["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"],
)
def test_push_step_refuses_an_image_index(tmp_path: Path, media_type: str) -> None:
    code, _, output = run_push(tmp_path, already_pushed=True, media_type=media_type)
    assert code != 0
    assert "image=" not in output
