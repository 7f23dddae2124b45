"""The rule file schema: one YAML file per rule in rules/, data and documentation at once.

A rule names a check (a function registered in ``tcpaudit.checks``) and gives
it parameters; it never contains code. Its text fields follow the headings of
``tcpaudit explain``: summary (what it does), rationale (why it is bad),
example (bad / use instead) and references. ``when`` adapts severity and
parameters to the host's context (MPM, Apache version, profile).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from ..apache.known_tokens import shown_prefix
from ..apache.model import MpmName, version_tuple
from ..facts import HostFacts
from ..first_error import FirstErrorModel
from ..provenance import Location
from .findings import JsonScalar, Profile, Severity

__all__ = [
    "MAX_MESSAGE_CHARACTERS",
    "AppliesTo",
    "Context",
    "ContextOverride",
    "Example",
    "ExpiredSuppression",
    "Rule",
    "RuleRunner",
    "version_matches",
]

_VERSION_SPEC = re.compile(r"^(<=|>=|<|>|==)?\s*(\d+(?:\.\d+){0,2})$")


def version_matches(spec: str, version: str) -> bool:
    """``version_matches("<2.4.16", "2.4.10")``; a version missing parts compares as .0."""
    match = _VERSION_SPEC.match(spec.strip())
    if not match:
        raise ValueError(f"invalid version spec {spec!r}")
    operator = match.group(1) or "=="

    def padded(text: str) -> tuple[int, ...]:
        parts = version_tuple(text)
        return parts + (0,) * (3 - len(parts))

    mine, other = padded(version), padded(match.group(2))
    return {
        "<": mine < other,
        "<=": mine <= other,
        ">": mine > other,
        ">=": mine >= other,
        "==": mine == other,
    }[operator]


# Bounds on a rule's text. A rules directory may come from the audited
# repository, and a rule's message is copied into each of its findings: a
# 462 KiB message over 300 findings wrote 67 MB of JSON. The bundled rules
# use a fifth of each bound or less.
MAX_TITLE_CHARACTERS = 200
MAX_MESSAGE_CHARACTERS = 2_000
MAX_TEXT_CHARACTERS = 8_000  # summary, rationale, each side of the example
MAX_LIST_ITEMS = 32  # tags, when entries
MAX_REFERENCES = 8  # copied into each finding too
MAX_TAG_CHARACTERS = 64


class Example(FirstErrorModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bad: str = Field(max_length=MAX_TEXT_CHARACTERS)
    use_instead: str = Field(max_length=MAX_TEXT_CHARACTERS)


class ExpiredSuppression(FirstErrorModel):
    """A ``[[suppress]]`` entry of the user's configuration whose date has passed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str
    reason: str
    expires: dt.date
    location: Location | None = None


# Runs the audit's rules that read sysctl values on other facts (``Context.rules``):
# (facts, context, check names to leave out) -> rule id -> (setting, recommended) of each hit.
RuleRunner = Callable[
    [HostFacts, "Context", frozenset[str]], dict[str, list[tuple[str | None, JsonScalar]]]
]


class Context(FirstErrorModel):
    """What a rule may depend on besides the facts themselves.

    ``rules`` is what the engine hands checks that must know how the rest of
    the catalogue judges a hypothetical value (checks/sysctl_candidates.py):
    the audit's own rules, with the user's parameters, disabled ones left
    out. None outside an audit.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: Profile = "internet"
    mpm: MpmName | None = None
    apache_version: str | None = None
    expired_suppressions: tuple[ExpiredSuppression, ...] = ()
    rules: RuleRunner | None = Field(default=None, exclude=True, repr=False)


class _Selector(FirstErrorModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mpm: list[MpmName] | None = None
    profile: list[Profile] | None = None
    apache: str | None = Field(default=None, description="a version spec such as '<2.4.16'")

    @field_validator("apache")
    @classmethod
    def _valid_spec(cls, value: str | None) -> str | None:
        if value is not None:
            version_matches(value, "2.4")
        return value

    def matches(self, context: Context) -> bool:
        if self.mpm is not None and context.mpm not in self.mpm:
            return False
        if self.profile is not None and context.profile not in self.profile:
            return False
        if self.apache is not None:
            if context.apache_version is None:
                return False
            return version_matches(self.apache, context.apache_version)
        return True


class AppliesTo(_Selector):
    """Where a rule applies at all; a host outside it is not checked."""

    # "none": the rule judges tcpaudit's own configuration, not the host.
    requires: Literal["apache", "sysctl", "both", "none"] = "apache"


class ContextOverride(_Selector):
    """A change of severity or parameters for hosts that match the selector."""

    severity: Severity | None = None
    params: dict[str, Any] = Field(default_factory=dict)


# An http(s) address: printable ASCII without spaces, quotes, angle brackets or backslashes.
_REFERENCE = re.compile(r"https?://[!#-&(-;=?-\[\]-~]{1,500}")


class Rule(FirstErrorModel):
    """One rule of the catalogue (``rules/TA101-apache-timeout.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^TA\d{3}$")
    title: str = Field(max_length=MAX_TITLE_CHARACTERS)
    severity: Severity
    check: str = Field(max_length=MAX_TITLE_CHARACTERS)
    params: dict[str, Any] = Field(default_factory=dict)
    applies_to: AppliesTo = Field(default_factory=AppliesTo)
    when: list[ContextOverride] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    summary: str = Field(max_length=MAX_TEXT_CHARACTERS)
    rationale: str = Field(max_length=MAX_TEXT_CHARACTERS)
    example: Example
    message: str = Field(max_length=MAX_MESSAGE_CHARACTERS)
    references: list[str] = Field(default_factory=list, max_length=MAX_REFERENCES)
    tags: list[str] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)

    @field_validator("tags")
    @classmethod
    def _short_tags(cls, value: list[str]) -> list[str]:
        for tag in value:
            if len(tag) > MAX_TAG_CHARACTERS:
                raise ValueError(f"a tag has at most {MAX_TAG_CHARACTERS} characters")
        return value

    @field_validator("references")
    @classmethod
    def _web_addresses(cls, value: list[str]) -> list[str]:
        # Shown as links in Markdown and SARIF: a rule from an audited
        # repository must not put markup, images or scripts there.
        for reference in value:
            if not _REFERENCE.fullmatch(reference):
                raise ValueError(
                    f"{shown_prefix(reference, 80)!r} is not an http(s) address without spaces, quotes or <>"
                )
        return value

    def resolved(self, context: Context) -> tuple[Severity, dict[str, Any]]:
        """Severity and parameters for a context: later matching ``when`` entries win."""
        severity = self.severity
        params = dict(self.params)
        for override in self.when:
            if override.matches(context):
                if override.severity is not None:
                    severity = override.severity
                params.update(override.params)
        return severity, params
