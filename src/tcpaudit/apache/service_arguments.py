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


def apply_arguments(arguments: list[str], invocation: Invocation) -> None:
    """Take httpd's own command-line options from ``arguments`` (its getopt string)."""
    index = 0
    with_value = {"-C", "-c", "-D", "-d", "-E", "-e", "-f", "-k", "-n", "-R"}
    while index < len(arguments):
        word = arguments[index]
        index += 1
        option, value = word[:2], word[2:]
        if option in with_value:
            if not value:
                if index >= len(arguments):
                    break
                value = arguments[index]
                index += 1
            if option == "-D":
                invocation.defines.append(value)
            elif option == "-C":
                invocation.before.append(value)
            elif option == "-c":
                invocation.after.append(value)
            elif option == "-f":
                invocation.config_file = value
            elif option == "-d":
                invocation.server_root = value
        elif word == "-X":
            # main.c: -X is "debug mode", a define named DEBUG.
            invocation.defines.append("DEBUG")
