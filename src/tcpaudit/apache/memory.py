"""How much memory reading a configuration has taken, to stop before it takes too much.

The bounds on files (64 MiB each, 200,000 of them) leave room for a
configuration whose tree needs gigabytes: 64 MiB of ``Timeout 1`` lines is
6.7 million directives (1.7 GB), 64 MiB of two-letter words 21 million
strings. Counting lines or words would refuse large real configurations
whose directives are bigger; the resident memory the load has added is what
the promise is about (SECURITY.md: under 1 GiB), so that is what is checked,
every 65,536 lines, every 256 files, and before a line of over a million
characters is split into words.

Time is checked at the same places: lines that add no memory can still take
long (256 MiB of comments is 134 million lines; an ``IncludeOptional`` of a
missing file costs about 40 microseconds a line), so a load that has used
more than MAX_LOAD_CPU_SECONDS of CPU time stops there too. A real
configuration of 50,000 virtual hosts reads in a few seconds; on a machine
many times slower (an emulated CI runner, valgrind) the operator may raise
the bound with TCPAUDIT_LOAD_CPU_SECONDS (0: none).
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import ApacheConfigError

__all__ = [
    "BYTES_PER_WORD",
    "CHECK_EVERY_LINES",
    "LONG_LINE_CHARACTERS",
    "MAX_LOAD_CPU_SECONDS",
    "MAX_LOAD_MEMORY_BYTES",
    "MemoryGuard",
    "count_memory_from_now",
    "counted_load",
    "load_cpu_seconds",
    "stop_counting",
]

# What a load may add to the process's resident memory. The rest of the
# promise's 1 GiB is for the interpreter, the model built from the tree and
# the report.
MAX_LOAD_MEMORY_BYTES = 640 * 1024 * 1024
# The CPU time a load may take: the rest of the promise's 30 s is for the
# model, the report, and a machine busy with other work.
MAX_LOAD_CPU_SECONDS = 15.0
# The operator's setting of that bound (the environment, never the audited tree).
CPU_SECONDS_VARIABLE = "TCPAUDIT_LOAD_CPU_SECONDS"


def load_cpu_seconds() -> float:
    """The CPU time bound of a load: TCPAUDIT_LOAD_CPU_SECONDS when it is a
    number of seconds (0: no bound), else MAX_LOAD_CPU_SECONDS."""
    text = os.environ.get(CPU_SECONDS_VARIABLE, "").strip()
    try:
        seconds = float(text) if text else MAX_LOAD_CPU_SECONDS
    except ValueError:
        return MAX_LOAD_CPU_SECONDS
    if seconds != seconds or seconds < 0:  # NaN, negative
        return MAX_LOAD_CPU_SECONDS
    return seconds if seconds > 0 else float("inf")


# A mask: the line loops check when ``number & CHECK_EVERY_LINES == 0``.
CHECK_EVERY_LINES = 0xFFFF
# A line this long is split into words at once, between two checks: its
# words are counted first (a word of a directive costs about 100 bytes).
LONG_LINE_CHARACTERS = 1024 * 1024
BYTES_PER_WORD = 100
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int:
    """The process's resident memory now (Linux), else its peak so far."""
    try:
        # os.open and os.read: a Python file object costs several times the read.
        descriptor = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
        try:
            return int(os.read(descriptor, 256).split()[1]) * _PAGE_BYTES
        finally:
            os.close(descriptor)
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# Where the count starts when a command set it (count_memory_from_now): what
# the command read before the configuration counts too. A 64 MiB baseline read
# first, then the largest tree the load allowed on top of it, held 1.2 GB.
_COMMAND_BASE: int | None = None


# The CPU time this command's loads have taken, once a command set the count:
# they share one bound. diagnose loads up to 20 configurations, and 20 loads
# of 15 s each took 292 s.
_COMMAND_LOAD_SECONDS: float | None = None


def count_memory_from_now() -> None:
    """Make every later load count the memory added since now (the CLI's start),
    and the loads of this command share one CPU time bound."""
    global _COMMAND_BASE, _COMMAND_LOAD_SECONDS
    _COMMAND_BASE = resident_bytes()
    _COMMAND_LOAD_SECONDS = 0.0


def stop_counting() -> None:
    """Undo ``count_memory_from_now`` (the command has ended): loads are on their own again."""
    global _COMMAND_BASE, _COMMAND_LOAD_SECONDS
    _COMMAND_BASE = None
    _COMMAND_LOAD_SECONDS = None


@contextmanager
def counted_load() -> Iterator[None]:
    """Count the CPU time the load inside takes in the command's, when one counts."""
    global _COMMAND_LOAD_SECONDS
    begun = time.process_time()
    try:
        yield
    finally:
        if _COMMAND_LOAD_SECONDS is not None:
            _COMMAND_LOAD_SECONDS += time.process_time() - begun


class MemoryGuard:
    """Raises once a load has added more than ``limit`` bytes of resident memory
    (since ``count_memory_from_now`` when a command called it), or has taken
    more than ``seconds`` of CPU time (with the command's earlier loads)."""

    __slots__ = ("base", "earlier", "limit", "seconds", "started")

    def __init__(self, limit: int = MAX_LOAD_MEMORY_BYTES, seconds: float | None = None) -> None:
        self.base = _COMMAND_BASE if _COMMAND_BASE is not None else resident_bytes()
        self.limit = limit
        self.seconds = load_cpu_seconds() if seconds is None else seconds
        # The command's earlier loads have taken part of the bound (counted_load).
        self.earlier = _COMMAND_LOAD_SECONDS or 0.0
        self.started = time.process_time() - self.earlier

    def charge(self, seconds: float) -> None:
        """Count ``seconds`` spent waiting for a child (a regular expression
        matched in one) as CPU time of the load."""
        self.started -= seconds

    def check(self, file: str, line: int | None, needed: int = 0) -> None:
        """Raise ApacheConfigError, naming ``file:line``, when over a limit
        (or when ``needed`` more bytes would take it there)."""
        grown = resident_bytes() - self.base + needed
        if grown > self.limit:
            raise ApacheConfigError(
                f"reading the configuration takes more than {self.limit // (1024 * 1024)} MiB "
                "of memory; tcpaudit stops here",
                file=file,
                line=line,
            )
        if time.process_time() - self.started > self.seconds:
            what = "the configurations of this command" if self.earlier else "the configuration"
            raise ApacheConfigError(
                f"reading {what} takes more than {self.seconds:g} s of CPU time; "
                f"tcpaudit stops here (a slow machine may raise {CPU_SECONDS_VARIABLE})",
                file=file,
                line=line,
            )
