"""Regular expressions modules compile as they read their lines, and what they say when PCRE refuses one.

httpd's handlers compile a pattern with ap_pregcomp when the directive is read
(its walk), so a pattern PCRE refuses stops the start-up at that line:
mod_headers' ``Header edit`` match and ``Header echo`` name, mod_setenvif's
pattern and header-name pattern, mod_alias's ``AliasMatch`` and
``ScriptAliasMatch``, mod_substitute's ``s/pattern/replacement/flags``.
Whether PCRE refuses a pattern is ``pcre_refusals.pcre_refuses``' answer.
"""

from __future__ import annotations

import re

from .pcre_refusals import pcre_refuses

__all__ = [
    "alias_match_error",
    "header_regex_error",
    "setenvif_regex_error",
    "substitute_error",
]

# mod_setenvif's attributes matched by name, not as a header (add_setenvif_core).
_SPECIAL_ATTRIBUTES = frozenset(
    {"remote_addr", "remote_host", "request_uri", "request_method", "request_protocol",
     "server_addr"}
)  # fmt: skip
# is_header_regex: an attribute of other characters is a regular expression of names.
_PLAIN_HEADER = re.compile(r"[-A-Za-z0-9_]*")
# Characters non_regex_pattern takes for a regular expression's (unescaped).
_REGEX_CHARACTERS = frozenset("^.$|()[]*+?{}")


def header_regex_error(action: str, header: str, value: str | None) -> str | None:
    """mod_headers' header_inout_cmd: an edit's match, an echo's header name."""
    if action in ("edit", "edit*") and value is not None and pcre_refuses(value):
        return "Header edit regex could not be compiled"
    if action == "echo" and pcre_refuses(header):
        return "Header echo regex could not be compiled"
    return None


def setenvif_regex_error(name: str, attribute: str, pattern: str) -> str | None:
    """add_setenvif_core: the pattern (unless a plain string), then the attribute
    when it names headers by a regular expression; ``name`` as registered."""
    if _is_regex(pattern) and pcre_refuses(pattern):
        return f"{name} regex could not be compiled."
    if (
        attribute.lower() not in _SPECIAL_ATTRIBUTES
        and _PLAIN_HEADER.fullmatch(attribute) is None
        and pcre_refuses(attribute)
    ):
        return f"{name}Header name regex could not be compiled."
    return None


def _is_regex(pattern: str) -> bool:
    """non_regex_pattern's answer reversed: a special character not escaped, or an
    escaped ordinary one, makes ``pattern`` a regular expression."""
    escaped = False
    for character in pattern:
        if character == "\\":
            escaped = not escaped
        elif escaped:
            if character not in _REGEX_CHARACTERS:
                return True
            escaped = False
        elif character in _REGEX_CHARACTERS:
            return True
    return False


def alias_match_error(words: tuple[str, ...]) -> str | None:
    """add_alias_internal: ``AliasMatch``/``ScriptAliasMatch``'s pattern."""
    if words and pcre_refuses(words[0]):
        return "Regular expression could not be compiled."
    return None


def substitute_error(text: str) -> str | None:
    """mod_substitute's set_pattern: ``s`` and a delimiter, the pattern, the
    replacement, flags of ``infq``; the pattern compiled unless ``n``. The
    delimiter is a byte, as in httpd: "§" is two, and only the first counts."""
    data = text.encode("utf-8", "surrogateescape")
    if data[:1].lower() != b"s":
        return "Bad Substitute format, must be an s/// pattern"
    delimiter = data[1:2]
    if not delimiter:
        return "Bad Substitute format, must be a complete s/// pattern"
    end = data.find(delimiter, 2)
    if end <= 2:  # no pattern, or no delimiter after it
        return "Bad Substitute format, must be a complete s/// pattern"
    after = data.find(delimiter, end + 1)
    flags = b"" if after < 0 else data[after + 1 :].lower()
    if any(flag not in b"infq" for flag in flags):
        return "Bad Substitute flag, only s///[infq] are supported"
    pattern = data[2:end].decode("utf-8", "surrogateescape")
    if b"n" not in flags and pcre_refuses(pattern):
        return "Substitute could not compile regex"
    return None
