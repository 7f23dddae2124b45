"""The loader's memory guard: what it counts from.

A command counts from its start (``count_memory_from_now``), so what it read
before the configuration (a 64 MiB baseline) counts toward the load's bound;
a library call counts from the load's own start.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    from tcpaudit.apache import memory
    from tcpaudit.errors import ApacheConfigError

    if {command}:
        memory.count_memory_from_now()
    held = bytearray(96 * 1024 * 1024)  # read before the load, still held
    held[::4096] = b"x" * len(held[::4096])  # touched: resident
    guard = memory.MemoryGuard(limit=64 * 1024 * 1024)
    try:
        guard.check("httpd.conf", 1)
    except ApacheConfigError as error:
        print("stopped:", error)
    else:
        print("went on")
    """
)


def _probe(command: bool) -> str:
    # A process of its own: the count's start is global to the process.
    code = PROBE.format(command=command)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_a_command_counts_what_it_read_before_the_load() -> None:
    assert _probe(command=True).startswith(
        "stopped: httpd.conf:1: reading the configuration takes more than 64 MiB"
    )


def test_a_library_load_counts_from_its_own_start() -> None:
    assert _probe(command=False) == "went on"
