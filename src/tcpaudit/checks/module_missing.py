"""A module that bounds how long clients hold workers is not loaded."""

from __future__ import annotations

from collections.abc import Iterator

from ..apache.model import ApacheConfig
from ..engine.rule import Context
from ..facts import HostFacts
from ..provenance import Location
from .base import CheckParams, Hit
from .fixes import load_module_fix

__all__ = ["ModuleMissingParams", "module_missing"]


def _after_last_load_module(config: ApacheConfig) -> Location:
    """Where a LoadModule line belongs: after the last one Apache reads."""
    last = None
    for directive in config.directives:
        if directive.key == "loadmodule":
            last = directive
    if last is None:
        return Location(file=config.main_file)
    return Location(file=last.file, line=last.line)


class ModuleMissingParams(CheckParams):
    module: str
    # What to paste once the module is loaded (for mod_reqtimeout: its limits).
    configure: str = ""


def module_missing(
    facts: HostFacts, params: ModuleMissingParams, context: Context
) -> Iterator[Hit]:
    config = facts.apache
    if config is None or config.has_module(params.module):
        return
    fix = load_module_fix(config, params.module)
    if params.configure:
        fix = f"{fix}\n{params.configure}"
    yield Hit(
        setting="LoadModule",
        current=None,
        recommended=params.module,
        location=_after_last_load_module(config),
        fix=fix,
        values={
            "module": params.module,
            "timeout": facts.derived.request_read_hold_seconds,
            "version": config.version,
        },
    )
