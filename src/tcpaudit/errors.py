"""The exceptions tcpaudit raises; one root so one ``except`` catches them all.

::

    TcpauditError                 anything tcpaudit itself refuses
    ├── ParseError                an input could not be read or parsed (.file, .line, .reason)
    │   ├── ApacheConfigError     the Apache configuration is one Apache itself would refuse
    │   ├── SysctlError           a sysctl source could not be read
    │   ├── FactsError            a facts JSON document does not match the contract
    │   ├── ConfigError           tcpaudit.toml / [tool.tcpaudit] is invalid
    │   └── CatalogueError        a rule file is invalid
    └── UsageError                the caller asked for something that cannot be done

The command line prints ``str(error)`` (``file:line: reason``) and exits 2.
What Apache itself tolerates (an undefined ``${VAR}``) is not an error but a
note in the model.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

__all__ = [
    "ApacheConfigError",
    "CatalogueError",
    "ConfigError",
    "FactsError",
    "ParseError",
    "SysctlError",
    "TcpauditError",
    "UsageError",
    "raises_only_documented_errors",
]


class TcpauditError(Exception):
    """Root of every exception tcpaudit raises on purpose."""


class UsageError(TcpauditError):
    """Raised when the arguments of a call contradict each other or name nothing."""


# What an error line shows of its reason: the rest is counted, not printed.
MAX_REASON_CHARACTERS = 4096


class ParseError(TcpauditError):
    """Raised when an input file cannot be read or parsed.

    Attributes:
        file: the file as shown to the user (relative to the audited root), or None.
        line: 1-based line number, or None when the problem is not tied to a line.
        reason: what is wrong, in one sentence.
    """

    def __init__(self, reason: str, file: str | None = None, line: int | None = None) -> None:
        self.reason = reason
        self.file = file
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        reason = self.reason
        if len(reason) > MAX_REASON_CHARACTERS:
            # httpd quotes a word whole ("Invalid command '...'"): one line, not
            # megabytes of it. Cut when shown: secrets are hidden in the whole.
            cut = len(reason) - MAX_REASON_CHARACTERS
            reason = f"{reason[:MAX_REASON_CHARACTERS]}... ({cut} more characters)"
        if self.file is None:
            text = reason
        elif self.line is None:
            text = f"{self.file}: {reason}"
        else:
            text = f"{self.file}:{self.line}: {reason}"
        # A file name from the audited tree may hold a newline or an escape
        # sequence: the message stays one line, whoever prints it.
        return _LINE_BREAKING.sub(_escaped, text)


_LINE_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escaped(match: re.Match[str]) -> str:
    character = match.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(character)
    if named is not None:
        return named
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class ApacheConfigError(ParseError):
    """Raised for a configuration that real Apache would also refuse to start with."""


class SysctlError(ParseError):
    """Raised when a sysctl source (a /proc tree, a file) cannot be read at all."""


class FactsError(ParseError):
    """Raised when a facts document (JSON from Ansible or `tcpaudit facts`) is invalid."""


class ConfigError(ParseError):
    """Raised for an invalid tcpaudit configuration (tcpaudit.toml, pyproject.toml)."""


class CatalogueError(ParseError):
    """Raised for a rule file that does not match the rule schema."""


_P = ParamSpec("_P")
_R = TypeVar("_R")


def raises_only_documented_errors(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """Keep a public entry point's promise that it raises ``TcpauditError`` only.

    The readers turn what they expect (a missing include, a bad value) into
    errors with file and line themselves; this catches what slips past them at
    the library's edge: an ``OSError`` (a link loop, a permission change while
    reading) becomes a ``ParseError`` naming the file, and a ``RecursionError``
    from an input nested deeper than Python can follow becomes one too.
    """

    @wraps(function)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return function(*args, **kwargs)
        except TcpauditError:
            raise
        except OSError as exc:
            file = os.fsdecode(exc.filename) if exc.filename is not None else None
            raise ParseError(exc.strerror or str(exc), file=file) from exc
        except RecursionError as exc:
            raise ParseError("input nested too deeply to read") from exc

    return guarded
