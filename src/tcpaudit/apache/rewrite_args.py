"""What mod_rewrite refuses in its directives' arguments.

Written from httpd 2.4's modules/mappers/mod_rewrite.c: ``parseargline``
(RewriteRule's and RewriteCond's own reading of the raw argument text, which
is not ap_getword_conf's), ``cmd_parseflagfield`` and the two ``setflag``
functions, the regular expression each compiles, ``cmd_rewriteoptions`` and
``cmd_rewritebase``; held to the real apache2 by
tests/apache/test_rewrite_args.py. An ap_expr (``RewriteCond expr ...``) is
not judged, and a pattern only as ``pcre_refusals`` can judge it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache

from .lexer import split_words
from .pcre_refusals import pcre_refuses
from .secret_words import redact_text
from .values import ascii_lower, parse_atoi

__all__ = [
    "rewrite_base_error",
    "rewrite_cond_error",
    "rewrite_options_error",
    "rewrite_rule_error",
]

# C's isspace in the "C" locale, which apr_isspace is.
_C_SPACE = frozenset(" \t\n\v\f\r")
_OPTIONS = frozenset(
    {"inherit", "inheritbefore", "inheritdown", "inheritdownbefore", "ignoreinherit",
     "allownoslash", "allowanyuri", "mergebase", "ignorecontextinfo", "legacyprefixdocroot",
     "unsafeprefixstat"}
)  # fmt: skip


# What makes parseargline differ from a split at blanks: quotes, a backslash
# (before a blank it keeps the blank), and what str.split takes for a blank
# that C's isspace does not.
_NOT_PLAIN = re.compile(r"[\"'\\\x1c-\x1f]|[^\x00-\x7f]")


def parse_arg_line(text: str) -> tuple[str, str, str | None] | None:
    """``parseargline``: the first two arguments and the optional third, or None
    when there is no second (httpd: "bad argument line").

    An argument opened by a quote ends at the same quote, another at a blank
    not preceded by a backslash (which stays in the argument); text after the
    third is ignored.
    """
    if _NOT_PLAIN.search(text) is None:
        # Most lines: words at blanks, as the loop below would cut them.
        words = text.split(None, 3)
        if len(words) < 2:
            # A blank after the only word ends it: the second is then empty.
            trailing = words and text[-1] in _C_SPACE
            return (words[0], "", None) if trailing else None
        return words[0], words[1], words[2] if len(words) > 2 else None
    return arg_line_as_c(text)


def arg_line_as_c(text: str) -> tuple[str, str, str | None] | None:
    """``parse_arg_line`` character by character, as the C code walks it."""
    arguments: list[str] = []
    index, length = 0, len(text)
    for which in range(3):
        while index < length and text[index] in _C_SPACE:
            index += 1
        if which == 2 and index >= length:
            break
        quote = text[index] if index < length and text[index] in "\"'" else ""
        if quote:
            index += 1
        start = index
        while index < length:
            character = text[index]
            if character == quote or (not quote and character in _C_SPACE):
                break
            if character == "\\" and index + 1 < length and text[index + 1] in _C_SPACE:
                index += 1
            index += 1
        arguments.append(text[start:index])
        if index >= length and which < 2:
            if which == 0:
                return None
            break
        index += 1
    return arguments[0], arguments[1], arguments[2] if len(arguments) > 2 else None


def _c_string(buffer: list[str], start: int) -> str:
    end = buffer.index("\0", start)
    return "".join(buffer[start:end])


def parse_flag_field(field: str, set_flag: Callable[[str, str], str | None]) -> str | None:
    """``cmd_parseflagfield``: ``[flag,flag=value,...]``, each flag given to
    ``set_flag`` (its message is returned), as the C code reads the buffer it
    rewrites in place (a flag of blanks only takes the rest of the field)."""
    if not field or field[0] != "[" or field[-1] != "]":
        return "bad flag delimiters"
    if _NOT_PLAIN.search(field) is None and not any(blank in field for blank in _C_SPACE):
        # No blank: the loop below cuts at each comma and the first '='.
        for piece in field[1:-1].split(","):
            flag, _, flag_value = piece.partition("=")
            message = set_flag(flag, flag_value)
            if message is not None:
                return message
        return None
    return flag_field_as_c(field, set_flag)


def flag_field_as_c(field: str, set_flag: Callable[[str, str], str | None]) -> str | None:
    """``parse_flag_field`` on a buffer rewritten in place, as the C code does
    (``field`` starts with '[' and ends with ']')."""
    buffer = [*field[:-1], ",", "\0"]
    key = 1
    while buffer[key] != "\0":
        while buffer[key] in _C_SPACE:
            key += 1
        if buffer[key] == "\0":
            break
        next_comma = key
        while buffer[next_comma] not in (",", "\0"):
            next_comma += 1
        if buffer[next_comma] == "\0":
            break
        end = next_comma - 1
        while end >= 0 and buffer[end] in _C_SPACE:
            end -= 1
        end += 1
        buffer[end] = "\0"
        equals = key
        while buffer[equals] not in ("=", "\0"):
            equals += 1
        if buffer[equals] == "=":
            buffer[equals] = "\0"
            value = equals + 1
        else:
            value = end
        message = set_flag(_c_string(buffer, key), _c_string(buffer, value))
        if message is not None:
            return message
        key = next_comma + 1
    return None


def _cond_flag(key: str, _value: str) -> str | None:
    if ascii_lower(key) in ("nocase", "nc", "ornext", "or", "novary", "nv"):
        return None
    return f"unknown flag '{redact_text(key)}'"


# RewriteRule's flags by first letter (any case): the rest of the key, lower-cased,
# that is accepted. "d" accepts anything (the C code has no error branch there).
_RULE_FLAGS: dict[str, frozenset[str]] = {
    "b": frozenset({"", "ackrefescaping", "ne", "np", "ackrefernoplus", "ctls"}),
    "c": frozenset({"", "hain", "o", "ookie"}),
    "e": frozenset({"", "nv", "nd"}),
    "f": frozenset({"", "orbidden"}),
    "g": frozenset({"", "one"}),
    "h": frozenset({"", "andler"}),
    "l": frozenset({"", "ast"}),
    "n": frozenset({"e", "oescape", "", "ext", "s", "osubreq", "c", "ocase"}),
    "p": frozenset({"", "roxy", "t", "assthrough"}),
    "q": frozenset({"sa", "sappend", "sd", "sdiscard", "sl", "slast"}),
    "r": frozenset({"", "edirect"}),
    "s": frozenset({"", "kip"}),
    "t": frozenset({"", "ype"}),
    "u": frozenset({"nsafeprefixstat", "nsafeallow3f", "nc"}),
}


def _rule_flag(key: str, value: str, status_codes: frozenset[int]) -> str | None:
    first, rest = ascii_lower(key[:1]), ascii_lower(key[1:])
    if first == "d":
        return None
    if rest not in _RULE_FLAGS.get(first, frozenset()):
        return f"unknown flag '{redact_text(key)}'"
    if first == "b" and rest == "ne" and not value:
        return "flag 'BNE' wants a list of characters (i.e. [BNE=...])"
    if first == "r" and value[:1].isdigit() and value[:1].isascii():
        status = parse_atoi(value)
        # ap_index_of_response: a code httpd has no status line for counts as 500.
        if status != 500 and status not in status_codes:
            return f"invalid HTTP response code '{redact_text(value)}' for flag 'R'"
    return None


# Every vhost repeats a few flag fields ("[R=301,L]"): each is read once.
@lru_cache(maxsize=4096)
def _rule_flags_error(field: str, status_codes: frozenset[int]) -> str | None:
    return parse_flag_field(field, lambda key, value: _rule_flag(key, value, status_codes))


@lru_cache(maxsize=4096)
def rewrite_rule_error(text: str, status_codes: frozenset[int]) -> str | None:
    """``RewriteRule`` with ``text`` after its name; ``status_codes`` those httpd
    has a status line for (``R=``)."""
    arguments = parse_arg_line(text)
    if arguments is None:
        return "RewriteRule: bad argument line"
    pattern, _substitution, flags = arguments
    if flags is not None:
        message = _rule_flags_error(flags, status_codes)
        if message is not None:
            return f"RewriteRule: {message}"
    pattern = pattern.removeprefix("!")
    if pcre_refuses(pattern):
        return "RewriteRule: cannot compile regular expression"
    return None


@lru_cache(maxsize=4096)
def rewrite_cond_error(text: str) -> str | None:
    """``RewriteCond`` with ``text`` after its name."""
    arguments = parse_arg_line(text)
    if arguments is None:
        return "RewriteCond: bad argument line"
    test_string, pattern, flags = arguments
    if flags is not None:
        message = parse_flag_field(flags, _cond_flag)
        if message is not None:
            return f"RewriteCond: {message}"
    if test_string.lower() == "expr":
        return None  # an ap_expr: httpd's parser judges it
    pattern = pattern.removeprefix("!")
    if _is_regex(pattern) and pcre_refuses(pattern):
        return "RewriteCond: cannot compile regular expression"
    return None


def _is_regex(pattern: str) -> bool:
    """Whether cmd_rewritecond compiles ``pattern`` (not a test such as ``-f``,
    ``-lt5`` or ``=text``)."""
    if len(pattern) < 2:
        return True
    if pattern[0] == "-":
        if len(pattern) == 2:
            return pattern[1] not in "fsdxhLlUF"
        if len(pattern) > 3:
            return pattern[1:3] not in ("lt", "le", "gt", "ge", "eq", "ne")
        return True
    return pattern[0] not in "<>="


def rewrite_options_error(words: Iterable[str]) -> str | None:
    """``RewriteOptions``: each word read again with ap_getword_conf."""
    for word in words:
        if word and not word.strip(" \t\n\v\f\r"):
            # ap_getword_conf of blanks alone gives an empty option.
            return "RewriteOptions: unknown option ''"
        for option in split_words(word):
            lowered = ascii_lower(option)
            if lowered not in _OPTIONS and not lowered.startswith("maxredirects="):
                return f"RewriteOptions: unknown option '{redact_text(option)}'"
    return None


def rewrite_base_error(words: tuple[str, ...], section_path: str | None) -> str | None:
    """``RewriteBase``: only where httpd has a section's path, and a path."""
    if section_path is None:
        return "RewriteBase: only valid in per-directory config files"
    # An empty word is refused first by the word count (TAKE1).
    if words and words[0][:1] != "/":
        return "RewriteBase: argument is not a valid URL"
    return None
