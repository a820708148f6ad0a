"""Serve the API (uvicorn) and the UI (Streamlit) on this machine: `make run`, `make api`, `make ui`.

Each server runs in its own session, so Ctrl-C reaches only this script, which stops both in order and
says so in one line each; SIGTERM does the same. Exit status: 0 when stopped by a signal, 1 when a server
exited by itself (its name and status are printed), 2 for bad arguments.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType
from typing import Final

from scripts.local import ROOT

SERVERS: Final = ("api", "ui")
STOP_SECONDS: Final = 10.0


def say(message: str) -> None:
    """Print one line for the user, now."""
    print(message, flush=True)


def api_command(*, host: str, port: int) -> list[str]:
    """Return the uvicorn command line of the API (warnings only; the app logs one line per request)."""
    return [
        *(sys.executable, "-m", "uvicorn", "functions.api.app:get_app", "--factory"),
        *("--host", host, "--port", str(port), "--no-access-log", "--log-level", "warning"),
    ]


def ui_command(*, host: str, port: int) -> list[str]:
    """Return the Streamlit command line of the UI; no file watcher (it would watch .venv too)."""
    return [
        *(sys.executable, "-m", "streamlit", "run", "frontend.py"),
        *("--server.address", host, "--server.port", str(port), "--server.headless", "true"),
        *("--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"),
        *("--client.toolbarMode", "viewer", "--logger.level", "warning"),
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Read the host, the ports and which servers to run."""
    parser = argparse.ArgumentParser(prog="python -m scripts.run_local", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--host", default="127.0.0.1", help="address both servers bind (default: %(default)s)"
    )
    parser.add_argument("--api-port", type=int, default=8000, metavar="PORT", help="default: %(default)s")
    parser.add_argument("--ui-port", type=int, default=8501, metavar="PORT", help="default: %(default)s")
    parser.add_argument("--only", choices=SERVERS, help="run one server (default: both)")
    return parser.parse_args(argv)


def start(args: argparse.Namespace) -> dict[str, subprocess.Popen[bytes]]:
    """Start the servers asked for, each in its own session; print where each one answers."""
    api_url = f"http://{args.host}:{args.api_port}"
    environment = {**os.environ, "LOG_FORMAT": os.environ.get("LOG_FORMAT", "line")}
    if args.only is None or not environment.get("CREDIT_API_URL"):  # `make ui` alone may name another API
        environment["CREDIT_API_URL"] = api_url
    plans = {
        "API": (api_command(host=args.host, port=args.api_port), f"{api_url}/docs"),
        "UI": (ui_command(host=args.host, port=args.ui_port), f"http://{args.host}:{args.ui_port}"),
    }
    started: dict[str, subprocess.Popen[bytes]] = {}
    for name, (command, url) in plans.items():
        if args.only not in (None, name.lower()):
            continue
        started[name] = subprocess.Popen(  # noqa: S603 (our own command line, no shell)
            command, cwd=ROOT, env=environment, start_new_session=True
        )
        say(f"{name}: {url} (pid {started[name].pid})")
    return started


def stop(name: str, process: subprocess.Popen[bytes]) -> None:
    """Stop one server by its PID: SIGTERM, then SIGKILL after STOP_SECONDS; print one line."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    say(f"{name} stopped")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the servers until Ctrl-C or SIGTERM (exit 0) or until one of them exits (exit 1)."""
    args = parse_args(argv)
    signalled: list[int] = []

    def on_signal(number: int, frame: FrameType | None) -> None:
        signalled.append(number)

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, on_signal)
    servers = start(args)
    say("Ctrl-C stops " + ("both." if len(servers) > 1 else "it."))
    exited: tuple[str, int] | None = None
    while not signalled and exited is None:
        time.sleep(0.2)
        exited = next(((n, p.returncode) for n, p in servers.items() if p.poll() is not None), None)
    if exited is not None:
        say(f"{exited[0]} exited by itself with status {exited[1]}; stopping the rest.")
    for name, process in servers.items():
        stop(name, process)
    return 0 if exited is None else 1


if __name__ == "__main__":
    sys.exit(main())
