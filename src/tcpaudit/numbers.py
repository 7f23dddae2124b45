"""Whole numbers read from captured or audited text, bounded.

``int()`` accepts Unicode digits that ``str.isdigit()`` does not promise
it can convert (``"²".isdigit()`` is true, ``int("²")`` fails), and
refuses more than 4,300 digits with a ValueError: a hostile capture or
/proc tree would end in a traceback. Ports, pids, inodes, uids and
counters fit in 20 digits; anything longer is not such a number.
"""

from __future__ import annotations

__all__ = ["MAX_DIGITS", "ascii_hex", "ascii_int"]

# 2**64 - 1 has 20 digits.
MAX_DIGITS = 20


def ascii_int(text: str, max_digits: int = MAX_DIGITS) -> int | None:
    """``text`` as a non-negative integer when it is 1 to ``max_digits`` ASCII digits, else None."""
    if 0 < len(text) <= max_digits and text.isascii() and text.isdigit():
        return int(text)
    return None


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def ascii_hex(text: str, max_digits: int) -> int | None:
    """``text`` as a non-negative integer when it is 1 to ``max_digits`` ASCII
    hexadecimal digits (no ``0x``, sign or ``_``), else None: ``int(text, 16)``
    has no digit limit, and a number of thousands of digits fails only when
    it is shown."""
    if 0 < len(text) <= max_digits and _HEX_DIGITS.issuperset(text):
        return int(text, 16)
    return None
