"""How long one stalled client keeps one Apache worker, for each kind of stall.

Owns the model behind ``derived.worker_hold_seconds``; ``facts`` only calls it.
Each formula follows httpd's own code (files named below, httpd 2.2 and 2.4
trees) and is held against a real apache2 by tests/lab, cell by cell.

- A read of the request is bounded by mod_reqtimeout's stage (header, body;
  handshake from 2.4.39) where one applies, else by Timeout (each read).
  A stage's MinRate extends it by the bytes received, up to its maximum, or
  without end when it has none (extend_timeout, mod_reqtimeout.c).
- Header reads (and the handshake) run under the connection's base server,
  the first virtual host of its address; the body and the response under the
  name-based virtual host (reqtimeout_before_body; apply_server_config in
  server/protocol.c sets r->server->timeout once the header is read).
- A client that stops reading a response holds its worker for Timeout on
  every MPM: the write blocks, mod_reqtimeout never covers it, and the
  aborted connection then closes at once.
- prefork and worker (and event in 2.2, which closes in the worker thread)
  end a connection with a lingering close in the worker: up to 2 s more for
  a client that neither sends nor closes (SECONDS_TO_LINGER,
  ap_lingering_close in server/connection.c). 2.4's event hands it, and
  keep-alive waits, to its listener thread.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

from .apache.model import ApacheConfig, ApacheSetting, MpmName, VirtualHost
from .apache.scopes import keepalive_on, vhost_label
from .apache.values import ReadTimeoutLimit, RequestReadTimeoutValue
from .vhost_matching import reach, reach_remembered

__all__ = [
    "ADVERSARIAL_KINDS",
    "DEFER_ACCEPT_SECONDS",
    "HOLDING_MPMS",
    "HOLD_KINDS",
    "LINGER_SECONDS",
    "Exhaustion",
    "HoldKind",
    "KindHold",
    "exhaustion",
    "has_tls_listener",
    "holds_remembered",
    "kind_holds",
    "silent_deferred_seconds",
    "worker_lingers",
]

HoldKind = Literal[
    "silent",
    "header_stop",
    "header_trickle",
    "body_stall",
    "body_trickle",
    "slow_reader",
    "keepalive_idle",
    "tls_handshake",
]
HOLD_KINDS: tuple[HoldKind, ...] = (
    "silent",
    "header_stop",
    "header_trickle",
    "body_stall",
    "body_trickle",
    "slow_reader",
    "keepalive_idle",
    "tls_handshake",
)
# Clients that keep sending on purpose to stay (slowloris, slow POST): judged by
# their own rules (TA103, TA104), not by the rate that drains the pool.
ADVERSARIAL_KINDS: frozenset[HoldKind] = frozenset({"header_trickle", "body_trickle"})
# Process- or thread-per-connection MPMs hold a worker through keep-alive waits.
HOLDING_MPMS: frozenset[MpmName] = frozenset({"prefork", "worker"})
LINGER_SECONDS = 2.0  # SECONDS_TO_LINGER, server/connection.c (2.2 and 2.4)
# server/listen.c: TCP_DEFER_ACCEPT is set to 30 s from 2.2.28 (CHANGES: PR 41270)
# and in all of 2.4; 2.2.0 to 2.2.27 set 1 s. The kernel turns the seconds into
# SYN-ACK retransmissions (secs_to_retrans in net/ipv4/tcp.c: 30 s -> 5, the
# last one 1+2+4+8+16 = 31 s after the handshake; 1 s -> 1) and queues the
# connection when the client acknowledges the last one. Measured: 31.6 s.
_DEFER_30_FROM = (2, 2, 28)
DEFER_ACCEPT_SECONDS = {30: 31.0, 1: 1.0}
# mod_reqtimeout's handshake stage exists from 2.4.39 (CHANGES: PR 61310).
_HANDSHAKE_STAGE_FROM = (2, 4, 39)
# From 2.4.18 mod_ssl handshakes in its process_connection hook (APR_HOOK_MIDDLE),
# before mod_reqtimeout's (APR_HOOK_LAST until 2.4.39) sets any limit; before,
# the handshake ran inside the header read, under the header stage.
_SSL_HANDSHAKE_EARLY_FROM = (2, 4, 18)
# 2.4.39 does not apply the compiled MinRate of default stages (PR 63325, 2.4.40).
_MIN_RATE_BUG = (2, 4, 39)
_UNKNOWN_PATCH = 10**6  # a version without patch level reads as the newest of its branch


@dataclass(frozen=True, slots=True)
class KindHold:
    """How long one client of a kind holds a worker, and what ends the hold.

    Attributes:
        kind: the kind of stalled client.
        seconds: the hold, lingering close included; None when nothing ends it.
        limit: the timer that ends it (``Timeout``, ``RequestReadTimeout header``,
            ``KeepAliveTimeout``, ...), or ``nothing``; ``none`` when no worker is held.
        limit_seconds: that timer's own value (for a stage extended by MinRate,
            its maximum); None when unlimited.
        linger_seconds: the lingering close the worker runs afterwards.
        scope: the virtual host where the hold is longest; None for the server.
    """

    kind: HoldKind
    seconds: float | None
    limit: str
    limit_seconds: float | None
    linger_seconds: float = 0.0
    scope: str | None = None

    def describe(self) -> str:
        """``RequestReadTimeout header 20 s + 2 s lingering close`` and the like."""
        if self.limit == "none":
            return "no worker is held"
        if self.seconds is None or self.limit_seconds is None:
            return f"nothing ends it ({self.limit})" if self.limit != "nothing" else "no limit"
        text = f"{self.limit} {self.limit_seconds:g} s"
        if self.linger_seconds:
            text += f" + {self.linger_seconds:g} s lingering close"
        return text


@dataclass(frozen=True, slots=True)
class _Scope:
    label: str | None
    timeout: float  # math.inf: a negative Timeout, APR's "no limit"
    limits: RequestReadTimeoutValue | None
    keepalive: bool
    keepalive_seconds: float
    base: bool  # the server or the first vhost of an address: header reads run under it


def _padded(version: tuple[int, ...]) -> tuple[int, ...]:
    return version + (_UNKNOWN_PATCH,) * (3 - len(version))


def worker_lingers(config: ApacheConfig) -> bool:
    """Whether a worker runs the lingering close itself (not event in 2.4)."""
    return config.mpm != "event" or config.version_info < (2, 4)


def _keepalive_in_worker(config: ApacheConfig) -> bool:
    # event (2.2 and 2.4) waits for the next request in its listener thread.
    return config.mpm != "event"


def _seconds(setting: ApacheSetting | None) -> float | None:
    value = setting.value if setting is not None else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return math.inf if value < 0 else float(value)


# The limits of a connection whose base server turned mod_reqtimeout off.
_NO_STAGES = RequestReadTimeoutValue()


def _distinct_scopes(config: ApacheConfig) -> list[_Scope]:
    """The server's scope and the vhosts', one of each set of scopes that hold alike.

    Scopes alike but for their label hold alike, and a later one never
    replaces an equal earlier one (``_longer`` keeps the first): the first of
    each suffices (10,000 vhosts of one template are two or three scopes),
    and only those kept get their label built.
    """
    server_timeout = _seconds(config.settings.get("Timeout"))
    server_keepalive = _seconds(config.settings.get("KeepAliveTimeout")) or 0.0
    server_limits = _limits(config.settings.get("RequestReadTimeout"))
    server_keepalive_on = keepalive_on(config.settings.get("KeepAlive"), True)
    distinct: dict[tuple[float, int, bool, float, bool], _Scope] = {}
    # The main server serves connections only on an address no vhost covers:
    # elsewhere a request naming no vhost goes to the address's first vhost
    # (measured: lab cell main-server-unused), so its scope holds nothing.
    reached = reach(config)
    if server_timeout is not None and reached.main_server_is_base:
        key = (server_timeout, id(server_limits), server_keepalive_on, server_keepalive, True)
        distinct[key] = _Scope(None, server_timeout, server_limits, *key[2:])
    # address -> the limits of its first vhost, the connection's base server.
    base_limits: dict[tuple[str, str], RequestReadTimeoutValue | None] = {}
    # address -> the KeepAliveTimeout of its base server.
    base_keepalive: dict[tuple[str, str], float] = {}
    # The vhosts a connection reaches, with the addresses it reaches them on
    # (each has its own base server); an IP vhost may shadow a `*` one.
    for vhost, addresses in reached.served:
        settings = vhost.settings
        timeout = _seconds(settings.get("Timeout"))
        if timeout is None:
            timeout = server_timeout
        first_on = [address not in base_limits for address in addresses]
        own_limits = settings.get("RequestReadTimeout")
        limits = server_limits if own_limits is None else _limits(own_limits)
        own_keepalive = settings.get("KeepAliveTimeout")
        own_keepalive_seconds = (
            _seconds(own_keepalive) or 0.0
            if own_keepalive is not None and own_keepalive.effective
            else None
        )
        for address, first in zip(addresses, first_on, strict=True):
            base_limits.setdefault(address, server_limits if timeout is None else limits)
            if first:
                base_keepalive[address] = (
                    server_keepalive if own_keepalive_seconds is None else own_keepalive_seconds
                )
        if timeout is None:
            continue
        scope_keepalive = keepalive_on(settings.get("KeepAlive"), server_keepalive_on)
        # One scope per way its connections are read: as a base server, or
        # under another vhost's base, which may have turned mod_reqtimeout off
        # (reqtimeout_init declines: no stage runs, this vhost's own included)
        # and whose KeepAliveTimeout a vhost setting none waits for (http_core.c
        # takes the base server's when the request's server sets none; measured).
        variants: dict[tuple[int, bool, float], tuple[RequestReadTimeoutValue | None, bool, float]]
        variants = {}
        for address, first in zip(addresses, first_on, strict=True):
            read_with = limits if first or not _reqtimeout_off(base_limits[address]) else _NO_STAGES
            waits = (
                base_keepalive[address] if own_keepalive_seconds is None else own_keepalive_seconds
            )
            variants.setdefault((id(read_with), first, waits), (read_with, first, waits))
        for scope_limits, base, keepalive_seconds in variants.values():
            # The limits by identity: hashing a model per vhost costs more than
            # the rest of the loop, and equal limits kept twice change nothing.
            key = (timeout, id(scope_limits), scope_keepalive, keepalive_seconds, base)
            if key not in distinct:
                distinct[key] = _Scope(vhost_label(vhost), timeout, scope_limits, *key[2:])
    return list(distinct.values())


def _reqtimeout_off(limits: RequestReadTimeoutValue | None) -> bool:
    """reqtimeout_init's test: no handshake stage, header=0 and body=0."""
    if limits is None or limits.header is None or limits.body is None:
        return False
    handshake_off = limits.handshake is None or limits.handshake.disabled
    return handshake_off and limits.header.disabled and limits.body.disabled


def _limits(setting: ApacheSetting | None) -> RequestReadTimeoutValue | None:
    value = setting.value if setting is not None else None
    return value if isinstance(value, RequestReadTimeoutValue) else None


def _first(stage: ReadTimeoutLimit | None) -> float:
    """The stage's initial timeout; inf when the stage is off."""
    if stage is None or stage.disabled:
        return math.inf
    return float(stage.timeout_seconds)


def _extends(stage: ReadTimeoutLimit, version: tuple[int, ...]) -> bool:
    if not stage.min_rate_bytes:
        return False
    return not (stage.default and _padded(version) == _MIN_RATE_BUG)


def _trickle(stage: ReadTimeoutLimit | None, version: tuple[int, ...]) -> tuple[float, float]:
    """(hold, timer) for a client that keeps sending above MinRate: the stage's
    maximum, or no end (inf) with a MinRate and no maximum, or no stage at all."""
    if stage is None or stage.disabled:
        return math.inf, math.inf
    if not _extends(stage, version):
        return float(stage.timeout_seconds), float(stage.timeout_seconds)
    if stage.max_seconds:
        return float(stage.max_seconds), float(stage.max_seconds)
    return math.inf, math.inf


def has_tls_listener(config: ApacheConfig) -> bool:
    """mod_ssl loaded and the base server of some address speaking TLS (the
    main server where some Listen address has no vhost): mod_ssl decides per
    server, from SSLEngine, or an https Protocol with a certificate, never
    from a Listen's protocol alone (apache/tls_servers.py, measured)."""
    if not config.has_module("ssl_module"):
        return False
    reached = reach(config)
    if reached.main_server_is_base and config.main_server_tls:
        return True
    bases: dict[tuple[str, str], VirtualHost] = {}
    for vhost, addresses in reached.served:
        for address in addresses:
            bases.setdefault(address, vhost)
    return any(vhost.tls for vhost in bases.values())


def _candidate(
    kind: HoldKind, scope: _Scope, hold: float, limit: str, timer: float, linger: float
) -> KindHold:
    if math.isinf(hold):
        return KindHold(kind, None, limit, None, 0.0, scope.label)
    return KindHold(kind, round(hold + linger, 3), limit, timer, linger, scope.label)


def _read_stall(
    kind: HoldKind, scope: _Scope, stage_name: str, stage: ReadTimeoutLimit | None, linger: float
) -> KindHold:
    """A client that stops sending while a stage reads: the stage or Timeout, whichever first."""
    first = _first(stage)
    if not math.isinf(first) and first <= scope.timeout:
        return _candidate(kind, scope, first, f"RequestReadTimeout {stage_name}", first, linger)
    limit = "Timeout" if not math.isinf(scope.timeout) else "nothing"
    return _candidate(kind, scope, scope.timeout, limit, scope.timeout, linger)


def _for_scope(
    config: ApacheConfig, kind: HoldKind, scope: _Scope, linger: float
) -> KindHold | None:
    version = config.version_info
    limits = scope.limits or RequestReadTimeoutValue()
    if kind in ("silent", "header_stop", "header_trickle", "tls_handshake") and not scope.base:
        return None  # header reads run under the address's first virtual host
    if kind in ("silent", "header_stop"):
        return _read_stall(kind, scope, "header", limits.header, linger)
    if kind == "body_stall":
        return _read_stall(kind, scope, "body", limits.body, linger)
    if kind in ("header_trickle", "body_trickle"):
        stage_name = "header" if kind == "header_trickle" else "body"
        hold, timer = _trickle(getattr(limits, stage_name), version)
        limit = f"RequestReadTimeout {stage_name}" if not math.isinf(hold) else "nothing"
        return _candidate(kind, scope, hold, limit, timer, linger)
    if kind == "slow_reader":
        limit = "Timeout" if not math.isinf(scope.timeout) else "nothing"
        return _candidate(kind, scope, scope.timeout, limit, scope.timeout, 0.0)
    if kind == "tls_handshake":
        # A failed handshake aborts the connection: no lingering close (measured).
        padded = _padded(version)
        if padded >= _HANDSHAKE_STAGE_FROM:
            return _read_stall(kind, scope, "handshake", limits.handshake, 0.0)
        if padded >= _SSL_HANDSHAKE_EARLY_FROM:
            return _read_stall(kind, scope, "handshake", None, 0.0)
        return _read_stall(kind, scope, "header", limits.header, 0.0)
    # keepalive_idle: the wait for the next request, then the close.
    if not scope.keepalive:
        return KindHold(kind, linger, "lingering close", linger, 0.0, scope.label)
    if not _keepalive_in_worker(config):
        return KindHold(kind, 0.0, "none", 0.0, 0.0, scope.label)
    # 2.2 reads KeepAliveTimeout with atoi: a negative value waits without limit.
    seconds = scope.keepalive_seconds
    return _candidate(kind, scope, seconds, "KeepAliveTimeout", seconds, linger)


def _longer(left: KindHold | None, right: KindHold | None) -> KindHold | None:
    if left is None or right is None:
        return right if left is None else left
    if left.seconds is None:
        return left
    if right.seconds is None or right.seconds > left.seconds:
        return right
    return left


# Inside an audit (``holds_remembered``), the holds of the last configurations
# asked about: one audit asks once per rule (a rules directory may add 100
# rules), and on 20,000 vhosts each answer takes 75 ms. A few entries only:
# a fix asks about each configuration it would make.
_remembered: ContextVar[dict[int, tuple[ApacheConfig, dict[HoldKind, KindHold]]] | None] = (
    ContextVar("tcpaudit_kind_holds", default=None)
)
_REMEMBERED_CONFIGS = 4


@contextmanager
def holds_remembered() -> Iterator[None]:
    """Within the block, ``kind_holds`` answers again for a configuration without work."""
    token = _remembered.set({})
    try:
        with reach_remembered():
            yield
    finally:
        _remembered.reset(token)


def kind_holds(config: ApacheConfig) -> dict[HoldKind, KindHold]:
    """The longest hold of each kind over the server and its virtual hosts.

    ``tls_handshake`` appears only when a TLS listener exists. Kinds whose
    timers are unknown (no Timeout value) are left out. The answer is shared
    within ``holds_remembered``: callers do not change it.
    """
    remembered = _remembered.get()
    if remembered is not None:
        # The entry holds the configuration itself, so its id names no other.
        entry = remembered.get(id(config))
        if entry is not None and entry[0] is config:
            return entry[1]
    found = _kind_holds(config)
    if remembered is not None:
        if len(remembered) >= _REMEMBERED_CONFIGS:
            remembered.clear()
        remembered[id(config)] = (config, found)
    return found


def _kind_holds(config: ApacheConfig) -> dict[HoldKind, KindHold]:
    linger = LINGER_SECONDS if worker_lingers(config) else 0.0
    kinds = [k for k in HOLD_KINDS if k != "tls_handshake" or has_tls_listener(config)]
    found: dict[HoldKind, KindHold] = {}
    all_scopes = _distinct_scopes(config)
    for kind in kinds:
        longest: KindHold | None = None
        for scope in all_scopes:
            longest = _longer(longest, _for_scope(config, kind, scope, linger))
        if longest is not None:
            found[kind] = longest
    return found


@dataclass(frozen=True, slots=True)
class Exhaustion:
    """The kind that drains the pool first and how few such clients do it.

    Attributes:
        hold: the longest hold of a non-adversarial kind (None: no kind known).
        clients_per_second: workers / hold; 0.0 when that hold has no limit.
    """

    hold: KindHold | None
    clients_per_second: float | None


def exhaustion(holds: dict[HoldKind, KindHold], workers: int | None) -> Exhaustion:
    """Workers divided by the longest hold of the clients that are not attacks."""
    longest: KindHold | None = None
    for kind, hold in holds.items():
        if kind not in ADVERSARIAL_KINDS:
            longest = _longer(longest, hold)
    if longest is None or not workers:
        return Exhaustion(longest, None)
    if longest.seconds is None:
        return Exhaustion(longest, 0.0)
    if longest.seconds <= 0:
        return Exhaustion(longest, None)
    return Exhaustion(longest, round(workers / longest.seconds, 3))


def silent_deferred_seconds(config: ApacheConfig) -> float:
    """How long the kernel keeps a client that sends nothing from Apache (http listeners).

    ``AcceptFilter http`` other than ``none`` (the default on Linux: ``data``)
    sets TCP_DEFER_ACCEPT; the connection reaches a worker only after it, and
    is then held as any silent client (the filter delays the hold).
    """
    setting = config.settings.get("AcceptFilter")
    filters = setting.value if setting is not None and isinstance(setting.value, dict) else {}
    # set_accf_map lower-cases protocol and filter (server/core.c): None is none.
    chosen = {protocol.lower(): name.lower() for protocol, name in filters.items()}
    if chosen.get("http", "data") == "none":
        return 0.0
    defer = 30 if _padded(config.version_info) >= _DEFER_30_FROM else 1
    return DEFER_ACCEPT_SECONDS[defer]
