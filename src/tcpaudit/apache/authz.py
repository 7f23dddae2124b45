"""What mod_authz_core refuses in ``Require`` lines and Require sections (httpd 2.4).

Written from modules/aaa/mod_authz_core.c (add_authz_provider,
add_authz_section, authz_require_alias_section, authz_core_check_section)
and the providers' parse_require_line functions, and held to the real
apache2 by tests/apache/test_authz.py:

- a provider no loaded module registers ("Unknown Authz provider: x";
  names are case-sensitive: ``Require All granted`` is refused);
- the providers' own argument checks that need no expression parser
  (``all``, ``ip``, ``method``, ``expr``, ``ssl``); ``all`` compares the
  text after its name whole, quotes and blanks a variable leaves at the
  end included (``Require all "granted"`` is refused): the reader keeps
  that text of the lines whose words may not show it (``provider_rest``);
- ``Require not`` or ``<RequireNone>`` where the enclosing section grants
  on any one directive (``<RequireAny>``, or none: a directory section's
  own list is one);
- a Require section with no authorization directive in it;
- after the reading, a list of only negative directives (httpd's
  AH01624, which names no line: tcpaudit names the section's).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from .apr_addresses import ip_subnet_error
from .lexer import first_word, split_words
from .shell_state import REDACTED_VALUE
from .tree import Directive

__all__ = [
    "AUTHZ_SECTIONS",
    "authz_providers",
    "authz_section_error",
    "limit_methods",
    "only_negative_error",
    "provider_rest",
    "require_error",
    "script_error",
]

# The providers each module registers at start-up (ap_register_auth_provider
# in AUTHZ_PROVIDER_GROUP).
_PROVIDERS: dict[str, tuple[str, ...]] = {
    "authz_core_module": ("env", "all", "method", "expr"),
    "authz_host_module": ("ip", "host", "forward-dns", "local"),
    "authz_user_module": ("user", "valid-user"),
    "authz_groupfile_module": ("group", "file-group"),
    "authz_dbm_module": ("dbm-group", "dbm-file-group"),
    "authz_owner_module": ("file-owner",),
    "authz_dbd_module": ("dbd-group", "dbd-login", "dbd-logout"),
    "authnz_ldap_module": (
        "ldap-user",
        "ldap-group",
        "ldap-dn",
        "ldap-attribute",
        "ldap-filter",
        "ldap-search",
    ),
    "ssl_module": ("ssl", "ssl-verify-client"),
}
# mod_authnz_fcgi registers providers named by AuthnzFcgiDefineProvider as
# the tree is walked: any name may exist once it is loaded.
_NAMING_MODULES = frozenset({"authnz_fcgi_module"})
# ap_method_number_of's built-in names (case-sensitive); <Limit> registers others.
_METHODS = frozenset(
    {"GET", "HEAD", "PUT", "POST", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
     "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "VERSION-CONTROL",
     "CHECKOUT", "UNCHECKOUT", "CHECKIN", "UPDATE", "LABEL", "REPORT", "MKWORKSPACE",
     "MKACTIVITY", "BASELINE-CONTROL", "MERGE"}
)  # fmt: skip
# METHOD_NUMBER_FIRST (27) to METHOD_NUMBER_LAST (62) in http_protocol.c.
_MOST_REGISTERED = 36
_AND, _OR = "and", "or"
# Require section -> (how its directives combine, whether it negates).
AUTHZ_SECTIONS: dict[str, tuple[str, bool]] = {
    "requireall": (_AND, False),
    "requireany": (_OR, False),
    "requirenone": (_OR, True),
}
_SHOWN = {(_AND, False): "<RequireAll>", (_OR, False): "<RequireAny>", (_OR, True): "<RequireNone>"}
# Sections that make a configuration of their own (a list of their own):
# a Require inside them never joins an enclosing Require section's.
_OWN_CONFIG = frozenset(
    {"directory", "directorymatch", "location", "locationmatch", "files", "filesmatch", "if",
     "elseif", "else", "proxy", "proxymatch", "virtualhost", "authzprovideralias",
     "authnprovideralias"}
)  # fmt: skip


def authz_providers(
    loaded: Collection[str],
    unknown_modules: list[str] | None,
    lua_names: Collection[str] = (),
) -> set[str] | None:
    """The provider names ``Require`` finds once these modules are loaded (and
    mod_lua's ``LuaAuthzProvider`` lines read, ``lua_names``, by their exact
    names), or None when any name may exist (a module tcpaudit does not know, a
    module naming providers as the tree is walked, or a name hidden as a secret)."""
    if unknown_modules is None or unknown_modules or not _NAMING_MODULES.isdisjoint(loaded):
        return None
    names = {name for module in loaded for name in _PROVIDERS.get(module, ())}
    if "lua_module" in loaded:
        if any(REDACTED_VALUE in name for name in lua_names):
            return None
        names.update(lua_names)
    return names


def limit_methods(directive: Directive, methods: set[str]) -> None:
    """Note the methods a ``<Limit>``/``<LimitExcept>`` registers (ap_limit_section
    registers each name it does not know, for every later ``Require method``),
    ``RegisterHttpMethod`` (each word) or mod_actions' ``Script`` (its first)."""
    words = directive.args if directive.key != "script" else directive.args[:1]
    for word in words:
        # ap_method_register numbers new methods from 27 to 62, then refuses
        # (AH01610, logged only): a later Require method of the name fails.
        if word not in _METHODS and word not in methods and len(methods) < _MOST_REGISTERED:
            methods.add(word)


def script_error(directive: Directive, methods: Collection[str]) -> str | None:
    """mod_actions' set_script: ``Script TRACE`` is refused, and so is a new
    method when ap_method_register has no number left for it."""
    method = directive.args[0] if directive.args else ""
    if method == "TRACE":
        return "TRACE not allowed for Script"
    if method not in _METHODS and method not in methods and len(methods) >= _MOST_REGISTERED:
        return f"Could not register method '{method}' for Script"
    return None


def _enclosing(sections: Iterable[str]) -> tuple[str, bool]:
    """The list a Require joins: the innermost Require section around it, or the
    configuration's own (which grants on any one directive)."""
    for name in reversed(tuple(sections)):
        if name in AUTHZ_SECTIONS:
            return AUTHZ_SECTIONS[name]
        if name in _OWN_CONFIG:
            break
    return _OR, False


_ALL_ARGUMENT = "Argument for 'Require all' must be 'granted' or 'denied'"


def provider_rest(rest: str) -> str:
    """The raw text add_authz_provider hands the provider: what follows its
    name (and ``not``) in the text after ``Require``, variables substituted."""
    name, after = first_word(rest)
    if name.lower() == "not":
        after = first_word(after)[1]
    return after


def require_error(
    directive: Directive,
    providers: set[str] | None,
    methods: Collection[str],
    sections: tuple[str, ...],
    aliases: Collection[str] = (),
    raw: str | None = None,
) -> str | None:
    """add_authz_provider: what httpd says of a ``Require`` line, or None.

    ``aliases``: names ``<AuthzProviderAlias>`` registered so far; an alias
    replaces a provider of its name and parses no arguments of its own.
    ``raw``: the text after ``Require`` as written (variables substituted)
    when the words may not show it (quotes, ``${VAR}``, backslashes): the
    ``all`` provider compares it whole."""
    words = list(directive.args)
    name = words.pop(0) if words else ""
    negate = name.lower() == "not"
    if negate:
        name = words.pop(0) if words else ""
    if providers is not None and name not in providers:
        return f"Unknown Authz provider: {name}"
    if name not in aliases:
        if name == "all" and raw is not None:
            granted = provider_rest(raw).lower() in ("granted", "denied")
            message = None if granted else _ALL_ARGUMENT
        else:
            message = _arguments_error(name, words, methods if providers is not None else None)
        if message is not None:
            return message
    enclosing = _enclosing(sections)
    if negate and enclosing[0] == _OR:
        return f"negative Require directive has no effect in {_SHOWN[enclosing]} directive"
    return None


def _arguments_error(name: str, words: list[str], methods: Collection[str] | None) -> str | None:
    """The provider's parse_require_line (only those that need no ap_expr parser)."""
    # ap_getword_conf stops at the first empty word: the words before it count.
    read = words[: words.index("")] if "" in words else words
    if name == "all":
        if len(words) != 1 or words[0].lower() not in ("granted", "denied"):
            return _ALL_ARGUMENT
    elif name == "ip":
        if not read:
            return "'require ip' requires an argument"
        for word in read:
            message = ip_subnet_error(word)
            if message is not None:
                return message
    elif name == "expr":
        if not words:
            return "Cannot parse expression in require line: syntax error, unexpected $end"
    elif name in ("ssl", "ssl-verify-client"):
        if words:
            return f"'Require {name}' does not take arguments"
    elif name == "method" and methods is not None:
        for word in read:
            if word not in _METHODS and word not in methods:
                return f"Invalid Method '{word}'"
    return None


def authz_section_error(
    directive: Directive,
    providers: set[str] | None,
    methods: Collection[str],
    sections: tuple[str, ...],
    aliases: set[str] | None = None,
) -> str | None:
    """What add_authz_section or authz_require_alias_section says once the
    section's contents are read; an alias is registered in ``providers``
    and ``aliases``."""
    key = directive.key
    if key in AUTHZ_SECTIONS:
        shown = _SHOWN[AUTHZ_SECTIONS[key]]
        if not _holds_authz(directive.children or []):
            return f"{shown} directive contains no authorization directives"
        enclosing = _enclosing(sections)
        if AUTHZ_SECTIONS[key][1] and enclosing[0] == _OR:
            return f"{shown} directive has no effect in {_SHOWN[enclosing]} directive"
    elif key == "authzprovideralias" and len(directive.args) >= 2:
        base, alias = directive.args[0], directive.args[1]
        if providers is not None:
            if base not in providers:
                return f"Unknown Authz provider: {base}"
            # One argument only (httpd warns of the others and drops them),
            # unquoted, which the provider reads as it reads a Require line's
            # rest: ``all`` whole, the others word by word ("10.0.0.1 10.0.0.2").
            given = directive.args[2:3]
            words = list(given) if base == "all" or not given else split_words(given[0])
            message = None if base in (aliases or ()) else _arguments_error(base, words, methods)
            if message is not None:
                return f"Can't parse 'Require {base} {given[0] if given else ''}': {message}"
            providers.add(alias)
        if aliases is not None:
            aliases.add(alias)
    return None


def _holds_authz(children: list[Directive]) -> bool:
    for child in children:
        if child.key == "require" or child.key in AUTHZ_SECTIONS:
            return True
        if child.children and child.key not in _OWN_CONFIG and _holds_authz(child.children):
            return True  # through <Limit> and the like
    return False


@dataclass
class _Node:
    """One entry of an authorization list: a Require line, or a section's list."""

    negate: bool
    directive: Directive
    op: str | None = None  # a section's
    children: list[_Node] | None = None


def only_negative_error(directive: Directive) -> tuple[Directive, str] | None:
    """authz_core_check_section for the configuration ``directive`` (a directory
    section) makes: the section whose list holds only negative directives,
    and httpd's message, or None."""
    nodes = _list_of(directive.children or [], _OR)
    if not nodes:
        return None
    return _check(_OR, nodes, directive, top=True)


def _list_of(children: list[Directive], op: str) -> list[_Node]:
    """The entries a list of combining ``op`` gets from these lines (a section
    that combines the same way and does not negate gives its own, as httpd
    links them in: "be associative")."""
    nodes: list[_Node] = []
    for child in children:
        if child.key == "require":
            negate = bool(child.args) and child.args[0].lower() == "not"
            nodes.append(_Node(negate, child))
        elif child.key in AUTHZ_SECTIONS:
            section_op, negate = AUTHZ_SECTIONS[child.key]
            inner = _list_of(child.children or [], section_op)
            if not inner:
                continue  # refused while reading
            if not negate and section_op == op:
                nodes += inner
            else:
                nodes.append(_Node(negate, child, section_op, inner))
        elif child.children and child.key not in _OWN_CONFIG:
            nodes += _list_of(child.children, op)
    return nodes


def _check(
    op: str, nodes: list[_Node], section: Directive, *, top: bool = False
) -> tuple[Directive, str] | None:
    """Check a list as httpd does, inner sections first; a negating section
    that combines otherwise than this list hands its entries to it, each
    negated (De Morgan), which ``nodes`` then holds."""
    kept: list[_Node] = []
    for node in nodes:
        if node.children is not None and node.op is not None:
            failed = _check(node.op, node.children, node.directive)
            if failed is not None:
                return failed
            if node.negate and node.op != op:
                kept += [
                    _Node(not child.negate, child.directive, child.op, child.children)
                    for child in node.children
                ]
                continue
        kept.append(node)
    nodes[:] = kept
    if any(not node.negate for node in kept):
        return None
    shown = "<Directory>, <Location>, or similar" if top else _SHOWN[AUTHZ_SECTIONS[section.key]]
    return section, f"{shown} directive contains only negative authorization directives"
