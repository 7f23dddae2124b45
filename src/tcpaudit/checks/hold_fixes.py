"""The lines that shorten the holds of stalled clients, proven on the model before they are given.

TA301 and TA302 recommend timers for the kinds of stalled client that hold a
worker too long. ``timer_fix`` writes those lines, applies them to a copy of
the configuration and recomputes every hold with ``tcpaudit.hold``: the
numbers a finding quotes after the fix are the model's, and extra workers are
asked for only when the recommended timers cannot reach the rate alone.
Lines go where the server's value is set (or at the end of the main file);
a virtual host that sets its own, longer value gets its line replaced too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from ..apache.model import ApacheConfig, ApacheSetting
from ..apache.scopes import scopes
from ..apache.values import ReadTimeoutLimit, RequestReadTimeoutValue, parse_request_read_timeout
from ..facts import threads_per_child_effective
from ..hold import (
    ADVERSARIAL_KINDS,
    HoldKind,
    KindHold,
    exhaustion,
    has_tls_listener,
    kind_holds,
)
from ..numbers import ascii_int
from .fixes import Fix, delete_line, load_module, set_directive

__all__ = [
    "RECOMMENDED_BODY",
    "RECOMMENDED_HANDSHAKE",
    "RECOMMENDED_HEADER",
    "HoldFix",
    "balancer_workers_fix",
    "handshake_stage_known",
    "more_workers",
    "read_limits_text",
    "recommended_read_limits",
    "strengthened_read_limits",
    "timer_fix",
]

# httpd 2.4's own header stage; its body stage gains a maximum, since a body
# that keeps arriving at MinRate is otherwise never cut (mod_reqtimeout.c:
# extend_timeout caps at max_timeout_at only when a maximum is set).
RECOMMENDED_HEADER = "header=20-40,MinRate=500"
RECOMMENDED_BODY = "body=20-120,MinRate=500"
# A TLS handshake is a few round trips; 10 s leaves room for a slow mobile path.
RECOMMENDED_HANDSHAKE = "handshake=10"
_HANDSHAKE_FROM = (2, 4, 39)
_READ_KINDS = frozenset({"silent", "header_stop", "body_stall"})


def handshake_stage_known(config: ApacheConfig) -> bool:
    """The version is known to have mod_reqtimeout's handshake stage (2.4.39+).

    A version without patch level might predate it, and httpd refuses a
    stage it does not know: the stage is recommended only when certain.
    """
    version = config.version_info
    return len(version) >= 3 and version >= _HANDSHAKE_FROM


def recommended_read_limits(config: ApacheConfig) -> str:
    """The RequestReadTimeout arguments to recommend for this server."""
    stages = [RECOMMENDED_HEADER, RECOMMENDED_BODY]
    if has_tls_listener(config) and handshake_stage_known(config):
        stages.insert(0, RECOMMENDED_HANDSHAKE)
    return " ".join(stages)


def _stage_text(name: str, stage: ReadTimeoutLimit) -> str:
    text = f"{name}={stage.timeout_seconds}"
    if stage.min_rate_bytes:
        if stage.max_seconds:
            text += f"-{stage.max_seconds}"
        text += f",MinRate={stage.min_rate_bytes}"
    return text


def read_limits_text(value: RequestReadTimeoutValue) -> str:
    """RequestReadTimeout arguments that give ``value`` (stages that are set)."""
    return " ".join(
        _stage_text(name, stage)
        for name in ("handshake", "header", "body")
        if (stage := getattr(value, name)) is not None
    )


def strengthened_read_limits(
    config: ApacheConfig, current: RequestReadTimeoutValue | None, *, handshake: bool
) -> RequestReadTimeoutValue:
    """``current`` with every stage weaker than the recommended one replaced by it.

    Stages already as strict are kept, so a fix for one stage never loosens
    another, and never leaves one that TA104 flags. ``handshake`` adds the
    handshake stage (only for versions known to have it).
    """
    arguments = [RECOMMENDED_HEADER, RECOMMENDED_BODY]
    if handshake:
        arguments.insert(0, RECOMMENDED_HANDSHAKE)
    wanted = parse_request_read_timeout(tuple(arguments), None)
    stages: dict[str, ReadTimeoutLimit | None] = {}
    for name in ("handshake", "header", "body"):
        mine, theirs = getattr(current, name, None), getattr(wanted, name)
        if theirs is not None and _weaker(
            RequestReadTimeoutValue(**{name: mine}), RequestReadTimeoutValue(**{name: theirs})
        ):
            stages[name] = theirs
        else:
            stages[name] = mine
    return RequestReadTimeoutValue(**stages)


@dataclass(frozen=True)
class HoldFix:
    """The changes, for the server and the virtual hosts, and what they give.

    Attributes:
        lines: the directives for the main server (RequestReadTimeout,
            Timeout, KeepAliveTimeout, MaxRequestWorkers, ServerLimit).
        fix: every change (module, server and virtual host lines) and advice.
        holds: every kind's hold once all of it is applied.
        clients_per_second: the rate that then drains the pool.
    """

    lines: list[str]
    fix: Fix
    holds: dict[HoldKind, KindHold]
    clients_per_second: float | None

    @property
    def text(self) -> str:
        return self.fix.text


def _stage_bounds_handshake(config: ApacheConfig) -> bool:
    """A stage can bound a stalled TLS handshake: the handshake stage (known
    2.4.39+) or, before 2.4.18 and in 2.2, the header stage (tcpaudit.hold)."""
    version = config.version_info
    return (
        handshake_stage_known(config)
        or version < (2, 4)
        or (len(version) >= 3 and version < (2, 4, 18))
    )


def timer_fix(
    config: ApacheConfig,
    workers: int,
    min_clients_per_second: float,
    *,
    recommended_timeout_seconds: int,
    keepalive_seconds: float | None,
    balancer_keepalive: tuple[float, float] | None = None,
) -> HoldFix:
    """The recommended timers for the kinds that drain the pool, then workers if still short.

    Args:
        config: the audited configuration.
        workers: MaxRequestWorkers in force.
        min_clients_per_second: the rate of stalled clients the pool must withstand.
        recommended_timeout_seconds: the Timeout to recommend (never lower).
        keepalive_seconds: the KeepAliveTimeout to recommend; None when it must
            not be lowered (behind a load balancer).
        balancer_keepalive: behind a load balancer, its idle timeout and the
            KeepAliveTimeout TA118 asks for where a scope's is not above it:
            the holds are counted with that value, so the workers asked for
            suffice once both fixes are applied.
    """
    target = workers / min_clients_per_second
    fix = _Builder(config)
    if balancer_keepalive is not None:
        fix.keepalive_above(*balancer_keepalive)
    holds = kind_holds(fix.result())
    long = {
        kind
        for kind, hold in holds.items()
        if kind not in ADVERSARIAL_KINDS and _too_long(hold, target)
    }
    loaded = config.has_module("reqtimeout_module")
    if (
        not loaded
        or long & _READ_KINDS
        or ("tls_handshake" in long and _stage_bounds_handshake(config))
    ):
        fix.read_limits()
    if any(holds[kind].limit in ("Timeout", "nothing") for kind in long):
        fix.timeout(recommended_timeout_seconds)
    if "keepalive_idle" in long and keepalive_seconds is not None:
        fix.keepalive(keepalive_seconds)
    # Virtual hosts are counted as fixed the way their comments say.
    after = kind_holds(fix.result())
    drain = exhaustion(after, workers)
    hold = drain.hold.seconds if drain.hold is not None else None
    rate = drain.clients_per_second
    if hold is not None and rate is not None and rate < min_clients_per_second:
        lines = more_workers(config, workers, hold, min_clients_per_second)
        fix.lines += lines
        fix.parts.append(_workers_fix(config, lines))
        rate = round(_asked_workers(fix.lines, workers) / hold, 3)
    return HoldFix(fix.lines, fix.fix, dict(after), rate)


def balancer_workers_fix(
    config: ApacheConfig,
    workers: int,
    min_clients_per_second: float,
    balancer_keepalive: tuple[float, float],
) -> Fix:
    """The workers a holding MPM needs once KeepAliveTimeout outlasts the balancer.

    Raising KeepAliveTimeout (TA118) makes each idle balancer connection hold
    a prefork/worker worker that long; when that alone drains the pool below
    ``min_clients_per_second``, MaxRequestWorkers (and ServerLimit) grow, as
    TA301 would then ask. No change when the pool keeps up.
    """
    builder = _Builder(config)
    builder.keepalive_above(*balancer_keepalive)
    drain = exhaustion(kind_holds(builder.result()), workers)
    hold = drain.hold.seconds if drain.hold is not None else None
    rate = drain.clients_per_second
    if hold is None or rate is None or rate >= min_clients_per_second:
        return Fix()
    return _workers_fix(config, more_workers(config, workers, hold, min_clients_per_second))


def _workers_fix(config: ApacheConfig, lines: list[str]) -> Fix:
    """``more_workers``' lines as changes: ServerLimit right above the worker count."""
    comments = tuple(line for line in lines if line.startswith("#"))
    directives = [line for line in lines if not line.startswith("#")]
    limit = next((line for line in directives if line.startswith("ServerLimit ")), None)
    count = [line for line in directives if line is not limit]
    ordered = "\n".join([*([limit] if limit else []), *count])
    fix = set_directive(config, config.settings.get("MaxRequestWorkers"), ordered)
    current = config.settings.get("ServerLimit")
    if limit and current is not None and not current.default and current.file is not None:
        fix += delete_line(current.file, current.line, f"ServerLimit {current.value}")
    return fix + Fix(comments=comments)


# The changes one fix lists for virtual hosts: the fix of 100,000 vhosts each
# with its own Timeout listed 100,000 changes (37 MB of JSON, 13 s).
MAX_VHOST_CHANGES = 1_000


class _Builder:
    """Fix lines for the main server and the configuration they give."""

    def __init__(self, config: ApacheConfig) -> None:
        self.config = config
        self.lines: list[str] = []
        self.updates: dict[str, ApacheSetting] = {}
        self.modules = list(config.modules)
        self.vhost_lines: list[tuple[int, str]] = []
        # Joined once at the end: adding 20,000 vhosts' changes one by one
        # copied every earlier change again each time (quadratic).
        self.parts: list[Fix] = []
        self.vhost_index = {id(vhost): index for index, vhost in enumerate(config.vhosts)}

        # Lines for virtual hosts past MAX_VHOST_CHANGES: counted, not listed.
        self.unlisted: dict[str, int] = {}

    @property
    def fix(self) -> Fix:
        advice = tuple(
            f"# and {count:,} more virtual hosts need `{line}` (not listed: apply these, "
            "then audit again for the next)"
            for line, count in self.unlisted.items()
        )
        return Fix.joined([*self.parts, Fix(comments=advice)])

    def _set(self, name: str, line: str) -> None:
        self.lines.append(line)
        self.parts.append(set_directive(self.config, self.config.settings.get(name), line))

    def _set_in_vhost(self, index: int, name: str, line: str) -> None:
        self.vhost_lines.append((index, line))
        if len(self.vhost_lines) > MAX_VHOST_CHANGES:
            self.unlisted[line] = self.unlisted.get(line, 0) + 1
            return
        vhost = self.config.vhosts[index]
        self.parts.append(set_directive(self.config, vhost.settings.get(name), line, vhost=vhost))

    def read_limits(self) -> None:
        config = self.config
        if "reqtimeout_module" not in self.modules:
            self.parts.append(load_module(config, "reqtimeout_module"))
            self.modules.append("reqtimeout_module")
        handshake = has_tls_listener(config) and handshake_stage_known(config)
        base = _read_value(config.settings.get("RequestReadTimeout"))
        wanted = strengthened_read_limits(config, base, handshake=handshake)
        if base is None or wanted != base:
            self._set("RequestReadTimeout", f"RequestReadTimeout {read_limits_text(wanted)}")
            self.updates["RequestReadTimeout"] = ApacheSetting(value=wanted)
        for index, vhost in enumerate(config.vhosts):
            own = _read_value(vhost.settings.get("RequestReadTimeout"))
            if own is not None and _weaker(own, wanted):
                stronger = strengthened_read_limits(config, own, handshake=handshake)
                text = f"RequestReadTimeout {read_limits_text(stronger)}"
                self._set_in_vhost(index, "RequestReadTimeout", text)

    def timeout(self, seconds: int) -> None:
        current = _number(self.config.settings.get("Timeout"))
        if current is None or current < 0 or current > seconds:
            self._set("Timeout", f"Timeout {seconds}")
            self.updates["Timeout"] = ApacheSetting(value=seconds)
        for index, vhost in enumerate(self.config.vhosts):
            own = _number(vhost.settings.get("Timeout"))
            if own is not None and (own < 0 or own > seconds):
                self._set_in_vhost(index, "Timeout", f"Timeout {seconds}")

    def keepalive(self, seconds: float) -> None:
        value = int(seconds) if float(seconds).is_integer() else seconds
        current = _number(self.config.settings.get("KeepAliveTimeout"))
        if current is None or current > seconds:
            self._set("KeepAliveTimeout", f"KeepAliveTimeout {value}")
            self.updates["KeepAliveTimeout"] = ApacheSetting(value=value)
        for index, vhost in enumerate(self.config.vhosts):
            own = vhost.settings.get("KeepAliveTimeout")
            own_value = _number(own)
            if own is not None and own.effective and own_value is not None and own_value > seconds:
                self._set_in_vhost(index, "KeepAliveTimeout", f"KeepAliveTimeout {value}")

    def keepalive_above(self, idle_seconds: float, seconds: float) -> None:
        """KeepAliveTimeout ``seconds`` in every keep-alive scope whose value is
        not above ``idle_seconds`` (the change keepalive_below_balancer makes)."""
        value = int(seconds) if float(seconds).is_integer() else seconds
        server = self.config.settings.get("KeepAliveTimeout")
        for scope in scopes(self.config):
            own = scope.own("KeepAliveTimeout")
            setting = own or server
            current = _number(setting)
            if not scope.keepalive or setting is None or not setting.effective:
                continue
            if current is None or current > idle_seconds:
                continue
            if scope.vhost is None:
                self._set("KeepAliveTimeout", f"KeepAliveTimeout {value}")
                self.updates["KeepAliveTimeout"] = ApacheSetting(value=value)
            elif own is not None:
                index = self.vhost_index[id(scope.vhost)]
                self._set_in_vhost(index, "KeepAliveTimeout", f"KeepAliveTimeout {value}")

    def result(self) -> ApacheConfig:
        config = self.config
        vhosts = list(config.vhosts)
        lines_of: dict[int, list[str]] = {}
        for index, line in self.vhost_lines:
            lines_of.setdefault(index, []).append(line)
        # Equal lines share one value: the hold model tells scopes apart by
        # their values' identity, and 100,000 copies made as many scopes.
        shared: dict[tuple[str, int], ApacheSetting] = {}
        for index, lines in lines_of.items():
            settings = dict(vhosts[index].settings)
            for line in lines:
                name, _, args = line.partition(" ")
                before = _read_value(settings.get(name)) if name == "RequestReadTimeout" else None
                key = (line, id(before))
                setting = shared.get(key)
                if setting is None:
                    if name == "RequestReadTimeout":
                        value = parse_request_read_timeout(tuple(args.split()), before)
                        setting = ApacheSetting(value=value)
                    else:
                        setting = ApacheSetting(value=float(args))
                    shared[key] = setting
                settings[name] = setting
            vhosts[index] = vhosts[index].model_copy(update={"settings": settings})
        return config.model_copy(
            update={
                "settings": {**config.settings, **self.updates},
                "modules": self.modules,
                "vhosts": vhosts,
            }
        )


def _read_value(setting: ApacheSetting | None) -> RequestReadTimeoutValue | None:
    value = setting.value if setting is not None else None
    return value if isinstance(value, RequestReadTimeoutValue) else None


def _too_long(hold: KindHold, target: float) -> bool:
    return hold.seconds is None or hold.seconds > target


def _asked_workers(lines: Iterable[str], workers: int) -> int:
    for line in lines:
        words = line.split()
        if (
            len(words) == 2
            and words[0] in ("MaxRequestWorkers", "MaxClients")
            and (asked := ascii_int(words[1])) is not None
        ):
            return asked
    return workers


def _weaker(current: RequestReadTimeoutValue, wanted: RequestReadTimeoutValue) -> bool:
    """Whether a stage of ``current`` holds a stalled or trickling client longer than ``wanted``'s."""
    for name in ("handshake", "header", "body"):
        mine, theirs = getattr(current, name), getattr(wanted, name)
        if theirs is None or theirs.disabled:
            continue
        if mine is None or mine.disabled:
            return True
        if mine.timeout_seconds > theirs.timeout_seconds:
            return True
        if mine.unbounded_by_rate or (
            mine.min_rate_bytes and (mine.max_seconds or 0) > (theirs.max_seconds or 0)
        ):
            return True
    return False


def _number(setting: ApacheSetting | None) -> float | None:
    value = setting.value if setting is not None else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _int_setting(config: ApacheConfig, name: str) -> int | None:
    setting = config.settings.get(name)
    value = setting.value if setting is not None else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def more_workers(
    config: ApacheConfig, workers: int, hold: float, min_clients_per_second: float
) -> list[str]:
    """``MaxRequestWorkers`` (and ``ServerLimit``) lines for a pool that ``hold``
    seconds per stalled client still drains below the wanted rate; none if it does not."""
    if hold <= 0 or workers / hold >= min_clients_per_second:
        return []
    needed = math.ceil(hold * min_clients_per_second)
    setting = config.settings.get("MaxRequestWorkers")
    name = (setting.spelled if setting else None) or "MaxRequestWorkers"
    server_limit = _int_setting(config, "ServerLimit")
    if config.mpm in ("worker", "event"):
        # Threaded MPMs count whole children: round up to a multiple of the
        # threads each child runs (ThreadsPerChild, capped by ThreadLimit).
        per_child = threads_per_child_effective(config)
        children = math.ceil(needed / per_child)
        needed = children * per_child
        limit_line = None if server_limit and children <= server_limit else children
    else:
        limit_line = None if server_limit and needed <= server_limit else needed
    lines = [
        f"# {needed} workers keep up with {min_clients_per_second:g} stalled clients/s held "
        f"{hold:g} s each; check the memory per {config.mpm} worker first",
        f"{name} {needed}",
    ]
    if limit_line is not None:
        lines.append(f"ServerLimit {limit_line}")
    return lines
