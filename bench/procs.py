"""Child processes of the bench: started with their output in a log file, waited for
until an HTTP endpoint answers 200, and always stopped (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Child:
    name: str
    popen: subprocess.Popen
    log_path: Path


def free_port(preferred: int | None = None) -> int:
    """`preferred` if nothing listens there, else a port the kernel picks. SO_REUSEADDR as
    gunicorn sets it: connections of a previous run in TIME_WAIT do not make a port busy."""
    for candidate in ([preferred] if preferred else []) + [0]:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError("no free port")


def start(name: str, args: list[str], env: dict, log_dir: Path) -> Child:
    """Run `python args...` from the repository root in its own process group."""
    log_path = log_dir / f"{name}.log"
    with open(log_path, "wb") as log_file:
        popen = subprocess.Popen(
            [sys.executable, *args],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Child(name, popen, log_path)


def wait_http_ok(child: Child, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    last_error = "no answer"
    while time.monotonic() < deadline:
        if child.popen.poll() is not None:
            raise RuntimeError(
                f"{child.name} exited with {child.popen.returncode}; see {child.log_path}:\n"
                + tail(child.log_path)
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
                last_error = f"HTTP {response.status}"
        except Exception as exc:  # refused while starting, 503 while not ready
            last_error = repr(exc)
        time.sleep(0.3)
    raise RuntimeError(
        f"{child.name}: {url} not 200 within {timeout:.0f}s ({last_error}); see {child.log_path}"
    )


def stop_all(children: list[Child], grace: float = 15) -> None:
    """SIGTERM each (gunicorn masters stop their workers), then SIGKILL what is left of
    each child's own process group."""
    for child in children:
        if child.popen.poll() is None:
            child.popen.terminate()
    deadline = time.monotonic() + grace
    for child in children:
        try:
            child.popen.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _kill_group(child)


def _kill_group(child: Child) -> None:
    """Only while the child is unreaped, so its pid (= its group's id) cannot be reused."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.popen.pid, signal.SIGKILL)
    try:
        child.popen.wait(5)
    except subprocess.TimeoutExpired:
        print(f"bench: warning: {child.name} (pid {child.popen.pid}) did not stop", file=sys.stderr)


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
