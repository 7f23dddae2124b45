"""A tracked TCP sysctl holds one value now and will get another at the next boot.

The live value (/proc/sys) is what the kernel does today; the persistent files
(sysctl.d, sysctl.conf, in the boot tool's order) decide what it does after a
reboot. When they differ, either a tuning was applied by hand and will be
lost, or a file was changed and never applied: both are reported with their
sources, since only the operator knows which one is meant.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..engine.rule import Context
from ..facts import HostFacts
from ..sysctl.defaults import TRACKED_KEYS
from ..sysctl.model import SysctlSource, SysctlValue
from .base import CheckParams, Hit
from .fixes import sysctl_fix

__all__ = ["DriftParams", "sysctl_drift"]


class DriftParams(CheckParams):
    # Empty: every key tcpaudit tracks (sysctl.defaults.TRACKED_KEYS).
    keys: list[str] = []


def _shown(value: SysctlValue) -> str:
    return " ".join(str(part) for part in value) if isinstance(value, list) else str(value)


def _where(source: SysctlSource) -> str:
    where = source.file if source.line is None else f"{source.file}:{source.line}"
    return f"{where} (glob {source.glob})" if source.glob else where


def sysctl_drift(facts: HostFacts, params: DriftParams, context: Context) -> Iterator[Hit]:
    sysctl = facts.sysctl
    if sysctl is None:
        return
    for key in params.keys or TRACKED_KEYS:
        setting = sysctl.settings.get(key)
        if setting is None or not setting.drifts:
            continue
        assert setting.live is not None and setting.persistent is not None
        live, persistent = setting.live, setting.persistent
        value = _shown(persistent.value)
        apply_now = f"sysctl -w {key}='{value}'" if " " in value else f"sysctl -w {key}={value}"
        keep_live = sysctl_fix({key: _shown(live.value)}, sysctl.settings, sysctl.boot)
        yield Hit(
            setting=key,
            current=_shown(live.value),
            recommended=value,
            location=setting.location,
            fix=f"{apply_now}\n# or keep the live value across reboots:\n# {keep_live}",
            values={
                "live": _shown(live.value),
                "live_from": _where(live),
                "persistent": value,
                "persistent_from": _where(persistent),
            },
        )
