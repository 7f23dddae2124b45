"""How many words a directive takes: httpd's check before it calls the handler.

httpd 2.4 declares each directive with a kind (``AP_INIT_TAKE1``,
``AP_INIT_FLAG``...) and ``invoke_cmd`` (server/config.c) refuses a wrong
count before the directive's own handler runs, with a message naming the
kind. The kinds come from ``directives-2.4.tsv`` (probed from the real
apache2, see tests/apache/apache_directive_table.py); directives that count
their own words (RAW_ARGS, TAKE_ARGV) have none. The probed apache2 refuses
an ITERATE directive without words ("requires at least one argument"); older
releases, 2.2 among them, let it pass, and tcpaudit checks no counts for 2.2.

An empty quoted word (``""``) counts as missing where httpd tests ``*w ==
'\\0'``: ``ServerName ""`` takes one argument too few.
"""

from __future__ import annotations

__all__ = ["ARITY_BOUNDS", "arity_error", "quick_bounds"]

# kind -> (fewest words, most words) that may pass; beyond them httpd refuses.
# The bounds are a quick first test: arity_error has the last word.
ARITY_BOUNDS: dict[str, tuple[int, int]] = {
    "NO_ARGS": (0, 0),
    "TAKE1": (1, 1),
    "TAKE2": (2, 2),
    "TAKE3": (3, 3),
    "TAKE12": (1, 2),
    "TAKE23": (2, 3),
    "TAKE123": (1, 3),
    "TAKE13": (1, 3),
    "ITERATE": (1, 1 << 30),
    "ITERATE2": (2, 1 << 30),
    "FLAG": (1, 1 << 30),
}

_MESSAGES = {
    "NO_ARGS": "takes no arguments",
    "TAKE1": "takes one argument",
    "TAKE2": "takes two arguments",
    "TAKE3": "takes three arguments",
    "TAKE12": "takes 1-2 arguments",
    "TAKE23": "takes two or three arguments",
    "TAKE123": "takes one, two or three arguments",
    "TAKE13": "takes one or three arguments",
    "ITERATE": "requires at least one argument",
    "ITERATE2": "requires at least two arguments",
    "FLAG": "must be On or Off",
}


def quick_bounds(kind: str) -> tuple[int, int]:
    """Word counts that need no closer look (no empty word among them) for ``kind``.

    A FLAG's word must be read, and TAKE13 refuses two words in the middle of
    its range: both always take the close look (bounds no count meets).
    """
    if kind in ("FLAG", "TAKE13"):
        return 1, 0
    return ARITY_BOUNDS[kind]


def _refused(kind: str, words: tuple[str, ...]) -> bool:
    count = len(words)
    first_missing = count == 0 or words[0] == ""
    if kind == "NO_ARGS":
        return count != 0
    if kind == "FLAG":
        # Only the first word is read; what follows is ignored.
        return first_missing or words[0].lower() not in ("on", "off")
    if kind == "ITERATE":
        return first_missing
    if kind == "ITERATE2":
        return first_missing or count < 2
    if kind == "TAKE1":
        return first_missing or count != 1
    if kind == "TAKE2":
        return count != 2 or "" in words
    if kind == "TAKE3":
        return count != 3 or "" in words
    if kind == "TAKE12":
        return first_missing or count > 2
    if kind == "TAKE23":
        return count not in (2, 3) or "" in words[:2]
    if kind == "TAKE123":
        return first_missing or count > 3
    if kind == "TAKE13":
        # The second word without a third is refused, unless it is empty.
        return first_missing or count > 3 or (count == 2 and words[1] != "")
    raise ValueError(f"unknown directive kind {kind!r}")


def arity_error(kind: str, name: str, words: tuple[str, ...]) -> str | None:
    """httpd's message when ``name`` (as spelled) is given the wrong ``words``, else None."""
    if not _refused(kind, words):
        return None
    return f"{name} {_MESSAGES[kind]}"
