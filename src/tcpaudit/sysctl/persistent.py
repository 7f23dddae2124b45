"""Persistent values: what the boot tools will apply from sysctl.conf and sysctl.d.

systemd-sysctl (sysctl.d(5)) and procps ``sysctl --system`` read the same
directories, highest priority first; a file name in an earlier directory masks
the same name in later ones, and a link to /dev/null masks it entirely. The
surviving files are applied in lexical order of their names, later settings
winning. They differ on /etc/sysctl.conf: systemd reads it only through a
sysctl.d link to it (Debian's 99-sysctl.conf), procps applies it last.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..provenance import Note
from ..rootfs import RootFS
from .model import BootTool, SysctlSource
from .text import parse_sysctl_text

__all__ = ["SYSCTL_DIRECTORIES", "detect_boot_tool", "read_persistent"]

SYSCTL_DIRECTORIES = (
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
)
_MAX_FILE_BYTES = 1024 * 1024


def detect_boot_tool(fs: RootFS) -> BootTool:
    """systemd when the root has systemd-sysctl, else procps."""
    for candidate in (
        "/usr/lib/systemd/systemd-sysctl",
        "/lib/systemd/systemd-sysctl",
        "/usr/lib/systemd/system/systemd-sysctl.service",
        "/lib/systemd/system/systemd-sysctl.service",
    ):
        if fs.resolve(candidate).exists():
            return "systemd"
    return "procps"


def _ordered_files(fs: RootFS) -> list[Path]:
    chosen: dict[str, Path | None] = {}
    for directory in SYSCTL_DIRECTORIES:
        real_dir = fs.resolve(directory)
        try:
            names = os.listdir(real_dir)
        except OSError:
            continue
        for name in names:
            if not name.endswith(".conf") or name in chosen:
                continue
            link = real_dir / name
            if link.is_symlink() and os.readlink(link) == "/dev/null":
                chosen[name] = None
                continue
            chosen[name] = fs.resolve(fs.tree_path(link))
    return [path for _, path in sorted(chosen.items()) if path is not None]


def read_persistent(fs: RootFS, boot: BootTool, notes: list[Note]) -> dict[str, SysctlSource]:
    """Return the value each key will get at boot, with the file:line that sets it."""
    files = _ordered_files(fs)
    sysctl_conf = fs.resolve("/etc/sysctl.conf")
    if boot == "procps" and sysctl_conf.is_file():
        files.append(sysctl_conf)
    values: dict[str, SysctlSource] = {}
    for real in files:
        shown = fs.display(real)
        try:
            with open(real, "rb") as handle:
                data = handle.read(_MAX_FILE_BYTES)
        except OSError as exc:
            notes.append(Note(message=f"cannot read: {exc.strerror}", file=shown))
            continue
        values.update(parse_sysctl_text(data.decode("utf-8", errors="replace"), shown, notes))
    return values
