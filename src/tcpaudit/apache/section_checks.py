"""What a section's own handler refuses in its arguments (core.c's dirsection,
urlsection, filesection, ifsection; mod_authz_core's sections; vhost.c's addresses).

Held to the real apache2 by tests/apache/test_apache_handlers.py.
"""

from __future__ import annotations

from .directives import canonical_name
from .tree import Directive
from .vhost_addresses import address_error

__all__ = ["empty_section_error", "section_error"]

# Sections whose handler reads one path (two with "~" first) and refuses more.
_ONE_PATH = frozenset({"directory", "location", "files"})
_ONE_PATTERN = frozenset({"directorymatch", "locationmatch", "filesmatch"})


def section_error(directive: Directive) -> str | None:
    """What a section's own handler says of its arguments once its contents are walked."""
    key = directive.key
    words = directive.args
    if len(words) > 1 and (key in _ONE_PATH or key in _ONE_PATTERN):
        # dirsection takes a '~' before <DirectoryMatch>'s pattern too;
        # urlsection and filesection do not for their Match forms.
        tilde = key in _ONE_PATH or key == "directorymatch"
        expected = 2 if tilde and words[0] == "~" else 1
        if len(words) > expected:
            shown = canonical_name("<" + key) or "<" + directive.name
            return f"Multiple {shown}> arguments not (yet) supported."
    if key in ("if", "elseif") and len(words) > 1:
        # ifsection says so once the contents are read.
        shown = canonical_name("<" + key) or "<" + directive.name
        return f"Multiple {shown}> arguments not supported."
    return None


def empty_section_error(directive: Directive) -> str | None:
    """A section httpd's handler refuses before it walks the contents."""
    key = directive.key
    if key == "virtualhost":
        return address_error(directive.args)
    if not directive.args:
        if key in _ONE_PATH or key in _ONE_PATTERN or key in _NEED_ARGUMENTS:
            shown = canonical_name("<" + key) or "<" + directive.name
            return f"{shown}> directive requires additional arguments"
    elif key == "else":
        return "<Else> does not take an argument"
    elif key in _PROVIDER_ALIASES and len(directive.args) < 2:
        shown = canonical_name("<" + key) or "<" + directive.name
        return f"{shown}> directive requires additional arguments"
    elif key == "limit" and "TRACE" in directive.args:  # method names: case-sensitive
        return "TRACE cannot be controlled by <Limit>, see TraceEnable"
    elif key in _AUTHZ_SECTIONS:
        # add_authz_section (mod_authz_core) takes no argument at all.
        shown = canonical_name("<" + key) or "<" + directive.name
        return f"{shown}> directive doesn't take additional arguments"
    return None


_AUTHZ_SECTIONS = frozenset({"requireall", "requireany", "requirenone"})
_PROVIDER_ALIASES = frozenset({"authnprovideralias", "authzprovideralias"})
# Sections whose handler refuses an opener with no argument at all.
_NEED_ARGUMENTS = frozenset({"limit", "limitexcept", "if", "elseif", *_PROVIDER_ALIASES})
