"""What mod_ssl's handlers refuse in their arguments.

Written from httpd 2.4's modules/ssl/ssl_engine_config.c (``ssl_cmd_protocol_parse``
and the handlers of ``SSLCipherSuite``, ``SSLCARevocationCheck``,
``SSLOptions``, ``SSLPassPhraseDialog`` and ``SSLRandomSeed``; not their
checks of files on the host) and held to the real apache2 by
tests/apache/test_apache_handlers.py. Keyword arguments (``SSLEngine``,
``SSLVerifyClient``...) are in values-2.4.tsv.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .directives import canonical_name
from .tree import Directive
from .values import ascii_lower, parse_atoi

if TYPE_CHECKING:
    from .walk_state import WalkState

__all__ = [
    "ssl_cipher_suite_error",
    "ssl_cipher_suite_handler",
    "ssl_options_error",
    "ssl_pass_phrase_error",
    "ssl_protocol_error",
    "ssl_random_seed_error",
    "ssl_revocation_check_error",
]

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
    if ascii_lower(words[0]) not in _REVOCATION_MODES:
        return f"{name}: Invalid argument '{words[0]}'"
    for word in words[1:]:
        if ascii_lower(word) != "no_crl_for_cert_ok":
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
        if ascii_lower(option) not in _SSL_OPTIONS:
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
    if ascii_lower(word) == "builtin" or (len(word) > 5 and word.startswith("exec:")):
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
    if ascii_lower(words[0]) not in ("startup", "connect"):
        return f"SSLRandomSeed: invalid context: `{words[0]}'"
    source = words[1]
    if len(source) > 4 and source.startswith("egd:") and not source.startswith(("file:", "exec:")):
        return (
            f"Invalid SSLRandomSeed entropy source `{source}': This version of OpenSSL "
            "does not support the Entropy Gathering Daemon (EGD)."
        )
    builtin = ascii_lower(source) == "builtin"
    if len(words) > 2:
        if builtin:
            return "SSLRandomSeed: byte specification not allowed for builtin seed source"
        if parse_atoi(words[2]) < 0:
            return "SSLRandomSeed: invalid number of bytes specified"
    return None


def ssl_cipher_suite_handler(
    directive: Directive, state: WalkState, _sections: tuple[str, ...]
) -> str | None:
    return ssl_cipher_suite_error(directive, state.section_path)
