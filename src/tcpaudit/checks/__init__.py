"""The registry of checks: name (as rule files write it) -> ``Check``.

An explicit dict, so mypy and grep see every check. Third-party checks join
through the ``tcpaudit.checks`` entry-point group (see ``engine.catalogue``).
"""

from __future__ import annotations

from typing import Any

from .accept_filter_off import AcceptFilterParams, accept_filter_off
from .apache_setting_above import SettingAboveParams, apache_setting_above
from .base import Check, CheckParams, Hit
from .keepalive_below_balancer import BalancerParams, keepalive_below_balancer
from .keepalive_hides_exhaustion import HidingParams, keepalive_hides_exhaustion
from .keepalive_off import KeepAliveOffParams, keepalive_off
from .keepalive_on_holding_mpm import KeepAliveParams, keepalive_on_holding_mpm
from .listen_backlog_capped import BacklogParams, listen_backlog_capped
from .max_keepalive_requests import MaxKeepAliveRequestsParams, max_keepalive_requests
from .max_request_workers_capped import WorkersCappedParams, max_request_workers_capped
from .module_missing import ModuleMissingParams, module_missing
from .proxy_backend_keepalive import BackendKeepaliveParams, proxy_backend_keepalive
from .proxy_pool_close_wait import PoolParams, proxy_pool_close_wait
from .proxy_timeout_long import ProxyTimeoutParams, proxy_timeout_long
from .reqtimeout_default_rates import DefaultRatesParams, reqtimeout_default_rates
from .request_read_timeout_weak import ReadTimeoutParams, request_read_timeout_weak
from .slow_reader_timeout import SlowReaderParams, slow_reader_timeout
from .suppression_expired import SuppressionExpiredParams, suppression_expired
from .sysctl_drift import DriftParams, sysctl_drift
from .sysctl_keepalive_detection import KeepaliveDetectionParams, sysctl_keepalive_detection
from .sysctl_retries2_giveup import Retries2Params, sysctl_retries2_giveup
from .sysctl_value_compare import ValueCompareParams, sysctl_value_compare
from .tls_handshake_timeout import HandshakeParams, tls_handshake_timeout
from .tunnel_pins_worker import TunnelParams, tunnel_pins_worker
from .vhost_setting_ignored import IgnoredSettingParams, vhost_setting_ignored
from .worker_exhaustion import ExhaustionParams, worker_exhaustion

__all__ = ["CHECKS", "Check", "CheckParams", "Hit"]

CHECKS: dict[str, Check[Any]] = {
    check.name: check
    for check in (
        Check("accept_filter_off", AcceptFilterParams, accept_filter_off),
        Check("suppression_expired", SuppressionExpiredParams, suppression_expired),
        Check("apache_setting_above", SettingAboveParams, apache_setting_above),
        Check("keepalive_below_balancer", BalancerParams, keepalive_below_balancer),
        Check("proxy_pool_close_wait", PoolParams, proxy_pool_close_wait),
        Check("reqtimeout_default_rates", DefaultRatesParams, reqtimeout_default_rates),
        Check("slow_reader_timeout", SlowReaderParams, slow_reader_timeout),
        Check("tls_handshake_timeout", HandshakeParams, tls_handshake_timeout),
        Check("tunnel_pins_worker", TunnelParams, tunnel_pins_worker),
        Check("keepalive_hides_exhaustion", HidingParams, keepalive_hides_exhaustion),
        Check("keepalive_off", KeepAliveOffParams, keepalive_off),
        Check("keepalive_on_holding_mpm", KeepAliveParams, keepalive_on_holding_mpm),
        Check("listen_backlog_capped", BacklogParams, listen_backlog_capped),
        Check("max_keepalive_requests", MaxKeepAliveRequestsParams, max_keepalive_requests),
        Check("max_request_workers_capped", WorkersCappedParams, max_request_workers_capped),
        Check("module_missing", ModuleMissingParams, module_missing),
        Check("proxy_backend_keepalive", BackendKeepaliveParams, proxy_backend_keepalive),
        Check("proxy_timeout_long", ProxyTimeoutParams, proxy_timeout_long),
        Check("request_read_timeout_weak", ReadTimeoutParams, request_read_timeout_weak),
        Check("sysctl_drift", DriftParams, sysctl_drift),
        Check("sysctl_keepalive_detection", KeepaliveDetectionParams, sysctl_keepalive_detection),
        Check("sysctl_retries2_giveup", Retries2Params, sysctl_retries2_giveup),
        Check("sysctl_value_compare", ValueCompareParams, sysctl_value_compare),
        Check("vhost_setting_ignored", IgnoredSettingParams, vhost_setting_ignored),
        Check("worker_exhaustion", ExhaustionParams, worker_exhaustion),
    )
}
