"""The kernel part of the host model: sysctl values with live, persistent and default sources.

``value`` is what is in force now: the live value when known, else the value
the persistent files set, else the kernel default. Both other sources stay
visible, so drift (a persistent value that differs from the live one) can be
reported with both files.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..provenance import Location, Note

__all__ = ["BootTool", "SysctlSetting", "SysctlSettings", "SysctlSource", "SysctlValue"]

SysctlValue = int | list[int] | str
BootTool = Literal["systemd", "procps"]


class SysctlSource(BaseModel):
    """A value as one source states it (a /proc file, a line of a sysctl file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: SysctlValue
    file: str
    line: int | None = None


class SysctlSetting(BaseModel):
    """One sysctl key: the value in force and every source that states it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: SysctlValue | None
    live: SysctlSource | None = None
    persistent: SysctlSource | None = None
    default: SysctlValue | None = None

    @property
    def source(self) -> Literal["live", "persistent", "default", "unknown"]:
        if self.live is not None:
            return "live"
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

    @property
    def drifts(self) -> bool:
        """True when the value set at boot differs from the value in force."""
        return (
            self.live is not None
            and self.persistent is not None
            and self.live.value != self.persistent.value
        )


class SysctlSettings(BaseModel):
    """All sysctl keys tcpaudit knows of for a host, keyed by dotted name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    boot: BootTool | None = None
    kernel: str | None = None
    settings: dict[str, SysctlSetting] = Field(default_factory=dict)
    notes: list[Note] = Field(default_factory=list)

    def int_value(self, key: str) -> int | None:
        """The value of a single-number key, or None when unknown or not a number."""
        setting = self.settings.get(key)
        if setting is None or not isinstance(setting.value, int):
            return None
        return setting.value
