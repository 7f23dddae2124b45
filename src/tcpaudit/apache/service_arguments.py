"""What httpd is started with besides its configuration: ``Invocation``, and
httpd's own options taken from a command line (``apply_arguments``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..provenance import Note
from .startup_queries import StartupQueries

__all__ = ["Invocation", "apply_arguments", "through_env"]


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
    # What the reading asked the root: a file appearing there changes it.
    queries: StartupQueries = field(default_factory=StartupQueries)


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


# GNU env's long options (a unique prefix is taken, as getopt_long does) and
# whether each takes a value; signal handling and output ones change nothing
# httpd reads.
_ENV_LONG = {"ignore-environment": False, "null": False, "unset": True, "chdir": True,
             "split-string": True, "block-signal": None, "default-signal": None,
             "ignore-signal": None, "list-signal-handling": False, "debug": False,
             "help": False, "version": False}  # fmt: skip


def through_env(words: list[str], environment: dict[str, str]) -> tuple[list[str], str | None]:
    """``env [OPTION]... [NAME=VALUE]... COMMAND [ARG]...`` as GNU env runs it:
    ``environment`` changed in place, the command returned; with why the
    command is not known, or env runs none, when so."""
    index = 1
    while index < len(words):
        word = words[index]
        if word == "--":
            index += 1
            break
        if word == "-":
            environment.clear()
            index += 1
            continue
        if not word.startswith("-"):
            break
        index += 1
        if word.startswith("--"):
            name, equals, value = word[2:].partition("=")
            matches = [option for option in _ENV_LONG if option.startswith(name)] if name else []
            if name in _ENV_LONG:
                matches = [name]
            if len(matches) != 1 or matches[0] in ("help", "version", "split-string", "null"):
                return [], f"env with {word.split('=')[0]}, which tcpaudit does not follow"
            option = matches[0]
            if _ENV_LONG[option] and not equals:
                if index >= len(words):
                    return [], f"env's {word} without its value"
                value, index = words[index], index + 1
            if option == "ignore-environment":
                environment.clear()
            elif option == "unset":
                environment.pop(value, None)
            continue
        position = 1
        while position < len(word):
            letter = word[position]
            position += 1
            if letter == "i":
                environment.clear()
            elif letter == "v":
                continue
            elif letter in "uC":
                value = word[position:]
                if not value:
                    if index >= len(words):
                        return [], f"env's -{letter} without its value"
                    value, index = words[index], index + 1
                if letter == "u":
                    environment.pop(value, None)
                break
            else:
                return [], f"env with -{letter}, which tcpaudit does not follow"
    while index < len(words) and "=" in words[index]:
        name, _, value = words[index].partition("=")
        if not name:
            return [], "env given an assignment with no name, which fails"
        environment[name] = value
        index += 1
    if index >= len(words):
        return [], "env with no command prints the environment: httpd is not started"
    return words[index:], None
