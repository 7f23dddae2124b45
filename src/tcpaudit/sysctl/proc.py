"""Live values from a /proc/sys tree (the host's, or a copy under --root).

Reads the plain files directly in net/ipv4 and net/core: the keys tcpaudit
audits. Sub-directories (conf/, neigh/, route/) hold per-interface keys it
does not need, and reading them would cost time on hosts with many links.

A tracked key (defaults.TRACKED_KEYS) whose file exists but gives no value
(not world-readable, a read error, a value the kernel cannot hold) is
reported as unknown, never silently replaced by its persistent or default
value: the kernel holds something, and tcpaudit does not know what.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..provenance import Note
from ..rootfs import RootFS
from .defaults import TRACKED_KEYS
from .limits import live_value_problem
from .model import SysctlSource
from .values import is_secret_key, parse_value

__all__ = ["PROC_DIRECTORIES", "read_proc_tree"]

PROC_DIRECTORIES = ("net/ipv4", "net/core")
# The longest value in net/ipv4 (tcp_available_congestion_control, a few
# names) is far below this.
_MAX_VALUE_BYTES = 4096
_TRACKED = frozenset(TRACKED_KEYS)


def read_proc_tree(
    fs: RootFS,
    proc_sys: Path,
    notes: list[Note],
    existing: set[str] | None = None,
    unknown: dict[str, str] | None = None,
) -> dict[str, SysctlSource]:
    """Read every world-readable key file under ``proc_sys``'s net/ipv4 and net/core.

    A file that is not world-readable is skipped unopened: such keys hold
    secrets (tcp_fastopen_key is 0600). Secret keys (values.is_secret_key)
    are skipped even when a copied tree made them readable. A file that
    cannot be read is skipped with a note.

    Args:
        fs: the audited root, to name files in provenance.
        proc_sys: the directory laid out like /proc/sys.
        notes: receives a note for each file that cannot be read, and for
            each tracked key whose file gives no value.
        existing: when given, receives the name of every key file found,
            read or not (root-only keys such as net.core.bpf_jit_harden
            exist even though their values are not read).
        unknown: when given, receives each tracked key whose file exists but
            gives no value, with the reason.
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
            if not stat.S_ISREG(mode):
                continue
            tracked = key in _TRACKED
            shown = fs.display(Path(entry.path))
            if not mode & stat.S_IROTH:
                # Never opened, even for a tracked key: the rule that keeps
                # secrets safe must not depend on knowing every secret's name.
                if tracked:
                    _unknown(key, "not world-readable, so not read", shown, notes, unknown)
                continue
            try:
                with open(entry.path, "rb", buffering=0) as handle:
                    data = handle.read(_MAX_VALUE_BYTES)
            except OSError as exc:
                if tracked:
                    _unknown(key, f"cannot read it: {exc.strerror}", shown, notes, unknown)
                else:
                    notes.append(
                        Note(message=f"skipped: cannot read live value: {exc.strerror}", file=shown)
                    )
                continue
            text = data.decode("utf-8", errors="replace")
            problem = live_value_problem(key, text) if tracked else None
            if problem is not None:
                _unknown(key, f"it holds {text.strip()[:40]!r} ({problem})", shown, notes, unknown)
                continue
            values[key] = SysctlSource.model_construct(
                value=parse_value(text), file=shown, line=None, glob=None
            )
    return values


def _unknown(
    key: str, why: str, shown: str, notes: list[Note], unknown: dict[str, str] | None
) -> None:
    notes.append(
        Note(
            message=f"live value of {key} unknown: {why}; it is not taken to be "
            "the persistent or default value",
            file=shown,
        )
    )
    if unknown is not None:
        unknown[key] = f"{why} ({shown})"
