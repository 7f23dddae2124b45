"""Split Apache configuration text into logical lines and words, as httpd does.

This module owns the byte-level rules of httpd's ``ap_cfg_getline`` and
``ap_getword_conf``; it knows nothing of directives, sections or includes
(``evaluator.py`` applies those).

Rules, checked against httpd 2.4 (``apache2 -t -D DUMP_CONFIG``):

- a physical line whose last non-blank character is ``\\`` continues on the
  next line; the logical line is numbered by its *last* physical line;
- trailing white space is dropped; leading white space is skipped;
- ``#`` starts a comment only as the first non-blank character of a logical
  line; after a directive it is data (``IndexIgnore .??* *~ *#``);
- a word is either quoted (``"..."`` or ``'...'``, where ``\\<quote>`` and
  ``\\\\`` are escapes) or runs to the next white space (``\\\\`` is an escape);
- a UTF-8 byte-order mark is *not* stripped: httpd sees it as part of the
  first word, and so do we.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["decode_config", "logical_lines", "split_words"]

_SPACE = " \t\r\n\f\v"


def decode_config(data: bytes) -> tuple[str, bool]:
    """Decode configuration bytes; return the text and whether it was valid UTF-8.

    httpd treats the file as bytes. Invalid UTF-8 is kept reversibly with
    ``surrogateescape`` so that words compare as httpd compares them.
    """
    try:
        return data.decode("utf-8"), True
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="surrogateescape"), False


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each non-empty, non-comment logical line.

    ``line_number`` is 1-based and names the last physical line of a
    continued line, as httpd reports it.
    """
    pending: list[str] = []
    for number, physical in enumerate(text.split("\n"), start=1):
        stripped = physical.rstrip(_SPACE)
        if stripped.endswith("\\"):
            pending.append(stripped[:-1])
            continue
        if pending:
            pending.append(stripped)
            stripped = "".join(pending)
            pending = []
        logical = stripped.lstrip(_SPACE)
        if logical and logical[0] != "#":
            yield number, logical
    if pending:
        logical = "".join(pending).lstrip(_SPACE)
        if logical and logical[0] != "#":
            yield text.count("\n") + 1, logical


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


def split_words(line: str) -> list[str]:
    """Split a logical line into words with httpd's ``ap_getword_conf`` rules."""
    words: list[str] = []
    index = 0
    length = len(line)
    while True:
        while index < length and line[index] in _SPACE:
            index += 1
        if index >= length:
            return words
        quote = line[index]
        if quote in "\"'":
            end = index + 1
            while end < length and line[end] != quote:
                if line[end] == "\\" and end + 1 < length and line[end + 1] in (quote, "\\"):
                    end += 2
                else:
                    end += 1
            words.append(_unescape(line[index + 1 : end], quote))
            index = end + 1 if end < length else end
        else:
            end = index
            while end < length and line[end] not in _SPACE:
                end += 1
            words.append(_unescape(line[index:end], ""))
            index = end
