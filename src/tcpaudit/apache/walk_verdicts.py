"""The walk's verdict on each directive name: known, loaded, allowed where it stands.

A configuration repeats a few dozen names; ``Verdicts`` works each out once per
walk (walk.py asks), from the probed tables of directives.py, places.py and
handlers.py.
"""

from __future__ import annotations

from collections.abc import Collection

from .arity import quick_bounds
from .directives import (
    KEPT_READ_TIME_DIRECTIVES,
    READ_TIME_DIRECTIVES,
    WALKED_READ_TIME_DIRECTIVES,
    allowed_here,
    directive_owners,
    known_modules,
    probed_version,
    word_count_kind,
)
from .handlers import HANDLED, words_decide
from .places import has_context_rules

__all__ = [
    "BOM",
    "CONTEXT",
    "HANDLER",
    "INVALID",
    "NOT_ALLOWED",
    "OK",
    "SKIP",
    "UNKNOWN",
    "WORDS",
    "Verdict",
    "Verdicts",
]

BOM = "\ufeff"

# What the walk does with a directive, by name and context (see Verdicts).
OK, UNKNOWN, INVALID, NOT_ALLOWED, SKIP = range(5)
# (verdict outside a directory context, inside one, whether validate sees it,
# (fewest words, most words, word count kind) or None, the handler checks:
# HANDLER | CONTEXT)
Verdict = tuple[int, int, bool, tuple[int, int, str] | None, int]
# WORDS: the handler's answer depends on the words alone (words_decide).
HANDLER, CONTEXT, WORDS = 1, 2, 4


class Verdicts:
    """The walk's verdict on each name, worked out once per name.

    A configuration repeats a few dozen names; the answers (known? loaded?
    allowed in a directory context?) do not change during the walk, since
    every module is loaded by then.
    """

    def __init__(
        self, loaded: set[str], version: tuple[int, ...], validated: Collection[str] | None
    ):
        self.loaded = loaded
        self.version = version
        self.validated = validated
        # Modules loaded whose directives tcpaudit cannot know (third-party,
        # or any module of a 2.2 server: its list is not probed from httpd).
        # (or of an httpd newer than the one the tables were probed on: it may
        # register directives they lack)
        self.unknown_modules = (
            sorted(loaded - known_modules())
            if version >= (2, 4) and version[:3] <= probed_version()
            else None
        )
        # walked key ("<name" for a section) -> Verdict
        self.known: dict[str, Verdict] = {}

    def of(self, key: str) -> Verdict:
        cached = self.known.get(key)
        if cached is None:
            cached = self.known[key] = self._work_out(key)
        return cached

    def _work_out(self, key: str) -> Verdict:
        validated = self.validated is None or key in self.validated
        if key in KEPT_READ_TIME_DIRECTIVES:
            return SKIP, SKIP, False, None, 0
        if key.lstrip("<").startswith(BOM) or "${" in key:
            # No module registers a name that starts with a byte-order mark
            # or holds an undefined ${VAR} (httpd left it as written).
            return INVALID, INVALID, validated, None, 0
        owners = directive_owners(key, self.version)
        if owners is None:
            if self.unknown_modules == []:
                # Every loaded module is one whose directives are all known:
                # none registers this name, and httpd refuses it.
                return INVALID, INVALID, validated, None, 0
            return UNKNOWN, UNKNOWN, validated, None, 0
        if not owners & self.loaded:
            return INVALID, INVALID, validated, None, 0
        modern = self.version >= (2, 4)
        outside = OK if not modern or allowed_here(key, False) else NOT_ALLOWED
        inside = OK if not modern or allowed_here(key, True) else NOT_ALLOWED
        # Word counts are from httpd 2.4's declarations; 2.2 declared some
        # directives differently (KeepAlive took any word), so none are checked there.
        # A directive httpd runs while reading is counted then (evaluator.py);
        # found in the tree (its module was loaded after it), the walk skips it.
        counted = key not in READ_TIME_DIRECTIVES or key in WALKED_READ_TIME_DIRECTIVES
        kind = word_count_kind(key) if modern and counted else None
        # The handlers' own checks are those of httpd 2.4 (probed); none for 2.2.
        handler = (HANDLER | (WORDS if words_decide(key) else 0)) if key in HANDLED else 0
        checks = (handler | (CONTEXT if has_context_rules(key) else 0)) if modern else 0
        if kind is None:
            return outside, inside, validated, None, checks
        fewest, most = quick_bounds(kind)
        return outside, inside, validated, (fewest, most, kind), checks
