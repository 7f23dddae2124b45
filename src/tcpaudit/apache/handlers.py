"""What the handlers of httpd's core and of the modules tcpaudit tracks refuse in their arguments.

httpd calls each directive's handler when it walks the configuration tree,
and a handler that returns a message stops the start (``apache2 -t`` fails at
that line). ``walk.py`` asks this module about each directive; it answers with
httpd's message or None. Three kinds of checks live here:

- keyword arguments, from ``values-2.4.tsv``: the words each handler accepts
  (``ServerSignature on|off|email``), probed from the real apache2 by
  tests/apache/apache_value_table.py, with the message it gives otherwise;
- the places a handler refuses itself (``ap_check_cmd_context``), from
  ``contexts-2.4.tsv`` (tests/apache/apache_context_table.py);
- handlers whose rules are more than a keyword list, written from httpd
  2.4's sources (server/core.c, server/listen.c, modules/proxy/mod_proxy.c)
  and held to the real apache2 by tests/apache/test_apache_handlers.py:
  ``Options``, ``AllowOverride``, ``Error``, ``ServerAlias``, ``LogLevel``,
  ``Listen``, ``ListenBacklog``, ``LimitRequest*``, ``MaxRanges*``,
  ``ErrorDocument``, ``ProxyTimeout``, the argument count of sections and
  ``<Else>`` without ``<If>``; mod_rewrite's in rewrite_args.py, mod_headers',
  mod_setenvif's and mod_ssl's in handler_modules.py, mod_authz_core's in authz.py.

Checks that depend on the host (a DocumentRoot that exists, a user name,
DNS for ``Listen host:port``) are left out: the audited tree is often a copy.
Version 2.2 is not checked here (its handlers were not probed).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from importlib import resources

from .apr_addresses import allow_from_error, parse_addr_port
from .authz import require_error, script_error
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
from .directives import word_count_kind
from .handler_modules import (
    custom_log_handler,
    header_error,
    log_format_handler,
    redirect_handler,
    rewrite_base_handler,
    rewrite_cond_handler,
    rewrite_options_handler,
    rewrite_rule_handler,
    setenvif_error,
    status_codes,
    unless_hidden,
)
from .includes import has_wildcard
from .module_arguments import MODULE_HANDLERS, WORDS_ONLY
from .modules import module_source_name
from .places import PATH_SECTIONS
from .proxy_params import (
    balancer_member_error,
    proxy_pass_error,
    proxy_section_error,
    proxy_set_error,
)
from .ssl_handlers import (
    ssl_cipher_suite_handler,
    ssl_options_error,
    ssl_pass_phrase_error,
    ssl_protocol_error,
    ssl_random_seed_error,
    ssl_revocation_check_error,
)
from .tree import Directive
from .values import parse_atoi
from .vhost_addresses import server_name_parts
from .walk_state import WalkState

__all__ = [
    "HANDLED",
    "WalkState",
    "as_passed",
    "handler_error",
    "module_names",
    "proxy_section_arguments_error",
    "words_decide",
]


# -- probed data ----------------------------------------------------------------------


@cache
def _keywords() -> dict[str, tuple[str, frozenset[str], str]]:
    """lower-cased name -> (which words: "1" or "*", accepted lower-cased, message)."""
    text = resources.files(__package__).joinpath("values-2.4.tsv").read_text(encoding="utf-8")
    table: dict[str, tuple[str, frozenset[str], str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, words, accepted, message = line.split("\t")
            table[name.lower()] = (words, frozenset(accepted.split("|")), message)
    return table


# -- the handlers ---------------------------------------------------------------------

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


def _at_least(
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


def _proxy_pass(directive: Directive, state: WalkState, sections: tuple[str, ...]) -> str | None:
    # add_pass takes the path from cmd->path, which <Proxy> and <ProxyMatch> set too.
    in_location = any(name in _ROUTE_SECTIONS for name in sections)
    return proxy_pass_error(directive.key, directive.args, in_location, state.proxy_workers,
                            state.scope, state.modules, state.section_path)  # fmt: skip


def _balancer_member(
    directive: Directive, state: WalkState, _sections: tuple[str, ...]
) -> str | None:
    # add_member takes the balancer from cmd->path: any section's path.
    return balancer_member_error(directive.args, state.section_path, state.proxy_workers,
                                 state.scope, state.modules)  # fmt: skip


def _proxy_set(directive: Directive, state: WalkState, sections: tuple[str, ...]) -> str | None:
    # ProxySet reads its parent's words again, without dropping "proxy:";
    # only a <Proxy> that is its parent (a <Limit> or <If> between: none).
    if sections[-1:] not in (("proxy",), ("proxymatch",)):
        return proxy_set_error(directive.args, None, state.proxy_workers, state.scope,
                               state.modules)  # fmt: skip
    return proxy_set_error(directive.args, state.proxy_section_written, state.proxy_workers,
                           state.scope, state.modules, state.proxy_match)  # fmt: skip


def proxy_section_arguments_error(directive: Directive, state: WalkState) -> str | None:
    """What httpd says of a <Proxy>/<ProxyMatch> line's parameters, once its
    contents are read."""
    return proxy_section_error(directive.key, directive.args, state.proxy_workers,
                               state.scope, state.modules)  # fmt: skip


def _script(directive: Directive, state: WalkState, sections: tuple[str, ...]) -> str | None:
    """set_script (mod_actions.c), see authz.py."""
    return script_error(directive, state.methods)


def _require(directive: Directive, state: WalkState, sections: tuple[str, ...]) -> str | None:
    """add_authz_provider (mod_authz_core.c), see authz.py."""
    return require_error(
        directive,
        state.authz_providers,
        state.methods,
        sections,
        state.authz_aliases,
        state.raw_texts.get(id(directive)),
    )


_ROUTE_SECTIONS = frozenset({"location", "locationmatch", "proxy", "proxymatch"})
_Handler = Callable[[Directive, WalkState, tuple[str, ...]], str | None]
_HANDLERS: dict[str, _Handler] = {
    "options": _options,
    "allowoverride": _allow_override,
    "error": _error,
    "serveralias": _server_alias,
    "servername": _server_name,
    "loglevel": _log_level,
    "listen": _listen,
    "listenbacklog": _at_least(1, "ListenBacklog must be > 0"),
    "limitrequestline": _at_least(0, 'LimitRequestLine "{word}" must be a non-negative integer'),
    "limitrequestfieldsize": _at_least(
        0, 'LimitRequestFieldsize "{word}" must be a non-negative integer'
    ),
    "limitrequestfields": _at_least(
        0, 'LimitRequestFields "{word}" must be a non-negative integer (0 = no limit)'
    ),
    "limitrequestbody": _limit_request_body,
    "maxranges": _ranges("MaxRanges"),
    "maxrangeoverlaps": _ranges("MaxRangeOverlaps"),
    "maxrangereversals": _ranges("MaxRangeReversals"),
    "errordocument": _error_document,
    "proxytimeout": _at_least(1, "Proxy Timeout must be at least 1 second."),
    "alias": _alias,
    "proxypass": _proxy_pass,
    "proxypassmatch": _proxy_pass,
    "balancermember": _balancer_member,
    "proxyset": _proxy_set,
    "require": _require,
    "script": _script,
    "scriptalias": _alias,
    "header": header_error,
    "requestheader": header_error,
    "setenvif": setenvif_error,
    "setenvifnocase": setenvif_error,
    "setenvifexpr": setenvif_error,
    "browsermatch": setenvif_error,
    "browsermatchnocase": setenvif_error,
    "allowoverridelist": _allow_override_list,
    "listencoresbucketsratio": _at_least(1, "ListenCoresBucketsRatio must be > 0"),
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
    "customlog": custom_log_handler,
    "globallog": custom_log_handler,
    "logformat": log_format_handler,
    "redirect": unless_hidden(redirect_handler),
    "redirectmatch": unless_hidden(redirect_handler),
    "redirecttemp": unless_hidden(redirect_handler),
    "redirectpermanent": unless_hidden(redirect_handler),
    "rewriterule": rewrite_rule_handler,
    "rewritecond": rewrite_cond_handler,
    "rewriteoptions": rewrite_options_handler,
    "rewritebase": rewrite_base_handler,
    "sslprotocol": ssl_protocol_error,
    "sslciphersuite": ssl_cipher_suite_handler,
    "sslproxyciphersuite": ssl_cipher_suite_handler,
    "sslcarevocationcheck": ssl_revocation_check_error,
    "sslproxycarevocationcheck": ssl_revocation_check_error,
    "ssloptions": ssl_options_error,
    "sslpassphrasedialog": ssl_pass_phrase_error,
    "sslrandomseed": ssl_random_seed_error,
    "sslproxyprotocol": ssl_protocol_error,
    # mod_ssl's numbers, read with atoi (ssl_engine_config.c).
    "sslverifydepth": _at_least(0, "SSLVerifyDepth: Invalid argument '{word}'"),
    "sslproxyverifydepth": _at_least(0, "SSLProxyVerifyDepth: Invalid argument '{word}'"),
    "sslsessioncachetimeout": _at_least(0, "SSLSessionCacheTimeout: Invalid argument"),
    "sslrenegbuffersize": _at_least(0, "Invalid size for SSLRenegBufferSize: {word}"),
    **MODULE_HANDLERS,
}
# Names with both a handler and a keyword list (the handler's None is not the answer).
_KEYWORD_HANDLERS = frozenset(_HANDLERS) & frozenset(_keywords())
# Every name handler_error may refuse (the walk asks about these only).
HANDLED = frozenset(_HANDLERS) | frozenset(_keywords())
# Handlers that judge the words alone (LogLevel also asks which modules are
# loaded, which no directive changes during a walk); ServerAlias and Alias
# look at the sections around, Listen at the Listen lines before.
_WORDS_ONLY = frozenset(
    {"options", "allowoverride", "allowoverridelist", "customlog", "globallog", "logformat",
     "error",
     "listencoresbucketsratio", "limitinternalrecursion", "limitxmlrequestbody", "maxmemfree",
     "threadstacksize", "asyncrequestworkerfactor", "directoryindexredirect", "fileetag",
     "sendbuffersize", "receivebuffersize",
     "allow", "deny", "sslcarevocationcheck", "sslproxycarevocationcheck", "ssloptions",
     "sslpassphrasedialog", "sslrandomseed", "servername", "loglevel", "listenbacklog",
     "limitrequestline",
     "limitrequestfieldsize", "limitrequestfields", "limitrequestbody", "maxranges",
     "maxrangeoverlaps", "maxrangereversals", "errordocument", "proxytimeout", "header",
     "requestheader", "setenvif", "setenvifnocase", "setenvifexpr", "browsermatch",
     "browsermatchnocase", "rewriteoptions", "sslprotocol", "sslproxyprotocol", "sslverifydepth",
     "sslproxyverifydepth", "sslsessioncachetimeout", "sslrenegbuffersize", *WORDS_ONLY}
)  # fmt: skip


def words_decide(key: str) -> bool:
    """Whether ``handler_error`` gives every ``key`` directive with the same words the
    same answer during one walk (so the walk may ask once per spelling of them)."""
    if key in _HANDLERS:
        return key in _WORDS_ONLY
    return key in _keywords()


# Handlers declared TAKE_ARGV: invoke_cmd drops an empty last word.
_TAKE_ARGV = frozenset({"allowoverridelist", "listen", "indexoptions"})


def as_passed(directive: Directive) -> Directive:
    """``directive`` with the words invoke_cmd hands its handler, for one
    holding an empty word: an ITERATE handler gets the words before the first
    empty one, an ITERATE2 handler the first word and those after it up to an
    empty one, a TAKE12 handler no empty second word (NULL), a TAKE_ARGV
    handler all but an empty last word. The places a handler refuses itself
    in are counted on these words too."""
    words = directive.args
    kind = word_count_kind(directive.key)
    if kind == "TAKE12" and len(words) == 2 and words[1] == "":
        words = words[:1]
    elif kind == "ITERATE":
        words = words[: words.index("")]
    elif kind == "ITERATE2" and "" in words[1:]:
        words = words[: words.index("", 1)]
    elif directive.key in _TAKE_ARGV and words[-1] == "":
        words = words[:-1]
    if words == directive.args:
        return directive
    return Directive(directive.name, words, directive.file, directive.line, None, directive.key)


def handler_error(directive: Directive, state: WalkState, sections: tuple[str, ...]) -> str | None:
    """httpd's message when the handler of ``directive`` (its words as
    ``as_passed`` gives them) refuses its arguments, else None."""
    handler = _HANDLERS.get(directive.key)
    if handler is not None:
        message = handler(directive, state, sections)
        if message is not None or directive.key not in _KEYWORD_HANDLERS:
            return message
    keyword = _keywords().get(directive.key)
    if keyword is None:
        return None
    which, accepted, message = keyword
    words = directive.args if which == "*" else directive.args[:1]
    for word in words:
        if word.lower() not in accepted:
            return message.replace("{word}", word)
    return None


def module_names(modules: frozenset[str]) -> frozenset[str]:
    """The source names (``mod_rewrite.c``) of loaded modules, as LogLevel also takes them."""
    return frozenset(module_source_name(name) for name in modules)
