"""What the handlers of mod_headers, mod_setenvif, mod_alias and mod_ssl refuse in their arguments.

Written from httpd 2.4's modules/metadata/mod_headers.c (``header_cmd``,
``header_inout_cmd``), mod_setenvif.c (``add_setenvif_core``),
modules/mappers/mod_alias.c (``add_redirect_internal``),
modules/loggers/mod_log_config.c (``add_custom_log``'s condition) and
modules/ssl/ssl_engine_config.c (``ssl_cmd_protocol_parse``, the handlers of
``SSLCipherSuite``, ``SSLCARevocationCheck``, ``SSLOptions``,
``SSLPassPhraseDialog`` and ``SSLRandomSeed``, not their checks of files
on the host), and held
to the real apache2 by tests/apache/test_apache_handlers.py. What needs a
regular expression, an ap_expr or a format string compiled the way httpd
compiles them is not judged here (accepted).
"""

from __future__ import annotations

from .directives import canonical_name
from .pcre_refusals import pcre_refuses
from .shell_state import REDACTED_VALUE
from .tree import Directive
from .values import parse_atoi

__all__ = [
    "custom_log_error",
    "header_error",
    "redirect_error",
    "setenvif_error",
    "ssl_cipher_suite_error",
    "ssl_options_error",
    "ssl_pass_phrase_error",
    "ssl_protocol_error",
    "ssl_random_seed_error",
    "ssl_revocation_check_error",
]

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


def custom_log_error(
    directive: Directive, _state: object, _sections: tuple[str, ...]
) -> str | None:
    """``CustomLog``/``GlobalLog file format [env=[!]var|expr=expression]``."""
    if len(directive.args) < 3:
        return None
    clause = directive.args[2]
    if REDACTED_VALUE in clause:
        return None  # a secret hidden as read stands there
    head = clause[:5].lower() if clause[:5].isascii() else ""
    if head[:4] == "env=":
        if clause[4:] in ("", "!"):
            return "missing environment variable name"
        return None
    if head == "expr=":
        return "missing condition" if clause == clause[:5] else None  # an ap_expr: not judged
    return "error in condition clause"


# add_redirect_internal's status words: (status, understood as a redirect).
_REDIRECT_WORDS = {"permanent": (301, 1), "temp": (302, 1), "seeother": (303, 1), "gone": (410, -1)}
_URL_SCHEME = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.")


def _is_url(text: str) -> bool:
    """ap_is_url: a scheme of letters, digits, '+', '-' or '.' before a ':'."""
    scheme, colon, _ = text.partition(":")
    return bool(colon and scheme) and all(char in _URL_SCHEME for char in scheme)


def redirect_error(key: str, words: tuple[str, ...], section_path: str | None) -> str | None:
    """``Redirect [status] URL-path [URL]``, ``RedirectMatch``, ``RedirectTemp``,
    ``RedirectPermanent`` (``section_path`` is httpd's cmd->path: in a section
    an expression may stand for the URL, which is not judged here)."""
    if not words:
        return None  # the word count's message
    status = 301 if key == "redirectpermanent" else 302
    first = words[0]
    second = words[1] if len(words) > 1 else None
    third = words[2] if len(words) > 2 else None
    lowered = first.lower() if first.isascii() else first
    if lowered in _REDIRECT_WORDS:
        status, understood = _REDIRECT_WORDS[lowered]
    elif first[:1] in "0123456789" and first[:1]:
        status = (
            int(first)
            if first.isdigit() and first.isascii() and len(first) < 10
            else parse_atoi(first)
        )
        understood = 1 if 300 <= status < 400 else -1
    else:
        understood = 0
    if third is not None and not understood:
        return "Redirect: invalid first argument (of three)"
    if section_path is not None and (
        (understood > 0 and second is not None and third is None)
        or (not understood and second is None)
        or (understood < 0 and second is None)
    ):
        return None  # a URL given as an expression, or a status alone
    pattern, url = (first, second) if third is None and not understood else (second, third)
    use_regex = key == "redirectmatch"
    if use_regex and pattern is not None and pcre_refuses(pattern):
        return "Regular expression could not be compiled."
    if 300 <= status < 400:
        if url is None:
            return "URL to redirect to is missing"
        if not use_regex and not _is_url(url) and url[:1] != "/":
            return "Redirect to non-URL"
    elif url is not None:
        return "Redirect URL not valid for this status"
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


def _ascii_lower(text: str) -> str:
    # mod_ssl's strcEQ is strcasecmp: ASCII letters only fold.
    return text.lower() if text.isascii() else text


def ssl_cipher_suite_error(directive: Directive, section_path: str | None) -> str | None:
    """``SSLCipherSuite``/``SSLProxyCipherSuite [protocol] spec``: the protocol
    ``SSL`` or ``TLSv1.3`` as written (strcmp), the latter not in a section."""
    if len(directive.args) != 2:
        return None
    protocol = directive.args[0]
    if protocol == "SSL":
        return None
    if protocol == "TLSv1.3":
        if directive.key == "sslciphersuite" and section_path is not None:
            return "TLSv1.3 ciphers cannot be set inside a directory context"
        return None
    return f"protocol '{protocol}' not supported"


_REVOCATION_MODES = frozenset({"none", "leaf", "chain"})


def ssl_revocation_check_error(
    directive: Directive, _state: object, _sections: tuple[str, ...]
) -> str | None:
    """``SSLCARevocationCheck``/``SSLProxyCARevocationCheck none|leaf|chain
    [no_crl_for_cert_ok]`` (ssl_cmd_crlcheck_parse)."""
    name = canonical_name(directive.key) or directive.name
    words = directive.args or ("",)
    if _ascii_lower(words[0]) not in _REVOCATION_MODES:
        return f"{name}: Invalid argument '{words[0]}'"
    for word in words[1:]:
        if _ascii_lower(word) != "no_crl_for_cert_ok":
            return f"{name}: Invalid argument '{word}'"
    return None


_SSL_OPTIONS = frozenset(
    {"stdenvvars", "exportcertdata", "fakebasicauth", "strictrequire", "optrenegotiate",
     "legacydnstringformat"}
)  # fmt: skip


def ssl_options_error(
    directive: Directive, _state: object, _sections: tuple[str, ...]
) -> str | None:
    """``SSLOptions [+|-]option ...``."""
    for word in directive.args:
        option = word[1:] if word[:1] in ("+", "-") and word else word
        if _ascii_lower(option) not in _SSL_OPTIONS:
            return f"SSLOptions: Illegal option '{option}'"
    return None


def ssl_pass_phrase_error(
    directive: Directive, _state: object, _sections: tuple[str, ...]
) -> str | None:
    """``SSLPassPhraseDialog builtin|exec:/path|'|/path'`` (whether the program
    exists is the host's matter, not judged)."""
    if not directive.args:
        return None
    word = directive.args[0]
    if _ascii_lower(word) == "builtin" or (len(word) > 5 and word.startswith("exec:")):
        return None
    if len(word) > 1 and word.startswith("|"):
        return None
    return "SSLPassPhraseDialog: Invalid argument"


def ssl_random_seed_error(
    directive: Directive, _state: object, _sections: tuple[str, ...]
) -> str | None:
    """``SSLRandomSeed startup|connect source [bytes]`` (whether a source file
    exists is the host's matter, not judged)."""
    words = directive.args
    if len(words) < 2:
        return None
    if _ascii_lower(words[0]) not in ("startup", "connect"):
        return f"SSLRandomSeed: invalid context: `{words[0]}'"
    source = words[1]
    if len(source) > 4 and source.startswith("egd:") and not source.startswith(("file:", "exec:")):
        return (
            f"Invalid SSLRandomSeed entropy source `{source}': This version of OpenSSL "
            "does not support the Entropy Gathering Daemon (EGD)."
        )
    builtin = _ascii_lower(source) == "builtin"
    if len(words) > 2:
        if builtin:
            return "SSLRandomSeed: byte specification not allowed for builtin seed source"
        if parse_atoi(words[2]) < 0:
            return "SSLRandomSeed: invalid number of bytes specified"
    return None
