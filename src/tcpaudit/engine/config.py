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
import difflib
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, PrivateAttr, ValidationError

from ..errors import ConfigError
from ..first_error import FirstErrorModel
from ..inputs import MAX_INT_DIGITS, long_number_line, read_text
from ..provenance import Location
from .findings import Profile, Severity
from .toml_lines import KeyPath, key_lines, line_of

__all__ = [
    "AuditConfig",
    "RuleSettings",
    "Suppression",
    "find_config",
    "load_config",
    "suggest_rule_id",
]


class RuleSettings(FirstErrorModel):
    """A ``[rules.TAnnn]`` table: turn a rule off, change its severity or its parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    severity: Severity | None = None
    params: dict[str, Any] = Field(default_factory=dict)


# Each finding is matched against the suppressions of its rule: 20,000 entries
# (a 1.6 MB tcpaudit.toml) against 20,000 vhosts took 220 s.
MAX_SUPPRESSIONS = 1_000


class Suppression(FirstErrorModel):
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


class AuditConfig(FirstErrorModel):
    """What a user's tcpaudit.toml (or ``[tool.tcpaudit]``) changes in an audit.

    Built by ``load_config``, or directly: ``AuditConfig(profile="internal",
    disable=["TA202"])``. ``rules_dirs`` are absolute once loaded from a file
    (relative entries are relative to that file). Errors found later (an
    unknown rule id, a parameter a check refuses) name the file and line
    where the configuration says it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: Profile = "internet"
    disable: list[str] = Field(default_factory=list)
    rules_dirs: list[Path] = Field(default_factory=list)
    rules: dict[str, RuleSettings] = Field(default_factory=dict)
    suppress: list[Suppression] = Field(default_factory=list)

    # The file it was read from, and the line of every key in it (tomllib keeps
    # none), so that a mistake found later can be pointed at.
    _source: str | None = PrivateAttr(default=None)
    _key_lines: dict[KeyPath, int] = PrivateAttr(default_factory=dict)
    _rule_lines: dict[str, int] = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> str | None:
        return self._source

    def rule_location(self, rule_id: str) -> tuple[str | None, int | None]:
        """The file, and the first line where this configuration names ``rule_id``."""
        return self._source, self._rule_lines.get(rule_id)

    def key_location(self, *path: str | int) -> tuple[str | None, int | None]:
        """The file, and the line of the key ``path`` (``"rules", "TA101", "params", "x"``).

        A key the file does not spell out is located at its nearest enclosing key.
        """
        return self._source, line_of(self._key_lines, path)

    def referenced_rules(self) -> list[str]:
        """Every rule id the configuration disables, tunes or suppresses, once each."""
        named = [*self.disable, *self.rules, *(entry.rule for entry in self.suppress)]
        return list(dict.fromkeys(named))


# tomllib is pure Python: 12 MiB of empty tables took 1.2 GB, 64 MiB of one
# array a minute. A configuration is a few KiB; a pyproject.toml rarely 100.
MAX_CONFIG_BYTES = 1024 * 1024


def find_config(start: Path) -> Path | None:
    """The nearest tcpaudit.toml, or pyproject.toml with [tool.tcpaudit], at or above ``start``.

    Raises:
        ConfigError: the nearest one is a symbolic link. A configuration is
            found in the working directory, which in CI is the repository
            under audit: a link there could make tcpaudit read a host file
            (name it with ``--config`` to use it anyway).
    """
    for directory in (start, *start.parents):
        candidate = directory / "tcpaudit.toml"
        _refuse_link(candidate)
        if candidate.is_file():
            return candidate
        pyproject = directory / "pyproject.toml"
        _refuse_link(pyproject)
        if pyproject.is_file():
            try:
                text = read_text(pyproject)
                if "tcpaudit" not in text:
                    continue  # parsed only when it may hold [tool.tcpaudit]
                if len(text.encode()) > MAX_CONFIG_BYTES:
                    return pyproject  # load_config refuses it, naming it
                data = tomllib.loads(text)
            except (OSError, ValueError, RecursionError):
                continue  # not readable TOML: not ours (load_config says why when named)
            if "tcpaudit" in data.get("tool", {}):
                return pyproject
    return None


def _refuse_link(path: Path) -> None:
    if path.is_symlink():
        raise ConfigError(
            "a symbolic link: a configuration found by search is read only as a regular file "
            "(name it with --config to use it)",
            file=str(path),
        )


def _rules_dirs_inside(
    config: AuditConfig, base: Path, shown: str, lines: dict[KeyPath, int]
) -> list[Path]:
    """``rules_dirs`` made absolute, each inside the directory of the configuration.

    The configuration may come from the repository under audit; a rule
    directory naming a host directory, or a link in the repository leading
    to one, would make tcpaudit read host files and name their keys in
    errors. Directories elsewhere are given with ``--rules-dir``.
    """
    located: list[Path] = []
    home = base.resolve()
    for index, directory in enumerate(config.rules_dirs):
        line = line_of(lines, ("rules_dirs", index))
        if directory.is_absolute():
            raise ConfigError(
                f"rules_dirs: {str(directory)!r} is absolute; a configuration's rule "
                "directories lie below it (give others with --rules-dir)",
                file=shown,
                line=line,
            )
        joined = base / directory
        real = joined.resolve()
        if real != home and home not in real.parents:
            raise ConfigError(
                f"rules_dirs: {str(directory)!r} leads outside the configuration's directory "
                "(by '..' or a symbolic link; give such directories with --rules-dir)",
                file=shown,
                line=line,
            )
        located.append(joined)
    return located


def load_config(path: Path | None = None, *, start: Path | None = None) -> AuditConfig:
    r"""Load ``path``, or the configuration found upward from ``start`` (default: cwd).

    Relative ``rules_dirs`` are relative to the configuration file and must
    stay below its directory (no absolute path, no way out by ``..`` or by a
    symbolic link): the file may be the audited repository's.

    Raises:
        ConfigError: the file cannot be read or does not match the schema,
            a found file is a symbolic link, or a rule directory lies outside;
            it names the file and the line of the offending key.

    Example::

        import pathlib, tempfile

        with tempfile.TemporaryDirectory() as folder:
            path = pathlib.Path(folder) / "tcpaudit.toml"
            path.write_text('profile = "internal"\ndisable = ["TA202"]\n')
            config = tcpaudit.load_config(path)
        report = tcpaudit.audit(tcpaudit.gather(root="examples/closewait-incident"), config)
        assert report.profile == "internal"
        assert "TA202" not in {finding.rule for finding in report.findings}
    """
    if path is None:
        path = find_config(start or Path.cwd())
        if path is None:
            return AuditConfig()
    shown = str(path)
    try:
        text = read_text(path, MAX_CONFIG_BYTES)
        data = tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=shown) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError("not UTF-8 text", file=shown) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"invalid TOML: {_toml_reason(exc)}", file=shown, line=_toml_line(exc)
        ) from exc
    except RecursionError as exc:
        raise ConfigError("invalid TOML: nested too deeply", file=shown) from exc
    except ValueError as exc:  # int() refusing a long number, inside tomllib
        raise ConfigError(
            f"invalid TOML: a number of more than {MAX_INT_DIGITS} digits",
            file=shown,
            line=long_number_line(text),
        ) from exc
    prefix: KeyPath = ()
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("tcpaudit", {})
        prefix = ("tool", "tcpaudit")
    lines = key_lines(text)
    if prefix:
        lines = {key[2:]: line for key, line in lines.items() if key[:2] == prefix}
    if not isinstance(data, dict):
        raise ConfigError("[tool.tcpaudit] must be a table", file=shown, line=lines.get(()))
    try:
        config = AuditConfig.model_validate(data)
    except ValidationError as exc:
        # A misspelt key explains the required one that then seems missing: name it first.
        first = min(exc.errors(), key=lambda error: error["type"] != "extra_forbidden")
        where = ".".join(str(part) for part in (*prefix, *first["loc"]))
        raise ConfigError(
            f"{where}: {_reason(first)}", file=shown, line=line_of(lines, first["loc"])
        ) from exc
    if len(config.suppress) > MAX_SUPPRESSIONS:
        raise ConfigError(
            f"more than {MAX_SUPPRESSIONS:,} [[suppress]] entries: suppress by file glob, or "
            "disable the rule",
            file=shown,
            line=line_of(lines, ("suppress", MAX_SUPPRESSIONS)),
        )
    dirs = _rules_dirs_inside(config, path.parent, shown, lines)
    located = config.model_copy(update={"rules_dirs": dirs})
    located._source = shown
    located._key_lines = lines
    named: list[tuple[str, int | None]] = [
        *((rule_id, lines.get(("disable", index))) for index, rule_id in enumerate(config.disable)),
        *((rule_id, lines.get(("rules", rule_id))) for rule_id in config.rules),
        *(
            (entry.rule, line_of(lines, ("suppress", index, "rule")))
            for index, entry in enumerate(config.suppress)
        ),
    ]
    for rule_id, line in sorted(named, key=lambda pair: pair[1] or 0):
        if line is not None:
            located._rule_lines.setdefault(rule_id, line)
    for index, suppression in enumerate(located.suppress):
        suppression._location = Location(file=shown, line=line_of(lines, ("suppress", index)))
    return located


# Which keys each table of the file takes, to suggest the one a typo meant.
_TABLE_KEYS: dict[str, list[str]] = {
    "": list(AuditConfig.model_fields),
    "rules": list(RuleSettings.model_fields),
    "suppress": list(Suppression.model_fields),
}


def _reason(error: Any) -> str:
    """pydantic's message, reworded where a user would not recognise it."""
    location = error["loc"]
    if error["type"] == "extra_forbidden":
        name = str(location[-1])
        table = "" if len(location) == 1 else str(location[0])
        known = _TABLE_KEYS.get(table, [])
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(known)})"
        return f"unknown key {name!r}{hint}"
    if error["type"] == "string_pattern_mismatch" and location[-1] == "rule":
        typed = str(error["input"])
        corrected = typed[:2].upper() + typed[2:].upper().translate(_LOOKALIKE_DIGITS)
        hint = f"; did you mean {corrected}?" if _RULE_ID.fullmatch(corrected) else ""
        return f"{typed!r} is not a rule id (TA and three digits){hint}"
    return str(error["msg"])


_RULE_ID = re.compile(r"TA\d{3}")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)$")


def _toml_line(exc: tomllib.TOMLDecodeError) -> int | None:
    line = getattr(exc, "lineno", None)  # Python 3.14 adds the position as attributes
    if isinstance(line, int):
        return line
    match = _TOML_POSITION.search(str(exc))
    return int(match.group(1)) if match else None


def _toml_reason(exc: tomllib.TOMLDecodeError) -> str:
    return _TOML_POSITION.sub("", getattr(exc, "msg", None) or str(exc))


# Letters typed for the digits they look like: TA1O1 is TA101, TA2l2 is TA212.
_LOOKALIKE_DIGITS = str.maketrans({"O": "0", "I": "1", "L": "1", "S": "5", "B": "8"})


def suggest_rule_id(name: str, known: Iterable[str]) -> str | None:
    """The rule id ``name`` was probably meant to be, or None."""
    ids = list(known)
    typed = name.strip().upper()
    head, tail = typed[:2], typed[2:]
    corrected = head + tail.translate(_LOOKALIKE_DIGITS)
    if corrected in ids:
        return corrected
    close = difflib.get_close_matches(corrected, ids, n=1, cutoff=0.75)
    return close[0] if close else None
