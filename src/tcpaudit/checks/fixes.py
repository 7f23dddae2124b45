"""Paste-able fixes, placed where they win.

An Apache fix replaces the line that sets the value now (the location points
at it) or, for a value that is a compiled default, goes into the main file.
A sysctl fix goes into a /etc/sysctl.d drop-in whose name sorts after the file
that sets the key now, or edits /etc/sysctl.conf when procps applies that file
last and no drop-in could win.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath

from ..apache.model import ApacheConfig, ApacheSetting, ProxyRoute
from ..provenance import Location
from ..sysctl.model import BootTool, SysctlSetting

__all__ = [
    "DROP_IN_NAME",
    "apache_location",
    "drop_in_name",
    "load_module_fix",
    "proxy_pass_with",
    "sysctl_fix",
    "sysctl_location",
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
    """A sysctl.d file name that sorts after the file setting the key now."""
    if current is None or current.persistent is None:
        return DROP_IN_NAME
    name = PurePosixPath(current.persistent.file).name
    if name < DROP_IN_NAME:
        return DROP_IN_NAME
    return f"zz-{DROP_IN_NAME}"


def sysctl_location(setting: SysctlSetting | None) -> Location | None:
    return None if setting is None else setting.location


def sysctl_fix(
    assignments: Mapping[str, int | str],
    settings: dict[str, SysctlSetting],
    boot: BootTool | None,
) -> str:
    """Shell lines that persist and apply ``assignments`` where they will win at boot."""
    lines = [f"{key} = {value}" for key, value in assignments.items()]
    from_sysctl_conf = any(
        (setting := settings.get(key)) is not None
        and setting.persistent is not None
        and PurePosixPath(setting.persistent.file).name == "sysctl.conf"
        for key in assignments
    )
    if from_sysctl_conf and boot != "systemd":
        # procps applies /etc/sysctl.conf after every sysctl.d file: edit it there.
        body = "; ".join(lines)
        return f"in /etc/sysctl.conf set: {body}; then run: sysctl -p /etc/sysctl.conf"
    name = max(drop_in_name(settings.get(key)) for key in assignments)
    target = f"/etc/sysctl.d/{name}"
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
