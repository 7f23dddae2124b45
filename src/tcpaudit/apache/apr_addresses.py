"""IP addresses and subnets as APR reads them: ``Require ip`` (apr_ipsubnet_create)
and ``Listen``'s address and port (apr_parse_addr_port).

Written from APR 1.7's network_io/unix/inet_pton.c (the BIND parsers, which
take leading zeros in an IPv4 octet and more than four hex digits of value at
most 0xffff in an IPv6 group) and sockaddr.c (looks_like_ip, parse_ip,
parse_network: the legacy ``10.1`` network form, and the mask as a bit count
or an IPv4 netmask; apr_parse_addr_port), and held to apache2 by
tests/apache/test_authz.py and tests/apache/test_listen_addresses.py.
"""

from __future__ import annotations

from .values import c_int, c_long

__all__ = [
    "NOT_AN_ADDRESS",
    "allow_from_error",
    "ip_subnet_error",
    "ipsubnet_create_error",
    "listen_port",
    "parse_addr_port",
]

_DIGITS = "0123456789"
_HEX = "0123456789abcdefABCDEF"
_V4_MAPPED = bytes(10) + b"\xff\xff"
_LONG_MAX = 2**63 - 1


def inet_pton4(text: str) -> bytes | None:
    """apr_inet_pton(AF_INET): four dotted octets of decimal digits."""
    octets: list[int] = [0]
    saw_digit = False
    for char in text:
        if char in _DIGITS:
            value = octets[-1] * 10 + int(char)
            if value > 255:
                return None
            octets[-1] = value
            if not saw_digit:
                if len(octets) > 4:
                    return None
                saw_digit = True
        elif char == "." and saw_digit:
            if len(octets) == 4:
                return None
            octets.append(0)
            saw_digit = False
        else:
            return None
    if len(octets) < 4 or not saw_digit:
        return None
    return bytes(octets)


def inet_pton6(text: str) -> bytes | None:
    """apr_inet_pton(AF_INET6), an IPv4 tail included."""
    if text.startswith(":"):
        if text[1:2] != ":":
            return None
        text = text[1:]
    out = bytearray()
    gap: int | None = None  # where "::" stands, in bytes
    current = 0  # the start of the current group (an IPv4 tail starts there)
    value = 0
    saw_digit = False
    index = 0
    while index < len(text):
        char = text[index]
        index += 1
        if char in _HEX:
            value = (value << 4) | int(char, 16)
            if value > 0xFFFF:
                return None
            saw_digit = True
            continue
        if char == ":":
            current = index
            if not saw_digit:
                if gap is not None:
                    return None
                gap = len(out)
                continue
            if len(out) + 2 > 16:
                return None
            out += value.to_bytes(2, "big")
            saw_digit, value = False, 0
            continue
        if char == "." and len(out) + 4 <= 16:
            tail = inet_pton4(text[current:])
            if tail is not None:
                out += tail
                saw_digit = False
                break
        return None
    if saw_digit:
        if len(out) + 2 > 16:
            return None
        out += value.to_bytes(2, "big")
    if gap is not None:
        out[gap:gap] = bytes(16 - len(out))
    return bytes(out) if len(out) == 16 else None


def parse_addr_port(text: str) -> tuple[str | None, str | None, int] | None:
    """apr_parse_addr_port: (host, scope id, port), None where APR refuses the text.

    Trailing ASCII digits are the port when they are the whole text or follow
    a ``:`` (read with atoi: 1 to 65535, else refused); a port may be absent
    (0). What is before is the host, as written: an unbracketed IPv6 address
    keeps its last group as the port (``2001:db8::1:8080``); a bracketed one
    must be an IPv6 address, ``]`` its last character, with an optional
    ``%scope``. None for the host when the text is a port only.
    """
    digits = len(text) - len(text.rstrip(_DIGITS))
    if digits == len(text):
        port = c_int(c_long(text)) if text else 0
        return (None, None, port) if 1 <= port <= 65535 else None
    host, port = text, 0
    colon = len(text) - digits - 1
    if digits and text[colon] == ":":
        if colon == 0:
            return None
        port = c_int(c_long(text[colon + 1 :]))
        if not 1 <= port <= 65535:
            return None
        host = text[:colon]
    if not host.startswith("["):
        return host, None, port
    if host.find("]") != len(host) - 1:
        return None
    percent = host.find("%")
    if percent == len(host) - 2:
        return None
    address, scope = (
        (host[1:percent], host[percent + 1 : -1]) if percent >= 0 else (host[1:-1], None)
    )
    if inet_pton6(address) is None:
        return None
    return address, scope, port


def listen_port(word: str) -> int | None:
    """The port a ``Listen`` or ``<VirtualHost>`` address word names, as httpd
    reads it (``4294967376`` is 80: atoi of a long); None when the word names
    none (``1.2.3.4``, ``*:*``) or APR refuses it."""
    parsed = parse_addr_port(word)
    return parsed[2] if parsed is not None and parsed[2] else None


def _looks_like_ip(text: str) -> bool:
    if not text:
        return False
    if ":" in text:
        return True  # an IPv6 address was meant
    return all(char == "." or char in _DIGITS for char in text)


def _network(text: str) -> bool:
    """parse_network: the legacy ``10.1.`` form of an IPv4 network."""
    if len(text) >= len("255.255.255.255") + 1:
        return False
    octets = text.split(".")
    if octets and octets[-1] == "":
        octets.pop()  # "10.1." ends with its separator
    if len(octets) > 4:
        return False
    return all(
        octet and octet.isascii() and octet.isdigit() and int(octet) <= 255 for octet in octets
    )


def _strtol(text: str) -> int | None:
    """C strtol base 10 of the whole text (None when something follows the number)."""
    stripped = text.lstrip(" \t\n\v\f\r")
    sign = -1 if stripped[:1] == "-" else 1
    digits = stripped[1:] if stripped[:1] in "+-" else stripped
    if not digits:
        return 0 if not text else None  # "" is 0 with nothing after it
    if not (digits.isascii() and digits.isdigit()):
        return None
    if (
        len(digits.lstrip("0")) > 19
    ):  # past LONG_MAX: strtol saturates (and int() would refuse 4,300 digits)
        return _LONG_MAX if sign > 0 else -_LONG_MAX - 1
    return max(min(sign * int(digits), _LONG_MAX), -_LONG_MAX - 1)


# apr_ipsubnet_create's APR_EINVAL: the text looks like no IP address at all.
NOT_AN_ADDRESS = "not an IP address"
_BAD_ADDRESS = "The specified IP address is invalid."
_BAD_MASK = "The specified network mask is invalid."


def ipsubnet_create_error(address: str, mask: str | None) -> str | None:
    """apr_ipsubnet_create: None when APR takes the address (and mask),
    NOT_AN_ADDRESS for APR_EINVAL, else APR's message (apr_strerror)."""
    if not _looks_like_ip(address):
        return NOT_AN_ADDRESS
    parsed = inet_pton6(address)
    if parsed is not None:
        if parsed.startswith(_V4_MAPPED):
            return _BAD_ADDRESS
        family = 6
    elif inet_pton4(address) is not None or (mask is None and _network(address)):
        family = 4
    else:
        return _BAD_ADDRESS
    if mask is not None:
        bits = _strtol(mask)
        if bits is not None and 0 < bits <= (128 if family == 6 else 32):
            return None
        if family == 4 and inet_pton4(mask) is not None:
            return None
        return _BAD_MASK
    return None


def ip_subnet_error(word: str) -> str | None:
    """What mod_authz_host's ip_parse_config says of one ``Require ip`` word, or None."""
    address, slash, mask = word.partition("/")
    error = ipsubnet_create_error(address, mask if slash else None)
    if error is None:
        return None
    if error == NOT_AN_ADDRESS:
        return f"ip address '{word}' appears to be invalid"
    return f"ip address '{word}' appears to be invalid: {error}"


def allow_from_error(words: tuple[str, ...]) -> str | None:
    """mod_access_compat's ``Allow``/``Deny from host|ip|env=[!]var|all ...`` (allow_cmd)."""
    if not words:
        return None
    if not (words[0].isascii() and words[0].lower() == "from"):
        return "allow and deny must be followed by 'from'"
    for where in words[1:]:
        head = where[:4].lower() if where[:4].isascii() else ""
        if head == "env=" or (where.isascii() and where.lower() == "all"):
            continue
        address, slash, mask = where.partition("/")
        error = ipsubnet_create_error(address, mask if slash else None)
        if slash:
            if error == NOT_AN_ADDRESS:
                return "An IP address was expected"
            if error is not None:
                return error
        elif error == NOT_AN_ADDRESS:
            if "#" in where:
                return "No comments are allowed here"
        elif error is not None:
            return error
    return None
