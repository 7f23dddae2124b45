"""Key spelling and value parsing shared by every sysctl source."""

from __future__ import annotations

from .model import SysctlValue

__all__ = ["SECRET_KEYS", "normalise_key", "parse_value"]

# Keys whose values are secrets; never read, kept or printed, even from text
# inputs that contain them (ip-sysctl.rst: tcp_fastopen_key is root-only).
SECRET_KEYS = frozenset({"net.ipv4.tcp_fastopen_key"})


def normalise_key(key: str) -> str:
    """``net/ipv4/tcp_retries2`` or ``net.ipv4.tcp_retries2`` -> the dotted form.

    Like systemd-sysctl and procps, a key is either all slashes or all dots:
    with a slash anywhere, slashes separate and dots are part of a name.
    """
    key = key.strip()
    if "/" in key:
        return ".".join(part.replace(".", "/") for part in key.strip("/").split("/"))
    return key


def parse_value(text: str) -> SysctlValue:
    """An integer, a list of integers (several fields), or the text itself.

    Hex (``0x3``) is accepted for single numbers, as the kernel accepts it.
    """
    fields = text.split()
    numbers: list[int] = []
    for field in fields:
        try:
            numbers.append(int(field, 0) if len(fields) == 1 else int(field))
        except ValueError:
            return text.strip()
    if len(numbers) == 1:
        return numbers[0]
    if numbers:
        return numbers
    return text.strip()
