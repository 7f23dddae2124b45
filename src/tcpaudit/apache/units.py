"""systemd service units and environment files, as systemd reads them for httpd's service.

The unit that starts httpd decides its environment (``Environment=``,
``EnvironmentFile=``) and command line (``ExecStart=``): RHEL's
``httpd.service`` reads /etc/sysconfig/httpd as an environment file and runs
``httpd $OPTIONS -DFOREGROUND``; drop-ins in ``<unit>.d/*.conf`` add or reset
settings. This module reads them from the audited root, following
systemd.unit(5) and systemd.exec(5): the unit from the first directory that
has it (/etc before /run before /usr/lib), drop-ins from every directory,
sorted by file name, a name in an earlier directory hiding the same name in a
later one; an empty assignment resets a list. Lines, words, escapes and
specifiers are read as systemd reads them (``unit_syntax.py``); what depends
on the running host (``%H``, ``%m``) is noted as not known. It runs nothing.
``invocation.py`` decides what the values mean for httpd.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field

from ..inputs import read_bytes
from ..provenance import Note
from ..rootfs import RootFS
from .shell_state import MAX_ENVIRONMENT_BYTES, MAX_VALUE_BYTES
from .startup_queries import StartupQueries
from .unit_syntax import (
    UnitName,
    WordError,
    is_valid_text,
    logical_lines,
    resolve_specifiers,
    split_words,
)

__all__ = [
    "UNIT_DIRECTORIES",
    "ArgumentsTooLongError",
    "ServiceUnit",
    "drop_in_directories",
    "exec_arguments",
    "read_unit",
]

UNIT_DIRECTORIES = (
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
)
# Start-up files are small; these bound what one may cost.
MAX_UNIT_BYTES = 1024 * 1024
_MAX_DROP_INS = 256
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BLANKS = " \t\n\r"
# The names read as drop-ins, as dash patterns: every name ending in
# ".conf", hidden ones included (a name starting with a dot matches only a
# pattern starting with one).
_DROP_IN_PATTERNS = ("*.conf", ".*.conf", ".conf")


@dataclass
class ServiceUnit:
    """The settings of a service unit that decide how httpd starts."""

    name: str
    files: list[str] = field(default_factory=list)
    # (NAME, value, file, line), in order; a reset empties the list.
    environment: list[tuple[str, str, str, int]] = field(default_factory=list)
    # (path, optional, file, line)
    environment_files: list[tuple[str, bool, str, int]] = field(default_factory=list)
    # The words of the last ExecStart=, unexpanded, with its place.
    exec_start: tuple[list[str], str, int] | None = None
    # Names whose values are not known ("*": any name, from a file not known).
    unknown: set[str] = field(default_factory=set)
    # Why systemd refuses to load the unit, when it does.
    bad_setting: str | None = None
    # Commands given by ExecStart= since its last reset; Type= (simple when unset).
    exec_commands: int = 0
    service_type: str = "simple"
    # UnsetEnvironment=: names, or exact NAME=VALUE assignments, removed last.
    unset: list[str] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def note(self, message: str, file: str, line: int) -> None:
        self.notes.append(Note(message=message, file=file, line=line))


def _read(fs: RootFS, tree_path: str) -> str | None:
    try:
        real = fs.resolve(tree_path)
        if not real.is_file():
            return None
        return read_bytes(real, MAX_UNIT_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None


def _masked(fs: RootFS, tree_path: str) -> bool:
    """A unit linked to /dev/null, or an empty file, is masked: systemd will not start it."""
    try:
        real = fs.resolve(tree_path)
        if str(real) == str(fs.root / "dev/null"):
            return True
        info = fs.lstat_real(str(real))
        return stat.S_ISREG(info.st_mode) and info.st_size == 0
    except OSError:
        return False


def _directories(fs: RootFS) -> list[str]:
    """The unit directories the root has (most roots have one or none)."""
    found = []
    for directory in UNIT_DIRECTORIES:
        try:
            if fs.resolve(directory).is_dir():
                found.append(directory)
        except OSError:
            continue
    return found


def read_unit(fs: RootFS, name: str, queries: StartupQueries | None = None) -> ServiceUnit | None:
    """Read ``name`` (``httpd.service``) and its drop-ins from the root; None if absent or masked.

    ``queries`` records each unit path looked at and each drop-in directory
    listed: a file appearing there is read next time.
    """
    queries = queries if queries is not None else StartupQueries()
    directories = _directories(fs)
    unit = ServiceUnit(name)
    main = None
    for directory in directories:
        path = f"{directory}/{name}"
        queries.asked(path)
        if _masked(fs, path):
            return None
        text = _read(fs, path)
        if text is not None:
            main = (path, text)
            break
    if main is None:
        return None
    drop_ins: dict[str, str] = {}
    for directory in directories:
        for drop_in_directory in drop_in_directories(name):
            try:
                real = fs.resolve(f"{directory}/{drop_in_directory}")
                # Listed as every directory is (a tree swapped since fails).
                with fs.open_real_directory(real) as descriptor, os.scandir(descriptor) as scan:
                    names = sorted(entry.name for entry in scan)
            except OSError:
                continue
            for pattern in _DROP_IN_PATTERNS:
                queries.matched(str(real), pattern)
            for entry_name in names:
                if entry_name.endswith(".conf") and entry_name not in drop_ins:
                    drop_ins[entry_name] = f"{directory}/{drop_in_directory}/{entry_name}"
    chosen = sorted(drop_ins.items())
    if len(chosen) > _MAX_DROP_INS:
        # systemd reads them all; a later one may set anything again.
        unit.note(f"{len(chosen)} drop-ins, of which tcpaudit reads the first {_MAX_DROP_INS}: "
                  "the service's environment and arguments may differ from those shown",
                  fs.display_tree(chosen[_MAX_DROP_INS][1]), 0)  # fmt: skip
        unit.unknown.add("*")
        del chosen[_MAX_DROP_INS:]
    sources = [main] + [
        (path, text)
        for _, path in chosen
        if not _masked(fs, path) and (text := _read(fs, path)) is not None
    ]
    for path, text in sources:
        shown = fs.display_tree(path)
        unit.files.append(shown)
        _apply(unit, text, shown, UnitName(name, main[0]))
    if unit.exec_commands > 1 and unit.service_type != "oneshot" and unit.exec_start:
        unit.bad_setting = "more than one ExecStart= command"
        _, shown, number = unit.exec_start
        unit.note("more than one ExecStart= command, which only a Type=oneshot service may "
                  "have: systemd refuses the unit, and the service does not start",
                  shown, number)  # fmt: skip
    return unit


def drop_in_directories(name: str) -> list[str]:
    """Where a unit's drop-ins are, in one unit directory, most specific first:
    ``a-b.service.d``, then each dashed prefix (``a-.service.d``), then the
    type's (``service.d``), as systemd looks (a name met first wins)."""
    stem, _, kind = name.rpartition(".")
    found = [f"{name}.d"]
    template, at, _ = stem.partition("@")
    if at:
        found.append(f"{template}@.{kind}.d")
    dashes = [index for index, char in enumerate(template) if char == "-"]
    found += [f"{template[: index + 1]}.{kind}.d" for index in reversed(dashes)]
    found.append(f"{kind}.d")
    return found


def _apply(unit: ServiceUnit, text: str, shown: str, name: UnitName) -> None:
    section = ""
    for number, line in logical_lines(text):
        stripped = line.strip(_BLANKS)
        if not stripped:
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1]
            continue
        key, equals, value = stripped.partition("=")
        if section != "Service" or not equals:
            continue
        key, value = key.strip(_BLANKS), value.strip(_BLANKS)
        if key == "Environment":
            _environment(unit, value, shown, number, name)
        elif key == "EnvironmentFile":
            _environment_file(unit, value, shown, number, name)
        elif key == "ExecStart":
            _exec_start(unit, value, shown, number, name)
        elif key == "Type":
            unit.service_type = value or "simple"
        elif key == "UnsetEnvironment":
            _unset_environment(unit, value, name)


def _unset_environment(unit: ServiceUnit, value: str, name: UnitName) -> None:
    if not value:
        unit.unset.clear()
        return
    try:
        words = split_words(value, cunescape=True)
    except WordError as error:
        words = error.words
    for word in words:
        resolved = resolve_specifiers(word, name)
        if resolved is not None:
            unit.unset.append(resolved)


def _environment(unit: ServiceUnit, value: str, shown: str, number: int, name: UnitName) -> None:
    if not value:
        unit.environment.clear()
        return
    try:
        words = split_words(value, cunescape=True)
    except WordError as error:
        # systemd keeps the words before the error and ignores the rest.
        words = error.words
        unit.note(f"Environment= {error}: systemd ignores the rest of the line", shown, number)
    for word in words:
        resolved = resolve_specifiers(word, name)
        variable, equals, assigned = (resolved or word).partition("=")
        if not equals or not _NAME.fullmatch(variable):
            continue  # "Invalid environment assignment, ignoring"
        if resolved is None:
            unit.note(f"Environment= {variable} holds a specifier tcpaudit does not resolve: "
                      "its value is not known", shown, number)  # fmt: skip
            unit.unknown.add(variable)
        elif not is_valid_text(assigned) or len(assigned) > MAX_VALUE_BYTES:
            continue
        unit.environment.append((variable, assigned, shown, number))


def _environment_file(
    unit: ServiceUnit, value: str, shown: str, number: int, name: UnitName
) -> None:
    if not value:
        unit.environment_files.clear()
        return
    resolved = resolve_specifiers(value, name)
    if resolved is None:
        unit.note("EnvironmentFile= names its file with a specifier tcpaudit does not "
                  "resolve: what it sets is not known", shown, number)  # fmt: skip
        unit.unknown.add("*")
        return
    optional = resolved.startswith("-")
    path = resolved[1:] if optional else resolved
    parts = path.split("/")
    if not path.startswith("/") or ".." in parts:
        unit.note("EnvironmentFile= path is not absolute and normalised: systemd ignores it",
                  shown, number)  # fmt: skip
        return
    # systemd simplifies it: "//", "/./" and a final "/" go.
    path = "/" + "/".join(part for part in parts if part not in ("", "."))
    unit.environment_files.append((path, optional, shown, number))


def _exec_start(unit: ServiceUnit, value: str, shown: str, number: int, name: UnitName) -> None:
    if not value:
        unit.exec_start = None
        unit.exec_commands = 0
        return
    written: list[str] = []
    try:
        # An unknown escape is kept as written (systemd warns); unbalanced
        # quotes make systemd ignore the line.
        words = split_words(value, cunescape=True, keep_unknown_escapes=True, written=written)
    except WordError as error:
        # In the program's word, or with the "-" prefix, systemd ignores the
        # line; past it, the unit is refused ("bad setting") and not started.
        if not error.words or "-" in _prefix(error.words[0]):
            unit.note(f"ExecStart= {error}: systemd ignores the line", shown, number)
        else:
            unit.bad_setting = f"ExecStart= {error}"
            unit.note(f"ExecStart= {error}: systemd refuses the unit, and the service "
                      "does not start", shown, number)  # fmt: skip
        return
    # A ";" word separates commands ("\\;" is the word ";"): each counts.
    commands: list[list[str]] = [[]]
    for word, raw in zip(words, written, strict=True):
        if raw == ";":
            commands.append([])
        else:
            commands[-1].append(";" if raw == "\\;" else word)
    commands = [command for command in commands if command]
    unit.exec_commands += len(commands)
    if not commands:
        return
    words = commands[0]
    resolved = [resolve_specifiers(word, name) for word in words]
    if None in resolved:
        unit.note("ExecStart= holds a specifier tcpaudit does not resolve: httpd's "
                  "arguments may differ from those shown", shown, number)  # fmt: skip
    unit.exec_start = ([r if r is not None else w for r, w in zip(resolved, words, strict=True)],
                       shown, number)  # fmt: skip


def _prefix(program: str) -> str:
    return program[: len(program) - len(program.lstrip("@-:+!|"))]


def exec_arguments(words: list[str], environment: dict[str, str]) -> list[str]:
    """ExecStart's words after systemd's variable expansion (systemd.service(5)).

    A word that is exactly ``$NAME`` becomes the value split into words as
    systemd splits it (quotes removed, a backslash taking the next
    character), none when NAME is not set; ``${NAME}`` anywhere is replaced
    by the whole value (empty when not set), in one word; ``$$`` is a
    literal ``$``; anything else stays as written. The prefixes ``@-:+!|``
    are dropped: after ``@`` the next word is argv[0] (dropped too), and
    ``:`` turns the expansion off.
    """
    if not words:
        return []
    prefix = _prefix(words[0])
    # "@": the next word is argv[0], not an argument; ":": no expansion.
    words = [words[0][len(prefix) :], *words[2 if "@" in prefix else 1 :]]
    if ":" in prefix:
        return words
    expanded: list[str] = []
    size = 0
    for word in words:
        if word.startswith("$") and word[1:2] not in ("{", "$"):
            value = environment.get(word[1:])
            if value is not None:
                expanded.extend(split_words(value, cunescape=False, relax=True))
                size += len(value) + 1
        else:
            expanded.append(_replace_variables(word, environment))
            size += len(expanded[-1]) + 1
        if size > MAX_ENVIRONMENT_BYTES:
            # execve refuses more (E2BIG): checked before any more is built.
            raise ArgumentsTooLongError(size)
    return expanded


class ArgumentsTooLongError(Exception):
    """ExecStart='s words expand to more than execve passes (their size so far)."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def _replace_variables(word: str, environment: dict[str, str]) -> str:
    out: list[str] = []
    index, length = 0, len(word)
    while index < length:
        if word[index] == "$" and index + 1 < length:
            following = word[index + 1]
            if following == "$":
                out.append("$")
                index += 2
                continue
            if following == "{":
                end = index + 2
                while end < length and word[end] not in "}:":
                    end += 1
                if end < length and word[end] == "}":
                    out.append(environment.get(word[index + 2 : end], ""))
                    index = end + 1
                    continue
                # ${NAME:-x} (and an unclosed ${) is no expansion to systemd 252.
                out.append(word[index:end])
                index = end
                continue
        out.append(word[index])
        index += 1
    return "".join(out)
