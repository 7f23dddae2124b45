"""Plumbing every tcpaudit command shares: one-line errors with exit 2, private atomic output.

Kept apart from ``cli.py`` so that commands defined elsewhere (``fleet``,
``diagnose``) use the same behaviour without importing the command group.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast

import click

from .apache.known_tokens import hide_known_tokens
from .apache.shell_state import REDACTED_VALUE
from .errors import TcpauditError, UsageError
from .rootfs import MAX_SYMLINKS
from .safetext import no_workflow_commands, printable, show_bytes

__all__ = [
    "ShellPattern",
    "errors_exit_2",
    "fail",
    "for_stderr",
    "keep_until_exit",
    "link_inside_root",
    "write_output",
]

F = TypeVar("F", bound=Callable[..., Any])


# What a command built and no longer needs, held until the process ends.
_KEPT: list[object] = []


def keep_until_exit(*objects: object) -> None:
    """Hold ``objects`` so that they are not freed one by one when the command returns.

    ``cli.main`` ends the process with ``os._exit`` once the output is
    written; a configuration of 10,000 vhosts is hundreds of thousands of
    objects, and freeing them before that costs 2 to 3% of the command's
    time for nothing. Only the last command's objects are held (tests run
    many commands in one process).
    """
    _KEPT[:] = objects


def for_stderr(message: str) -> str:
    """``message`` as an error or note line shows it: tokens of a known kind
    hidden (a file's name may hold one), then escaped (newlines and escape
    sequences from the audited tree), so it stays one line."""
    return printable(hide_known_tokens(message, REDACTED_VALUE))


def fail(message: str) -> NoReturn:
    """Print one error line on stderr and exit 2 (the input or the command line is wrong).

    A file name or value from the audited tree may hold a newline, an escape
    sequence or a token: see ``for_stderr``.
    """
    click.echo(f"tcpaudit: error: {for_stderr(message)}", err=True)
    sys.exit(2)


def errors_exit_2(function: F) -> F:
    """Turn ``TcpauditError`` and ``OSError`` into one stderr line and exit 2, never a traceback."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except TcpauditError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))

    return cast(F, wrapper)


def link_inside_root(output: str, root: str | os.PathLike[str]) -> str | None:
    """The first symlink inside ``root`` that writing to ``output`` would go through, or None.

    The path is walked as the kernel walks it, from the working directory:
    links outside the root (the user's own) are followed, a link inside it
    is returned. A repository audited in CI may hold a committed
    ``tcpaudit.sarif -> ~/.bashrc``, or a directory link, waiting for the
    report to be written through it.
    """
    root_real = os.path.realpath(root)
    inside = root_real.rstrip("/") + "/"
    pending = [part for part in os.path.join(os.getcwd(), output).split("/") if part]
    pending.reverse()
    current = "/"
    links = 0
    while pending:
        part = pending.pop()
        if part == ".":
            continue
        if part == "..":
            current = os.path.dirname(current)
            continue
        candidate = os.path.join(current, part)
        try:
            is_link = stat.S_ISLNK(os.lstat(candidate).st_mode)
        except OSError:
            return None  # missing: nothing to follow from here on
        if not is_link:
            current = candidate
            continue
        if candidate.startswith(inside):
            return candidate
        links += 1
        if links > MAX_SYMLINKS:
            return None  # the write fails with ELOOP
        target = os.readlink(candidate)
        if target.startswith("/"):
            current = "/"
        pending.extend(reversed([p for p in target.split("/") if p]))
    return None


def _same_file(info: os.stat_result, target: str, inputs: Iterable[str]) -> str | None:
    """The first of ``inputs`` that is the file ``info`` describes, or a
    directory read whole (``--sysctl DIR``) that holds ``target``, or None."""
    real = os.path.realpath(target)
    for name in inputs:
        try:
            other = os.stat(name)  # only stat: a FIFO is not opened
        except (OSError, ValueError):
            continue
        if (other.st_dev, other.st_ino) == (info.st_dev, info.st_ino):
            return name
        if stat.S_ISDIR(other.st_mode) and real.startswith(os.path.realpath(name) + os.sep):
            return name
    return None


def _directory_holding(target: str, inputs: Iterable[str]) -> str | None:
    """The first of ``inputs`` that is a directory read whole holding ``target``."""
    real = os.path.realpath(target)
    for name in inputs:
        try:
            other = os.stat(name)
        except (OSError, ValueError):
            continue
        if stat.S_ISDIR(other.st_mode) and real.startswith(os.path.realpath(name) + os.sep):
            return name
    return None


_WILDCARD = frozenset("*?[")


class ShellPattern(str):
    """An input ``DIR/PATTERN`` whose pattern is matched as the start-up
    files' shell matches it (``[^x]`` is no negation, ``[[:alpha:]]`` a
    class), not as an Include wildcard."""


def _name_read_next_time(target: str, inputs: Iterable[str]) -> str | None:
    """The first of ``inputs`` that a new ``target`` would be: a wildcard
    (``DIR/*.conf``) or a ``ShellPattern`` its name matches in its
    directory, or a name the run looked for and did not find."""
    from .apache.shell_pathnames import name_matches
    from .apache.wildcards import wildcard_matches

    parent = os.path.realpath(os.path.dirname(os.path.abspath(target)))
    leaf = os.path.basename(target)
    real = os.path.join(parent, leaf)
    for name in inputs:
        directory, _, pattern = name.rpartition("/")
        if isinstance(name, ShellPattern):
            if os.path.realpath(directory or "/") == parent and name_matches(pattern, leaf):
                return name
        elif _WILDCARD.intersection(pattern) or "\\" in pattern:
            # As httpd matches an Include wildcard (apr_fnmatch: "\\x", "[^...]").
            if os.path.realpath(directory or "/") == parent and wildcard_matches(pattern, leaf):
                return name
        elif os.path.realpath(name) == real:
            return name
    return None


def write_output(
    text: str | bytes,
    output: str | None,
    *,
    root: str | os.PathLike[str] | None = None,
    inputs: Iterable[str] = (),
) -> None:
    """Print ``text``, or write it to ``output`` atomically with mode 0600.

    Args:
        text: the report, whose tokens of a known kind (``ghp_...``, a value
            of the audited files) are hidden; bytes are written as they are
            (a patch, whose lines must match the files it changes: ``plan``
            leaves out every file holding such a token).
        output: the file, or None / ``-`` for stdout.
        root: the audited tree (``--root``, when not ``/``): a symlink inside
            it on the way to ``output`` is refused, never written through.
        inputs: the files the run read (``cli_sources.files_read``): the
            report is never written over one of them.

    Raises:
        UsageError: ``output`` goes through a symlink inside ``root``, or is
            a file the run read.
        OSError: the file cannot be written.
    """
    # Invalid UTF-8 read from a configuration is kept as lone surrogates
    # (surrogateescape); reports are UTF-8, so show those bytes as \xNN.
    if isinstance(text, str):
        text = no_workflow_commands(hide_known_tokens(text, REDACTED_VALUE))
    data = text if isinstance(text, bytes) else show_bytes(text).encode("utf-8")
    if output is None or output == "-":
        click.echo(data, nl=False)
        return
    if root is not None and os.path.realpath(root) != "/":
        link = link_inside_root(output, root)
        if link is not None:
            raise UsageError(
                f"refusing to write {output}: {link} is a symbolic link inside the audited "
                f"root (to {show_bytes(os.readlink(link))!r}); remove it or write elsewhere"
            )
    target = Path(output)
    try:
        info = target.stat()  # follows links: what a write would reach
    except FileNotFoundError:
        info = None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", output)
    if info is None:
        looked_for = _name_read_next_time(output, inputs)
        if looked_for is not None:
            # An Include wildcard's or sysctl.d's match, or a file the run
            # looked for: the next run would read the report as configuration.
            raise UsageError(
                f"refusing to write {output}: the next run would read it as configuration "
                f"({show_bytes(looked_for)}); write the report elsewhere"
            )
        whole = _directory_holding(output, inputs)
        if whole is not None:
            # A new file there would be read by the next run (a key of a
            # /proc/sys replay, a file of --sysctl DIR or of a rules
            # directory, a name the loaders probe under the root's etc/).
            raise UsageError(
                f"refusing to write {output}: it is inside {show_bytes(whole)}, which this run "
                "reads; write the report elsewhere"
            )
    if info is not None and stat.S_ISREG(info.st_mode):
        read = _same_file(info, output, inputs)
        if read is not None:
            same = (
                "" if os.path.abspath(read) == os.path.abspath(output) else f" ({show_bytes(read)})"
            )
            raise UsageError(
                f"refusing to write {output}: this run read that file{same}; write the "
                "report elsewhere"
            )
    if info is not None and not stat.S_ISREG(info.st_mode):
        # A terminal, pipe or device (-o /dev/stdout): write into it; renaming a
        # file over it would replace the device node itself.
        try:
            with open(target, "wb") as stream:
                stream.write(data)
        except OSError as exc:
            # One line naming the file (-o /dev/full: "No space left on device").
            raise OSError(exc.errno, exc.strerror, output) from exc
        return
    if target.is_symlink():
        # Replace the file the link points to and keep the link.
        target = Path(os.path.realpath(target))
    if not target.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, "no such directory", str(target.parent))
    # Write next to the target and rename, so a reader never sees half a report;
    # 0600 because reports describe the host.
    # The temporary name stays under NAME_MAX (255 bytes) whatever the target's length.
    stem = target.name.encode("utf-8", "surrogateescape")[:200].decode("utf-8", "surrogateescape")
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{stem}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o600)
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        # One line naming the file (a full disk: "No space left on device").
        raise OSError(exc.errno, exc.strerror, output) from exc
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
