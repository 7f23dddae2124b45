"""``load_sysctl``: live, persistent and default values merged into one model.

The loader picks the sources (a /proc/sys tree, `sysctl -a` text, the
audited root's sysctl files), the boot tool and the kernel version, and
merges per key. Reading each source is left to proc.py, text.py and
persistent.py, precedence to apply.py, acceptance to limits.py.
"""

from __future__ import annotations

import logging
import os
from functools import partial
from pathlib import Path

from ..errors import SysctlError
from ..inputs import read_text
from ..provenance import Note
from ..rootfs import RootFS
from .apply import apply_assignments
from .defaults import MEMORY_DEPENDENT_KEYS, TRACKED_KEYS, kernel_default, parse_kernel_version
from .limits import UNPRIVILEGED_PORT_START_DEFAULT, check_value
from .model import (
    BootTool,
    SysctlGlob,
    SysctlSetting,
    SysctlSettings,
    SysctlSource,
    SysctlValue,
)
from .persistent import detect_boot_tool, read_assignments
from .proc import read_proc_tree
from .text import Assignment, parse_sysctl_text

__all__ = ["AUDITED_PREFIXES", "load_sysctl"]

logger = logging.getLogger(__name__)

# The model keeps the keys of these trees; other keys in the files are the
# business of other tools.
AUDITED_PREFIXES = ("net.ipv4.", "net.core.")


def _kernel_release(proc_sys: Path) -> str | None:
    try:
        return (proc_sys / "kernel" / "osrelease").read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _check_proc_sys(path: Path, given: str) -> None:
    """Refuse a directory that is not laid out like /proc/sys.

    Read as a live tree, an empty directory or ``<root>/proc`` would give no
    live value at all and call every persistent key unknown to the kernel.
    """
    if (path / "net").is_dir():
        return
    reason = "not laid out like /proc/sys: it has no net/ directory"
    if (path / "sys").is_dir():
        reason += f"; its sys/ subdirectory may be the one meant ({os.path.join(given, 'sys')})"
    raise SysctlError(reason, file=given)


def _read_live(
    fs: RootFS,
    source: str | os.PathLike[str] | None,
    notes: list[Note],
    existing: set[str],
    unknown: dict[str, str],
) -> tuple[dict[str, SysctlSource], Path, bool]:
    """Live values, the /proc/sys directory for osrelease, and whether ``existing`` is complete."""
    proc_sys = fs.resolve("/proc/sys")
    if source is None:
        if (proc_sys / "net").is_dir():
            return read_proc_tree(fs, proc_sys, notes, existing, unknown), proc_sys, True
        if proc_sys.is_dir():
            # A copied tree may hold proc/sys/kernel/osrelease alone: that is no
            # live tree, and the user did not name it, so a note and no error.
            notes.append(
                Note(message="no net/ directory here: no live values", file=fs.display(proc_sys))
            )
        else:
            notes.append(Note(message="no /proc/sys under the root: no live values"))
        return {}, proc_sys, False
    path = Path(source)
    if path.is_dir():
        _check_proc_sys(path, os.fspath(source))
        return read_proc_tree(fs, path, notes, existing, unknown), path, True
    try:
        text = read_text(path)
    except OSError as exc:
        raise SysctlError(f"cannot read: {exc.strerror or exc}", file=str(source)) from exc
    return parse_sysctl_text(text, fs.display(path.absolute()), notes), proc_sys, False


def _unknown_key_notes(
    assignments: list[Assignment], known: frozenset[str], notes: list[Note]
) -> None:
    # Only top-level net.ipv4 / net.core keys can be judged: the live reader
    # skips sub-directories (conf/, neigh/), so their keys are never "known".
    for item in assignments:
        if item.is_glob or not item.key.startswith(AUDITED_PREFIXES) or item.key in known:
            continue
        if item.key.count(".") == 2 and "/" not in item.key:
            notes.append(
                Note(
                    message=f"unknown key {item.spelled!r}: no such file in /proc/sys, "
                    "so the boot tool cannot set it",
                    file=item.file,
                    line=item.line,
                )
            )


def load_sysctl(
    source: str | os.PathLike[str] | None = None,
    root: str | os.PathLike[str] = "/",
    *,
    boot: BootTool | None = None,
    kernel: str | None = None,
) -> SysctlSettings:
    """Load a host's TCP sysctls with their sources.

    Args:
        source: where live values come from: None for ``<root>/proc/sys``, a
            directory laid out like /proc/sys, or a file of ``sysctl -a``
            output (sysctl.conf syntax is read the same way).
        root: the audited root; its /etc/sysctl.conf and sysctl.d
            directories give the persistent values.
        boot: whose precedence decides the persistent value; None detects it.
        kernel: the kernel release for defaults and limits (``"6.1.0-27-amd64"``);
            None reads it from ``proc/sys/kernel/osrelease``.

    Returns:
        Every tracked key, and every net.ipv4 / net.core key a source names.

    Raises:
        SysctlError: ``source`` is given but cannot be read, is a directory
            not laid out like /proc/sys (no net/), or is a file that is not
            `sysctl -a` output or sysctl.conf text (mostly binary, or no
            ``key = value`` line).
    """
    fs = RootFS(root)
    notes: list[Note] = []
    existing: set[str] = set()
    unknown: dict[str, str] = {}
    live, proc_sys, complete = _read_live(fs, source, notes, existing, unknown)

    release = kernel or _kernel_release(proc_sys)
    if release is None and "kernel.osrelease" in live:
        release = str(live["kernel.osrelease"].value)
    version = parse_kernel_version(release) if release else None
    if release is None:
        notes.append(Note(message="kernel version unknown: defaults are those of current kernels"))

    if boot is None:
        boot_tool = detect_boot_tool(fs, notes)
    else:
        boot_tool = boot
        notes.append(Note(message=f"persistent values follow {boot_tool} order (chosen by caller)"))
    logger.debug("sysctl: boot tool %s, kernel %s", boot_tool, release)

    files = read_assignments(fs, boot_tool, notes)
    known = frozenset(live) | frozenset(TRACKED_KEYS)
    if complete:
        _unknown_key_notes(files.assignments, known | existing, notes)
    port_start = live.get("net.ipv4.ip_unprivileged_port_start")
    check = partial(
        check_value,
        kernel=version,
        unprivileged_port_start=port_start.value
        if port_start is not None and isinstance(port_start.value, int)
        else UNPRIVILEGED_PORT_START_DEFAULT,
    )
    persistent = apply_assignments(files.assignments, boot_tool, known, check, notes)

    settings: dict[str, SysctlSetting] = {}
    for key in sorted(set(TRACKED_KEYS) | set(live) | set(persistent)):
        if not key.startswith(AUDITED_PREFIXES):
            continue
        default = kernel_default(key, version)
        live_source = live.get(key)
        persistent_source = persistent.get(key)
        value: SysctlValue | None
        if live_source is not None:
            value = live_source.value
        elif key in unknown:
            value = None  # the kernel holds a value tcpaudit could not read
        elif persistent_source is not None:
            value = persistent_source.value
        else:
            value = default
        settings[key] = SysctlSetting(
            value=value,
            live=live_source,
            persistent=persistent_source,
            default=default,
            default_depends_on_memory=key in MEMORY_DEPENDENT_KEYS,
            live_unknown=unknown.get(key),
        )
    globs = [
        SysctlGlob(pattern=item.spelled, value=item.value, file=item.file, line=item.line)
        for item in files.assignments
        if item.is_glob or item.value is None
    ]
    return SysctlSettings(
        boot=boot_tool,
        kernel=release,
        settings=settings,
        globs=globs,
        persistent_files=[
            config.listed if fs.is_host else config.listed.lstrip("/")
            for config in files.files
            if config.real is not None
        ],
        notes=notes,
    )
