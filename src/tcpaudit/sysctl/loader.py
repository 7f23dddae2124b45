"""``load_sysctl``: live, persistent and default values merged into one model.

The loader picks the sources (a /proc/sys tree, `sysctl -a` text, the
audited root's sysctl files), the boot tool and the kernel version, and
merges per key. Reading each source is left to proc.py, text.py and
persistent.py, precedence to apply.py, acceptance to limits.py.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..apache.known_tokens import shown_prefix
from ..errors import SysctlError, raises_only_documented_errors
from ..inputs import read_text
from ..notes import limit_notes
from ..provenance import Note
from ..rootfs import RootFS
from .apply import apply_assignments, secret_glob
from .defaults import MEMORY_DEPENDENT_KEYS, TRACKED_KEYS, kernel_default, parse_kernel_version
from .keys import BOOT_CONF_INTERFACES, CONF_KEYS, NEIGH_DEFAULT_KEYS, NEIGH_KEYS, KeyUniverse
from .limits import UNPRIVILEGED_PORT_START_DEFAULT, Checked, check_value
from .model import (
    BootTool,
    SysctlGlob,
    SysctlSetting,
    SysctlSettings,
    SysctlSource,
    SysctlValue,
)
from .persistent import detect_boot_tool, read_assignments
from .proc import (
    Interfaces,
    has_directory,
    read_interfaces,
    read_keys,
    read_osrelease,
    read_proc_tree,
)
from .text import parse_sysctl_text
from .values import is_glob

__all__ = ["AUDITED_PREFIXES", "MAX_GLOBS", "MAX_KEYS", "WITHHELD", "load_sysctl"]

logger = logging.getLogger(__name__)

# The model keeps the keys of these trees; other keys in the files are the
# business of other tools.
AUDITED_PREFIXES = ("net.ipv4.", "net.core.")
# Keys kept besides the tracked ones; a real host has a few hundred (more
# with many interfaces), a hostile listing millions.
MAX_KEYS = 10_000
# Glob and exclusion lines listed in the model, as written.
MAX_GLOBS = 1_000
# Stands for the value of a glob line that names a secret key.
WITHHELD = "<withheld: the glob names a secret key>"


@dataclass
class _Live:
    """What the live source gave: values, and what it says about which keys exist."""

    values: dict[str, SysctlSource]
    proc_sys: Path  # the tree per-interface values and kernel/osrelease are read from
    complete: bool  # a /proc/sys tree was listed: a key not in it does not exist
    existing: set[str] = field(default_factory=set)
    unknown: dict[str, str] = field(default_factory=dict)
    interfaces: Interfaces = field(default_factory=Interfaces)


def _check_proc_sys(path: Path, given: str) -> None:
    """Refuse a directory that is not laid out like /proc/sys.

    Read as a live tree, an empty directory or ``<root>/proc`` would give no
    live value at all and call every persistent key unknown to the kernel.
    """
    if (path / "net").is_dir():
        return
    reason = "not laid out like /proc/sys: it has no net/ directory"
    if any(path.glob("*.conf")):
        # A copy of /etc/sysctl.d: those are persistent files, read from the root.
        reason += (
            "; it holds .conf files: persistent files are read from the root's "
            "etc/sysctl.conf and etc/sysctl.d (give the tree with --root), --sysctl "
            "is for live values"
        )
    if (path / "sys").is_dir():
        reason += f"; its sys/ subdirectory may be the one meant ({os.path.join(given, 'sys')})"
    raise SysctlError(reason, file=given)


def _kept(key: str) -> bool:
    return key.startswith(AUDITED_PREFIXES) or key == "kernel.osrelease"


def _read_live(fs: RootFS, source: str | os.PathLike[str] | None, notes: list[Note]) -> _Live:
    """The live values, from ``<root>/proc/sys``, a /proc/sys-like directory or a listing."""
    try:
        proc_sys = fs.resolve("/proc/sys")
    except OSError:  # a link loop
        proc_sys = fs.root / "proc" / "sys"
    if source is None:
        if not has_directory(fs, proc_sys, "net"):
            if (proc_sys / "net").is_symlink():
                notes.append(
                    Note(
                        message="skipped: a symbolic link where /proc/sys has a directory; "
                        "nothing below it is read, so there are no live values",
                        file=fs.display(proc_sys / "net"),
                    )
                )
            elif proc_sys.is_dir():
                # A copied tree may hold proc/sys/kernel/osrelease alone: that is no
                # live tree, and the user did not name it, so a note and no error.
                notes.append(
                    Note(
                        message="no net/ directory here: no live values", file=fs.display(proc_sys)
                    )
                )
            else:
                notes.append(Note(message="no /proc/sys under the root: no live values"))
            return _Live({}, proc_sys, complete=False)
    else:
        path = Path(source)
        if not path.is_dir():
            try:
                text = read_text(path)
            except OSError as exc:
                raise SysctlError(f"cannot read: {exc.strerror or exc}", file=str(source)) from exc
            values = parse_sysctl_text(
                text, fs.display(path.absolute()), notes, keep=_kept, max_keys=MAX_KEYS
            )
            return _Live(values, proc_sys, complete=False)
        _check_proc_sys(path, os.fspath(source))
        proc_sys = path.absolute()
    live = _Live({}, proc_sys, complete=True)
    live.values = read_proc_tree(fs, proc_sys, notes, live.existing, live.unknown)
    live.interfaces = read_interfaces(fs, proc_sys)
    return live


def _universe(live: _Live) -> KeyUniverse:
    """The keys the boot tool finds: the live tree's, else those of current kernels."""
    if live.complete:
        interfaces = live.interfaces
        return KeyUniverse(
            # Tracked keys exist in every kernel tcpaudit knows, listed or not (a
            # copied tree may hold only some files).
            top_level=frozenset(live.existing) | frozenset(live.values) | frozenset(TRACKED_KEYS),
            complete=True,
            conf=interfaces.conf or dict.fromkeys(BOOT_CONF_INTERFACES, CONF_KEYS),
            neigh=interfaces.neigh or {"default": NEIGH_DEFAULT_KEYS, "lo": NEIGH_KEYS},
        )
    universe = KeyUniverse.at_boot(extra=[*TRACKED_KEYS, *live.values])
    # A listing names per-interface keys: their interfaces exist too.
    listed = KeyUniverse.of_keys(key for key in live.values if key.count(".") == 4)
    for name, keys in listed.conf.items():
        universe.conf[name] = universe.conf.get(name, frozenset()) | keys
    for name, keys in listed.neigh.items():
        universe.neigh[name] = universe.neigh.get(name, frozenset()) | keys
    return universe


class _Layered(Mapping[str, SysctlValue]):
    """``first``'s value of a key, else ``then``'s."""

    def __init__(self, first: Mapping[str, SysctlValue], then: Mapping[str, SysctlValue]):
        self._first = first
        self._then = then

    def __getitem__(self, key: str) -> SysctlValue:
        return self._first[key] if key in self._first else self._then[key]

    def __iter__(self) -> Iterator[str]:
        yield from self._first
        yield from (key for key in self._then if key not in self._first)

    def __len__(self) -> int:
        return sum(1 for _ in self)


# Keys whose value before the boot tool runs a write can depend on: those of
# more than one field, and the two that bound each other.
_HELD_BEFORE_BOOT = (
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
)


@raises_only_documented_errors
def load_sysctl(
    source: str | os.PathLike[str] | None = None,
    root: str | os.PathLike[str] | RootFS = "/",
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
            directories give the persistent values (or its ``RootFS``, to
            share one view of the root with other loaders).
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

    Example::

        settings = tcpaudit.load_sysctl(root="examples/tuned")
        keepalive = settings.settings["net.ipv4.tcp_keepalive_time"]
        # Live, persistent and in force agree; the drop-in is where it is kept.
        assert keepalive.value == keepalive.live.value == 600
        assert keepalive.persistent.file == "etc/sysctl.d/90-tcp-timers.conf"
        assert settings.boot == "procps"
    """
    fs = root if isinstance(root, RootFS) else RootFS(root)
    notes: list[Note] = []
    live = _read_live(fs, source, notes)

    release = kernel or read_osrelease(fs, live.proc_sys, notes)
    listed_release = live.values.pop("kernel.osrelease", None)
    if release is None and listed_release is not None:
        release = shown_prefix(str(listed_release.value), 64)
    version = parse_kernel_version(release) if release else None
    if release is None:
        notes.append(Note(message="kernel version unknown: defaults are those of current kernels"))

    if boot is None:
        boot_tool = detect_boot_tool(fs, notes)
    else:
        boot_tool = boot
        notes.append(
            Note(message=f"persistent values follow {boot_tool} order, as given (--sysctl-boot)")
        )
    logger.debug("sysctl: boot tool %s, kernel %s", boot_tool, release)

    files = read_assignments(fs, boot_tool, notes)
    universe = _universe(live)
    port_start = live.values.get("net.ipv4.ip_unprivileged_port_start")
    # What the keys that bound or complete others hold before the boot tool
    # runs: the live tree's value, else the kernel's default.
    before_boot: dict[str, SysctlValue] = {}
    for key in _HELD_BEFORE_BOOT:
        known = live.values.get(key)
        value = known.value if known is not None else kernel_default(key, version)
        if value is not None:
            before_boot[key] = value

    def check(key: str, raw: str, holds: Mapping[str, SysctlValue]) -> Checked:
        return check_value(
            key,
            raw,
            # Read, never copied: a glob over thousands of interfaces writes
            # as many values, and a copy each was quadratic (60 s).
            _Layered(holds, before_boot),
            kernel=version,
            unprivileged_port_start=port_start.value
            if port_start is not None and isinstance(port_start.value, int)
            else UNPRIVILEGED_PORT_START_DEFAULT,
        )

    persistent = apply_assignments(files.assignments, boot_tool, universe, check, notes)
    persistent = {key: source for key, source in persistent.items() if _kept(key)}
    if live.complete:
        # Per-interface keys are read only where a persistent file sets them.
        deeper = sorted(key for key in persistent if key.count(".") > 2)[:MAX_KEYS]
        live.values.update(read_keys(fs, live.proc_sys, deeper, notes))

    settings = _settings(live, persistent, version, notes)
    globs = [
        SysctlGlob(
            pattern=item.spelled,
            value=WITHHELD
            if item.value is not None and secret_glob(item.key, universe)
            else item.value,
            file=item.file,
            line=item.line,
        )
        for item in files.assignments
        if is_glob(item.key) or item.value is None
    ]
    if len(globs) > MAX_GLOBS:
        notes.append(
            Note(message=f"{len(globs) - MAX_GLOBS} more glob and exclusion lines not listed")
        )
        del globs[MAX_GLOBS:]
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
        notes=limit_notes(notes),
    )


def _settings(
    live: _Live,
    persistent: dict[str, SysctlSource],
    version: tuple[int, int] | None,
    notes: list[Note],
) -> dict[str, SysctlSetting]:
    """One setting per key: the tracked ones, then the others up to MAX_KEYS."""
    others = sorted((set(live.values) | set(persistent)) - set(TRACKED_KEYS))
    others = [key for key in others if key.startswith(AUDITED_PREFIXES)]
    if len(others) > MAX_KEYS:
        notes.append(
            Note(
                message=f"{len(others) - MAX_KEYS} more keys not kept: tcpaudit keeps the "
                f"{len(TRACKED_KEYS)} keys it judges and at most {MAX_KEYS} others"
            )
        )
        del others[MAX_KEYS:]
    settings: dict[str, SysctlSetting] = {}
    for key in sorted([*TRACKED_KEYS, *others]):
        default = kernel_default(key, version)
        live_source = live.values.get(key)
        persistent_source = persistent.get(key)
        value: SysctlValue | None
        if live_source is not None:
            value = live_source.value
        elif key in live.unknown:
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
            live_unknown=live.unknown.get(key),
        )
    return settings
