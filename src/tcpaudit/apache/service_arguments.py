"""What httpd is started with besides its configuration: ``Invocation``, and
httpd's own options taken from a command line (``apply_arguments``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..provenance import Note

__all__ = ["Invocation", "apply_arguments"]


@dataclass
class Invocation:
    """What httpd is started with besides its configuration files."""

    defines: list[str] = field(default_factory=list)
    before: list[str] = field(default_factory=list)  # -C, read before the main file
    after: list[str] = field(default_factory=list)  # -c, read after it
    environment: dict[str, str] = field(default_factory=dict)
    config_file: str | None = None  # -f
    server_root: str | None = None  # -d
    binary: str | None = None
    files: list[str] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    how: str = ""


# httpd's getopt string (server/main.c): these take an argument, the rest not.
_WITH_VALUE = frozenset("CcDdEefknR")


def apply_arguments(arguments: list[str], invocation: Invocation) -> None:
    """Take httpd's own command-line options from ``arguments``, as apr_getopt
    reads them: options may be clustered (``-TC "Timeout 7"``, ``-XD X``), and
    an option's value is the rest of its word or the next word."""
    index = 0
    ends_seen = 0
    while index < len(arguments):
        word = arguments[index]
        index += 1
        if word.startswith("--"):
            # apr_getopt ends its options at any word starting "--"; the MPM's
            # own pass over them (ap_mpm_rewrite_args) takes the first such
            # word away: what follows is read as options still.
            ends_seen += 1
            if ends_seen > 1:
                break
            continue
        if not word.startswith("-") or word == "-":
            continue
        position = 1
        while position < len(word):
            option = word[position]
            position += 1
            if option not in _WITH_VALUE:
                if option == "X":
                    # main.c: -X is "debug mode", a define named DEBUG.
                    invocation.defines.append("DEBUG")
                continue
            value = word[position:]
            if not value:
                if index >= len(arguments):
                    return
                value = arguments[index]
                index += 1
            _take(option, value, invocation)
            break


def _take(option: str, value: str, invocation: Invocation) -> None:
    if option == "D":
        invocation.defines.append(value)
    elif option == "C":
        invocation.before.append(value)
    elif option == "c":
        invocation.after.append(value)
    elif option == "f":
        invocation.config_file = value
    elif option == "d":
        invocation.server_root = value
