"""Read one input safely: regular files only, bounded size, bounded nesting.

tcpaudit runs as root on production hosts and in CI on untrusted changes.
Opening a FIFO or a device would block or read forever, so every file is
checked with ``stat`` first and read with a size bound; documents (JSON,
YAML) are refused when they nest deeper than any real one before a parser
recurses into them. Errors come back as ``OSError`` (files) or ``ValueError``
(documents) subclasses with the reason, for the caller to wrap in its own
``ParseError``.

Two ways to name a file:

- a path the user gave (``--baseline``, ``--facts``, ``fleet FILE``, ``--ss``):
  ``read_bytes(path)``; a symlink the user made is followed, as any tool would;
- an entry of a directory opened without following links (``open_directory``,
  ``open_subdirectory``, ``read_entry``): what ``rootfs.RootFS`` uses for every
  path inside an audited tree, so that a link can never lead a read elsewhere,
  even one swapped in while tcpaudit runs.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat

__all__ = [
    "DEFAULT_LIMIT_BYTES",
    "MAX_DOCUMENT_DEPTH",
    "MAX_DOCUMENT_OBJECTS",
    "MAX_DOCUMENT_VALUES",
    "MAX_INT_DIGITS",
    "MAX_YAML_NODES",
    "DocumentError",
    "NotRegularFileError",
    "SecretFileError",
    "TooLargeError",
    "check_json_depth",
    "check_json_size",
    "check_yaml_shape",
    "load_json",
    "long_number_line",
    "open_directory",
    "open_subdirectory",
    "read_bytes",
    "read_entry",
    "read_text",
]

# Large enough for any real configuration or report, small enough to bound memory.
DEFAULT_LIMIT_BYTES = 64 * 1024 * 1024
_CHUNK_BYTES = 1024 * 1024
# tcpaudit's own documents nest at most 8 deep (facts: apache.vhosts[i].settings.X.value.header);
# far below the interpreter's recursion limit, which parsers and validators would hit.
MAX_DOCUMENT_DEPTH = 64
# Every JSON value costs memory once parsed, and an object more once validated:
# a 64 MiB document of 22 million empty lists took 1.75 GB (10.8 GB in
# pydantic-core's parser), 3 million small objects 2.2 GB. A facts document
# tcpaudit writes within 64 MiB holds under 2.2 million values and 0.45
# million objects (50,000 vhosts: 1.59 million and 315,000).
MAX_DOCUMENT_VALUES = 4_000_000
MAX_DOCUMENT_OBJECTS = 600_000
# A value, counted where it starts: each one after a container's first
# follows a comma, each container opens with a bracket; strings skipped whole.
_JSON_VALUE_TOKEN = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"?|[\[{,]')
# A rule file has a few dozen nodes; YAML aliases could make a small file name billions.
MAX_YAML_NODES = 100_000
# int() refuses a decimal of more digits (sys.get_int_max_str_digits(), CVE-2020-10735):
# the JSON, TOML and YAML readers would raise ValueError from deep inside.
MAX_INT_DIGITS = 4300
_LONG_NUMBER = re.compile(rf"[-+]?[0-9][0-9_]{{{MAX_INT_DIGITS},}}")

_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)


class NotRegularFileError(OSError):
    """The path names a FIFO, device, socket or directory."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(errno.EINVAL, "not a regular file", os.fspath(path))


class TooLargeError(OSError):
    """The file is larger than the bound."""

    def __init__(self, path: str | os.PathLike[str], limit: int) -> None:
        super().__init__(errno.EFBIG, f"larger than {limit} bytes", os.fspath(path))


class DocumentError(ValueError):
    """A document is not the shape tcpaudit reads: not UTF-8, too deep, too many nodes."""


def read_bytes(
    path: str | os.PathLike[str], limit: int = DEFAULT_LIMIT_BYTES, *, follow_links: bool = True
) -> bytes:
    """The file's bytes, refusing non-regular files and files above ``limit`` bytes.

    Args:
        path: the file.
        limit: the most bytes accepted.
        follow_links: False refuses a path whose last component is a symlink
            (ELOOP), for paths already resolved inside an audited root.
    """
    _refuse_secret(path)
    info = os.stat(path, follow_symlinks=follow_links)
    if not info.st_mode & stat.S_IROTH and "/proc/sys/" in os.path.abspath(path):
        raise SecretFileError(path)  # /proc/sys keeps its secrets 0600 (tcp_fastopen_key)
    # Never open a FIFO, device or socket: opening alone can block (FIFO), or act
    # (a tape rewinds, a watchdog arms, a tty becomes the controlling terminal).
    if not stat.S_ISREG(info.st_mode):
        if not follow_links and stat.S_ISLNK(os.lstat(path).st_mode):
            raise OSError(errno.ELOOP, "is a symbolic link", os.fspath(path))
        raise NotRegularFileError(path)
    # O_NONBLOCK/O_NOCTTY: a node swapped in after the stat check must not block or act.
    flags = _READ_FLAGS if follow_links else _READ_FLAGS | os.O_NOFOLLOW
    return _read_descriptor(os.open(path, flags), path, limit)


class SecretFileError(OSError):
    """The path names a /proc/sys key that is secret (``*_key``, ``*_secret``) or not
    world-readable: never opened, whatever names it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(errno.EACCES, "a secret key file, never read", os.fspath(path))


_SECRET_SUFFIXES = ("_key", "_secret")


def _refuse_secret(path: str | os.PathLike[str]) -> None:
    """Refuse a /proc/sys secret key, whatever names it (``Include /`` reaches it too)."""
    text = os.fspath(path)
    if text.endswith(_SECRET_SUFFIXES) and "/proc/sys/" in os.path.abspath(text):
        raise SecretFileError(path)


def read_entry(
    directory: int, name: str, limit: int = DEFAULT_LIMIT_BYTES, *, world_readable: bool = False
) -> bytes:
    """The bytes of ``name`` in an open directory, never through a symlink.

    Args:
        directory: a descriptor from ``open_directory``/``open_subdirectory``.
        name: one path component (no ``/``).
        limit: the most bytes accepted.
        world_readable: refuse a file that is not world-readable (``SecretFileError``).

    Raises:
        OSError: ELOOP for a symlink, ``NotRegularFileError``, ``TooLargeError``,
            or the error of the system call.
    """
    info = os.stat(name, dir_fd=directory, follow_symlinks=False)
    if world_readable and not info.st_mode & stat.S_IROTH:
        raise SecretFileError(name)
    if stat.S_ISLNK(info.st_mode):
        raise OSError(errno.ELOOP, "is a symbolic link", name)
    if not stat.S_ISREG(info.st_mode):
        raise NotRegularFileError(name)
    descriptor = os.open(name, _READ_FLAGS | os.O_NOFOLLOW, dir_fd=directory)
    return _read_descriptor(descriptor, name, limit)


def open_directory(path: str | os.PathLike[str], *, follow_links: bool = True) -> int:
    """A descriptor of a directory (close it with ``os.close``).

    With ``follow_links`` False the last component must not be a symlink.
    A FIFO or device is never opened: O_DIRECTORY refuses it before it is.
    """
    flags = _DIRECTORY_FLAGS if follow_links else _DIRECTORY_FLAGS | os.O_NOFOLLOW
    return os.open(path, flags)


def open_subdirectory(directory: int, name: str) -> int:
    """A descriptor of the directory ``name`` inside an open directory, not through a symlink.

    Raises:
        OSError: ENOTDIR or ELOOP when ``name`` is a symlink or not a directory,
            ENOENT when it holds a NUL (no file is named so).
    """
    if "\x00" in name:
        raise FileNotFoundError(errno.ENOENT, "no such file", name)
    return os.open(name, _DIRECTORY_FLAGS | os.O_NOFOLLOW, dir_fd=directory)


def _read_descriptor(descriptor: int, path: str | os.PathLike[str], limit: int) -> bytes:
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFileError(path)
        if info.st_size > limit:
            raise TooLargeError(path, limit)
        return _read_bounded(descriptor, info.st_size, path, limit)
    finally:
        os.close(descriptor)


def _read_bounded(descriptor: int, size: int, path: str | os.PathLike[str], limit: int) -> bytes:
    """Read to the end, at most ``limit`` bytes.

    Asks for the size ``fstat`` gave plus one byte (a file that grew since is
    read on), never for ``limit`` at once: a read of n bytes allocates n bytes
    first, and most files are a few kilobytes. /proc files report size 0.
    """
    chunks: list[bytes] = []
    total = 0
    wanted = size + 1 if size else _CHUNK_BYTES
    while True:
        chunk = os.read(descriptor, min(wanted, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise TooLargeError(path, limit)
        # A short read is almost always the end: confirm it cheaply; a file
        # that keeps giving (it grew, or /proc) is read in larger chunks.
        wanted = 4096 if len(chunk) < wanted else _CHUNK_BYTES
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def read_text(
    path: str | os.PathLike[str], limit: int = DEFAULT_LIMIT_BYTES, *, follow_links: bool = True
) -> str:
    """``read_bytes`` decoded as UTF-8, undecodable bytes replaced."""
    return read_bytes(path, limit, follow_links=follow_links).decode("utf-8", errors="replace")


# A JSON string (escapes included) or one bracket: strings are skipped whole,
# so brackets inside them do not count.
_JSON_TOKEN = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"?|[\[\]{}]')
# Strings (skipped) and the constants Python's json reads beyond JSON.
_JSON_CONSTANT = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"?|-?Infinity|NaN')


def check_json_depth(text: str, limit: int = MAX_DOCUMENT_DEPTH) -> None:
    """Refuse JSON text whose arrays and objects nest deeper than ``limit``.

    Runs before ``json.loads``, whose decoder recurses once per level and
    would end in RecursionError (and the validators after it, deeper still).

    Raises:
        DocumentError: with the 1-based line of the first bracket too deep.
    """
    if text.count("[") + text.count("{") <= limit:
        return  # cannot be deeper than its number of openings
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > limit:
                line = text.count("\n", 0, match.start()) + 1
                raise DocumentError(f"nested deeper than {limit} levels (line {line})")
        elif token in ("]", "}"):
            depth -= 1


def check_json_size(
    data: str | bytes,
    max_values: int = MAX_DOCUMENT_VALUES,
    max_objects: int = MAX_DOCUMENT_OBJECTS,
) -> None:
    """Refuse JSON that holds more values or objects than memory allows for.

    Runs before any parser: counted on the text, so a refusal costs no memory.

    Raises:
        DocumentError: with the 1-based line of the value past the bound.
    """
    if isinstance(data, str):
        braces, others = data.count("{"), data.count(",") + data.count("[")
    else:
        braces, others = data.count(b"{"), data.count(b",") + data.count(b"[")
    if braces + others <= max_values and braces <= max_objects:
        return  # within bounds even if every comma and bracket is outside strings
    text = data if isinstance(data, str) else data.decode("utf-8", errors="replace")
    values = objects = 0
    for match in _JSON_VALUE_TOKEN.finditer(text):
        token = match.group()
        if token[0] == '"':
            continue
        values += 1
        objects += token == "{"
        if values > max_values or objects > max_objects:
            line = text.count("\n", 0, match.start()) + 1
            what = f"{max_values:,} values" if values > max_values else f"{max_objects:,} objects"
            raise DocumentError(f"holds more than {what} (line {line})")


def long_number_line(text: str) -> int | None:
    """The 1-based line of the first number of more than MAX_INT_DIGITS digits, if any."""
    match = _LONG_NUMBER.search(text)
    return None if match is None else text.count("\n", 0, match.start()) + 1


def _number_too_long(text: str) -> DocumentError:
    line = long_number_line(text)
    where = f" (line {line})" if line is not None else ""
    return DocumentError(f"a number of more than {MAX_INT_DIGITS} digits{where}")


def load_json(data: bytes | str, limit: int = MAX_DOCUMENT_DEPTH) -> object:
    """Parse a JSON document (UTF-8 bytes or text) no deeper than ``limit``.

    Raises:
        DocumentError: not UTF-8, nested too deep, or a number too long for int().
        json.JSONDecodeError: not JSON (a ``ValueError`` with ``.lineno``).
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DocumentError(f"not UTF-8 text (byte {exc.start})") from exc
    else:
        text = data
    check_json_size(text)  # first: it stops at the bound, the depth scan reads on
    check_json_depth(text, limit)

    def parse_int(literal: str) -> int:
        if len(literal) > MAX_INT_DIGITS:
            raise _number_too_long(text)
        return int(literal)

    def parse_constant(literal: str) -> object:
        # NaN, Infinity and -Infinity: Python's json reads them, JSON has
        # none (RFC 8259), and a report, baseline or facts document of
        # tcpaudit never holds one.
        raise DocumentError(f"{literal} is not a JSON value{_constant_line(text, literal)}")

    return json.loads(text, parse_int=parse_int, parse_constant=parse_constant)


def _constant_line(text: str, literal: str) -> str:
    """`` (line N)`` of the first ``literal`` outside a string, or ""."""
    for match in _JSON_CONSTANT.finditer(text):
        if match.group() == literal:
            return f" (line {text.count(chr(10), 0, match.start()) + 1})"
    return ""


def check_yaml_shape(
    text: str, max_depth: int = MAX_DOCUMENT_DEPTH, max_nodes: int = MAX_YAML_NODES
) -> None:
    """Refuse YAML that nests deeper than ``max_depth`` or expands to over ``max_nodes`` nodes.

    Reads the event stream (the parser keeps its own stack and does not
    recurse), before the composer and constructor, which recurse per level. Aliases count as the nodes they repeat, so an alias bomb that a
    few hundred bytes spell out is refused rather than validated node by node.

    Raises:
        DocumentError: with the line of the node that crosses a bound, or of a
            plain number too long for int().
        yaml.YAMLError: the text is not YAML.
    """
    import yaml  # the rule catalogue's dependency; imported where it is used

    sizes: dict[str, int] = {}  # nodes each anchor stands for, expanded
    anchors: list[str | None] = []  # per open collection
    counts: list[int] = []  # nodes so far per open collection, itself included
    total = 0

    def grow(nodes: int, event: yaml.Event) -> None:
        nonlocal total
        total += nodes
        if total > max_nodes:
            raise DocumentError(f"expands to more than {max_nodes} nodes (line {_line(event)})")
        if counts:
            counts[-1] += nodes

    # libyaml's parser when PyYAML has it: the same events, thirty times faster.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.CollectionStartEvent):
            grow(1, event)
            if counts:
                counts[-1] -= 1  # the parent gets the whole size when this one ends
            anchors.append(event.anchor)
            counts.append(1)
            if len(counts) > max_depth:
                raise DocumentError(f"nested deeper than {max_depth} levels (line {_line(event)})")
        elif isinstance(event, yaml.CollectionEndEvent):
            size = counts.pop()
            anchor = anchors.pop()
            if anchor:
                sizes[anchor] = size
            if counts:
                counts[-1] += size
        elif isinstance(event, yaml.ScalarEvent):
            grow(1, event)
            if not event.style and _LONG_NUMBER.fullmatch(event.value):  # plain (None or "")
                raise DocumentError(
                    f"a number of more than {MAX_INT_DIGITS} digits (line {_line(event)})"
                )
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            grow(sizes.get(event.anchor or "", 1), event)


def _line(event: object) -> int | str:
    mark = getattr(event, "start_mark", None)
    return mark.line + 1 if mark is not None else "?"
