"""What the reading of the service's start-up files asked the audited root.

The start-up files are read as the service reads them: a name is sourced,
tested (``[ -f NAME ]``, a redirection's target, a ``.`` looked for along
PATH), read as an ``EnvironmentFile=`` or looked for as a unit, and a
directory's entries are matched against a pattern (a shell pathname, an
``EnvironmentFile=`` glob, a unit's drop-ins). A file that appears at one
of those names, or matching one of those patterns, is read next time or
changes an answer: ``--output`` must not write its report there
(``cli_sources.files_read``), as it must not where an Include would read it
(``includes.DirectoryBudget``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["StartupQueries"]


@dataclass
class StartupQueries:
    """The names and patterns the start-up reading asked about, each once, in order."""

    # Paths as seen inside the root: read, tested or looked for, there or not.
    names: dict[str, None] = field(default_factory=dict)
    # (directory as read on the host, pattern as dash matches it): a new
    # entry matching it is read next time.
    patterns: dict[tuple[str, str], None] = field(default_factory=dict)

    def asked(self, tree_path: str) -> None:
        self.names[tree_path] = None

    def matched(self, directory: str, pattern: str) -> None:
        self.patterns[(directory, pattern)] = None
