"""The kernel part of the host model: sysctl values with live, persistent and default sources.

``value`` is what is in force now: the live value when known, else the value
the persistent files set at boot, else the kernel default. Both other sources
stay visible with their file and line, so drift (a persistent value that
differs from the live one) can be reported with both files. This module only
holds the data; the loaders in this package fill it and rules judge it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import (
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from ..first_error import FirstErrorModel
from ..provenance import LineNumber, Location, Note

__all__ = [
    "BootTool",
    "SysctlGlob",
    "SysctlSetting",
    "SysctlSettings",
    "SysctlSource",
    "SysctlValue",
    "effective_int",
    "value_text",
]

SysctlValue = int | list[int] | str
BootTool = Literal["systemd", "procps"]

# ip-sysctl.rst, tcp_orphan_retries: "Default value is 8. If your machine is a
# loaded WEB server, you should think about lowering this value"; the file
# holds 0, which tcp_orphan_retries() in net/ipv4/tcp_timer.c turns into 8
# while the peer is alive (its RTO is below TCP_RTO_MAX).
KERNEL_ORPHAN_RETRIES_ZERO_MEANS = 8


def effective_int(key: str, value: int) -> int:
    """What the kernel acts on for a single-number key (tcp_orphan_retries 0 means 8)."""
    if key == "net.ipv4.tcp_orphan_retries" and value == 0:
        return KERNEL_ORPHAN_RETRIES_ZERO_MEANS
    return value


def value_text(value: SysctlValue) -> str:
    """A value as sysctl.conf lines write it: several fields joined by one blank."""
    return " ".join(str(part) for part in value) if isinstance(value, list) else str(value)


class SysctlSource(FirstErrorModel):
    """A value as one source states it (a /proc file, a line of a sysctl file).

    ``glob`` is the pattern as written when a glob line (``net.ipv4.tcp_keepalive_*``)
    set this key rather than a line naming it. ``via`` is the sysctl.d entry
    the boot tool read ``file`` through when that is a link with another
    name (Debian's etc/sysctl.d/99-sysctl.conf -> ../sysctl.conf): that
    name, not ``file``'s, is the file's place in the boot order.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: SysctlValue
    file: str
    line: LineNumber | None = None
    glob: str | None = None
    via: str | None = None

    @model_serializer(mode="wrap")
    def _drop_absent_glob(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        # Most values are set by a line naming the key in a file of its own
        # name; keep the facts JSON to the contract's {value, file, line}
        # unless a glob set it or a link named the file.
        data: dict[str, object] = handler(self)
        for optional in ("glob", "via"):
            if data.get(optional) is None:
                data.pop(optional, None)
        return data


class SysctlGlob(FirstErrorModel):
    """A glob line of a persistent file, kept as written.

    tcpaudit expands globs against the keys it knows (the live keys and the
    keys it tracks), as the boot tools expand them against /proc/sys. A key a
    glob names but tcpaudit does not know (``net.ipv4.conf.eth0.rp_filter``
    when no live tree was read) is not invented; the glob stays visible here.
    ``value`` is None for an exclusion line (``-net.ipv4.conf.lo.rp_filter``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str
    value: str | None
    file: str
    line: LineNumber


class SysctlSetting(FirstErrorModel):
    """One sysctl key: the value in force and every source that states it.

    ``default_depends_on_memory`` marks keys whose kernel default is computed
    at boot from the machine's memory: ``default`` is then None
    (tcp_max_syn_backlog) or the value on hosts with enough memory (the
    third field of tcp_rmem and tcp_wmem).

    ``live_unknown`` says why the live value is unknown although the key
    exists in the live tree (its /proc file is not readable, or holds no
    value the kernel could); ``value`` is then None: the kernel holds
    something, and neither the persistent nor the default value may be
    claimed for it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: SysctlValue | None
    live: SysctlSource | None = None
    persistent: SysctlSource | None = None
    default: SysctlValue | None = None
    default_depends_on_memory: bool = False
    live_unknown: str | None = None

    @model_serializer(mode="wrap")
    def _drop_absent_unknown(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        # Keep the facts JSON to the contract's fields unless a live value
        # could not be read.
        data: dict[str, object] = handler(self)
        if data.get("live_unknown") is None:
            data.pop("live_unknown", None)
        return data

    @property
    def source(self) -> Literal["live", "persistent", "default", "unknown"]:
        """Which source ``value`` comes from."""
        if self.live is not None:
            return "live"
        if self.live_unknown is not None:
            return "unknown"
        if self.persistent is not None:
            return "persistent"
        if self.default is not None:
            return "default"
        return "unknown"

    @property
    def location(self) -> Location | None:
        """Where to change it: the persistent file that sets it, else the live file."""
        chosen = self.persistent or self.live
        return None if chosen is None else Location(file=chosen.file, line=chosen.line)

    def pending(self, wanted: SysctlValue) -> bool:
        """True when the persistent files set ``wanted`` and only the live value differs.

        The next boot brings ``wanted`` back, and ``sysctl -w`` brings it now:
        the files need no edit.
        """
        text = value_text(wanted)
        return (
            self.persistent is not None
            and self.live is not None
            and value_text(self.persistent.value) == text
            and value_text(self.live.value) != text
        )

    @property
    def drifts(self) -> bool:
        """True when the value set at boot differs from the value in force."""
        return (
            self.live is not None
            and self.persistent is not None
            and self.live.value != self.persistent.value
        )


class SysctlSettings(FirstErrorModel):
    """All sysctl keys tcpaudit knows of for a host, keyed by dotted name.

    ``persistent_files`` lists the files the boot tool applies, in its order
    and as it finds them (relative to the audited root), like
    ``systemd-sysctl --cat-config``; files masked by a /dev/null link are
    left out and named in a note. ``globs`` keeps every glob and exclusion
    line of those files as written.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    boot: BootTool | None = None
    kernel: str | None = None
    settings: dict[str, SysctlSetting] = Field(default_factory=dict)
    globs: list[SysctlGlob] = Field(default_factory=list)
    persistent_files: list[str] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)

    def int_value(self, key: str) -> int | None:
        """The value of a single-number key, or None when unknown or not a number."""
        setting = self.settings.get(key)
        if setting is None or not isinstance(setting.value, int):
            return None
        return setting.value

    def effective_int_value(self, key: str) -> int | None:
        """Like ``int_value``, but what the kernel acts on (tcp_orphan_retries 0 -> 8)."""
        value = self.int_value(key)
        return None if value is None else effective_int(key, value)
