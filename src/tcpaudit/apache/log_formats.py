"""Access log format strings as mod_log_config reads them (``LogFormat``, ``CustomLog``).

Written from httpd 2.4's modules/loggers/mod_log_config.c (``parse_log_item``:
``%%``, then any of ``!``, ``<``, ``>``, ``,``, ``{argument}`` and condition
digits, then a directive letter, or ``^`` and two letters, that a loaded
module registered) and held to the real apache2 by
tests/apache/test_apache_handlers.py. The letters are those mod_log_config,
mod_logio and mod_ssl register; with a module loaded that tcpaudit does not
know (it may register more), no format is judged.
"""

from __future__ import annotations

import re
from collections.abc import Collection

__all__ = ["log_format_error", "log_format_letters", "past_tag_argument"]

_LOG_CONFIG = frozenset("haAlutfbBinoLeVvpPHmqXCkrDTUsR") | {"^ti", "^to"}
_BY_MODULE = {
    "logio_module": frozenset({"I", "O", "S", "^FB"}),
    "ssl_module": frozenset({"c", "x"}),
}
_DIGITS = "0123456789"
_MODIFIERS = "!<>,"


def log_format_letters(loaded: Collection[str]) -> frozenset[str]:
    """The directives a format may use once these modules are loaded."""
    letters = set(_LOG_CONFIG)
    for module, more in _BY_MODULE.items():
        if module in loaded:
            letters |= more
    return frozenset(letters)


_CLOSING_BRACES = re.compile(r"\}+")


def past_tag_argument(text: str, brace: int) -> int:
    """Where a ``%{argument}`` that opens at ``brace`` ends: past the first ``}``
    and every ``}`` right after it (ap_getword(s, '}') skips them: ``%{X}}i`` is
    ``X`` then ``i``), or the end of ``text`` when no ``}`` closes it."""
    close = text.find("}", brace + 1)
    if close < 0:
        return len(text)
    ended = _CLOSING_BRACES.match(text, close)
    assert ended is not None  # text[close] is "}"
    return ended.end()


def log_format_error(text: str, letters: frozenset[str]) -> str | None:
    """What parse_log_string says of ``text``, or None."""
    index, length = 0, len(text)
    while index < length:
        if text[index] != "%":
            found = text.find("%", index)
            index = length if found < 0 else found
            continue
        index += 1
        if index < length and text[index] == "%":
            index += 1
            continue
        while True:
            if index >= length:
                return "Ran off end of LogFormat parsing args to some directive"
            character = text[index]
            if character in _MODIFIERS:
                index += 1
            elif character == "{":
                index = past_tag_argument(text, index)
            elif character in _DIGITS:
                index += 1
                while index < length and text[index] in _DIGITS:
                    index += 1
            elif character == "^" and index + 2 < length and text[index : index + 3] in letters:
                index += 3
                break
            elif character in letters:
                index += 1
                break
            else:
                return f"Unrecognized LogFormat directive %{character}"
    return None
