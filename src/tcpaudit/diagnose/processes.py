"""What ``/proc/<pid>`` tells of a running httpd: its command line, binary, parent, environment.

This module owns the reading of one process's entries: ``cmdline`` (the
arguments httpd was started with: ``-f``, ``-d``, ``-D``, ``-C``, ``-c``),
``exe`` (the link to the binary it runs, whose bytes ``apache.binary`` reads
without running it), ``stat`` (the parent, to find the process tree's root)
and ``environ`` (the variables ``${NAME}`` expands to). It only reads: no
program is run, no signal sent, nothing attached to.

Under ``--root`` (a copied /proc) nothing is followed: ``exe`` is read as a
link and its target resolved inside the root, like any path of the tree. On
the live host ``exe``'s target is resolved inside the process's own root
(``/proc/<pid>/root``), so a chrooted or containerised httpd's binary is the
one read, not a file of the same name here.

Permissions: ``environ`` and ``exe`` of another user's process are readable
only by root (the kernel's ptrace check); ``cmdline`` and ``stat`` by anyone,
unless a ``hidepid`` mount hides the process. What could not be read is None
and the caller says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..inputs import open_subdirectory, read_entry
from ..numbers import ascii_int
from ..rootfs import RootFS

__all__ = ["ProcessInfo", "boot_time", "read_environment", "read_process", "started_at"]

# Linux bounds one argument or environment string at MAX_ARG_STRLEN (128 KiB)
# and the whole of them at about a quarter of the stack limit; 1 MiB holds any
# httpd command line and environment a service passes.
_MAX_ENVIRON_BYTES = 1024 * 1024
# But every holder of a listening socket is read, workers included, and only
# the first words matter (argv[0], httpd's -f -d -D -C -c): 60 processes of a
# 1 MiB command line and environment each held 1.2 GB. A command line is kept
# to 8 KiB and 256 arguments, an environment to 4,096 variables and read only
# for the process an instance is judged from.
_MAX_CMDLINE_BYTES = 8 * 1024
_MAX_ARGUMENTS = 256
_MAX_VARIABLES = 4096
_MAX_STAT_BYTES = 4096
_COMM_BYTES = 64
_DELETED = " (deleted)"


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """One process as ``/proc/<pid>`` shows it.

    Attributes:
        pid: the process id.
        parent: the parent's pid, or None when ``stat`` was not readable.
        command: ``comm``, control characters escaped.
        arguments: ``cmdline`` split at NUL bytes (argv[0] included); empty
            when not readable (a kernel thread, a vanished process).
        exe: the binary's path as the process's own root names it, or None.
        exe_deleted: the binary was replaced or removed since it was started
            (its link ends in `` (deleted)``): the file at that path now is
            not the one running.
        start_ticks: when it started, in clock ticks after boot (``stat`` field 22).
        own_root: the process sees another filesystem than ours (its root
            directory or its mount namespace differs: a chroot, a container,
            ``unshare -m``): paths it names are read under ``/proc/<pid>/root``.
    """

    pid: int
    parent: int | None
    command: str
    arguments: tuple[str, ...]
    exe: str | None
    exe_deleted: bool
    own_root: bool
    start_ticks: int | None = None

    @property
    def root_path(self) -> str:
        """The directory that stands for this process's ``/`` on the live host."""
        return f"/proc/{self.pid}/root" if self.own_root else "/"


def _printable(name: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name) or "?"


def _text(process: int, name: str, limit: int) -> str | None:
    try:
        return read_entry(process, name, limit).decode("utf-8", errors="surrogateescape")
    except OSError:
        return None


def _stat_field(stat_text: str | None, number: int) -> int | None:
    """Field ``number`` (1-based, as proc(5) counts) of ``stat``, from the 3rd on."""
    if not stat_text:
        return None
    # The command may hold spaces and parentheses: the fields follow the last ')'.
    fields = stat_text.rpartition(")")[2].split()
    index = number - 3
    return ascii_int(fields[index]) if len(fields) > index else None


def boot_time(fs: RootFS) -> int | None:
    """``btime`` of ``<root>/proc/stat``: the boot, in seconds since the epoch."""
    try:
        text = fs.read_bytes("/proc/stat", 1024 * 1024).decode("ascii", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("btime "):
            value = line.split()[1]
            return ascii_int(value)
    return None


def started_at(process: ProcessInfo, booted: int | None) -> float | None:
    """When the process started, in seconds since the epoch (stat's starttime + btime)."""
    if process.start_ticks is None or booted is None:
        return None
    return booted + process.start_ticks / os.sysconf("SC_CLK_TCK")


def _open_process(fs: RootFS, pid: int) -> int | None:
    """A descriptor of ``<root>/proc/<pid>`` (the caller closes it); None when gone."""
    try:
        proc = fs.resolve("/proc")
        with fs.open_real_directory(proc) as directory:
            return open_subdirectory(directory, str(pid))
    except OSError:
        return None


def read_environment(fs: RootFS, pid: int) -> dict[str, str] | None:
    """``<root>/proc/<pid>/environ`` as a mapping (its first 4,096 variables),
    or None when not readable."""
    process = _open_process(fs, pid)
    if process is None:
        return None
    try:
        return _environment(_text(process, "environ", _MAX_ENVIRON_BYTES))
    finally:
        os.close(process)


def _environment(text: str | None) -> dict[str, str] | None:
    if text is None:
        return None
    environment: dict[str, str] = {}
    for entry in text.split("\0"):
        name, sep, value = entry.partition("=")
        if sep and name:
            environment[name] = value
            if len(environment) >= _MAX_VARIABLES:
                break
    return environment


def _other_root(fs: RootFS, process: int) -> bool:
    """Whether the process sees another filesystem than ours (live host only).

    Another root directory (chroot, container), or the same one in another
    mount namespace (``unshare -m``, a container sharing the root
    filesystem): there a bind mount can put another file at the same path.
    """
    if not fs.is_host:
        return False
    try:
        theirs = os.stat("root", dir_fd=process)
        ours = os.stat("/")
    except OSError:
        return False
    if (theirs.st_dev, theirs.st_ino) != (ours.st_dev, ours.st_ino):
        return True
    try:
        return os.readlink("ns/mnt", dir_fd=process) != os.readlink("/proc/self/ns/mnt")
    except OSError:
        return False


def read_process(fs: RootFS, pid: int) -> ProcessInfo | None:
    """Read ``<root>/proc/<pid>``; None when the process is gone or not a directory."""
    process = _open_process(fs, pid)
    if process is None:
        return None
    try:
        cmdline = _text(process, "cmdline", _MAX_CMDLINE_BYTES) or ""
        arguments = (
            tuple(cmdline.rstrip("\0").split("\0", _MAX_ARGUMENTS)[:_MAX_ARGUMENTS])
            if cmdline.strip("\0")
            else ()
        )
        comm = (_text(process, "comm", _COMM_BYTES) or "").strip()
        exe: str | None
        try:
            # readlink reads the link, on /proc as in a copy: nothing is followed.
            exe = os.readlink("exe", dir_fd=process)
        except OSError:
            exe = None
        deleted = exe is not None and exe.endswith(_DELETED)
        if exe is not None and deleted:
            exe = exe.removesuffix(_DELETED)
        stat_text = _text(process, "stat", _MAX_STAT_BYTES)
        return ProcessInfo(
            pid=pid,
            parent=_stat_field(stat_text, 4),
            start_ticks=_stat_field(stat_text, 22),
            command=_printable(comm),
            arguments=arguments,
            exe=exe,
            exe_deleted=deleted,
            own_root=_other_root(fs, process),
        )
    finally:
        os.close(process)
