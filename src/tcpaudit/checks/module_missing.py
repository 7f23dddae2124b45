"""A module that bounds how long clients hold workers is not loaded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Self

from pydantic import Field, model_validator

from ..apache.directives import directive_owners
from ..apache.model import ApacheConfig, version_tuple
from ..engine.rule import Context
from ..facts import HostFacts
from ..hold import kind_holds
from ..provenance import Location
from .base import CheckParams, Hit
from .fixes import Fix, load_module, set_directive
from .hold_text import hold_sentence

__all__ = ["ModuleMissingParams", "module_missing"]


def _location(config: ApacheConfig, fix: Fix) -> Location:
    """Where the finding points: the main file, at the line the module gets loaded
    after when that line is in it.

    Never another file: which file holds the last LoadModule comes from the
    directive tree, which a facts document does not carry, and a finding must
    be the same (fingerprint included) audited on the host or from its facts.
    """
    change = fix.changes[0] if fix.changes else None
    if config.layout != "debian" and change is not None and change.file == config.main_file:
        return Location(file=config.main_file, line=change.line)
    return Location(file=config.main_file)


class ModuleMissingParams(CheckParams):
    # A module's identifier: it becomes a file name and a word of a2enmod's
    # command line in the fix (a rule file may come from the audited repository).
    module: str = Field(pattern=r"^[a-z0-9_]{1,64}_module$")
    # What to paste once the module is loaded (for mod_reqtimeout: its limits),
    # needed only before this Apache version (None: always). Debian's a2enmod
    # brings the module's packaged configuration too, which the line overrides.
    # One line of one of that module's own directives: the fix writes it into
    # the main file, where a line of another (a piped ErrorLog, a LoadModule)
    # would run a program.
    configure: str = ""
    configure_before: str | None = Field(default=None, pattern=r"^[0-9]{1,3}(\.[0-9]{1,3}){0,2}$")

    @model_validator(mode="after")
    def _configure_is_one_line_of_the_module(self) -> Self:
        if not self.configure:
            return self
        if not self.configure.isprintable() or not self.configure.strip():
            raise ValueError("configure: one line of printable text")
        directive = self.configure.split()[0].lower()
        owners = directive_owners(directive, (2, 4))
        if owners is None or self.module not in owners:
            raise ValueError(f"configure: a directive of {self.module} (not {directive})")
        return self


def module_missing(
    facts: HostFacts, params: ModuleMissingParams, context: Context
) -> Iterator[Hit]:
    config = facts.apache
    if config is None or config.has_module(params.module):
        return
    fix = load_module(config, params.module)
    needed = params.configure_before is None or config.version_info < version_tuple(
        params.configure_before
    )
    if params.configure and needed:
        name = params.configure.split()[0]
        fix += set_directive(config, config.settings.get(name), params.configure)
    holds = kind_holds(config)
    yield Hit(
        setting="LoadModule",
        current=None,
        recommended=params.module,
        location=_location(config, fix),
        fix=fix.text,
        changes=fix.changes,
        values={
            "module": params.module,
            "silent": hold_sentence(holds["silent"]) if "silent" in holds else "unknown",
            "version": config.version,
        },
    )
