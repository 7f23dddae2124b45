"""User configuration: ``tcpaudit.toml`` or ``[tool.tcpaudit]`` in pyproject.toml.

Found upward from the working directory unless a file is given. It can pick
the profile, disable rules, change a rule's severity or parameters, add rule
directories, and suppress findings (rule + optional setting and file glob +
a mandatory reason + an optional expiry date).

```toml
profile = "internet"
disable = ["TA202"]
rules_dirs = ["audit-rules"]

[rules.TA101]
severity = "medium"
params = { max_seconds = 120 }

[[suppress]]
rule = "TA102"
file = "etc/httpd/conf.d/legacy-*.conf"
reason = "legacy vhost, removed in Q3"
expires = 2027-01-31
```
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from ..errors import ConfigError
from ..inputs import read_text
from ..provenance import Location
from .findings import Profile, Severity

__all__ = ["AuditConfig", "RuleSettings", "Suppression", "find_config", "load_config"]


class RuleSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    severity: Severity | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class Suppression(BaseModel):
    """Hide a finding from the grade and exit code, keeping it visible as suppressed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str = Field(pattern=r"^TA\d{3}$")
    setting: str | None = None
    file: str | None = Field(default=None, description="a glob matched against location.file")
    reason: str = Field(min_length=1)
    expires: dt.date | None = None

    # Where the entry is written, so an expired one can be pointed at.
    _location: Location | None = PrivateAttr(default=None)

    @property
    def location(self) -> Location | None:
        return self._location

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today


class AuditConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: Profile = "internet"
    disable: list[str] = Field(default_factory=list)
    rules_dirs: list[Path] = Field(default_factory=list)
    rules: dict[str, RuleSettings] = Field(default_factory=dict)
    suppress: list[Suppression] = Field(default_factory=list)

    # The file it was read from, and the first line naming each rule id there,
    # so that a reference to an unknown rule can be pointed at.
    _source: str | None = PrivateAttr(default=None)
    _rule_lines: dict[str, int] = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> str | None:
        return self._source

    def rule_location(self, rule_id: str) -> tuple[str | None, int | None]:
        """The file and line where this configuration names ``rule_id``."""
        return self._source, self._rule_lines.get(rule_id)

    def referenced_rules(self) -> list[str]:
        """Every rule id the configuration disables, tunes or suppresses, once each."""
        named = [*self.disable, *self.rules, *(entry.rule for entry in self.suppress)]
        return list(dict.fromkeys(named))


def find_config(start: Path) -> Path | None:
    """The nearest tcpaudit.toml, or pyproject.toml with [tool.tcpaudit], at or above ``start``."""
    for directory in (start, *start.parents):
        candidate = directory / "tcpaudit.toml"
        if candidate.is_file():
            return candidate
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError):
                continue
            if "tcpaudit" in data.get("tool", {}):
                return pyproject
    return None


def load_config(path: Path | None = None, *, start: Path | None = None) -> AuditConfig:
    """Load ``path``, or the configuration found upward from ``start`` (default: cwd).

    Relative ``rules_dirs`` are relative to the configuration file.

    Raises:
        ConfigError: the file cannot be read or does not match the schema.
    """
    if path is None:
        path = find_config(start or Path.cwd())
        if path is None:
            return AuditConfig()
    shown = str(path)
    try:
        text = read_text(path)
        data = tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=shown) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", file=shown) from exc
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("tcpaudit", {})
    try:
        config = AuditConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{where}: {first['msg']}", file=shown) from exc
    base = path.parent
    dirs = [d if d.is_absolute() else base / d for d in config.rules_dirs]
    _locate_suppressions(config.suppress, text, shown)
    located = config.model_copy(update={"rules_dirs": dirs})
    located._source = shown
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            continue  # a comment may name any rule
        for match in _RULE_ID.finditer(line):
            located._rule_lines.setdefault(match.group(0), number)
    return located


_RULE_ID = re.compile(r"\bTA\d{3}\b")


_SUPPRESS_HEADER = re.compile(r"^\s*\[\[\s*(?:tool\.tcpaudit\.)?suppress\s*\]\]", re.MULTILINE)


def _locate_suppressions(suppressions: list[Suppression], text: str, shown: str) -> None:
    """Give each ``[[suppress]]`` entry the line of its header (tomllib keeps no lines)."""
    lines: list[int | None] = [
        text.count("\n", 0, match.start()) + 1 for match in _SUPPRESS_HEADER.finditer(text)
    ]
    if len(lines) != len(suppressions):
        # Inline-table spelling (suppress = [{...}]): the file is all we can name.
        lines = [None] * len(suppressions)
    for suppression, line in zip(suppressions, lines, strict=True):
        suppression._location = Location(file=shown, line=line)
