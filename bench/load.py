"""HTTP load with wrk: POST the same JSON body over N keep-alive connections and count
only the 201 answers (the Lua `response` hook), whatever else came back."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

API_KEY = "ld_bench_key_not_secret_0001"  # the services' demo gateway key during the bench
AUTH = {"Authorization": f"Bearer {API_KEY}"}
SUBMISSION = {
    "channel": "hotline",
    "description": "楼道堆放杂物",
    "category": "property_management",
    "location": {
        "street": "baianba",
        "community": "baian",
        "compound": "baian-xincun",
        "building": "__N__",
    },
    "reporter": {"name": "张三", "phone": "13800000000"},
}


def submission(n) -> dict:
    """Each submission at its own building: the same problem at one building would be linked
    to the first as a duplicate (and never dispatched), which is not the load we mean."""
    return {**SUBMISSION, "location": {**SUBMISSION["location"], "building": str(n)}}


# One Lua state per wrk thread: each counts its own 201s; done() adds them up. Every request
# names its own building (the run's tag, thread id and a counter), for the reason
# submission() gives: without the tag, a run's issues would duplicate the run's before it.
_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
local template = [==[%(body)s]==]
local threads = {}
function setup(thread) thread:set("thread_id", #threads) table.insert(threads, thread) end
function init(args) created = 0 counter = 0 tag = args[1] or "" end
function request()
  counter = counter + 1
  local body = template:gsub("__N__", "w" .. tag .. thread_id .. "-" .. counter)
  return wrk.format(nil, nil, nil, body)
end
function response(status, headers, body)
  if status == 201 then created = created + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("created") end
  local e = summary.errors
  io.write(string.format("BENCH created=%%d requests=%%d duration_us=%%d socket_errors=%%d\\n",
    total, summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass
class LoadResult:
    created: int
    requests: int
    seconds: float
    socket_errors: int

    @property
    def created_per_second(self) -> float:
        return self.created / self.seconds if self.seconds else 0.0


def ensure_wrk() -> str:
    """The wrk binary; installed with apt-get when missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise RuntimeError(
            "wrk is not installed: run `sudo apt-get install -y wrk` (Debian/Ubuntu)"
        )
    print(
        "bench: wrk is missing; installing it: apt-get install -y wrk", file=sys.stderr, flush=True
    )
    quiet = {
        "stdout": subprocess.DEVNULL,
        "env": {**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    }
    if subprocess.run(["apt-get", "install", "-y", "wrk"], **quiet).returncode != 0:
        subprocess.run(["apt-get", "update"], check=True, **quiet)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, **quiet)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("apt-get installed wrk but it is not on PATH")
    return found


def write_script(directory: Path, body: dict = SUBMISSION) -> Path:
    path = directory / "post_submission.lua"
    path.write_text(
        _SCRIPT % {"body": json.dumps(body, ensure_ascii=False), "key": API_KEY}, encoding="utf-8"
    )
    return path


def run_wrk(
    wrk: str, script: Path, url: str, seconds: float, connections: int, threads: int
) -> LoadResult:
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        url,
        "--",
        uuid.uuid4().hex[:8],  # this run's tag
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    match = re.search(
        r"BENCH created=(\d+) requests=(\d+) duration_us=(\d+) socket_errors=(\d+)",
        completed.stdout,
    )
    if completed.returncode != 0 or not match:
        raise RuntimeError(
            f"wrk failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
        )
    created, requests, duration_us, socket_errors = map(int, match.groups())
    return LoadResult(created, requests, duration_us / 1e6, socket_errors)
