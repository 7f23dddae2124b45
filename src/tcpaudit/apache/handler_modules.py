"""What the handlers of mod_headers, mod_setenvif and mod_ssl refuse in their arguments.

Written from httpd 2.4's modules/metadata/mod_headers.c (``header_cmd``,
``header_inout_cmd``), mod_setenvif.c (``add_setenvif_core``) and
modules/ssl/ssl_engine_config.c (``ssl_cmd_protocol_parse``), and held
to the real apache2 by tests/apache/test_apache_handlers.py. What needs a
regular expression, an ap_expr or a format string compiled the way httpd
compiles them is not judged here (accepted).
"""

from __future__ import annotations

from .directives import canonical_name
from .tree import Directive

__all__ = ["header_error", "setenvif_error", "ssl_protocol_error"]

_HEADER_ACTIONS = frozenset(
    {"set", "setifempty", "add", "append", "merge", "unset", "echo", "edit", "edit*", "note"}
)
_ACTION_MESSAGE = (
    "first argument must be 'add', 'set', 'setifempty', 'append', 'merge', 'unset', "
    "'echo', 'note', 'edit', or 'edit*'."
)


def header_error(directive: Directive, _state: object, _sections: tuple[str, ...]) -> str | None:
    """``Header``/``RequestHeader``: [condition] action header [value] [replacement] [clause]."""
    words = list(directive.args)
    is_response = directive.key == "header"
    if is_response and words and words[0].lower() in ("always", "onsuccess"):
        words = words[1:]
    if len(words) > 5:
        return f"{canonical_name(directive.key) or directive.name} has too many arguments"
    action = words[0].lower() if words else ""
    value = words[2] if len(words) > 2 else None
    replacement = words[3] if len(words) > 3 else None
    clause = words[4] if len(words) > 4 else None
    if action not in _HEADER_ACTIONS:
        return _ACTION_MESSAGE
    if action == "note" and not is_response:
        return "RequestHeader does not support the 'note' action"
    if action in ("edit", "edit*"):
        if replacement is None:
            return "Header edit requires a match and a substitution"
    else:
        # No replacement: the fourth word is the condition.
        if clause is not None:
            return "Too many arguments to directive"
        clause = replacement
    if action in ("unset", "echo"):
        if action == "echo" and not is_response:
            return "Header echo only valid on Header directives"
        if value is not None:
            if clause is not None:
                return f"header {action} takes two arguments"
            clause, value = value, None
    elif value is None:
        return "Header requires three arguments"
    return _clause_error(clause)


def _clause_error(clause: str | None) -> str | None:
    if clause is None or clause.lower() == "early":
        return None
    lowered = clause.lower()
    if lowered.startswith("env="):
        if clause[4:] in ("", "!"):
            return (
                "error: missing environment variable name. "
                "envclause should be in the form env=envar"
            )
        return None
    if lowered.startswith("expr="):
        return None  # an ap_expr: httpd's parser judges it
    return f"Unknown parameter: {clause}"


def setenvif_error(directive: Directive, _state: object, _sections: tuple[str, ...]) -> str | None:
    """``SetEnvIf attribute regex var...``; ``BrowserMatch regex var...`` (User-Agent);
    ``SetEnvIfExpr expression var...``."""
    words = list(directive.args)
    name = canonical_name(directive.key) or directive.name
    if directive.key == "setenvifexpr":
        if not words or not words[0]:
            return f"Missing expression for {name}"
        words.insert(0, "expression")  # then as SetEnvIf's regular expression and variables
    elif directive.key.startswith("browsermatch"):
        words.insert(0, "User-Agent")
    if not words or not words[0]:
        return f"Missing header-field name for {name}"
    if len(words) < 2 or not words[1]:
        return f"Missing regular expression for {name}"
    if len(words) < 3 or not words[2]:
        return f"Missing envariable expression for {name}"
    return None


# ssl_cmd_protocol_parse's names (any case). SSLv3 is refused unless turned
# off: the OpenSSL of current distributions is built without it.
_SSL_PROTOCOLS = frozenset({"tlsv1", "tlsv1.1", "tlsv1.2", "tlsv1.3", "all"})


def ssl_protocol_error(
    directive: Directive, _state: object, _sections: tuple[str, ...]
) -> str | None:
    """``SSLProtocol``/``SSLProxyProtocol``: each word a protocol, with an optional +/-."""
    name = canonical_name(directive.key) or directive.name
    for word in directive.args:
        action, protocol = (word[0], word[1:]) if word[:1] in ("+", "-") else ("", word)
        lowered = protocol.lower()
        if lowered == "sslv2":
            if action != "-":
                return "SSLProtocol: SSLv2 is no longer supported"
        elif lowered == "sslv3":
            if action != "-":
                return "SSLv3 not supported by this version of OpenSSL"
        elif lowered not in _SSL_PROTOCOLS:
            return f"{name}: Illegal protocol '{protocol}'"
    return None
