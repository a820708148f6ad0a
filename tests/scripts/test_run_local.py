"""`make run` (scripts/run_local.py): both servers start on free ports, and Ctrl-C or SIGTERM stops both
cleanly: exit 0, one line per server, no crash, no flood of lines, no server left running."""

import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Final

import pytest

from scripts.local import ROOT, free_port, wait_for
from scripts.run_local import api_command, main, parse_args, start, ui_command

STARTED: Final = re.compile(r"^(API|UI): (\S+) \(pid (\d+)\)$", re.MULTILINE)


def alive(pid: int) -> bool:
    """Whether a process with this PID still exists (a zombie of ours counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split(") ", 1)[1].startswith("Z"))


@pytest.fixture
def run_local() -> Iterator[subprocess.Popen[str]]:
    """Start `python -m scripts.run_local` on two free ports; stop it by PID if the test did not."""
    args = ["--api-port", str(free_port()), "--ui-port", str(free_port())]
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.run_local", *args],
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1", "CREDIT_API_URL": "http://127.0.0.1:9"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_run_stops_both_servers_cleanly(run_local: subprocess.Popen[str], signal_number: int) -> None:
    assert run_local.stdout is not None
    lines = [run_local.stdout.readline() for _ in range(3)]
    started = STARTED.findall("".join(lines))
    assert [name for name, _, _ in started] == ["API", "UI"], lines
    api_url, ui_url = started[0][1].removesuffix("/docs"), started[1][1]
    wait_for(f"{api_url}/v1/health", timeout=60)
    wait_for(f"{ui_url}/_stcore/health", timeout=90)
    with urllib.request.urlopen(f"{api_url}/v1/health", timeout=10) as answer:
        assert answer.status == 200
    run_local.send_signal(signal_number)
    rest, _ = run_local.communicate(timeout=60)
    assert run_local.returncode == 0, rest
    assert rest.count("API stopped") == rest.count("UI stopped") == 1
    assert "Segmentation fault" not in rest and "Traceback" not in rest
    assert rest.count("Stopping...") <= 1
    assert len([line for line in rest.splitlines() if line.strip()]) <= 10, rest
    assert re.search(r"GET /v1/health 200 [\d.]+ ms id=", rest)  # one short log line per request, no JSON
    assert not [pid for _, _, pid in started if alive(int(pid))]


def test_commands_bind_the_host_and_turn_off_streamlit_file_watcher() -> None:
    api = api_command(host="127.0.0.1", port=8123)
    ui = ui_command(host="127.0.0.1", port=8124)
    assert api[api.index("--host") + 1 :][:3] == ["127.0.0.1", "--port", "8123"]
    assert ui[ui.index("--server.fileWatcherType") + 1] == "none"
    assert ui[ui.index("--server.address") + 1] == "127.0.0.1"


def test_server_that_exits_by_itself_gives_status_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        "scripts.run_local.api_command", lambda **_: [sys.executable, "-c", "raise SystemExit(3)"]
    )
    assert main(["--only", "api", "--api-port", str(free_port())]) == 1
    output = capsys.readouterr().out
    assert "API exited by itself with status 3" in output
    assert output.count("API stopped") == 1


@pytest.mark.parametrize(
    ("argv", "api_url"),
    [
        (["--api-port", "8123"], "http://127.0.0.1:8123"),  # run: the UI always talks to the local API
        (["--only", "ui", "--api-port", "8123"], "https://api.example.com"),  # ui alone: the given API
    ],
)
def test_start_points_the_ui_at_the_right_api(
    argv: list[str], api_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: dict[str, dict[str, str]] = {}

    def fake_popen(command: list[str], **kwargs: object) -> SimpleNamespace:
        env = kwargs["env"]
        assert isinstance(env, dict)
        assert kwargs["start_new_session"] is True
        started["ui" if "streamlit" in command else "api"] = env
        return SimpleNamespace(pid=1)

    monkeypatch.setenv("CREDIT_API_URL", "https://api.example.com")
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    monkeypatch.setattr("scripts.run_local.subprocess.Popen", fake_popen)
    start(parse_args(argv))
    assert started["ui"]["CREDIT_API_URL"] == api_url
    assert all(env["LOG_FORMAT"] == "line" for env in started.values())
