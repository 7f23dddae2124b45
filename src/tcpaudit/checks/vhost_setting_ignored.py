"""A virtual host sets a value that the running Apache ignores there.

Before 2.4.16, ``KeepAliveTimeout`` in a name-based ``<VirtualHost>`` applies
only in the first vhost of its address; later vhosts get that first vhost's
value, or the server's (core docs, KeepAliveTimeout). The model marks such a
value ``effective: false``. An operator who shortened keep-alive for one
site (a carrier proxy's) has then changed nothing: that site's clients keep
holding workers for the longer value.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..apache.model import ApacheConfig, ApacheSetting, VirtualHost
from ..apache.scopes import vhost_label
from ..engine.findings import Severity
from ..engine.rule import Context
from ..facts import HostFacts
from ..provenance import Location
from .base import CheckParams, Hit, as_seconds
from .fixes import delete_line, set_directive

__all__ = ["IgnoredSettingParams", "vhost_setting_ignored"]


class IgnoredSettingParams(CheckParams):
    setting: str
    # Severity when the ignored value is not shorter than the one applied
    # (the host is stricter than the file says): a surprise, not a hazard.
    severity_if_not_shorter: Severity = Severity.LOW
    # Never recommend a value below this one (behind a load balancer,
    # KeepAliveTimeout must outlast its idle timeout: TA118).
    min_recommended_seconds: float | None = None


def _applied(
    config: ApacheConfig, setting: str, first: VirtualHost | None
) -> tuple[ApacheSetting | None, VirtualHost | None, Location]:
    """The value that does apply on an address whose first vhost is ``first``:
    that vhost's own, else the server's."""
    if first is not None:
        own = first.settings.get(setting)
        if own is not None and own.effective:
            return own, first, Location(file=own.file or first.file, line=own.line)
    server = config.settings.get(setting)
    if server is not None and server.file is not None:
        return server, first, Location(file=server.file, line=server.line)
    if first is not None:
        # Nothing set anywhere: the value belongs inside the first vhost.
        return server, first, Location(file=first.file, line=first.line)
    return server, first, Location(file=config.main_file)


def vhost_setting_ignored(
    facts: HostFacts, params: IgnoredSettingParams, context: Context
) -> Iterator[Hit]:
    config = facts.apache
    if config is None:
        return
    # Each address's first vhost, found once (a search per finding walked every
    # vhost before it: 12,000 after 40,000 others took 53 s).
    first_on: dict[str, VirtualHost] = {}
    for vhost in config.vhosts:
        first_on.setdefault(vhost.address, vhost)
    for vhost in config.vhosts:
        ignored = vhost.settings.get(params.setting)
        if ignored is None or ignored.effective:
            continue
        applied, first, fix_at = _applied(config, params.setting, first_on[vhost.address])
        applied_value = applied.value if applied is not None else None
        wanted, actual = as_seconds(ignored.value), as_seconds(applied_value)
        shorter = wanted is not None and actual is not None and wanted < actual
        floor = params.min_recommended_seconds
        too_short = floor is not None and wanted is not None and wanted < floor
        if too_short:
            advice = (
                f"Delete the line: below {floor:g} s it would cut connections the load "
                "balancer still reuses (TA118)"
            )
            fix = delete_line(
                ignored.file or vhost.file,
                ignored.line,
                f"{ignored.spelled or params.setting} {ignored.value}",
                vhost_label(vhost),
            )
            location = Location(file=ignored.file or vhost.file, line=ignored.line)
        elif shorter:
            advice = (
                f"Set {params.setting} {ignored.value} there (it then applies to every "
                f"vhost on {vhost.address}), or upgrade to 2.4.16 or later"
            )
            # Where it wins, and the ignored line goes: it would change nothing.
            text = f"{params.setting} {ignored.value}"
            if applied is not None and applied.file is not None and applied.effective:
                fix = set_directive(config, applied, text)
            else:
                fix = set_directive(config, None, text, vhost=first)
            fix += delete_line(
                ignored.file or vhost.file,
                ignored.line,
                f"{ignored.spelled or params.setting} {ignored.value}",
                vhost_label(vhost),
            )
            location = fix_at
        else:
            # The applied value is the shorter one: moving the ignored value to
            # where it would win would lengthen keep-alive for every vhost.
            advice = "Delete the line, which changes nothing here"
            fix = delete_line(
                ignored.file or vhost.file,
                ignored.line,
                f"{ignored.spelled or params.setting} {ignored.value}",
                vhost_label(vhost),
            )
            location = Location(file=ignored.file or vhost.file, line=ignored.line)
        if applied is not None and applied.file is not None:
            applied_from = f"{applied.file}:{applied.line}"
        else:
            applied_from = "Apache's compiled default"
        yield Hit(
            setting=params.setting,
            current=applied_value if isinstance(applied_value, int | float) else None,
            recommended=ignored.value
            if isinstance(ignored.value, int | float) and not too_short
            else None,
            location=location,
            fix=fix.text,
            changes=fix.changes,
            scope=vhost_label(vhost),
            severity=None if shorter and not too_short else params.severity_if_not_shorter,
            values={
                "ignored": ignored.value,
                "ignored_at": f"{ignored.file}:{ignored.line}",
                "applied": applied_value,
                "applied_from": applied_from,
                "address": vhost.address,
                "first_vhost": vhost_label(first) if first is not None else "the server",
                "version": config.version,
                "advice": advice,
            },
        )
