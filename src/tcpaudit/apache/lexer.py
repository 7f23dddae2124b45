"""Split Apache configuration text into logical lines and words, as httpd does.

This module owns the byte-level rules of httpd's ``ap_cfg_getline`` and
``ap_getword_conf``; it knows nothing of directives, sections or includes
(``evaluator.py`` applies those).

Rules, checked against httpd 2.4 (``apache2 -t -D DUMP_CONFIG``):

- a physical line whose last byte before the line feed (or CR LF) is ``\\``
  continues on the next line; the logical line is numbered by its *last*
  physical line;
- trailing white space is dropped; leading white space is skipped;
- ``#`` starts a comment only as the first non-blank character of a logical
  line; after a directive it is data (``IndexIgnore .??* *~ *#``);
- a word is either quoted (``"..."`` or ``'...'``, where ``\\<quote>`` and
  ``\\\\`` are escapes) or runs to the next white space (``\\\\`` is an escape);
- a UTF-8 byte-order mark is *not* stripped: httpd sees it as part of the
  first word, and so do we;
- a NUL byte ends its physical line (httpd handles lines as C strings).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from itertools import islice

from .continuation import JoinedLine

__all__ = [
    "decode_config",
    "first_word",
    "is_plain",
    "logical_from",
    "logical_lines",
    "plain_splitter",
    "section_args",
    "simple_physical_lines",
    "split_words",
]

_SPACE = " \t\r\n\f\v"
# A run of non-blank characters; apr_isspace is ASCII " \t\n\v\f\r" only.
_PLAIN_WORD = re.compile(r"[^ \t\r\n\f\v]+")
# The common first word: no quote, no backslash; then the blanks after it.
_PLAIN_FIRST = re.compile(
    r"([^ \t\r\n\f\v\"'\\][^ \t\r\n\f\v\\]*)(?=[ \t\r\n\f\v]|$)[ \t\r\n\f\v]*"
)

# Besides httpd's blanks, str.split() also splits on \x1c-\x1f and on
# non-ASCII spaces (U+00A0, U+2028...), which httpd keeps inside a word.
_SPLIT_UNSAFE = ("\x1c", "\x1d", "\x1e", "\x1f")


def decode_config(data: bytes) -> tuple[str, bool]:
    """Decode configuration bytes; return the text and whether it was valid UTF-8.

    httpd treats the file as bytes. Invalid UTF-8 is kept reversibly with
    ``surrogateescape`` so that words compare as httpd compares them.
    """
    try:
        return data.decode("utf-8"), True
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="surrogateescape"), False


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Return ``(line_number, text)`` of each non-empty, non-comment logical line.

    ``line_number`` is 1-based and names the last physical line of a
    continued line, as httpd reports it (``ap_cfg_getline`` counts every
    physical line it reads). A line continues only when ``\\`` is the very
    last byte before the line feed (or before ``\\r\\n``); a backslash
    followed by blanks, or on a last line without a line feed, is data. An
    empty line continues a joined line whose text still ends with ``\\``
    (httpd looks at the end of all it joined).
    """
    physical = simple_physical_lines(text)
    if physical is not None:
        return logical_from(physical, 0)
    return list(_continued_lines(text))


def simple_physical_lines(text: str) -> list[str] | None:
    """The physical lines of ``text`` when each is its own logical line, else None.

    That is the common file: no line ends in a backslash (so none continues;
    backslashes elsewhere, as in regular expressions, do not matter) and no NUL.
    """
    if "\\\n" in text or "\\\r\n" in text or "\0" in text:
        return None
    return text.split("\n")


def logical_from(physical: list[str], start: int) -> list[tuple[int, str]]:
    """``logical_lines`` of ``simple_physical_lines``' result, from index ``start`` on.

    One comprehension over the lines: no Python-level loop body per line.
    """
    return [
        (number, logical)
        for number, line in enumerate(islice(physical, start, None), start=start + 1)
        if (logical := line.strip(_SPACE)) and logical[0] != "#"
    ]


def _continued_lines(text: str) -> Iterator[tuple[int, str]]:
    """``logical_lines`` for text that may hold continuations or NUL bytes."""
    physical = text.split("\n")
    terminated_last = text.endswith("\n")
    if terminated_last:
        physical.pop()
    count = len(physical)
    joined: JoinedLine | None = None  # the logical line being continued
    for number, line in enumerate(physical, start=1):
        if "\0" in line:
            # httpd reads a line into a C string: it ends at the first NUL byte,
            # and then cannot continue (the backslash check sees no line feed).
            line = line[: line.index("\0")]
            terminated = False
        else:
            terminated = number < count or terminated_last
        if terminated:
            body = line[:-1] if line.endswith("\r") else line
            if joined is None:
                if body.endswith("\\"):
                    joined = JoinedLine()
                    joined.add(body)
                    continue
            elif joined.add(body):
                continue
            else:
                line = joined.text()
                joined = None
        elif joined is not None:
            joined.add_last(line)
            line = joined.text()
            joined = None
        logical = line.strip(_SPACE)
        if logical and logical[0] != "#":
            yield number, logical
    if joined is not None:
        # End of file inside a continuation: httpd counted one more read.
        logical = joined.text().strip(_SPACE)
        if logical and logical[0] != "#":
            yield count + 1, logical


def _unescape(word: str, quote: str) -> str:
    if "\\" not in word:
        return word
    out: list[str] = []
    index = 0
    length = len(word)
    while index < length:
        char = word[index]
        if char == "\\" and index + 1 < length:
            following = word[index + 1]
            if following == "\\" or (quote and following == quote):
                out.append(following)
                index += 2
                continue
        out.append(char)
        index += 1
    return "".join(out)


def _next_word(line: str, index: int) -> tuple[str, int]:
    """The word starting at ``index`` (not blank) and the index just after it."""
    length = len(line)
    quote = line[index]
    if quote in "\"'":
        end = index + 1
        while end < length and line[end] != quote:
            if line[end] == "\\" and end + 1 < length and line[end + 1] in (quote, "\\"):
                end += 2
            else:
                end += 1
        return _unescape(line[index + 1 : end], quote), (end + 1 if end < length else end)
    match = _PLAIN_WORD.match(line, index)
    assert match is not None
    return _unescape(match.group(), ""), match.end()


def plain_splitter(text: str) -> Callable[[str], list[str]]:
    """The fastest exact ``split_words`` for the *plain* lines of ``text``.

    A plain line holds no quote and no backslash, so its words are the runs
    of non-blanks. For ASCII text without \x1c-\x1f that is ``str.split``
    (C, no regex); otherwise the regex keeps httpd's notion of a blank.
    """
    # isascii() is a flag check; each `in` a memchr over the text.
    if text.isascii() and not any(char in text for char in _SPLIT_UNSAFE):
        return str.split
    return _PLAIN_WORD.findall


def is_plain(line: str) -> bool:
    """Whether a line (or a whole text) holds no quote, no double backslash and no ``${``.

    The words of a plain line are its runs of non-blanks, as it stands: outside
    quotes httpd only turns ``\\\\`` into ``\\`` and keeps any other backslash
    (``^/old/(.*)\\.html$``).
    """
    return '"' not in line and "'" not in line and "\\\\" not in line and "${" not in line


# One word of ap_getword_conf: double-quoted, single-quoted (to the closing
# quote, or the end of the line; a backslash escapes only the quote and
# itself), or a run of non-blanks. A word ends at its closing quote even when
# no blank follows.
# The quoted forms are written unrolled (runs of plain characters, then one
# escape): an alternation tried per character read 7 MB/s. Possessive: a
# repeated group the engine may backtrack into keeps a frame a pass (6.8 GB
# for a word of 32 million escapes; tests/hardening/test_regex_repeats.py).
_WORD = re.compile(
    r'"([^"\\]*+(?:\\.?[^"\\]*+)*+)"?|\'([^\'\\]*+(?:\\.?[^\'\\]*+)*+)\'?|([^ \t\r\n\f\v]+)', re.S
)
_DOUBLE_ESCAPE = re.compile(r'\\(["\\])')
_SINGLE_ESCAPE = re.compile(r"\\(['\\])")


def split_words(line: str) -> list[str]:
    """Split a logical line into words with httpd's ``ap_getword_conf`` rules."""
    if '"' not in line and "'" not in line:
        words = _PLAIN_WORD.findall(line)
        if "\\\\" in line:
            return [word.replace("\\\\", "\\") for word in words]
        return words
    out: list[str] = []
    for double, single, bare in _WORD.findall(line):
        if bare:
            out.append(bare.replace("\\\\", "\\") if "\\" in bare else bare)
        elif double:
            out.append(_unescape_quoted(double, '"') if "\\" in double else double)
        else:
            out.append(_unescape_quoted(single, "'") if "\\" in single else single)
    return out


def _unescape_quoted(text: str, quote: str) -> str:
    """A quoted word's ``\\\\`` and backslash-quote undone, left to right
    (ap_getword_conf). Three replaces in C: a substitution with a template
    per escape took 1.3 s for a megabyte of ``\\\\`` (a minute for a 64 MiB line)."""
    if "\x00" in text:
        escape = _DOUBLE_ESCAPE if quote == '"' else _SINGLE_ESCAPE
        return escape.sub(lambda match: match.group(1), text)
    return text.replace("\\\\", "\x00").replace("\\" + quote, quote).replace("\x00", "\\")


def first_word(line: str) -> tuple[str, str]:
    """``ap_getword_conf`` for the directive name; return it and the rest of the line, raw."""
    plain = _PLAIN_FIRST.match(line)
    if plain is not None:
        return plain.group(1), line[plain.end() :]
    start = len(line) - len(line.lstrip(_SPACE))
    if start >= len(line):
        return "", ""
    word, end = _next_word(line, start)
    return word, line[end:].lstrip(_SPACE)


def section_args(raw_args: str) -> tuple[str, ...] | None:
    """Words of a section's arguments up to its last ``>``; None when there is no ``>``."""
    end = raw_args.rfind(">")
    if end < 0:
        return None
    return tuple(split_words(raw_args[:end]))
