"""What an audit produces: ``Finding`` and ``Report``, the JSON contract of ``tcpaudit audit``.

Reporters render these and nothing else; they never sort, filter or grade.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Literal

from pydantic import ConfigDict, Field

from .._version import __version__
from ..apache.known_tokens import hide_known_tokens
from ..apache.shell_state import REDACTED_VALUE
from ..facts import DerivedTimings
from ..first_error import FirstErrorModel
from ..provenance import LineNumber, Location, Note
from ..safetext import json_safe, show_bytes

__all__ = [
    "MAX_REPORT_FINDINGS",
    "ApacheSummary",
    "ChangeAction",
    "FileChange",
    "Finding",
    "JsonScalar",
    "KernelSummary",
    "Profile",
    "Report",
    "Severity",
    "ToolInfo",
    "fingerprint_of",
    "too_many_findings",
]

JsonScalar = bool | int | float | str | None
Profile = Literal["internet", "internal", "proxy-backend"]


class Severity(StrEnum):
    """How much a finding matters, from ``info`` (context) to ``critical`` (an outage waiting).

    Severities order by risk, not by spelling: ``Severity.HIGH < Severity.CRITICAL``
    and ``sorted(severities)`` runs from info to critical. A plain string that
    names a severity compares the same way (``Severity.HIGH > "low"``); any other
    operand is a TypeError, never an alphabetical answer.
    """

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for info up to 4 for critical."""
        return _RANKS[self]

    def _other_rank(self, other: object) -> int:
        # A StrEnum inherits str's alphabetical ordering; rank both sides instead.
        if isinstance(other, str):
            try:
                return _RANKS[Severity(other)]
            except ValueError:
                pass
        raise TypeError(f"a severity orders only against another severity, not {other!r}")

    def __lt__(self, other: object) -> bool:
        return self.rank < self._other_rank(other)

    def __le__(self, other: object) -> bool:
        return self.rank <= self._other_rank(other)

    def __gt__(self, other: object) -> bool:
        return self.rank > self._other_rank(other)

    def __ge__(self, other: object) -> bool:
        return self.rank >= self._other_rank(other)


_RANKS = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


ChangeAction = Literal["replace", "insert_after", "append", "create"]


class FileChange(FirstErrorModel):
    """One edit of one file that applies a finding's fix.

    ``file`` is named as the finding's location names it (relative to the
    audited root). ``line`` is the line httpd or the sysctl tools report: for
    ``replace`` the line to replace, the whole logical line it ends (a line
    continued with ``\\`` is reported at its last physical line); for
    ``insert_after`` the line after which ``text`` goes (a section's opening
    line puts it inside the section); None for ``append`` (at the end of the
    file, created if missing) and ``create``. ``text`` holds the new lines,
    without a final newline; an empty ``text`` with ``replace`` deletes the
    line. ``link`` marks a ``create`` of a symbolic link whose target is
    ``text`` (Debian's a2enmod enables a module so). ``scope`` names the
    virtual host the change is in, None for the server. ``was`` is the line
    as the audit read it (words joined by one space; for ``insert_after`` the
    line the text goes after), for people: None when not known.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    line: LineNumber | None = None
    action: ChangeAction
    text: str
    link: bool = False
    scope: str | None = None
    was: str | None = None


class Finding(FirstErrorModel):
    """One rule's verdict on one setting (or one virtual host's setting)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str
    severity: Severity
    title: str
    message: str
    setting: str | None = None
    scope: str | None = None
    current: JsonScalar = None
    recommended: JsonScalar = None
    location: Location | None = None
    fix: str | None = None
    fix_changes: list[FileChange] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)
    suppressed: bool = False
    suppression_reason: str | None = None

    @property
    def fingerprint(self) -> str:
        """A stable identity that survives line shifts: rule, setting, scope and file."""
        return fingerprint_of(
            self.rule, self.setting, self.scope, self.location.file if self.location else None
        )


def fingerprint_of(rule: str, setting: str | None, scope: str | None, file: str | None) -> str:
    """``Finding.fingerprint`` from its parts, before the finding is built."""
    parts = [rule, setting or "", scope or "", file or ""]
    # show_bytes: a byte that is not UTF-8 counts as the text reports show for it.
    return hashlib.sha256(show_bytes("\x1f".join(parts)).encode()).hexdigest()[:16]


# More than any report tcpaudit writes (it lists 250 findings of a rule):
# fleet and --baseline refuse a document of more.
MAX_REPORT_FINDINGS = 100_000


def too_many_findings(document: bytes) -> bool:
    """Whether a JSON report holds more than MAX_REPORT_FINDINGS findings, told
    before it is parsed: each finding has one "rule" key, and that word cannot
    appear so quoted inside a JSON string (its quotes would be escaped)."""
    return document.count(b'"rule"') > MAX_REPORT_FINDINGS


class ToolInfo(FirstErrorModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["tcpaudit"] = "tcpaudit"
    version: str = __version__


class ApacheSummary(FirstErrorModel):
    """The Apache facts a reader needs to follow the findings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    version_source: str
    mpm: str
    mpm_source: str
    main_file: str
    files: int
    vhosts: int


class KernelSummary(FirstErrorModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kernel: str | None = None
    boot: str | None = None


class Report(FirstErrorModel):
    """The result of ``tcpaudit.audit``: graded, sorted findings about one host."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    tool: ToolInfo = Field(default_factory=ToolInfo)
    host: str
    profile: Profile = "internet"
    grade: Literal["A", "B", "C", "D", "F"]
    score: int = Field(ge=0, le=100)
    apache: ApacheSummary | None = None
    kernel: KernelSummary | None = None
    derived: DerivedTimings = Field(default_factory=DerivedTimings)
    findings: list[Finding] = Field(default_factory=list)
    unlisted: list[str] = Field(
        default_factory=list,
        max_length=1_000_000,
        description="fingerprints of the findings judged but not listed (a rule's beyond the "
        "250 a report lists): a baseline made from this report accepts them too",
    )
    notes: list[Note] = Field(default_factory=list)

    def to_json(self, indent: int | None = 2) -> str:
        """The JSON report (the contract documented by ``tcpaudit schema``),
        each token of a known kind hidden as the CLI hides it (one may stand in
        a file's name: ``conf.d/x,ghp_....conf``)."""
        text = json.dumps(self.model_dump(mode="json"), indent=indent, ensure_ascii=False)
        return json_safe(hide_known_tokens(text, REDACTED_VALUE))

    def at_or_above(self, severity: Severity) -> list[Finding]:
        """Unsuppressed findings whose severity is at least ``severity``."""
        return [
            finding
            for finding in self.findings
            if not finding.suppressed and finding.severity.rank >= severity.rank
        ]
