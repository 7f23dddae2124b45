"""Read one input file safely: regular files only, bounded size.

tcpaudit runs as root on production hosts and in CI on untrusted changes.
Opening a FIFO or a device would block or read forever, so every file named
by the user or found in an audited tree is checked with ``stat`` first and
read with a size bound. Errors come back as ``OSError`` subclasses with the
reason, for the caller to wrap in its own ``ParseError``.
"""

from __future__ import annotations

import errno
import os
import stat

__all__ = ["DEFAULT_LIMIT_BYTES", "NotRegularFileError", "TooLargeError", "read_bytes", "read_text"]

# Large enough for any real configuration or report, small enough to bound memory.
DEFAULT_LIMIT_BYTES = 64 * 1024 * 1024
_CHUNK_BYTES = 1024 * 1024


class NotRegularFileError(OSError):
    """The path names a FIFO, device, socket or directory."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(errno.EINVAL, "not a regular file", os.fspath(path))


class TooLargeError(OSError):
    """The file is larger than the bound."""

    def __init__(self, path: str | os.PathLike[str], limit: int) -> None:
        super().__init__(errno.EFBIG, f"larger than {limit} bytes", os.fspath(path))


def read_bytes(path: str | os.PathLike[str], limit: int = DEFAULT_LIMIT_BYTES) -> bytes:
    """The file's bytes, refusing non-regular files and files above ``limit`` bytes."""
    # Never open a FIFO, device or socket: opening alone can block (FIFO), or act
    # (a tape rewinds, a watchdog arms, a tty becomes the controlling terminal).
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise NotRegularFileError(path)
    # O_NONBLOCK/O_NOCTTY: a node swapped in after the stat check must not block or act.
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(path, flags)
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFileError(path)
        if info.st_size > limit:
            raise TooLargeError(path, limit)
        return _read_bounded(descriptor, info.st_size, path, limit)
    finally:
        os.close(descriptor)


def _read_bounded(descriptor: int, size: int, path: str | os.PathLike[str], limit: int) -> bytes:
    """Read to the end, at most ``limit`` bytes.

    Asks for the size ``fstat`` gave plus one byte (a file that grew since is
    read on), never for ``limit`` at once: a read of n bytes allocates n bytes
    first, and most files are a few kilobytes. /proc files report size 0.
    """
    chunks: list[bytes] = []
    total = 0
    wanted = size + 1 if size else _CHUNK_BYTES
    while True:
        chunk = os.read(descriptor, min(wanted, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise TooLargeError(path, limit)
        # A short read is almost always the end: confirm it cheaply; a file
        # that keeps giving (it grew, or /proc) is read in larger chunks.
        wanted = 4096 if len(chunk) < wanted else _CHUNK_BYTES
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def read_text(path: str | os.PathLike[str], limit: int = DEFAULT_LIMIT_BYTES) -> str:
    """``read_bytes`` decoded as UTF-8, undecodable bytes replaced."""
    return read_bytes(path, limit).decode("utf-8", errors="replace")
