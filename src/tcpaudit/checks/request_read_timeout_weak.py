"""mod_reqtimeout is loaded but a stage leaves a client reading without a short, bounded limit.

A stage set to 0 imposes no limit; 2.2's module has no defaults at all, so
without a RequestReadTimeout line it limits nothing (mod_reqtimeout docs). A
stage with MinRate is extended by the bytes received, up to its maximum, or
without end when it has none (extend_timeout in mod_reqtimeout.c): httpd
2.4's own body default, ``body=20,MinRate=500``, never cuts a body that keeps
arriving at 500 B/s (measured on a real apache2: still held after twice
every timer). The server and each virtual host that sets its own stages are
judged, the header stage only where headers are read (a connection's base
server: mod_reqtimeout takes it from there, the body stage from the
request's vhost); 2.4.39's default stages, whose MinRate is not applied,
are TA117's.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..apache.scopes import scopes
from ..apache.values import ReadTimeoutLimit, RequestReadTimeoutValue
from ..engine.rule import Context
from ..facts import HostFacts
from .base import CheckParams, Hit
from .fixes import apache_location, set_directive
from .hold_fixes import recommended_read_limits

__all__ = ["ReadTimeoutParams", "request_read_timeout_weak"]

_MIN_RATE_BUG = (2, 4, 39)


class ReadTimeoutParams(CheckParams):
    # The header stage's longest hold (its maximum with MinRate), CIS: 40 s.
    max_header_seconds: int
    # The body stage's initial timeout (CIS: 20 s) and its maximum with MinRate.
    max_body_seconds: int
    max_body_total_seconds: int = 120


def _problem(
    name: str, stage: ReadTimeoutLimit | None, limit: int, total: int | None, rate_applies: bool
) -> tuple[str, str] | None:
    """What is wrong with one stage, short and in words; None when nothing is."""
    if stage is None or stage.disabled:
        return f"{name}: no limit", f"{name} without any limit"
    extends = bool(stage.min_rate_bytes) and rate_applies
    if extends and not stage.max_seconds:
        return f"{name}: no maximum", (
            f"{name}={stage.timeout_seconds},MinRate={stage.min_rate_bytes} without a maximum: "
            f"a {name} that keeps arriving at {stage.min_rate_bytes} B/s is never cut"
        )
    worst = stage.max_seconds if extends and stage.max_seconds else stage.timeout_seconds
    if total is None:
        if worst > limit:
            return f"{name}: {worst} s", f"{name} up to {worst} s (more than {limit} s)"
        return None
    if stage.timeout_seconds > limit:
        return f"{name}: {stage.timeout_seconds} s", (
            f"{name} first timeout {stage.timeout_seconds} s (more than {limit} s)"
        )
    if worst > total:
        return f"{name}: up to {worst} s", f"{name} up to {worst} s (more than {total} s)"
    return None


def request_read_timeout_weak(
    facts: HostFacts, params: ReadTimeoutParams, context: Context
) -> Iterator[Hit]:
    config = facts.apache
    if config is None or not config.has_module("reqtimeout_module"):
        return
    recommended = recommended_read_limits(config)
    padded = config.version_info + (10**6,) * (3 - len(config.version_info))
    for scope in scopes(config):
        setting = scope.own("RequestReadTimeout")
        if (scope.vhost is not None and setting is None) or not scope.in_force(
            "RequestReadTimeout"
        ):
            # None at the server is "no line" (the module's defaults), unless
            # no connection runs with the server's value at all.
            continue
        value = setting.value if setting else None
        limits = value if isinstance(value, RequestReadTimeoutValue) else RequestReadTimeoutValue()
        problems: list[tuple[str, str]] = []
        stages = [
            ("header", limits.header, params.max_header_seconds, None),
            ("body", limits.body, params.max_body_seconds, params.max_body_total_seconds),
        ]
        if not scope.reads_headers:
            # A name-based vhost's header stage is never used: its
            # connections' headers are read under their base server's.
            stages = stages[1:]
        for name, stage, limit, total in stages:
            # 2.4.39 applies no MinRate to default stages (TA117): they do not extend.
            rate_applies = not (stage is not None and stage.default and padded == _MIN_RATE_BUG)
            problem = _problem(name, stage, limit, total, rate_applies)
            if problem:
                problems.append(problem)
        if not problems:
            continue
        fix = set_directive(config, setting, f"RequestReadTimeout {recommended}", vhost=scope.vhost)
        yield Hit(
            setting="RequestReadTimeout",
            current=", ".join(short for short, _ in problems),
            recommended=recommended,
            location=apache_location(config, setting),
            fix=fix.text,
            changes=fix.changes,
            scope=scope.label,
            values={
                "problems": "; ".join(words for _, words in problems),
                "where": f"{setting.file}:{setting.line}"
                if setting is not None and setting.file is not None
                else "no RequestReadTimeout line",
            },
        )
