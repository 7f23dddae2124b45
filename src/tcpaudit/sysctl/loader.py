"""``load_sysctl``: live, persistent and default values merged into one model."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import SysctlError
from ..provenance import Note
from ..rootfs import RootFS
from .defaults import TRACKED_KEYS, kernel_default, parse_kernel_version
from .model import BootTool, SysctlSetting, SysctlSettings, SysctlSource
from .persistent import detect_boot_tool, read_persistent
from .proc import read_proc_tree
from .text import parse_sysctl_text

__all__ = ["load_sysctl"]


def _kernel_release(fs: RootFS, proc_sys: Path) -> str | None:
    try:
        return (proc_sys / "kernel" / "osrelease").read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


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
        kernel: the kernel release for defaults; None reads it from
            ``proc/sys/kernel/osrelease``.

    Raises:
        SysctlError: ``source`` is given but cannot be read.
    """
    fs = RootFS(root)
    notes: list[Note] = []
    proc_sys = fs.resolve("/proc/sys")
    live: dict[str, SysctlSource] = {}
    if source is None:
        if proc_sys.is_dir():
            live = read_proc_tree(fs, proc_sys, notes)
        else:
            notes.append(Note(message="no /proc/sys under the root: no live values"))
    else:
        path = Path(source)
        if path.is_dir():
            proc_sys = path
            live = read_proc_tree(fs, path, notes)
        else:
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                raise SysctlError(f"cannot read: {exc.strerror or exc}", file=str(source)) from exc
            live = parse_sysctl_text(text, fs.display(path.absolute()), notes)

    release = kernel or _kernel_release(fs, proc_sys)
    if release is None and "kernel.osrelease" in live:
        release = str(live["kernel.osrelease"].value)
    version = parse_kernel_version(release) if release else None
    boot_tool = boot or detect_boot_tool(fs)
    persistent = read_persistent(fs, boot_tool, notes)

    settings: dict[str, SysctlSetting] = {}
    for key in sorted(set(TRACKED_KEYS) | set(live) | set(persistent)):
        if not key.startswith(("net.ipv4.", "net.core.")):
            continue
        default = kernel_default(key, version)
        live_source = live.get(key)
        persistent_source = persistent.get(key)
        value = (
            live_source.value
            if live_source
            else persistent_source.value
            if persistent_source
            else default
        )
        settings[key] = SysctlSetting(
            value=value, live=live_source, persistent=persistent_source, default=default
        )
    return SysctlSettings(boot=boot_tool, kernel=release, settings=settings, notes=notes)
