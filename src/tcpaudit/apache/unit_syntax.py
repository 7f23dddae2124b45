"""The syntax of systemd unit files, as systemd 252 reads it.

- ``logical_lines``: the lines of a unit file as systemd's configuration
  parser takes them: a line ends at ``\\n``, ``\\r\\n``, ``\\r`` or NUL; a
  comment line (``#``, ``;`` after blanks) is skipped, even inside a
  continued line, and never continues; a line ending in an unescaped
  backslash goes on over the next one (the backslash becomes a blank).
- ``split_words``: systemd's word splitting (``extract_first_word``): blanks
  separate, quotes group and are removed anywhere in a word, a backslash
  escapes; with C escapes (``\\n``, ``\\x41``, ``\\101``, ``\\u00e9``,
  ``\\s``...) an unknown escape is an error, or kept as written when asked.
- ``resolve_specifiers``: ``%n``, ``%N``, ``%p`` and the other specifiers
  that do not depend on the running host; the others (``%H``, ``%m``,
  ``%b``...) are not known.

tests/apache/test_unit_syntax.py compares these with the real systemd's
reading of units (``systemd --test``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "UnitName",
    "WordError",
    "is_valid_text",
    "logical_lines",
    "resolve_specifiers",
    "split_words",
]

_BLANKS = " \t\n\r"
# systemd's read_line ends a line at \n, \r\n, \r and a NUL byte.
_LINE_END = re.compile(r"\r\n|\r|\n|\x00")
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
                   "v": "\v", "\\": "\\", '"': '"', "'": "'", "s": " "}  # fmt: skip
_HEX = "0123456789abcdefABCDEF"


def logical_lines(text: str) -> list[tuple[int, str]]:
    """The unit file's lines as systemd parses them, each with the number of its first line."""
    lines: list[tuple[int, str]] = []
    pending: list[str] = []
    first = 0
    bom_seen = False
    for number, raw in enumerate(_LINE_END.split(text), start=1):
        if not bom_seen and raw.startswith("\ufeff"):
            # config_parse drops the byte-order mark of the first line holding one.
            raw, bom_seen = raw[1:], True
        stripped = raw.lstrip(_BLANKS)
        if stripped[:1] in ("#", ";"):
            continue
        if not pending:
            first = number
        if _ends_escaped(raw):
            pending.append(raw[:-1] + " ")
            continue
        lines.append((first, "".join(pending) + raw if pending else raw))
        pending = []
    if pending:
        lines.append((first, "".join(pending)))
    return lines


def _ends_escaped(line: str) -> bool:
    escaped = False
    for char in line:
        escaped = not escaped and char == "\\"
    return escaped


class WordError(ValueError):
    """Unbalanced quotes, or an unknown escape where escapes must be known;
    ``words`` holds the words before it."""

    def __init__(self, reason: str, words: list[str]) -> None:
        super().__init__(reason)
        self.words = words


def split_words(
    text: str,
    *,
    cunescape: bool,
    relax: bool = False,
    keep_unknown_escapes: bool = False,
    written: list[str] | None = None,
) -> list[str]:
    """The words of ``text``, quotes removed, as ``extract_first_word`` gives them.

    Args:
        cunescape: C escapes are decoded (else a backslash takes the next
            character as it is).
        relax: unbalanced quotes and a final backslash end the word
            (EXTRACT_RELAX) instead of being an error.
        keep_unknown_escapes: an unknown escape is kept as written (what
            systemd does after warning, for ExecStart=).
        written: when given, receives each word as written (ExecStart= tells
            its ";" separator from a quoted or escaped one by that).

    Raises:
        WordError: what systemd refuses (it ignores the setting, or the
            rest of it).
    """
    words: list[str] = []
    index, length = 0, len(text)
    while True:
        while index < length and text[index] in _BLANKS:
            index += 1
        if index >= length:
            return words
        word: list[str] = []
        quote = ""
        start = index
        while index < length:
            char = text[index]
            if char == "\\":
                if index + 1 >= length:
                    if keep_unknown_escapes and (not quote or relax):
                        word.append("\\")
                    elif not relax:
                        raise WordError("a final backslash", words)
                    index += 1
                    break
                if cunescape:
                    decoded, used = _unescape_one(text, index + 1)
                    if decoded is None:
                        if not keep_unknown_escapes:
                            raise WordError(f"an unknown escape \\{text[index + 1]}", words)
                        decoded, used = "\\" + text[index + 1], 1
                    word.append(decoded)
                    index += 1 + used
                else:
                    word.append(text[index + 1])
                    index += 2
            elif quote:
                if char == quote:
                    quote = ""
                else:
                    word.append(char)
                index += 1
            elif char in "'\"":
                quote = char
                index += 1
            elif char in _BLANKS:
                break
            else:
                word.append(char)
                index += 1
        if quote and index >= length and not relax:
            raise WordError("unbalanced quotes", words)
        words.append(_bytes_to_text("".join(word)))
        if written is not None:
            written.append(text[start:index])


# Bytes written by \xNN and \NNN: marked while a word is built, then decoded
# with the text around them (they may form UTF-8 together).
_BYTE_BASE = 0xF0000


def _unescape_one(text: str, start: int) -> tuple[str | None, int]:
    """One C escape after a backslash: its text and how many characters it took."""
    first = text[start]
    simple = _SIMPLE_ESCAPES.get(first)
    if simple is not None:
        return simple, 1
    if first == "x":
        digits = text[start + 1 : start + 3]
        if len(digits) == 2 and all(d in _HEX for d in digits) and int(digits, 16):
            return chr(_BYTE_BASE + int(digits, 16)), 3
        return None, 0
    if first in "uU":
        size = 4 if first == "u" else 8
        digits = text[start + 1 : start + 1 + size]
        if len(digits) != size or not all(d in _HEX for d in digits):
            return None, 0
        code = int(digits, 16)
        if code == 0 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
            return None, 0
        if first == "U" and not _valid_character(code):
            return None, 0
        return chr(code), 1 + size
    if first in "01234567":
        digits = text[start : start + 3]
        if len(digits) == 3 and all(d in "01234567" for d in digits):
            value = int(digits, 8)
            if 0 < value <= 255:
                return chr(_BYTE_BASE + value), 3
        return None, 0
    return None, 0


def _valid_character(code: int) -> bool:
    """systemd's unichar_is_valid: no surrogate, no noncharacter."""
    return not (
        code >= 0x110000
        or 0xD800 <= code <= 0xDFFF
        or 0xFDD0 <= code <= 0xFDEF
        or (code & 0xFFFE) == 0xFFFE
    )


def _bytes_to_text(word: str) -> str:
    if not any(ord(char) >= _BYTE_BASE for char in word):
        return word
    data = bytearray()
    for char in word:
        code = ord(char)
        if _BYTE_BASE <= code <= _BYTE_BASE + 0xFF:
            data.append(code - _BYTE_BASE)
        else:
            data.extend(char.encode("utf-8", "surrogateescape"))
    return data.decode("utf-8", "surrogateescape")


def is_valid_text(text: str) -> bool:
    """Valid UTF-8 to systemd (no byte that is not, no noncharacter); ``text``
    decoded with surrogateescape."""
    return text.isascii() or all(_valid_character(ord(char)) for char in text)


@dataclass(frozen=True, slots=True)
class UnitName:
    """The unit whose specifiers are resolved, and where it was read."""

    name: str  # httpd.service, apache2@www.service
    fragment: str  # the unit file's path on the host

    @property
    def prefix(self) -> str:
        stem = self.name.rpartition(".")[0]
        return stem.partition("@")[0]

    @property
    def instance(self) -> str:
        stem = self.name.rpartition(".")[0]
        return stem.partition("@")[2]


# Specifiers of the system manager that do not depend on the running host.
_FIXED = {"E": "/etc", "C": "/var/cache", "L": "/var/log", "S": "/var/lib", "t": "/run",
          "T": "/tmp", "V": "/var/tmp", "h": "/root", "u": "root", "U": "0", "g": "root",
          "G": "0", "s": "/bin/sh", "%": "%"}  # fmt: skip


def resolve_specifiers(text: str, unit: UnitName) -> str | None:
    """``text`` with its ``%`` specifiers resolved; None when one depends on
    the running host (``%H``, ``%m``, ``%b``...), which tcpaudit does not know,
    or is no specifier (systemd then ignores the setting)."""
    if "%" not in text:
        return text
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char != "%":
            out.append(char)
            index += 1
            continue
        letter = text[index + 1 : index + 2]
        value = _FIXED.get(letter) if letter else None
        if value is None:
            value = _of_unit(letter, unit)
        if value is None:
            return None
        out.append(value)
        index += 2
    return "".join(out)


def _of_unit(letter: str, unit: UnitName) -> str | None:
    prefix, instance = unit.prefix, unit.instance
    if letter == "n":
        return unit.name
    if letter == "N":
        return unit.name.rpartition(".")[0]
    if letter in ("p", "P"):
        return prefix if letter == "p" else _unescape_name(prefix)
    if letter in ("i", "I"):
        return instance if letter == "i" else _unescape_name(instance)
    if letter in ("j", "J"):
        last = prefix.rpartition("-")[2]
        return last if letter == "j" else _unescape_name(last)
    if letter == "f":
        return "/" + _unescape_name(instance or prefix).lstrip("/")
    if letter == "y":
        return unit.fragment
    if letter == "Y":
        return unit.fragment.rpartition("/")[0] or "/"
    return None


def _unescape_name(text: str) -> str:
    """systemd's unit name unescaping: ``-`` is ``/``, ``\\xNN`` a byte."""
    text = text.replace("-", "/")
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda match: chr(int(match.group(1), 16)), text)
