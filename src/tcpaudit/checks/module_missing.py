"""A module that bounds how long clients hold workers is not loaded."""

from __future__ import annotations

from collections.abc import Iterator

from ..apache.model import ApacheConfig, version_tuple
from ..engine.rule import Context
from ..facts import HostFacts
from ..hold import kind_holds
from ..provenance import Location
from .base import CheckParams, Hit
from .fixes import load_module_fix
from .hold_text import hold_sentence

__all__ = ["ModuleMissingParams", "module_missing"]


def _after_last_load_module(config: ApacheConfig) -> Location:
    """Where a LoadModule line belongs: after the last one of the main file.

    Not after the last one Apache reads: that is often a module's own file
    (conf.d/ssl.conf). Debian enables modules with a2enmod, not a line.
    """
    if config.layout == "debian":
        return Location(file=config.main_file)
    loads = [d for d in config.directives if d.key == "loadmodule"]
    in_main = [d for d in loads if d.file == config.main_file]
    candidates = in_main or loads
    if not candidates:
        return Location(file=config.main_file)
    return Location(file=candidates[-1].file, line=candidates[-1].line)


class ModuleMissingParams(CheckParams):
    module: str
    # What to paste once the module is loaded (for mod_reqtimeout: its limits),
    # needed only before this Apache version (None: always). Debian's a2enmod
    # brings the module's packaged configuration too, which the line overrides.
    configure: str = ""
    configure_before: str | None = None


def module_missing(
    facts: HostFacts, params: ModuleMissingParams, context: Context
) -> Iterator[Hit]:
    config = facts.apache
    if config is None or config.has_module(params.module):
        return
    fix = load_module_fix(config, params.module)
    needed = params.configure_before is None or config.version_info < version_tuple(
        params.configure_before
    )
    if params.configure and needed:
        fix = f"{fix}\n{params.configure}"
    holds = kind_holds(config)
    yield Hit(
        setting="LoadModule",
        current=None,
        recommended=params.module,
        location=_after_last_load_module(config),
        fix=fix,
        values={
            "module": params.module,
            "silent": hold_sentence(holds["silent"]) if "silent" in holds else "unknown",
            "version": config.version,
        },
    )
