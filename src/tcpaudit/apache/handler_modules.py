"""What the handlers of mod_headers, mod_setenvif, mod_alias and mod_log_config refuse in their arguments.

Written from httpd 2.4's modules/metadata/mod_headers.c (``header_cmd``,
``header_inout_cmd``), mod_setenvif.c (``add_setenvif_core``),
modules/mappers/mod_alias.c (``add_redirect_internal``),
modules/loggers/mod_log_config.c (``add_custom_log``'s condition), and held
to the real apache2 by tests/apache/test_apache_handlers.py. What needs a
regular expression, an ap_expr or a format string compiled the way httpd
compiles them is not judged here (accepted).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from .directives import canonical_name
from .log_formats import log_format_error, past_tag_argument
from .pcre_refusals import pcre_refuses
from .regex_arguments import header_regex_error, setenvif_regex_error
from .rewrite_args import (
    rewrite_base_error,
    rewrite_cond_error,
    rewrite_options_error,
    rewrite_rule_error,
)
from .shell_state import REDACTED_VALUE
from .tree import Directive
from .values import ascii_lower, parse_atoi

if TYPE_CHECKING:
    from .walk_state import WalkState

__all__ = [
    "custom_log_error",
    "custom_log_handler",
    "header_error",
    "log_format_handler",
    "redirect_error",
    "redirect_handler",
    "rewrite_base_handler",
    "rewrite_cond_handler",
    "rewrite_options_handler",
    "rewrite_rule_handler",
    "setenvif_error",
    "status_codes",
    "unless_hidden",
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
    header = words[1] if len(words) > 1 else ""
    if action in ("edit", "edit*"):
        if replacement is None:
            return "Header edit requires a match and a substitution"
        message = header_regex_error(action, header, value)
        if message is not None:
            return message
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
        if action == "echo":
            message = header_regex_error(action, header, None)
            if message is not None:
                return message
    elif value is None:
        return "Header requires three arguments"
    message = _clause_error(clause)
    if message is not None or action in ("unset", "echo"):
        return message
    # parse_format_string: the value (an edit's replacement) and its %-tags.
    return header_format_error(replacement if action in ("edit", "edit*") else value)


# mod_headers' format tags (register_format_tag_handler), case-sensitive.
_HEADER_TAGS = frozenset("Dtesli" + "b")


def header_format_error(text: str | None) -> str | None:
    """mod_headers' parse_format_tag over ``text``: ``%%`` and a final ``%``
    stand for themselves; any other ``%`` is a tag, after an optional
    ``{argument}`` (read up to its ``}``s); an ``expr=`` value is an ap_expr."""
    if text is None or text.startswith("expr="):
        return None
    position = text.find("%")
    while position >= 0:
        position += 1
        if position >= len(text) or text[position] == "%":
            position = text.find("%", position + 1)
            continue
        if text[position] == "{":
            position = past_tag_argument(text, position)
        tag = text[position : position + 1]
        if tag not in _HEADER_TAGS:
            return f"Unrecognized header format %{tag}"
        position = text.find("%", position + 1)
    return None


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
    if directive.key == "setenvifexpr":
        return None  # an ap_expr: not judged
    return setenvif_regex_error(name, words[0], words[1])


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
    lowered = ascii_lower(first)
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


@cache
def status_codes() -> frozenset[int]:
    """The status codes httpd has a status line for (values-2.4.tsv, probed)."""
    text = resources.files(__package__).joinpath("values-2.4.tsv").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("#ErrorDocument codes\t"):
            return frozenset(int(code) for code in line.split("\t")[1].split(","))
    return frozenset()


# -- handlers of the walk (WalkState) -------------------------------------------------


def raw_text(directive: Directive, state: WalkState) -> str | None:
    """The text after a RAW_ARGS directive's name as httpd hands it to the
    handler: kept by the reader where the words may not show it, else the
    words themselves (a plain line); None when neither can say (a word ending
    in a backslash was cut at a blank the handler's own reading keeps)."""
    raw = state.raw_texts.get(id(directive))
    if raw is not None:
        return raw
    text = " ".join(directive.args)
    if "\\" in text and any(word.endswith("\\") for word in directive.args[:-1]):
        return None
    return text


def rewrite_rule_handler(
    directive: Directive, state: WalkState, _sections: tuple[str, ...]
) -> str | None:
    text = raw_text(directive, state)
    if text is None or _hidden(directive, text) or not state.judging(len(text), directive):
        return None
    return rewrite_rule_error(text, status_codes())


def rewrite_cond_handler(
    directive: Directive, state: WalkState, _sections: tuple[str, ...]
) -> str | None:
    text = raw_text(directive, state)
    if text is None or _hidden(directive, text) or not state.judging(len(text), directive):
        return None
    return rewrite_cond_error(text)


def _hidden(directive: Directive, text: str) -> bool:
    """Whether the reader hid a secret in the line's words: its raw text (kept
    for a quoted line) then holds the secret itself, which a message quoting
    a flag would show, and a plain line's placeholder may have taken a
    pattern's ')' with it. Such a line is not judged."""
    return REDACTED_VALUE in text or REDACTED_VALUE in " ".join(directive.args)


def unless_hidden(
    handler: Callable[[Directive, WalkState, tuple[str, ...]], str | None],
) -> Callable[[Directive, WalkState, tuple[str, ...]], str | None]:
    """``handler``, not asked about words a secret was hidden in as they were
    read (the placeholder stands for what may have been a pattern, a URL or a
    clause, and may have taken more with it)."""

    def checked(directive: Directive, state: WalkState, sections: tuple[str, ...]) -> str | None:
        if REDACTED_VALUE in " ".join(directive.args):
            return None
        return handler(directive, state, sections)

    return checked


def redirect_handler(
    directive: Directive, state: WalkState, _sections: tuple[str, ...]
) -> str | None:
    return redirect_error(directive.key, directive.args, state.section_path)


def log_format_handler(
    directive: Directive, state: WalkState, _sections: tuple[str, ...]
) -> str | None:
    if state.log_letters is None or not directive.args:
        return None
    if not state.judging(len(directive.args[0]), directive):
        return None
    return log_format_error(directive.args[0], state.log_letters)


def custom_log_handler(
    directive: Directive, state: WalkState, sections: tuple[str, ...]
) -> str | None:
    # add_custom_log: the condition, then the format (a nickname parses as text).
    message = custom_log_error(directive, state, sections)
    if message is not None or state.log_letters is None or len(directive.args) < 2:
        return message
    if not state.judging(len(directive.args[1]), directive):
        return None
    return log_format_error(directive.args[1], state.log_letters)


def rewrite_options_handler(
    directive: Directive, _state: WalkState, _sections: tuple[str, ...]
) -> str | None:
    return rewrite_options_error(directive.args)


def rewrite_base_handler(
    directive: Directive, state: WalkState, _sections: tuple[str, ...]
) -> str | None:
    # cmd_rewritebase tests cmd->path: set by any section giving a path.
    return rewrite_base_error(directive.args, state.section_path)


# mod_rewrite's own internal maps (rewritemap_register in its pre_config);
# names compare exactly.
_INTERNAL_MAPS = frozenset({"tolower", "toupper", "escape", "unescape"})


def rewrite_map_handler(
    directive: Directive, state: WalkState, _sections: tuple[str, ...]
) -> str | None:
    """cmd_rewritemap's refusals that need no host file: an internal map no
    module registers, a dbd map without mod_dbd, a dbm map naming no file.
    (Whether a map's file exists on the host is not judged.)"""
    if len(directive.args) < 2:
        return None
    source = directive.args[1]
    kind = source[:4].lower()
    if kind == "int:":
        # A module tcpaudit does not know may register more (ap_register_rewrite_mapfunc):
        # log_letters is None exactly when one is loaded.
        if state.log_letters is None or source[4:] in _INTERNAL_MAPS:
            return None
        return f"RewriteMap: internal map not found:{source[4:]}"
    if kind == "dbd:" or source[:8].lower() == "fastdbd:":
        if "dbd_module" in state.modules:
            return None
        return "RewriteMap types dbd and fastdbd require mod_dbd!"
    if source[:3].lower() == "dbm":
        marker = source[3:4]
        if marker == ":":
            return None
        if marker != "=" or ":" not in source[4:]:
            return f"RewriteMap: bad map:{source}"
        # apr_dbm_get_usednames_ex: a type APR-util has a driver for, in any
        # case. Which of db, gdbm, ndbm and lmdb the host's build has is not
        # judged; another name (or none) is no type in any build.
        kind = source[4 : source.index(":", 4)]
        if ascii_lower(kind) in _DBM_TYPES:
            return None
        return f"RewriteMap: dbm type {kind} is invalid"
    return None


_DBM_TYPES = frozenset({"default", "sdbm", "db", "gdbm", "ndbm", "lmdb"})
