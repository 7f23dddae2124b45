"""Text from audited files on its way out: bytes that are not UTF-8, and control characters.

Audited files and file names may hold bytes that are not UTF-8; the loaders
keep them as lone surrogates (``surrogateescape``), so a path can still be
opened. No output may carry a lone surrogate: UTF-8 cannot encode it, and
JSON readers (pydantic-core, GitHub's SARIF upload) refuse a ``\\udcff``
escape. Every output shows such a byte as the four characters ``\\xff``,
the way Python writes bytes; the same text names the finding in baseline
fingerprints, so a report read back matches the audit that wrote it.

A terminal acts on control characters: ESC starts a sequence that can
rewrite the screen, set the window title or, on some terminals, answer
back. The terminal, Markdown and GitHub renderers show every control character of
audited text (C0, DEL, C1, and the bidirectional overrides that reorder
what is displayed) as an escape such as ``\\x1b``.
"""

from __future__ import annotations

import json
import re

from pydantic import BaseModel
from pydantic_core import PydanticSerializationError

__all__ = [
    "RUNNER_COMMAND_SHOWN",
    "dump_model_json",
    "for_a_log",
    "json_safe",
    "no_line_commands",
    "no_workflow_commands",
    "printable",
    "runner_marker_note",
    "show_bytes",
]

_SURROGATE = re.compile("[\ud800-\udfff]")
# What a terminal shows wrongly or not at all: C0 but tab and newline, DEL,
# C1, every format character (Unicode's Cf: the bidirectional controls that
# reorder a line, zero-width spaces and joiners, the soft hyphen, U+FEFF, the
# tag characters U+E0000-E007F that can carry a whole hidden text), every
# code point Unicode says to draw as nothing (Default_Ignorable_Code_Point,
# assigned or not: variation selectors, the fillers U+115F, U+1160, U+3164,
# U+FFA0, U+2065, U+FFF0-FFF8) and the braille blank U+2800. Tests hold the
# list against unicodedata's Cf and Unicode's ignorable ranges.
_INVISIBLE = (
    "\x7f-\x9f\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2"
    "\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff"
)
_CONTROL = re.compile(f"[\x00-\x08\x0b-\x1f{_INVISIBLE}]")
_CONTROL_OR_BREAK = re.compile(f"[\x00-\x1f\u2028\u2029{_INVISIBLE}]")


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _byte(match: re.Match[str]) -> str:
    code = ord(match.group())
    # U+DC80..U+DCFF stand for the bytes 0x80..0xFF; other surrogates for nothing.
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def show_bytes(text: str) -> str:
    """``text`` with each byte that was not UTF-8 written as ``\\xNN``; unchanged otherwise."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(_byte, text)
    return text


def json_safe(document: str) -> str:
    """JSON text with each lone surrogate written as the JSON string ``\\\\xNN``.

    In JSON text a raw character can only stand inside a string, so this
    replacement keeps the document valid; the value read back is ``\\xNN``.
    """
    try:
        document.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(lambda match: "\\" + _byte(match), document)
    return document


def dump_model_json(model: BaseModel, indent: int | None = 2) -> str:
    """``model.model_dump_json``, or the same document when text in it is not UTF-8.

    pydantic's encoder refuses lone surrogates; only then is the slower
    standard encoder used, with ``json_safe`` applied.
    """
    try:
        return model.model_dump_json(indent=indent)
    except PydanticSerializationError:
        text = json.dumps(model.model_dump(mode="json"), indent=indent, ensure_ascii=False)
        return json_safe(text)


# A CI runner acts on a marker anywhere in a line of a step's output:
# GitHub's and Azure's "##[command]", Azure's "##vso[", TeamCity's
# "##teamcity[" (any letters between "##" and "[", any case, are taken the
# same way here). GitHub also acts on "::command::" at a line's start.
# Audited text must not carry one into a log: "#\u0023" reads back as "##"
# from JSON, and XML writes "#&#35;" (junit.py).
_RUNNER_COMMAND = re.compile(r"##(?=[A-Za-z]*\[)")
RUNNER_COMMAND_SHOWN = "#\\u0023"


def no_workflow_commands(text: str, shown: str = RUNNER_COMMAND_SHOWN) -> str:
    """``text`` with the "##" of every CI runner's command marker ("##[",
    "##vso[", "##teamcity[") written ``shown``: "#\\u0023", the same string
    to a JSON reader (XML writes "#&#35;"). A runner acts on the first
    anywhere in a log's line."""
    if "##" not in text:
        return text
    return _RUNNER_COMMAND.sub(lambda _: shown, text)


def runner_marker_note(rendered: str) -> str | None:
    """The note a human-readable report adds when it shows such a marker
    escaped: a fix quoted there is not as written, and JSON holds it as written."""
    if RUNNER_COMMAND_SHOWN not in rendered:
        return None
    return (
        'note: "#\\u0023" stands for "##" before a CI runner\'s command word and "["'
        " (a log would run it); --format json holds such text as written"
    )


def printable(text: str, *, keep_newlines: bool = False, runner_markers: bool = True) -> str:
    """``text`` as a terminal may show it: control characters and surrogates escaped.

    Args:
        text: audited text (a host name, a path, a message).
        keep_newlines: keep ``\\n`` and tab (a multi-line fix); otherwise they
            are escaped too, so one field stays one line.
        runner_markers: also write a CI runner's "##" as "#\\u0023"; False
            for a format that escapes them its own way (JUnit's XML).
    """
    text = show_bytes(text)
    pattern = _CONTROL if keep_newlines else _CONTROL_OR_BREAK
    if pattern.search(text):
        text = pattern.sub(_escape, text)
    return no_workflow_commands(text) if runner_markers else text


# A line's start: the text's, or after a line feed or a carriage return (a
# runner reading a step's output ends a line at either).
_LINE_COMMAND = re.compile(r"(^|[\r\n])([^\S\r\n]*)::")


def no_line_commands(text: str, colon: str = "\\u003a") -> str:
    """``text`` (a whole rendered report) with the first ':' of each line
    that would begin with "::" once its blanks are dropped written ``colon``
    ("\\u003a"; XML writes "&#58;"): a CI runner takes such a line for a
    command. Not for --format github, whose lines are commands by design."""
    if "::" not in text:
        return text
    return _LINE_COMMAND.sub(lambda match: f"{match.group(1)}{match.group(2)}{colon}:", text)


def for_a_log(rendered: str) -> str:
    """A whole human-readable report (table, Markdown, fleet, diagnose) as a CI
    log may carry it: no runner's command marker, no line taken for a command,
    and a last note when a marker was escaped (text quoted is then not as
    written)."""
    text = no_line_commands(no_workflow_commands(rendered))
    note = runner_marker_note(text)
    if note is None or note in text:  # a report holding another says it once
        return text
    return f"{text}{note}\n" if text.endswith("\n") else f"{text}\n{note}"
