"""Live values from a /proc/sys tree (the host's, or a copy under --root)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..provenance import Note
from ..rootfs import RootFS
from .model import SysctlSource
from .values import SECRET_KEYS, parse_value

__all__ = ["PROC_DIRECTORIES", "read_proc_tree"]

# The directories whose plain files hold the keys tcpaudit audits; sub-
# directories (conf/, neigh/, route/) hold per-interface keys it does not need.
PROC_DIRECTORIES = ("net/ipv4", "net/core")


def read_proc_tree(fs: RootFS, proc_sys: Path, notes: list[Note]) -> dict[str, SysctlSource]:
    """Read every world-readable key file under ``proc_sys``'s net/ipv4 and net/core.

    A file that is not world-readable is skipped unopened: such keys hold
    secrets (tcp_fastopen_key). An unreadable file becomes a note.
    """
    values: dict[str, SysctlSource] = {}
    for directory in PROC_DIRECTORIES:
        base = proc_sys / directory
        try:
            entries = sorted(os.scandir(base), key=lambda entry: entry.name)
        except OSError:
            continue
        prefix = directory.replace("/", ".")
        for entry in entries:
            key = f"{prefix}.{entry.name}"
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode) or key in SECRET_KEYS:
                continue
            if not info.st_mode & stat.S_IROTH:
                continue
            shown = fs.display(Path(entry.path))
            try:
                with open(entry.path, encoding="utf-8", errors="replace") as handle:
                    text = handle.read(4096)
            except OSError as exc:
                notes.append(Note(message=f"cannot read live value: {exc.strerror}", file=shown))
                continue
            values[key] = SysctlSource(value=parse_value(text), file=shown)
    return values
