"""A private temporary directory that a termination signal cannot leave behind.

The command line turns SIGTERM and SIGHUP into an exit that unwinds (cli.py),
so that what tcpaudit made is removed on the way out. Two moments were still
open to a signal: Python's first temporary-file call probes the directory
with a file it removes at once (a signal between the two left the file), and
a removal stopped halfway left part of the tree. Both run with the signals
held here; a signal that came meanwhile is handled right after.
"""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["private_directory"]

_HELD = {signal.SIGTERM, signal.SIGHUP, signal.SIGINT}


@contextmanager
def private_directory(prefix: str, directory: str | None = None) -> Iterator[Path]:
    """A new directory only its owner may enter, under ``directory`` (the
    usual temporary one when None), removed on the way out."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        made = tempfile.TemporaryDirectory(prefix=prefix, dir=directory)
        os.chmod(made.name, 0o700)
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        raise
    try:
        # A signal held meanwhile is handled here, inside the try.
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        yield Path(made.name)
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
        try:
            made.cleanup()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
