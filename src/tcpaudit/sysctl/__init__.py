"""Linux TCP sysctls: live /proc values, persistent files, kernel defaults."""

from __future__ import annotations

from .loader import load_sysctl
from .model import SysctlSetting, SysctlSettings, SysctlSource

__all__ = ["SysctlSetting", "SysctlSettings", "SysctlSource", "load_sysctl"]
