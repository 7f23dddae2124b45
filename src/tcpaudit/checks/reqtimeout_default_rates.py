"""httpd 2.4.39 does not apply mod_reqtimeout's compiled MinRate to default stages.

In 2.4.39 the rate factors of the default stages are computed under
``#if MRT_DEFAULT_HEADER_MIN_RATE > 0``, a macro that no longer exists after
the stages were renamed (mod_reqtimeout.c): they stay 0, so a stage that no
RequestReadTimeout line names is never extended by MinRate (PR 63325, fixed
in 2.4.40). The header must then arrive within 20 s and the body within 20 s
whatever their rate: an honest upload that takes longer is cut with 408.
Stages written out with MinRate work.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..apache.scopes import scopes
from ..apache.values import RequestReadTimeoutValue
from ..engine.rule import Context
from ..facts import HostFacts
from .base import CheckParams, Hit
from .fixes import apache_location, set_directive
from .hold_fixes import recommended_read_limits

__all__ = ["DefaultRatesParams", "reqtimeout_default_rates"]

_AFFECTED = (2, 4, 39)


class DefaultRatesParams(CheckParams):
    pass


def reqtimeout_default_rates(
    facts: HostFacts, params: DefaultRatesParams, context: Context
) -> Iterator[Hit]:
    config = facts.apache
    if config is None or config.version_info != _AFFECTED:
        return
    if not config.has_module("reqtimeout_module"):
        return
    for scope in scopes(config):
        setting = scope.own("RequestReadTimeout")
        if setting is None or not isinstance(setting.value, RequestReadTimeoutValue):
            continue
        stages = [
            name
            # The header stage runs only where headers are read (the base server).
            for name in (("header", "body") if scope.reads_headers else ("body",))
            if (stage := getattr(setting.value, name)) is not None
            and stage.default
            and stage.min_rate_bytes
        ]
        if not stages:
            continue
        recommended = recommended_read_limits(config)
        fix = set_directive(config, setting, f"RequestReadTimeout {recommended}", vhost=scope.vhost)
        yield Hit(
            setting="RequestReadTimeout",
            current=" ".join(f"{name} (default)" for name in stages),
            recommended=recommended,
            location=apache_location(config, setting),
            fix=fix.text,
            changes=fix.changes,
            scope=scope.label,
            values={
                "stages": " and ".join(
                    f"{name} stage (cut after {getattr(setting.value, name).timeout_seconds} s)"
                    for name in stages
                ),
            },
        )
