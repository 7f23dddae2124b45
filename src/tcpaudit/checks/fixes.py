"""Paste-able fixes, placed where they win.

An Apache fix replaces the line that sets the value now (the location points
at it) or, for a value that is a compiled default, goes into the main file.
A sysctl fix goes into a /etc/sysctl.d drop-in whose name sorts after the file
that sets the key now, or edits /etc/sysctl.conf when procps applies that file
last and no drop-in could win.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import PurePosixPath

from ..apache.model import ApacheConfig, ApacheSetting, ProxyRoute
from ..provenance import Location
from ..sysctl.model import BootTool, SysctlSetting, SysctlValue, value_text
from ..sysctl.persistent import name_sorting_after

__all__ = [
    "DROP_IN_NAME",
    "apache_location",
    "drop_in_name",
    "load_module_fix",
    "proxy_pass_with",
    "sysctl_fix",
    "sysctl_location",
    "value_source",
]

DROP_IN_NAME = "99-tcpaudit.conf"


def apache_location(config: ApacheConfig, setting: ApacheSetting | None) -> Location:
    """The line that sets a value, or the main file when Apache's default applies."""
    if setting is not None and setting.file is not None:
        return Location(file=setting.file, line=setting.line)
    return Location(file=config.main_file)


def load_module_fix(config: ApacheConfig, module: str) -> str:
    """How this layout loads a module: Debian's a2enmod, else a LoadModule line."""
    stem = module.removesuffix("_module")
    if config.layout == "debian":
        return f"a2enmod {stem}"
    return f"LoadModule {module} modules/mod_{stem}.so"


def drop_in_name(current: SysctlSetting | None) -> str:
    """A sysctl.d file name that sorts after the file setting the key now.

    Both boot tools apply sysctl.d files in byte order of their names, and
    the last write of a key wins, so the drop-in must sort after the file
    (or the sysctl.d link to it) that sets the key now: DROP_IN_NAME when it
    does, else a name derived from that file's (persistent.name_sorting_after).
    Appending to /etc/sysctl.d/DROP_IN_NAME itself also wins: its new last
    line is the key's last write.
    """
    if current is None or current.persistent is None:
        return DROP_IN_NAME
    source = current.persistent
    placed = PurePosixPath(source.via or source.file)
    if placed.name == DROP_IN_NAME and placed.parent.as_posix().lstrip("/") == "etc/sysctl.d":
        return DROP_IN_NAME
    return name_sorting_after(placed.name, DROP_IN_NAME, "tcpaudit")


def sysctl_location(
    setting: SysctlSetting | None, wanted: SysctlValue | None = None
) -> Location | None:
    """Where to act on a key: the file that sets it persistently, else its /proc file.

    When the persistent file already holds ``wanted`` and only the live value
    differs, the file is right and the live value is what to change: the
    /proc file, so no one edits a line that is already correct.
    """
    if setting is None:
        return None
    if wanted is not None and setting.pending(wanted):
        assert setting.live is not None
        return Location(file=setting.live.file, line=setting.live.line)
    return setting.location


def value_source(setting: SysctlSetting | None, kernel: str | None = None) -> str:
    """Where the value in force comes from: its /proc file when it is the live
    value, else the persistent file:line, else the kernel default.

    Not ``sysctl_location``, which says where to act: a live value that the
    files do not set (or set otherwise) must not be quoted as theirs.
    """
    if setting is None:
        return "unknown"
    source = setting.live if setting.source == "live" else None
    if source is None and setting.source == "persistent":
        source = setting.persistent
    if source is not None:
        return source.file if source.line is None else f"{source.file}:{source.line}"
    if setting.source == "default":
        return f"the default of Linux {kernel}" if kernel else "the kernel default"
    return "unknown"


def sysctl_fix(
    assignments: Mapping[str, SysctlValue | int | str],
    settings: dict[str, SysctlSetting],
    boot: BootTool | None,
) -> str:
    """Shell lines that give the keys ``assignments`` now and at every boot.

    When the persistent files already set every value and only live values
    differ, ``sysctl -w`` applies them: the files need no edit. Otherwise
    the values go where they win at boot (a drop-in that sorts after the
    file setting each key now, or /etc/sysctl.conf, which procps applies
    last) and are applied from there.
    """
    wanted = {key: value_text(value) for key, value in assignments.items()}
    persisted = all(
        (setting := settings.get(key)) is not None
        and setting.persistent is not None
        and value_text(setting.persistent.value) == value
        for key, value in wanted.items()
    )
    pending = [
        key for key in wanted if (setting := settings.get(key)) and setting.pending(wanted[key])
    ]
    if persisted and pending:
        words = [shlex.quote(f"{key}={wanted[key]}") for key in pending]
        return f"sysctl -w {' '.join(words)}"
    lines = [f"{key} = {value}" for key, value in wanted.items()]
    from_sysctl_conf = any(
        (setting := settings.get(key)) is not None
        and setting.persistent is not None
        and PurePosixPath(setting.persistent.via or setting.persistent.file).name == "sysctl.conf"
        for key in assignments
    )
    if from_sysctl_conf and boot != "systemd":
        # procps applies /etc/sysctl.conf after every sysctl.d file: edit it there.
        body = "; ".join(lines)
        return f"in /etc/sysctl.conf set: {body}; then run: sysctl -p /etc/sysctl.conf"
    name = max((drop_in_name(settings.get(key)) for key in assignments), key=os.fsencode)
    target = shlex.quote(f"/etc/sysctl.d/{name}")
    content = "\\n".join(lines)
    return f"printf '{content}\\n' >> {target} && sysctl -p {target}"


def proxy_pass_with(route: ProxyRoute, key: str, value: str) -> str:
    """The route's ``ProxyPass`` line with ``key=value`` set, every other word kept.

    Flags such as ``nocanon`` or ``interpolate`` and the other parameters stay
    where they are; an existing ``key=`` (any case) is replaced in place,
    otherwise the pair is added at the end.
    """
    words = list(route.words)
    wanted = f"{key}={value}"
    for index, word in enumerate(words):
        name, sep, _ = word.partition("=")
        if sep and name.lower() == key:
            words[index] = wanted
            break
    else:
        words.append(wanted)
    # Inside a <Location> the line names only the backend: the path is the section's.
    head = [route.directive] if route.section else [route.directive, route.path]
    return " ".join(_as_word(word) for word in (*head, route.url, *words))


def _as_word(word: str) -> str:
    """``word`` spelt so that httpd reads it back as one word."""
    if word and not any(c.isspace() for c in word) and word[0] not in "\"'":
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
