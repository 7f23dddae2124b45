"""Live values from a /proc/sys tree (the host's, or a copy under --root).

Reads the plain files directly in net/ipv4 and net/core: the keys tcpaudit
audits. Sub-directories (conf/, neigh/, route/) hold per-interface keys it
does not need, and reading them would cost time on hosts with many links.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..provenance import Note
from ..rootfs import RootFS
from .model import SysctlSource
from .values import is_secret_key, parse_value

__all__ = ["PROC_DIRECTORIES", "read_proc_tree"]

PROC_DIRECTORIES = ("net/ipv4", "net/core")
# The longest value in net/ipv4 (tcp_available_congestion_control, a few
# names) is far below this.
_MAX_VALUE_BYTES = 4096


def read_proc_tree(
    fs: RootFS, proc_sys: Path, notes: list[Note], existing: set[str] | None = None
) -> dict[str, SysctlSource]:
    """Read every world-readable key file under ``proc_sys``'s net/ipv4 and net/core.

    A file that is not world-readable is skipped unopened: such keys hold
    secrets (tcp_fastopen_key is 0600). Secret keys (values.is_secret_key)
    are skipped even when a copied tree made them readable. A file that
    cannot be read is skipped with a note.

    Args:
        fs: the audited root, to name files in provenance.
        proc_sys: the directory laid out like /proc/sys.
        notes: receives a note for each file that cannot be read.
        existing: when given, receives the name of every key file found,
            read or not (root-only keys such as net.core.bpf_jit_harden
            exist even though their values are not read).
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
            if existing is not None:
                existing.add(key)
            if is_secret_key(key):
                continue
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:
                continue
            if not stat.S_ISREG(mode) or not mode & stat.S_IROTH:
                continue
            try:
                with open(entry.path, "rb", buffering=0) as handle:
                    data = handle.read(_MAX_VALUE_BYTES)
            except OSError as exc:
                shown = fs.display(Path(entry.path))
                notes.append(
                    Note(message=f"skipped: cannot read live value: {exc.strerror}", file=shown)
                )
                continue
            text = data.decode("utf-8", errors="replace")
            values[key] = SysctlSource.model_construct(
                value=parse_value(text), file=fs.display(Path(entry.path)), line=None, glob=None
            )
    return values
