"""What the handlers of httpd's core refuse in their arguments (server/core.c, listen.c).

Written from httpd 2.4's server/core.c (``set_options``, ``set_override``,
``set_override_list``, ``generate_error``, ``set_loglevel``,
``set_error_document``, ``server_hostname_port``, the LimitRequest* and
MaxRanges handlers), server/listen.c (``ap_set_listener``) and
modules/mappers/mod_alias.c (``add_alias_internal``), and held to the real
apache2 by tests/apache/test_apache_handlers.py. The numbers' own rules are in
core_numbers.py; handlers.py dispatches.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from .apr_addresses import allow_from_error, parse_addr_port
from .core_numbers import (
    buffer_size_error,
    directory_index_redirect_error,
    file_etag_error,
    limit_xml_body_error,
    protocol_option_error,
    recursion_limit_error,
    strtol_error,
    worker_factor_error,
)
from .handler_modules import status_codes, unless_hidden
from .includes import has_wildcard
from .places import PATH_SECTIONS
from .tree import Directive
from .values import parse_atoi
from .vhost_addresses import server_name_parts

if TYPE_CHECKING:
    from .walk_state import WalkState

__all__ = ["CORE_HANDLERS", "at_least"]

_Handler = Callable[[Directive, "WalkState", tuple[str, ...]], str | None]


_OPTIONS = frozenset({"indexes", "includes", "includesnoexec", "followsymlinks",
                      "symlinksifownermatch", "execcgi", "multiviews", "runscripts"})  # fmt: skip


def _options(directive: Directive, _state: WalkState, _sections: tuple[str, ...]) -> str | None:
    """set_options in server/core.c."""
    first, merge, all_none = True, False, False
    for word in directive.args:
        action = word[:1] if word[:1] in "+-" else ""
        if action:
            word = word[1:]
            if not merge and not first and not all_none:
                return "Either all Options must start with + or -, or no Option may."
            merge = True
        elif merge and not first:
            return "Either all Options must start with + or -, or no Option may."
        lowered = word.lower()
        if lowered in ("none", "all"):
            shown = "None" if lowered == "none" else "All"
            if not first:
                if lowered == "none":
                    return "'Options None' must be the first Option given."
                return "'Options All' must be the first option given."
            if merge:
                return f"You may not use 'Options +{shown}' or 'Options -{shown}'."
            all_none = True
        elif lowered not in _OPTIONS:
            return f"Illegal option {word}"
        first = False
    return None


_OVERRIDES = frozenset({"limit", "options", "fileinfo", "authconfig", "indexes", "none", "all"})


def _allow_override(
    directive: Directive, _state: WalkState, _sections: tuple[str, ...]
) -> str | None:
    """set_override in server/core.c, with set_allow_opts for ``Options=a,b``."""
    for word in directive.args:
        key, equals, value = word.partition("=")
        lowered = key.lower()
        if lowered == "nonfatal":
            if not equals:
                return f"=Override, =Unknown or =All expected after {key}"
        elif lowered not in _OVERRIDES:
            return f"Illegal override option {key}"
        elif lowered == "options" and equals:
            for option in filter(None, value.split(",")):
                if option.lower() not in _OPTIONS and option.lower() not in ("none", "all"):
                    return f"Illegal option {option}"
    return None


def _error(directive: Directive, _state: WalkState, _sections: tuple[str, ...]) -> str | None:
    """generate_error: Error always stops the start, with its own message."""
    message = " ".join(directive.args)
    return message or "The Error directive was used with no message."


def _server_alias(directive: Directive, _state: WalkState, sections: tuple[str, ...]) -> str | None:
    return None if "virtualhost" in sections else "ServerAlias only used in <VirtualHost>"


_LEVELS = frozenset(
    {"emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
     *(f"trace{n}" for n in range(1, 9))}
)  # fmt: skip
_LEVEL_ERROR = "Log level keyword must be one of emerg/alert/crit/error/warn/notice/info/debug/trace1/.../trace8"


def _log_level(directive: Directive, state: WalkState, _sections: tuple[str, ...]) -> str | None:
    """set_loglevel: a level, or module:level for a loaded module (by either of its names)."""
    for word in directive.args:
        module, colon, level = word.rpartition(":")
        if not colon:
            if word.lower() not in _LEVELS:
                return _LEVEL_ERROR
            continue
        if not level:
            return f"Module specifier '{module}' must be followed by a log level keyword"
        if level.lower() not in _LEVELS:
            return f"{module}:{level}: {_LEVEL_ERROR}"
        if not (
            module in state.modules
            or module in state.source_names
            or f"{module}_module" in state.modules
        ):
            return f"Cannot find module {module}"
    return None


def _listen(directive: Directive, state: WalkState, _sections: tuple[str, ...]) -> str | None:
    """ap_set_listener (server/listen.c); a host name is not resolved here."""
    if not 1 <= len(directive.args) <= 2:
        return "Listen requires 1 or 2 arguments."
    parsed = parse_addr_port(directive.args[0])
    if parsed is None:
        return "Invalid address or port"
    host, scope, port = parsed
    if port == 0:
        return "Port must be specified"
    # find_listeners: the host as written (strcmp), "*" as none, and the scope.
    listener = (None if host == "*" else host, port, scope)
    if listener in state.listeners:
        return "Cannot define multiple Listeners on the same IP:port"
    state.listeners.add(listener)
    return None


def at_least(
    minimum: int, message: str
) -> Callable[[Directive, WalkState, tuple[str, ...]], str | None]:
    def check(directive: Directive, _state: WalkState, _sections: tuple[str, ...]) -> str | None:
        if directive.args and parse_atoi(directive.args[0]) < minimum:
            return message.format(word=directive.args[0])
        return None

    return check


def _limit_request_body(
    directive: Directive, _state: WalkState, _sections: tuple[str, ...]
) -> str | None:
    """apr_strtoff(base 10): optional blanks and sign, digits, nothing after."""
    word = directive.args[0] if directive.args else ""
    match = re.match(r"[ \t\n\v\f\r]*([+-]?)(\d+)", word)
    significant = match.group(2).lstrip("0") if match is not None else ""
    if len(significant) > 19 or (len(significant) == 19 and int(significant) > 2**63 - 1):
        return "LimitRequestBody argument is not parsable."  # strtoll's ERANGE
    # No digits leaves strtoll's end at the start: "not a non-negative integer".
    if match is None or match.end() != len(word):
        return "LimitRequestBody requires a non-negative integer."
    if match.group(1) == "-" and significant:
        return "LimitRequestBody requires a non-negative integer."
    return None


def _ranges(name: str) -> Callable[[Directive, WalkState, tuple[str, ...]], str | None]:
    def check(directive: Directive, _state: WalkState, _sections: tuple[str, ...]) -> str | None:
        word = directive.args[0] if directive.args else ""
        if word.lower() in ("none", "default", "unlimited") or parse_atoi(word) > 0:
            return None
        return f"{name} requires 'none', 'default', 'unlimited' or a positive integer"

    return check


def _error_document(
    directive: Directive, _state: WalkState, _sections: tuple[str, ...]
) -> str | None:
    if not directive.args:
        return None
    code = parse_atoi(directive.args[0])
    if code == 500 or code in status_codes():
        return None
    return f"Unsupported HTTP response code {directive.args[0]}"


def _alias(directive: Directive, _state: WalkState, sections: tuple[str, ...]) -> str | None:
    """add_alias_internal (mod_alias.c): one word is the <Location> form only."""
    if len(directive.args) == 1 and PATH_SECTIONS.isdisjoint(sections):
        return "Alias must have two arguments when used globally"
    return None


def _allow_override_list(
    directive: Directive, _state: WalkState, _sections: tuple[str, ...]
) -> str | None:
    # set_override_list (core.c): None only alone; other names are kept or
    # discarded with a warning, never refused.
    words = directive.args
    if len(words) != 1 and any(word.isascii() and word.lower() == "none" for word in words):
        return "'None' not allowed with other directives in AllowOverrideList"
    return None


def _words_check(
    check: Callable[[tuple[str, ...]], str | None],
) -> Callable[[Directive, WalkState, tuple[str, ...]], str | None]:
    """A handler that judges the words alone (core_numbers)."""

    def handler(directive: Directive, _state: WalkState, _sections: tuple[str, ...]) -> str | None:
        return check(directive.args)

    return handler


def _protocol_options(
    directive: Directive, state: WalkState, _sections: tuple[str, ...]
) -> str | None:
    seen = state.protocol_options.setdefault(state.scope, set())
    return protocol_option_error(directive.args, seen)


def _server_name(directive: Directive, _state: WalkState, _sections: tuple[str, ...]) -> str | None:
    if not directive.args:
        return None  # the word count's message
    word = directive.args[0]
    if has_wildcard(word):  # apr_fnmatch_test
        return f'Invalid ServerName "{word}" use ServerAlias to set multiple server names.'
    _, port = server_name_parts(word)
    if port is not None and not 0 < port < 65536:
        return f'The port number "{word}" is outside the appropriate range (i.e., 1..65535).'
    return None


CORE_HANDLERS: dict[str, _Handler] = {
    "options": _options,
    "allowoverride": _allow_override,
    "error": _error,
    "serveralias": _server_alias,
    "servername": _server_name,
    "loglevel": _log_level,
    "listen": _listen,
    "listenbacklog": at_least(1, "ListenBacklog must be > 0"),
    "limitrequestline": at_least(0, 'LimitRequestLine "{word}" must be a non-negative integer'),
    "limitrequestfieldsize": at_least(
        0, 'LimitRequestFieldsize "{word}" must be a non-negative integer'
    ),
    "limitrequestfields": at_least(
        0, 'LimitRequestFields "{word}" must be a non-negative integer (0 = no limit)'
    ),
    "limitrequestbody": _limit_request_body,
    "maxranges": _ranges("MaxRanges"),
    "maxrangeoverlaps": _ranges("MaxRangeOverlaps"),
    "maxrangereversals": _ranges("MaxRangeReversals"),
    "errordocument": _error_document,
    "alias": _alias,
    "scriptalias": _alias,
    "allowoverridelist": _allow_override_list,
    "listencoresbucketsratio": at_least(1, "ListenCoresBucketsRatio must be > 0"),
    "limitinternalrecursion": _words_check(recursion_limit_error),
    "limitxmlrequestbody": _words_check(limit_xml_body_error),
    "maxmemfree": _words_check(lambda words: strtol_error(words, "MaxMemFree")),
    "sendbuffersize": _words_check(lambda words: buffer_size_error(words, "SendBufferSize")),
    "receivebuffersize": _words_check(lambda words: buffer_size_error(words, "ReceiveBufferSize")),
    "threadstacksize": _words_check(lambda words: strtol_error(words, "ThreadStackSize")),
    "asyncrequestworkerfactor": _words_check(worker_factor_error),
    "directoryindexredirect": _words_check(directory_index_redirect_error),
    "fileetag": _words_check(file_etag_error),
    "allow": unless_hidden(_words_check(allow_from_error)),
    "deny": unless_hidden(_words_check(allow_from_error)),
    "httpprotocoloptions": _protocol_options,
}
