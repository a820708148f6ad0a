"""Start and stop local servers on 127.0.0.1 (uvicorn, Streamlit) for tests, benchmarks and demos."""

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, *, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll `url` until it answers (any HTTP status); raises RuntimeError or TimeoutError otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            urllib.request.urlopen(url, timeout=1)  # nosec B310 (callers pass http://127.0.0.1 URLs)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def start_server(args: list[str], url: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a server process from the project root and wait until `url` answers; stop it on failure."""
    process = subprocess.Popen(  # noqa: S603 (arguments built by the caller, no shell)
        args,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(url, process=process)
    except Exception:
        stop(process)
        raise
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process we started, by its PID: terminate, then kill after 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
