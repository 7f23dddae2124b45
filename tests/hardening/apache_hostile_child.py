"""Run one tcpaudit call on a hostile tree in this (child) process and print the outcome as JSON.

``test_apache_hostile.py`` starts this script with ``subprocess`` and a
timeout, so that a hang is a failed test instead of a hung test run, and the
address space is capped with ``RLIMIT_AS`` so that unbounded memory is a
``MemoryError`` here instead of the OOM killer on the CI machine.

Every file opened (``os.open``, ``open``/``io.open``) is recorded with the
real path the kernel opens (``os.path.realpath`` at the moment of the call),
so the parent can check that nothing outside the audited root was opened.

Usage: ``python apache_hostile_child.py '{"mode": "load"|"cli", "root": ..., ...}'``;
mode ``cli`` takes ``"args"`` (one command) or ``"runs"`` (several, in turn).
The last line of stdout is the JSON outcome.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import resource
import sys
import time
import traceback
from typing import Any


def _spy(opened: list[str]) -> None:
    """Record the real file behind every descriptor opened and every directory listed.

    The target is read back from /proc/self/fd once the call succeeded, so
    opens relative to a directory descriptor (``dir_fd``) and through links
    are recorded as what the kernel actually opened.
    """
    real_os_open = os.open
    real_io_open = io.open
    real_listdir = os.listdir
    real_scandir = os.scandir

    def target(descriptor: int) -> str:
        try:
            return os.readlink(f"/proc/self/fd/{descriptor}")
        except OSError:
            return f"<fd {descriptor}>"

    def named(path: Any) -> str:
        if isinstance(path, int):
            return target(path)
        try:
            return os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError, OSError):
            return repr(path)

    def spy_os_open(path: Any, *args: Any, **kwargs: Any) -> int:
        descriptor = real_os_open(path, *args, **kwargs)
        opened.append(target(descriptor))
        return descriptor

    def spy_io_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        stream = real_io_open(file, *args, **kwargs)
        try:
            opened.append(target(stream.fileno()))
        except (AttributeError, ValueError, OSError):
            opened.append(named(file))
        return stream

    def spy_listdir(path: Any = ".") -> list[str]:
        opened.append(named(path))
        return real_listdir(path)

    def spy_scandir(path: Any = ".") -> Any:
        opened.append(named(path))
        return real_scandir(path)

    os.open = spy_os_open
    io.open = spy_io_open  # type: ignore[assignment]
    builtins.open = spy_io_open  # type: ignore[assignment]
    os.listdir = spy_listdir
    os.scandir = spy_scandir  # type: ignore[assignment]


# Taken before the spies replace open(): reading our own status is not the
# audited code opening a file.
_UNSPIED_OPEN = builtins.open


def _peak_mib() -> float:
    """This process's own peak RSS (VmHWM).

    Not getrusage's ru_maxrss: Linux carries the parent's peak across fork and
    execve into it, so a child of a large pytest process would report the
    parent's size.
    """
    with _UNSPIED_OPEN("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


# Outputs are returned whole up to this size (secret checks read all of them).
_OUTPUT_CHARACTERS = 4 * 1024 * 1024


def _invoke(runner: Any, command: Any, args: list[str]) -> dict[str, Any]:
    started = time.perf_counter()
    result = runner.invoke(command, args)
    exception = result.exception
    outcome: dict[str, Any] = {
        "outcome": "cli",
        "pid": os.getpid(),
        "args": args,
        "exit_code": result.exit_code,
        "stdout": result.stdout[-_OUTPUT_CHARACTERS:],
        "stderr": result.stderr[-5000:],
        "exception": None
        if exception is None or isinstance(exception, SystemExit)
        else f"{type(exception).__name__}: {exception!s:.300}",
        "seconds": time.perf_counter() - started,
    }
    if result.exc_info is not None and outcome["exception"] is not None:
        outcome["traceback"] = "".join(traceback.format_exception(*result.exc_info))[-3000:]
    return outcome


def main() -> None:
    request = json.loads(sys.argv[1])
    # Import everything first: the cap and the spy are for the call under test.
    from click.testing import CliRunner

    from tcpaudit.apache.loader import load_apache
    from tcpaudit.cli import cli
    from tcpaudit.errors import ParseError, TcpauditError

    if "max_files_read" in request:  # a lower cap, to test the cap quickly
        from tcpaudit.apache import evaluator

        evaluator.MAX_FILES_READ = int(request["max_files_read"])
    limit = int(request.get("memory", 1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    sys.setrecursionlimit(int(request.get("recursion", 1000)))
    opened: list[str] = []
    outcome: dict[str, Any] = {"opened": opened, "pid": os.getpid()}
    started = time.perf_counter()
    if request["mode"] == "load":
        _spy(opened)
        try:
            config = load_apache(request.get("path"), root=request["root"])
        except TcpauditError as error:
            outcome.update(
                outcome="error",
                type=type(error).__name__,
                message=str(error),
                file=getattr(error, "file", None),
                line=getattr(error, "line", None),
                is_parse_error=isinstance(error, ParseError),
            )
        except MemoryError:  # the bug this harness is for; keep the report small
            outcome.update(outcome="crash", type="MemoryError", message="RLIMIT_AS reached")
        except BaseException as error:  # the bug this harness is for
            outcome.update(outcome="crash", type=type(error).__name__, message=f"{error!s:.300}")
            outcome["traceback"] = traceback.format_exc()[-3000:]
        else:
            outcome["outcome"] = "none" if config is None else "config"
            if config is not None:
                outcome["files"] = config.files
                outcome["settings"] = {
                    name: str(setting.value) for name, setting in config.settings.items()
                }
    else:
        runner = CliRunner()
        _spy(opened)
        runs = []
        for args in request.get("runs", [request.get("args")]):
            first = len(opened)
            runs.append(_invoke(runner, cli, args))
            runs[-1]["opened"] = opened[first:]
        outcome.update(runs[-1])
        outcome["runs"] = runs
    outcome["seconds"] = max(
        [time.perf_counter() - started if request["mode"] == "load" else 0.0]
        + [run["seconds"] for run in outcome.get("runs", [])]
    )
    outcome["peak_mib"] = _peak_mib()
    sys.stdout.write("\n" + json.dumps(outcome) + "\n")


if __name__ == "__main__":
    main()
