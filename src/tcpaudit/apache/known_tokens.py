"""Hide tokens of a known kind (``ghp_...``, ``AKIA...``) in a whole report, fast.

``shell_state.KNOWN_TOKEN`` finds one token where it starts: its first
character comes from a set of fourteen letters (``e``, ``s``, ``n``...) that
a report is made of, so on an 8 MB report the regular expression engine is
entered at 1.4 million places to find none. Here each kind is found from a
character inside its prefix that reports seldom hold (``_``, ``-``, ``.``,
``I``, ``z``, ``K``, ``J``), looking back for the rest of the prefix and the
word boundary before it: about 160,000 entries on the same report, half the
time. ``hide_known_tokens(text)`` replaces what ``KNOWN_TOKEN.sub`` replaces,
and also a token after an escape the writers make of a character that
stood before it in the audited text (``\\x01``, ``\\u200b``, ``\\t``, a
workflow command's ``%2C``: each ends in a letter or a digit, which
KNOWN_TOKEN takes for part of a word):
tests/test_known_tokens.py compares it with the plain spelling of both.
"""

from __future__ import annotations

import re

from .shell_state import REDACTED_VALUE

__all__ = ["hide_known_tokens", "shown_prefix"]

# What may stand before a token: no word character (KNOWN_TOKEN's
# boundary), or the end of an escape of printable(), show_bytes() or a JSON
# encoder, checked once a kind's prefix and body are found.
_WORD_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_ESCAPE_BEFORE = re.compile(
    r"(?:\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[nrtbf])|%[0-9a-fA-F]{2})\Z"
)
_LONGEST_ESCAPE = 10
# (anchor, prefix up to and with the anchor, characters before the anchor,
# body after it): each kind of KNOWN_TOKEN. Every prefix is made of word
# characters, so no token starts inside another's prefix, and a position
# of an anchor belongs to one kind at most.
_KINDS = (
    ("_", r"gh[pousr]_", 3, r"[A-Za-z0-9]{16,}"),
    ("_", r"github_pat_", 10, r"[A-Za-z0-9_]{20,}"),
    ("_", r"[sr]k_", 2, r"(?:live|test)_[A-Za-z0-9]{16,}"),
    ("_", r"shp(?:at|ss|ca|pa)_", 5, r"[A-Fa-f0-9]{32}"),
    ("_", r"hf_", 2, r"[A-Za-z0-9]{20,}"),
    ("_", r"whsec_", 5, r"[A-Za-z0-9+/=]{20,}"),
    ("_", r"dop_v1_", 6, r"[a-f0-9]{64}"),
    ("_", r"npm_", 3, r"[A-Za-z0-9]{36}"),
    ("-", r"gl(?:rt|dt)-", 4, r"[A-Za-z0-9_-]{16,}"),
    ("-", r"gl(?:pat|ptt|oas|cbt|imt)-", 5, r"[A-Za-z0-9_-]{16,}"),
    ("-", r"x(?:ox[abpers]|app)-", 4, r"[A-Za-z0-9-]{10,}"),
    ("-", r"sk-", 2, r"(?:ant-|proj-)?[A-Za-z0-9_-]{20,}"),
    ("-", r"pypi-", 4, r"[A-Za-z0-9_-]{20,}"),
    ("-", r"GOCSPX-", 6, r"[A-Za-z0-9_-]{20,}"),
    (".", r"hv[sb]\.", 3, r"[A-Za-z0-9_-]{20,}"),
    (".", r"SG\.", 2, r"[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"),
    (".", r"ya29\.", 4, r"[A-Za-z0-9_-]{20,}"),
    ("I", r"A[KS]I", 2, r"A[0-9A-Z]{16}"),
    ("z", r"AIz", 2, r"a[0-9A-Za-z_-]{35}"),
    ("K", r"SK", 1, r"[0-9a-fA-F]{32}"),
    ("J", r"eyJ", 2, r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*"),
)
# The characters that may stand just before each common anchor: most
# places of "_", "-" and "." in a report fail this one test.
_BEFORE = {"_": "[acfkmoprstu1]", "-": "[abeikprstX]", ".": "[sbG9]"}


def _anchored() -> tuple[re.Pattern[str], tuple[int, ...]]:
    branches = []
    offsets: list[int] = []  # group n (a kind's body) -> its prefix's characters before the anchor
    for anchor in dict.fromkeys(kind[0] for kind in _KINDS):
        kinds = [kind for kind in _KINDS if kind[0] == anchor]
        offsets += [before for _mark, _prefix, before, _body in kinds]
        bodies = "|".join(f"(?<={prefix})({body})" for _, prefix, _, body in kinds)
        before = _BEFORE.get(anchor)
        check = f"(?<={before}{re.escape(anchor)})" if before else ""
        branches.append(f"{re.escape(anchor)}{check}(?:{bodies})")
    return re.compile("|".join(branches)), tuple(offsets)


_ANCHORED, _BEFORE_ANCHOR = _anchored()


def hide_known_tokens(text: str, replacement: str) -> str:
    """``text`` with each token of a known kind replaced by ``replacement``,
    as ``KNOWN_TOKEN.sub(replacement, text)`` replaces them (leftmost first,
    each as long as its kind allows, none overlapping)."""
    search = _ANCHORED.search
    pieces: list[str] = []
    kept = 0  # the end of the last token replaced
    position = 0
    while (match := search(text, position)) is not None:
        anchor = match.start()
        start = anchor - _BEFORE_ANCHOR[(match.lastindex or 1) - 1]
        if start < kept or not _boundary_before(text, start):
            # Inside the last token (after a '/' of whsec_'s body), or inside
            # a word: no token starts there; tokens after this anchor still may.
            position = anchor + 1
            continue
        pieces += (text[kept:start], replacement)
        kept = position = match.end()
    if not pieces:
        return text
    pieces.append(text[kept:])
    return "".join(pieces)


def shown_prefix(text: str, limit: int) -> str:
    """The first ``limit`` characters of ``text``, tokens of a known kind hidden
    first: a token cut short is no token for the pass over a whole output,
    which would let its first characters through."""
    return hide_known_tokens(text, REDACTED_VALUE)[:limit]


def _boundary_before(text: str, start: int) -> bool:
    """Whether a token may start at ``start``: no word character before it, or
    an escape that stands for a character in the audited text."""
    if start == 0 or text[start - 1] not in _WORD_CHARACTERS:
        return True
    return _ESCAPE_BEFORE.search(text[max(0, start - _LONGEST_ESCAPE) : start]) is not None
