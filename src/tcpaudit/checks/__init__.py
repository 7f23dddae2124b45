"""The registry of checks: name (as rule files write it) -> ``Check``.

An explicit dict, so mypy and grep see every check. Third-party checks join
through the ``tcpaudit.checks`` entry-point group (see ``engine.catalogue``).
"""

from __future__ import annotations

from typing import Any

from .apache_setting_above import SettingAboveParams, apache_setting_above
from .base import Check, CheckParams, Hit
from .keepalive_on_holding_mpm import KeepAliveParams, keepalive_on_holding_mpm
from .module_missing import ModuleMissingParams, module_missing
from .request_read_timeout_weak import ReadTimeoutParams, request_read_timeout_weak
from .sysctl_keepalive_detection import KeepaliveDetectionParams, sysctl_keepalive_detection
from .sysctl_retries2_giveup import Retries2Params, sysctl_retries2_giveup
from .worker_exhaustion import ExhaustionParams, worker_exhaustion

__all__ = ["CHECKS", "Check", "CheckParams", "Hit"]

CHECKS: dict[str, Check[Any]] = {
    check.name: check
    for check in (
        Check("apache_setting_above", SettingAboveParams, apache_setting_above),
        Check("keepalive_on_holding_mpm", KeepAliveParams, keepalive_on_holding_mpm),
        Check("module_missing", ModuleMissingParams, module_missing),
        Check("request_read_timeout_weak", ReadTimeoutParams, request_read_timeout_weak),
        Check("sysctl_keepalive_detection", KeepaliveDetectionParams, sysctl_keepalive_detection),
        Check("sysctl_retries2_giveup", Retries2Params, sysctl_retries2_giveup),
        Check("worker_exhaustion", ExhaustionParams, worker_exhaustion),
    )
}
