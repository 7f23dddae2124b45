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
  2.4's sources and held to the real apache2 by tests/apache/: core's in
  core_handlers.py and core_numbers.py, mod_rewrite's in rewrite_args.py,
  mod_headers', mod_setenvif's, mod_alias' and mod_log_config's in
  handler_modules.py, mod_ssl's in ssl_handlers.py, mod_proxy's in
  proxy_params.py, mod_authz_core's in authz.py, and those of ErrorLogFormat,
  Mutex, mod_expires, mod_autoindex, ProxyPassReverse, AddOutputFilterByType and SSLSessionCache in
  module_arguments.py;
  section arguments in section_checks.py.

Checks that depend on the host (a DocumentRoot that exists, a user name,
DNS for ``Listen host:port``) are left out: the audited tree is often a copy.
Version 2.2 is not checked here (its handlers were not probed).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources

from .authz import require_error, script_error
from .core_handlers import CORE_HANDLERS, at_least
from .directives import word_count_kind
from .handler_modules import (
    custom_log_handler,
    header_error,
    log_format_handler,
    redirect_handler,
    rewrite_base_handler,
    rewrite_cond_handler,
    rewrite_map_handler,
    rewrite_options_handler,
    rewrite_rule_handler,
    setenvif_error,
    unless_hidden,
)
from .module_arguments import MODULE_HANDLERS, WORDS_ONLY
from .modules import module_source_name
from .proxy_params import (
    balancer_member_error,
    proxy_pass_error,
    proxy_section_error,
    proxy_set_error,
)
from .regex_arguments import alias_match_error, substitute_error
from .ssl_handlers import (
    ssl_cipher_suite_handler,
    ssl_options_error,
    ssl_pass_phrase_error,
    ssl_protocol_error,
    ssl_random_seed_error,
    ssl_revocation_check_error,
)
from .tree import Directive
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


def _alias_match(directive: Directive, _state: WalkState, _sections: tuple[str, ...]) -> str | None:
    return alias_match_error(directive.args)


def _substitute(directive: Directive, _state: WalkState, _sections: tuple[str, ...]) -> str | None:
    return substitute_error(directive.args[0]) if directive.args else None


_ROUTE_SECTIONS = frozenset({"location", "locationmatch", "proxy", "proxymatch"})
_Handler = Callable[[Directive, WalkState, tuple[str, ...]], str | None]
_HANDLERS: dict[str, _Handler] = {
    **CORE_HANDLERS,
    "proxytimeout": at_least(1, "Proxy Timeout must be at least 1 second."),
    "proxypass": _proxy_pass,
    "proxypassmatch": _proxy_pass,
    "balancermember": _balancer_member,
    "proxyset": _proxy_set,
    "require": _require,
    "script": _script,
    "header": header_error,
    "requestheader": header_error,
    "setenvif": setenvif_error,
    "setenvifnocase": setenvif_error,
    "setenvifexpr": setenvif_error,
    "browsermatch": setenvif_error,
    "browsermatchnocase": setenvif_error,
    "customlog": custom_log_handler,
    "globallog": custom_log_handler,
    "logformat": log_format_handler,
    "redirect": unless_hidden(redirect_handler),
    "redirectmatch": unless_hidden(redirect_handler),
    "redirecttemp": unless_hidden(redirect_handler),
    "redirectpermanent": unless_hidden(redirect_handler),
    "aliasmatch": _alias_match,
    "scriptaliasmatch": _alias_match,
    "substitute": _substitute,
    "rewriterule": rewrite_rule_handler,
    "rewritecond": rewrite_cond_handler,
    "rewriteoptions": rewrite_options_handler,
    "rewritebase": rewrite_base_handler,
    "rewritemap": rewrite_map_handler,
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
    "sslverifydepth": at_least(0, "SSLVerifyDepth: Invalid argument '{word}'"),
    "sslproxyverifydepth": at_least(0, "SSLProxyVerifyDepth: Invalid argument '{word}'"),
    "sslsessioncachetimeout": at_least(0, "SSLSessionCacheTimeout: Invalid argument"),
    "sslrenegbuffersize": at_least(0, "Invalid size for SSLRenegBufferSize: {word}"),
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
     "sslproxyverifydepth", "sslsessioncachetimeout", "sslrenegbuffersize", "rewritemap",
     "aliasmatch", "scriptaliasmatch", "substitute",
     *WORDS_ONLY}
)  # fmt: skip


def words_decide(key: str) -> bool:
    """Whether ``handler_error`` gives every ``key`` directive with the same words the
    same answer during one walk (so the walk may ask once per spelling of them)."""
    if key in _HANDLERS:
        return key in _WORDS_ONLY
    return key in _keywords()


# Handlers declared TAKE_ARGV: invoke_cmd drops an empty last word.
_TAKE_ARGV = frozenset({"allowoverridelist", "listen", "indexoptions", "addoutputfilterbytype"})
_MAX_ARGC = 64


def as_passed(directive: Directive) -> Directive | None:
    """``directive`` with the words invoke_cmd hands its handler, for one
    holding an empty word: an ITERATE handler gets the words before the first
    empty one, an ITERATE2 handler the first word and those after it up to an
    empty one (None when that leaves it no call: ``Deny x ""``), a TAKE12
    handler no empty second word (NULL), a TAKE_ARGV handler all but an empty
    last word. The places a handler refuses itself in are counted on these
    words too."""
    words = directive.args
    kind = word_count_kind(directive.key)
    if kind == "TAKE12" and len(words) == 2 and words[1] == "":
        words = words[:1]
    elif kind == "ITERATE":
        words = words[: words.index("")]
    elif kind == "ITERATE2" and "" in words[1:]:
        words = words[: words.index("", 1)]
        if len(words) < 2:
            return None
    elif directive.key in _TAKE_ARGV:
        # invoke_cmd collects AP_MAX_ARGC (64) words at most.
        words = (words[:-1] if words[-1] == "" else words)[:_MAX_ARGC]
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
