"""Numbers and keywords that httpd's core, the MPMs and mod_dir refuse, read as their C code reads them.

Written from httpd 2.4's server/core.c (``set_recursion_limit``,
``set_limit_xml_req_body``, ``set_etag_bits``, ``set_http_protocol_options``),
server/mpm_common.c
(``ap_mpm_set_max_mem_free``, ``ap_mpm_set_thread_stacksize``),
server/listen.c (``ap_set_listencbratio``), server/mpm/event/event.c
(``set_worker_factor``) and modules/mappers/mod_dir.c
(``configure_redirect``); held to the real apache2 by
tests/apache/test_apache_handlers.py. Each function takes a directive's
words and returns httpd's message, or None.
"""

from __future__ import annotations

import math
import re

from .values import ascii_lower, c_long, parse_atoi

__all__ = [
    "buffer_size_error",
    "directory_index_redirect_error",
    "file_etag_error",
    "limit_xml_body_error",
    "protocol_option_error",
    "recursion_limit_error",
    "strtol_error",
    "worker_factor_error",
]

_LONG_MAX = 2**63 - 1
# AP_MAX_LIMIT_XML_BODY on a 64-bit build: APR_SIZE_MAX / 6 - 1.
_MAX_XML_BODY = (2**64 - 1) // 6 - 1
_LEADING_LONG = re.compile(r"[ \t\n\v\f\r]*([+-]?)0*([0-9]*)")
# What glibc's strtod reads whole (its end pointer at the end of the word).
_STRTOD = re.compile(
    r"[ \t\n\v\f\r]*[+-]?(?:"
    r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    r"|0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?"
    r"|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?"
    r"|[nN][aA][nN](?:\([0-9A-Za-z_]*\))?"
    r")"
)


def strtol_error(words: tuple[str, ...], name: str) -> str | None:
    """``MaxMemFree``/``ThreadStackSize``: strtol of the word, refused when
    negative or out of a long's range (ERANGE); text after the number is ignored."""
    if not words:
        return None
    match = _LEADING_LONG.match(words[0])
    digits = match.group(2) if match else ""
    negative = match is not None and match.group(1) == "-" and digits.strip("0") != ""
    too_big = len(digits) > 19 or (digits != "" and int(digits) > _LONG_MAX + negative)
    if negative or too_big:
        return f"Invalid {name} value: {words[0]}"
    return None


def recursion_limit_error(words: tuple[str, ...]) -> str | None:
    """``LimitInternalRecursion limit [depth]``: each atoi over zero."""
    if any(parse_atoi(word) <= 0 for word in words[:2]):
        return "The recursion limit must be greater than zero."
    return None


def limit_xml_body_error(words: tuple[str, ...]) -> str | None:
    """``LimitXMLRequestBody``: atol, not negative, not over AP_MAX_LIMIT_XML_BODY."""
    if not words:
        return None
    match = re.match(r"[ \t\n\v\f\r]*([+-]?[0-9]+)", words[0])
    value = c_long(match.group(1)) if match else 0
    if value < 0:
        return "LimitXMLRequestBody requires a non-negative integer."
    if value > _MAX_XML_BODY:
        return f"LimitXMLRequestBody must not exceed {_MAX_XML_BODY}"
    return None


def worker_factor_error(words: tuple[str, ...]) -> str | None:
    """``AsyncRequestWorkerFactor``: strtod of the whole word, over zero (a NaN passes)."""
    if not words:
        return None
    word = words[0]
    if not _STRTOD.fullmatch(word):
        return "error parsing value"
    text = word.strip(" \t\n\v\f\r")
    body = text.lstrip("+-")
    if body[:2].lower() == "0x":
        value = float.fromhex(text)
    elif body[:1].lower() == "n":
        value = math.nan
    else:
        value = float(text)
    if value <= 0:
        return "AsyncRequestWorkerFactor argument must be a positive number"
    return None


_REDIRECT_WORDS = frozenset({"on", "off", "permanent", "temp", "seeother"})


def directory_index_redirect_error(words: tuple[str, ...]) -> str | None:
    """``DirectoryIndexRedirect on|off|permanent|temp|seeother|3xx``."""
    if not words:
        return None
    word = words[0]
    if word.isascii() and word.lower() in _REDIRECT_WORDS:
        return None
    if word[:1] in "0123456789" and word[:1]:
        if 300 <= parse_atoi(word) < 400:
            return None
        return "DirectoryIndexRedirect only accepts values between 300 and 399"
    return "DirectoryIndexRedirect ON|OFF|permanent|temp|seeother|3xx"


_ETAG_ABSOLUTE = frozenset({"none", "all"})
_ETAG_PARTS = frozenset({"size", "lmtime", "mtime", "lastmodified", "inode", "digest"})


def file_etag_error(words: tuple[str, ...]) -> str | None:
    """``FileETag``: keywords, each with an optional +/-, None and All without."""
    for word in words:
        signed = word[:1] in ("+", "-") and word[:1] != ""
        token = word[1:] if signed else word
        lowered = ascii_lower(token)
        if lowered in _ETAG_ABSOLUTE:
            if signed:
                return f"FileETag keyword '{token}' cannot be used with '+' or '-'"
        elif lowered not in _ETAG_PARTS:
            return f"Unknown keyword '{token}' for FileETag directive"
    return None


# set_http_protocol_options: each word, and the one it excludes.
_PROTOCOL_OPTIONS = {
    "allow0.9": "require1.0", "require1.0": "allow0.9", "strict": "unsafe", "unsafe": "strict",
    "registeredmethods": "lenientmethods", "lenientmethods": "registeredmethods",
}  # fmt: skip
_PROTOCOL_PAIRS = {
    frozenset({"allow0.9", "require1.0"}): "'Allow0.9' and 'Require1.0'",
    frozenset({"strict", "unsafe"}): "'Strict' and 'Unsafe'",
    frozenset({"registeredmethods", "lenientmethods"}): "'RegisteredMethods' and 'LenientMethods'",
}


def protocol_option_error(words: tuple[str, ...], seen: set[str]) -> str | None:
    """``HttpProtocolOptions``: each word a known option; ``seen`` holds the
    options the same server set before (a server's bits accumulate, so a later
    line may contradict an earlier one) and takes this line's."""
    for word in words:
        option = ascii_lower(word)
        if option not in _PROTOCOL_OPTIONS:
            return (
                "HttpProtocolOptions accepts 'Unsafe' or 'Strict' (default), "
                "'RegisteredMethods' or 'LenientMethods' (default), and "
                "'Require1.0' or 'Allow0.9' (default)"
            )
        seen.add(option)
        if _PROTOCOL_OPTIONS[option] in seen:
            pair = _PROTOCOL_PAIRS[frozenset({option, _PROTOCOL_OPTIONS[option]})]
            return f"HttpProtocolOptions {pair} are mutually exclusive"
    return None


def buffer_size_error(words: tuple[str, ...], name: str) -> str | None:
    """``SendBufferSize``/``ReceiveBufferSize`` (listen.c): atoi, 0 or at least 512."""
    if words and 0 != parse_atoi(words[0]) < 512:
        return f"{name} must be >= 512 bytes, or 0 for system default."
    return None
