"""What the handlers of ErrorLogFormat, Mutex, mod_expires, mod_autoindex,
ProxyPassReverse, AddOutputFilterByType, SSLSessionCache and SSLStaplingCache refuse.

Written from httpd 2.4's server/core.c (``set_errorlog_format`` and
``parse_errorlog_item``; the letters server/log.c registers),
server/util_mutex.c (``ap_set_mutex``, ``ap_parse_mutex``),
modules/metadata/mod_expires.c (``check_code``),
modules/generators/mod_autoindex.c (``add_opts``, ``set_default_order``,
``add_icon``), modules/proxy/mod_proxy.c (``add_pass_reverse``),
modules/filters/mod_filter.c (``filter_bytype``'s count) and
modules/ssl/ssl_engine_config.c (``ssl_cmd_SSLSessionCache``,
``ssl_cmd_SSLStaplingCache``) with the socache providers' ``create``
(mod_socache_shmcb.c, mod_socache_memcache.c, mod_socache_redis.c), and held to the
real apache2 by tests/apache/test_module_arguments.py.

Mutex types are those the loaded modules register in their pre_config
hooks (``ap_mutex_register`` in each module's source). Not judged
(accepted): whether a Mutex's directory exists (it is made on the host by
the service's start-up, Debian's apache2ctl for one), the mutex types when
a module tcpaudit does not know is loaded, and a shmcb cache path relative
to a ServerRoot holding ``(``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from .apr_paths import merged_path, names_directory
from .lexer import split_words
from .log_formats import past_tag_argument
from .output_filters import output_filter_error
from .tree import Directive
from .values import ascii_lower, c_long, parse_atoi

if TYPE_CHECKING:
    from .walk_state import WalkState

__all__ = [
    "MODULE_HANDLERS",
    "WORDS_ONLY",
    "add_icon_error",
    "error_log_format_error",
    "expires_error",
    "index_options_error",
    "index_order_error",
    "mutex_error",
    "mutex_types",
    "socache_providers",
    "ssl_session_cache_error",
    "ssl_stapling_cache_error",
]

# server/log.c's ap_register_errorlog_handler calls: one letter each.
_ERROR_LOG_LETTERS = frozenset("aAeEFiklLmnPtTvV")
_TRACE8 = 15
_LEADING_LONG = re.compile(r"[ \t\n\v\f\r]*([+-]?)([0-9]*)")
# ap_parse_mutex's mechanisms on Linux (APR has fcntl, flock, both semaphores, pthread).
_MUTEX_MECHANISMS = frozenset(
    {"none", "no", "default", "yes", "fcntl", "file", "flock", "posixsem", "sem", "sysvsem",
     "pthread"}
)  # fmt: skip
_MUTEX_LIST = (
    "(Mutex mechanisms are: 'none', 'default', 'flock:/path/to/file', 'fcntl:/path/to/file', "
    "'file:/path/to/file', 'pthread', 'sysvsem', 'posixsem', 'sem')"
)
# The socache providers each module registers (ap_register_provider).
_SOCACHE_PROVIDERS = {
    "socache_shmcb_module": ("default", "shmcb"),
    "socache_dbm_module": ("dbm",),
    "socache_memcache_module": ("memcache",),
    "socache_redis_module": ("redis",),
    "socache_dc_module": ("dc",),
}
# The mutex types each module registers in its pre_config hook (ap_mutex_register,
# none with AP_MUTEX_ALLOW_NONE); core's "default" is always there. The event
# MPM registers no "mpm-accept". mod_auth_digest's "authdigest-opaque" is in
# its 2.4 source though Debian's 2.4.71 module does not have it: accepted.
_MUTEX_TYPES = {
    "mpm_prefork_module": ("mpm-accept",),
    "mpm_worker_module": ("mpm-accept",),
    "proxy_module": ("proxy",),
    "proxy_balancer_module": ("proxy-balancer-shm",),
    "rewrite_module": ("rewrite-map",),
    "ssl_module": ("ssl-cache", "ssl-stapling", "ssl-stapling-refresh"),
    "auth_digest_module": ("authdigest-client", "authdigest-opaque"),
    "authn_socache_module": ("authn-socache",),
    "cache_socache_module": ("cache-socache",),
    "watchdog_module": ("watchdog-callback",),
    "ldap_module": ("ldap-cache",),
    "lua_module": ("lua-ivm-shm",),
}
_SHMCB_MAX = 2**32 - 1  # SHMCB_MAX_SIZE on a 64-bit build: UINT_MAX


def error_log_format_error(words: tuple[str, ...]) -> str | None:
    """``ErrorLogFormat [connection|request] format``."""
    if not words:
        return None
    if len(words) == 1:
        return _error_log_string_error(words[0], main=True)
    kind = ascii_lower(words[0])
    if kind not in ("connection", "request"):
        return "ErrorLogFormat type must be one of request, connection"
    return _error_log_string_error(words[1], main=False) if words[1] else None


def _error_log_string_error(text: str, *, main: bool) -> str | None:
    """parse_errorlog_string: each item in turn, then the main format's %M."""
    index, length, seen_message = 0, len(text), False
    while index < length:
        index, error, message, required, level = _error_log_item(text, index)
        if error is not None:
            return error
        if message:
            if not main:
                return "%M cannot be used in once-per-request or once-per-connection formats"
            seen_message = True
        if main and required:
            return "The '+' flag cannot be used in the main error log format"
        if not main and level:
            return (
                "The loglevel cannot be used as a condition in once-per-request or "
                "once-per-connection formats"
            )
        if level > _TRACE8:
            return "The specified loglevel modifier is out of range"
    if main and not seen_message:
        return "main ErrorLogFormat must contain message format string '%M'"
    return None


def _error_log_item(text: str, index: int) -> tuple[int, str | None, bool, bool, int]:
    """parse_errorlog_item from ``index``: (next index, error, %M, '+', loglevel)."""
    length = len(text)
    while index < length and text[index] == "%" and text[index + 1 : index + 2] == " ":
        index += 2  # "% " is a field separator: the item goes on after it
    if index >= length or text[index] != "%":
        return _misc_string_end(text, index), None, False, False, 0
    index += 1
    if index < length and text[index] == "%":
        return index + 1, None, False, False, 0
    required, level = False, 0
    while index < length:
        character = text[index]
        if character == "{":
            index = past_tag_argument(text, index)
        elif character == "+":
            required, index = True, index + 1
        elif character == "-":
            index += 1
        elif "0" <= character <= "9":
            start = index
            while index < length and "0" <= text[index] <= "9":
                index += 1
            # min_loglevel is an unsigned int and the arithmetic wraps: 10**32
            # is a multiple of 2**32, so the last 32 digits decide (and int()
            # never sees thousands of them). 2147483648 is out of range.
            level = int(text[max(start, index - 32) : index]) % 2**32
        elif character == "M":
            return index + 1, None, True, required, level
        elif character in _ERROR_LOG_LETTERS:
            return index + 1, None, False, required, level
        else:
            return index, f"Unrecognized error log format directive %{character}", False, False, 0
    return index, "Ran off end of error log format parsing args to some directive", False, False, 0


def _misc_string_end(text: str, index: int) -> int:
    """Where parse_errorlog_misc_string stops: at ``%``, or at a blank past the
    first non-blank (a backslash takes the next character with it)."""
    at_start, length = True, len(text)
    while index < length and text[index] != "%" and (text[index] != " " or at_start):
        if text[index] == "\\":
            index += 2  # the escaped character is copied; at_start is left as it was
            continue
        at_start = at_start and text[index] == " "
        index += 1
    return min(index, length)


def mutex_types(loaded: Collection[str]) -> frozenset[str]:
    """The mutex types the loaded modules register, core's ``default`` included."""
    return frozenset(
        ["default", *(name for module, names in _MUTEX_TYPES.items() if module in loaded
                      for name in names)]
    )  # fmt: skip


def mutex_error(words: tuple[str, ...], types: frozenset[str] | None = None) -> str | None:
    """``Mutex mechanism[:dir] [types...]``: the mechanism (ap_parse_mutex), then
    each type from the last (ap_set_mutex pops them): registered (by name,
    case-sensitive), and taking ``none`` (no module's does). ``types``: those
    registered, None when a module tcpaudit does not know may register more
    (a type other than ``default`` is then not judged, nor those before it)."""
    mechanism = words[0] if words else ""
    if mechanism == "":
        return f"Mutex requires at least a mechanism argument {_MUTEX_LIST}"
    method = ascii_lower(mechanism.partition(":")[0])
    if method not in _MUTEX_MECHANISMS:
        return f"Invalid Mutex argument {mechanism} {_MUTEX_LIST}"
    listed = [word for word in words[1:] if ascii_lower(word) != "omitpid"] or ["default"]
    known = types if types is not None else frozenset(["default"])
    for name in reversed(listed):
        if name not in known:
            return f"Mutex type {name} is not valid" if types is not None else None
        if method in ("none", "no"):
            return f"None is not allowed for mutex type {name}"
    return None


def expires_error(key: str, words: tuple[str, ...]) -> str | None:
    """``ExpiresByType mime code`` / ``ExpiresDefault code``: check_code."""
    if key == "expiresbytype":
        if len(words) != 2:
            return None
        mime, code = words
        if "/" not in mime:
            return "Invalid mimetype: should contain a slash"
        shown = f"'ExpiresByType {mime} {code}': "
    else:
        if len(words) != 1:
            return None
        code = words[0]
        shown = f"'ExpiresDefault {code}': "
    reason = _expires_code_error(code)
    return None if reason is None else shown + reason


# check_code's units: strncasecmp against the name for 1 or 2 characters.
_EXPIRES_UNITS = (("years", 1), ("months", 2), ("weeks", 1), ("days", 1), ("hours", 1),
                  ("minutes", 2), ("seconds", 1))  # fmt: skip


def _prefix_of(word: str, name: str, count: int) -> bool:
    """strncasecmp(word, name, count) == 0."""
    return ascii_lower(word[:count]) == name[:count]


def _expires_code_error(code: str) -> str | None:
    if code[:1] in ("A", "M"):
        return None  # the 0.0.4 form (A3600), taken as written
    # ap_getword_conf gives an empty word at the end, and stops nothing before it.
    words = iter([*split_words(code), ""])
    base = next(words)
    if not (_prefix_of(base, "now", 1) or _prefix_of(base, "access", 1)
            or _prefix_of(base, "modification", 1)):  # fmt: skip
        return f"bad expires code, unrecognised <base> '{base}'"
    word = next(words, "")
    if _prefix_of(word, "plus", 1):
        word = next(words, "")
    while word:
        if not "0" <= word[0] <= "9":
            return f"bad expires code, numeric value expected <num> '{word}'"
        unit = next(words, "")
        if unit == "":
            return "bad expires code, missing <type>"
        if not any(_prefix_of(unit, name, count) for name, count in _EXPIRES_UNITS):
            return f"bad expires code, unrecognised <type>'{unit}'"
        word = next(words, "")
    return None


def socache_providers(loaded: Collection[str]) -> tuple[str, ...]:
    """The socache provider names the loaded modules register."""
    return tuple(name for module, names in _SOCACHE_PROVIDERS.items() if module in loaded
                 for name in names)  # fmt: skip


def ssl_session_cache_error(words: tuple[str, ...], providers: tuple[str, ...]) -> str | None:
    """``SSLSessionCache none|nonenotnull|name[:args]``."""
    if len(words) != 1 or ascii_lower(words[0]) in ("none", "nonenotnull"):
        return None
    return _socache_error("SSLSessionCache", "session", words[0], providers)


def ssl_stapling_cache_error(words: tuple[str, ...], providers: tuple[str, ...]) -> str | None:
    """``SSLStaplingCache name[:args]`` (no ``none``)."""
    if len(words) != 1:
        return None
    return _socache_error("SSLStaplingCache", "stapling", words[0], providers)


def _socache_error(directive: str, kind: str, word: str, providers: tuple[str, ...]) -> str | None:
    """A socache provider by name (case-sensitive), then what its create() refuses."""
    name, _, argument = word.partition(":")
    if name not in providers:
        known = ",".join(sorted(providers))
        # The two handlers word it apart: a full stop, or none.
        stop = "." if kind == "session" else ""
        return (
            f"{directive}: '{name}' {kind} cache not supported (known names: {known}){stop} "
            f"Maybe you need to load the appropriate socache module (mod_socache_{name}?){stop}"
        )
    reason: str | None = None
    if name in ("shmcb", "default") and argument:
        reason = _shmcb_error(argument)
    elif name in ("memcache", "redis") and not argument:
        reason = f"List of server names required to create {name} socache."
    return None if reason is None else f"{directive}: {reason}"


def _shmcb_error(argument: str) -> str | None:
    """socache_shmcb_create: an optional ``(size)`` at the end of the path, which
    ap_server_root_relative has merged (``/x(512000)/..`` is ``/``; the
    ServerRoot of a relative path is taken to hold no parenthesis)."""
    path = str(merged_path("/", argument))
    if path != "/" and names_directory(argument):
        path += "/"  # apr_filepath_merge keeps one trailing '/' there
    opening = path.rfind("(")
    if opening < 0:
        return "Invalid argument: no opening parenthesis" if path.endswith(")") else None
    if not path.endswith(")"):
        return (
            "Invalid argument: no closing parenthesis or cache size missing after pathname "
            "with parenthesis"
        )
    inside = path[opening + 1 : -1]
    # strtol: blanks, a sign, digits; without a digit it reads nothing.
    match = _LEADING_LONG.match(inside)
    sign, digits = (match.group(1), match.group(2)) if match is not None else ("", "")
    read = match.end() if match is not None and digits else 0
    if read != len(inside):
        return "Invalid argument: cache size not numerical"
    size = c_long(sign + digits) % 2**64 if digits else 0  # apr_size_t: a negative long is huge
    if size < 8192:
        return "Invalid argument: size has to be >= 8192 bytes"
    if size >= _SHMCB_MAX:
        return f"Invalid argument: size has to be < {_SHMCB_MAX} bytes on this platform"
    return None


# add_opts' keywords (strcasecmp) that set an option bit; the others set a
# value (IconWidth, Type=...) and leave the bits as they were.
_INDEX_OPTIONS = frozenset(
    {"fancyindexing", "foldersfirst", "htmltable", "iconsarelinks", "ignorecase", "ignoreclient",
     "scanhtmltitles", "suppresscolumnsorting", "suppressdescription", "suppresshtmlpreamble",
     "suppressicon", "suppresslastmodified", "suppresssize", "suppressrules", "trackmodified",
     "versionsort", "xhtml", "showforbidden", "addaltclass"}
)  # fmt: skip
_INDEX_WIDTHS = {"namewidth=": ("NameWidth", 5), "descriptionwidth=": ("DescriptionWidth", 12)}


def index_options_error(words: tuple[str, ...], none_before: bool) -> tuple[str | None, bool]:
    """``IndexOptions``: (httpd's message or None, whether the section's options
    are ``None`` after the line). ``none_before`` says so after the section's
    earlier lines: a bare option after ``None`` is refused, even a line later."""
    none, other = none_before, False
    for word in words:
        action, name = (word[0], word[1:]) if word[:1] in ("+", "-") else ("", word)
        lowered = ascii_lower(name)
        width = next((key for key in _INDEX_WIDTHS if lowered.startswith(key)), None)
        if lowered == "none":
            if action:
                return "Cannot combine '+' or '-' with 'None' keyword", none
            none, other = True, False
        elif lowered in _INDEX_OPTIONS:
            other = other or not action
        elif lowered in ("iconwidth", "iconheight", "useolddateformat"):
            continue
        elif lowered.startswith(("iconwidth=", "iconheight=")):
            if action == "-":
                which = "IconWidth" if lowered.startswith("iconwidth=") else "IconHeight"
                return f"Cannot combine '-' with {which}=n", none
        elif lowered in ("namewidth", "descriptionwidth"):
            if action != "-":
                which = "NameWidth" if lowered == "namewidth" else "DescriptionWidth"
                return f"{which} with no value may only appear as '-{which}'", none
        elif width is not None:
            which, least = _INDEX_WIDTHS[width]
            if action == "-":
                return f"Cannot combine '-' with {which}=n", none
            value = name[len(width) :]
            if value[:1] != "*":
                number = parse_atoi(value)
                if number and number < least:
                    return f"{which} value must be greater than {least}", none
        elif not lowered.startswith(("type=", "charset=")):
            return "Invalid directory indexing option", none
    if none and other:
        return "Cannot combine other IndexOptions keywords with 'None'", none
    return None, none


def index_order_error(words: tuple[str, ...]) -> str | None:
    """``IndexOrderDefault Ascending|Descending Name|Date|Size|Description``."""
    if len(words) != 2:
        return None
    if ascii_lower(words[0]) not in ("ascending", "descending"):
        return "First keyword must be 'Ascending' or 'Descending'"
    if ascii_lower(words[1]) not in ("name", "date", "size", "description"):
        return "Second keyword must be 'Name', 'Date', 'Size', or 'Description'"
    return None


def add_icon_error(words: tuple[str, ...]) -> str | None:
    """``AddIcon``/``AddIconByType``/``AddIconByEncoding``: an ``(ALT,icon)`` closed."""
    if len(words) >= 2 and words[0][:1] == "(" and ")" not in words[0]:
        return "missing closing paren"
    return None


def _error_log_format(
    directive: Directive, state: WalkState, _sections: tuple[str, ...]
) -> str | None:
    if not state.judging(sum(map(len, directive.args)), directive):
        return None
    return error_log_format_error(directive.args)


def _mutex(directive: Directive, state: WalkState, _sections: tuple[str, ...]) -> str | None:
    return mutex_error(directive.args, state.mutex_types)


def _expires(directive: Directive, _state: WalkState, _sections: tuple[str, ...]) -> str | None:
    return expires_error(directive.key, directive.args)


def _index_options(
    directive: Directive, state: WalkState, _sections: tuple[str, ...]
) -> str | None:
    # Each section has its own options, which the lines of IndexOptions in it build up.
    before = state.index_options_none.get(state.config_section, False)
    message, after = index_options_error(directive.args, before)
    state.index_options_none[state.config_section] = after
    return message


def _proxy_pass_reverse(
    directive: Directive, state: WalkState, _sections: tuple[str, ...]
) -> str | None:
    """add_pass_reverse: a path before the URL outside a section giving one
    (cmd->path), none inside; TAKE123 keeps an empty second word."""
    second = directive.args[1] if len(directive.args) > 1 else None
    interpolate = second is not None and ascii_lower(second) == "interpolate"
    if state.section_path is None:
        if second is None or interpolate:
            return "ProxyPassReverse needs a path when not defined in a location"
    elif second is not None and not interpolate:
        return "ProxyPassReverse can not have a path when defined in a location"
    return None


def _output_filter_by_type(
    directive: Directive, state: WalkState, _sections: tuple[str, ...]
) -> str | None:
    # filter_bytype (mod_filter.c, TAKE_ARGV): an empty first word counts, an
    # empty last one is not passed; then each filter name (output_filters.py).
    if len(directive.args) < 2:
        return "AddOutputFilterByType requires at least two arguments"
    if state.output_filters is None:
        return None
    return output_filter_error(directive.args, state.output_filters)


def _index_order(directive: Directive, _state: WalkState, _sections: tuple[str, ...]) -> str | None:
    return index_order_error(directive.args)


def _add_icon(directive: Directive, _state: WalkState, _sections: tuple[str, ...]) -> str | None:
    return add_icon_error(directive.args)


def _ssl_session_cache(
    directive: Directive, state: WalkState, _sections: tuple[str, ...]
) -> str | None:
    # Not judged with a module tcpaudit does not know loaded: it may register a cache.
    if state.socache_providers is None:
        return None
    if directive.key == "sslstaplingcache":
        return ssl_stapling_cache_error(directive.args, state.socache_providers)
    return ssl_session_cache_error(directive.args, state.socache_providers)


MODULE_HANDLERS: dict[str, Callable[[Directive, WalkState, tuple[str, ...]], str | None]] = {
    "errorlogformat": _error_log_format,
    "mutex": _mutex,
    "expiresbytype": _expires,
    "expiresdefault": _expires,
    "sslsessioncache": _ssl_session_cache,
    "sslstaplingcache": _ssl_session_cache,
    "indexoptions": _index_options,
    "addoutputfilterbytype": _output_filter_by_type,
    "proxypassreverse": _proxy_pass_reverse,
    "indexorderdefault": _index_order,
    "addicon": _add_icon,
    "addiconbytype": _add_icon,
    "addiconbyencoding": _add_icon,
}
# The handlers whose answer depends on the words alone (and the modules, fixed for a walk).
WORDS_ONLY = frozenset(MODULE_HANDLERS) - {"indexoptions", "proxypassreverse"}
