"""Linux TCP sysctls: live /proc values, persistent files, kernel defaults.

proc.py and text.py read live values, persistent.py lists the boot tool's
files, apply.py replays its precedence, limits.py predicts what the kernel
refuses, defaults.py knows kernel defaults, loader.py merges them into
model.py's ``SysctlSettings``.
"""

from __future__ import annotations

from .loader import load_sysctl
from .model import SysctlGlob, SysctlSetting, SysctlSettings, SysctlSource

__all__ = ["SysctlGlob", "SysctlSetting", "SysctlSettings", "SysctlSource", "load_sysctl"]
