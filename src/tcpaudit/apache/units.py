"""systemd service units and environment files, as systemd reads them for httpd's service.

The unit that starts httpd decides its environment (``Environment=``,
``EnvironmentFile=``) and command line (``ExecStart=``): RHEL's
``httpd.service`` reads /etc/sysconfig/httpd as an environment file and runs
``httpd $OPTIONS -DFOREGROUND``; drop-ins in ``<unit>.d/*.conf`` add or reset
settings. This module reads them from the audited root, following
systemd.unit(5) and systemd.exec(5): the unit from the first directory that
has it (/etc before /run before /usr/lib), drop-ins from every directory,
sorted by file name, a name in an earlier directory hiding the same name in a
later one; an empty assignment resets a list. It runs nothing and expands no
specifiers (``%n``). ``invocation.py`` decides what the values mean for httpd.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..inputs import read_bytes
from ..rootfs import RootFS
from .shell_state import MAX_VALUE_BYTES

__all__ = [
    "UNIT_DIRECTORIES",
    "ServiceUnit",
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


def _read(fs: RootFS, tree_path: str) -> str | None:
    try:
        real = fs.resolve(tree_path)
        if not real.is_file():
            return None
        return read_bytes(real, MAX_UNIT_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None


def _masked(fs: RootFS, tree_path: str) -> bool:
    """A unit linked to /dev/null is masked: systemd will not start it."""
    try:
        return str(fs.resolve(tree_path)) == str(fs.root / "dev/null")
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


def read_unit(fs: RootFS, name: str) -> ServiceUnit | None:
    """Read ``name`` (``httpd.service``) and its drop-ins from the root; None if absent or masked."""
    directories = _directories(fs)
    unit = ServiceUnit(name)
    main = None
    for directory in directories:
        path = f"{directory}/{name}"
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
        try:
            entries = sorted(fs.resolve(f"{directory}/{name}.d").iterdir())
        except OSError:
            continue
        for entry in entries[:_MAX_DROP_INS]:
            if entry.name.endswith(".conf") and entry.name not in drop_ins:
                drop_ins[entry.name] = f"{directory}/{name}.d/{entry.name}"
    sources = [main] + [
        (path, text)
        for _, path in sorted(drop_ins.items())
        if not _masked(fs, path) and (text := _read(fs, path)) is not None
    ]
    for path, text in sources:
        shown = fs.display_tree(path)
        unit.files.append(shown)
        _apply(unit, text, shown)
    return unit


def _apply(unit: ServiceUnit, text: str, shown: str) -> None:
    section = ""
    # The pieces of a continued line, joined once it ends (joining at each
    # piece is quadratic in a run of backslash lines).
    pending: list[str] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        if raw.endswith("\\"):
            pending.append(raw[:-1] + " ")
            continue
        line = "".join(pending) + raw if pending else raw
        pending = []
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1]
            continue
        if section != "Service" or "=" not in stripped:
            continue
        key, _, value = stripped.partition("=")
        key, value = key.strip(), value.strip()
        if key == "Environment":
            if not value:
                unit.environment.clear()
                continue
            for word in _unit_words(value):
                name, sep, assigned = word.partition("=")
                if sep and _NAME.fullmatch(name) and len(assigned) <= MAX_VALUE_BYTES:
                    unit.environment.append((name, assigned, shown, number))
        elif key == "EnvironmentFile":
            if not value:
                unit.environment_files.clear()
                continue
            optional = value.startswith("-")
            unit.environment_files.append((value.lstrip("-"), optional, shown, number))
        elif key == "ExecStart":
            unit.exec_start = (_unit_words(value), shown, number) if value else None


def _unit_words(value: str) -> list[str]:
    """systemd's word splitting of a setting: blanks separate, quotes group, C escapes."""
    words: list[str] = []
    index = 0
    length = len(value)
    while index < length:
        while index < length and value[index] in " \t":
            index += 1
        if index >= length:
            break
        word: list[str] = []
        while index < length and value[index] not in " \t":
            char = value[index]
            if char in "\"'":
                end = index + 1
                while end < length and value[end] != char:
                    if value[end] == "\\" and end + 1 < length:
                        word.append(_unescape(value[end + 1]))
                        end += 2
                        continue
                    word.append(value[end])
                    end += 1
                index = end + 1
            elif char == "\\" and index + 1 < length:
                word.append(_unescape(value[index + 1]))
                index += 2
            else:
                word.append(char)
                index += 1
        words.append("".join(word))
    return words


def _unescape(char: str) -> str:
    return {"n": "\n", "t": "\t", "r": "\r"}.get(char, char)


def exec_arguments(words: list[str], environment: dict[str, str]) -> list[str]:
    """ExecStart's words after systemd's variable expansion (systemd.service(5)).

    A word that is exactly ``$NAME`` becomes the value split at blanks (zero
    or more words); ``${NAME}`` anywhere is replaced by the whole value, in one
    word; ``$$`` is a literal ``$``. The prefixes ``@-:+!`` are dropped.
    """
    if words:
        words = [words[0].lstrip("@-:+!"), *words[1:]]
    expanded: list[str] = []
    for word in words:
        bare = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if bare:
            expanded.extend(environment.get(bare.group(1), "").split())
            continue
        expanded.append(
            re.sub(
                r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}",
                lambda match: (
                    "$" if match.group(0) == "$$" else environment.get(match.group(1), "")
                ),
                word,
            )
        )
    return expanded
