"""Run one tcpaudit command in a child process, capped, timed and watched for opened files.

Shared by the hardening tests: the command runs in ``apache_hostile_child.py``
(mode ``cli``) with ``RLIMIT_AS`` of 1 GiB and a timeout, so a hang or
unbounded memory is a failed test, not a hung or killed test run. The child
records the real target of every descriptor it opened and every directory
it listed (read back from /proc/self/fd).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import tcpaudit
from tcpaudit.engine.catalogue import bundled_rules_dir

__all__ = [
    "GIB",
    "SAFE_SECONDS",
    "assert_one_error_line",
    "cli_in_child",
    "clis_in_child",
    "opened_outside",
]

HERE = Path(__file__).resolve().parent
CHILD = HERE / "apache_hostile_child.py"
GIB = 1 << 30
# The promise for inputs of the documented sizes: under 30 s and 1 GiB. The
# machine running the tests is shared, so this is a safety bound, not a speed claim.
SAFE_SECONDS = 30
# What tcpaudit may read outside an audited root: its own code, rules and
# the interpreter's modules (commands import what they use when they run).
_OWN_DIRECTORIES = (
    str(Path(tcpaudit.__file__).resolve().parent),
    str(bundled_rules_dir().resolve()),
    str(Path(sys.prefix).resolve()),
    str(Path(sys.base_prefix).resolve()),
    f"/proc/{os.getpid()}",  # replaced in the child by its own, see opened_outside
)
_OWN_FILES = ("/dev/null", "pipe:[")


def cli_in_child(
    args: list[str],
    cwd: Path,
    timeout: float = 2 * SAFE_SECONDS,
    memory: int = GIB,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run ``tcpaudit ARGS`` in a child; a timeout or a dead child fails the test.

    ``seconds`` is the time the command took; the child's address space is
    capped at ``memory`` (a MemoryError fails the test).
    """
    return clis_in_child([args], cwd, timeout, memory, env)


def audit_in_child(root: Path, cwd: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``tcpaudit audit --format json`` of ``root`` in a child (clis_in_child):
    its outcome and the report it wrote, after checking it exited 1 (findings)
    within SAFE_SECONDS."""
    report = cwd / "report.json"
    (run,) = clis_in_child(
        [["audit", "--root", str(root), "--format", "json", "-o", str(report)]], cwd
    )["runs"]
    assert run["exit_code"] == 1, run["stderr"]
    assert run["seconds"] < SAFE_SECONDS
    return run, json.loads(report.read_text())


def clis_in_child(
    runs: list[list[str]],
    cwd: Path,
    timeout: float = 2 * SAFE_SECONDS,
    memory: int = GIB,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run several commands in turn in one child; ``runs`` holds each one's outcome.

    ``seconds`` is the longest command's time.
    """
    args = runs[-1]
    request = {"mode": "cli", "runs": runs, "memory": memory}
    try:
        process = subprocess.run(
            [sys.executable, str(CHILD), json.dumps(request)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            env={**os.environ, **(env or {})},
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"no answer within {timeout} s: a hang or unbounded work ({args})")
    assert process.returncode == 0, process.stderr[-3000:]
    outcome: dict[str, Any] = json.loads(process.stdout.splitlines()[-1])
    for run in outcome["runs"]:
        assert run["exception"] is None, run.get("traceback") or run["exception"]
    return outcome


def opened_outside(outcome: dict[str, Any], *roots: Path) -> list[str]:
    """What the child (or one of its runs) opened or listed that is neither in ``roots``
    nor tcpaudit's own."""
    inside = [str(root.resolve()) for root in roots]
    inside += [*_OWN_DIRECTORIES[:-1], f"/proc/{outcome.get('pid', os.getpid())}"]
    return [
        path
        for path in outcome["opened"]
        if not path.startswith(_OWN_FILES)
        and not any(path == root or path.startswith(root + "/") for root in inside)
    ]


def assert_one_error_line(outcome: dict[str, Any], *needles: str) -> str:
    """Exit 2 with one ``tcpaudit: error:`` line on stderr holding every needle."""
    assert outcome["exit_code"] == 2, outcome
    lines = outcome["stderr"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tcpaudit: error: "), lines
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]
