"""The output filters ``AddOutputFilterByType`` may name: those the loaded modules register.

mod_filter's ``filter_bytype`` looks each ``;``-separated name up with
``ap_get_output_filter_handle`` (ASCII letters fold case) and refuses the line with
"Unknown filter provider NAME" for the first one no module registered.
Modules register theirs when they are loaded (``ap_register_output_filter``
in their hooks; the names below are from httpd 2.4's sources, the union of
its builds: mod_http2's depend on the core it is built against).
mod_ext_filter's ``ExtFilterDefine`` and mod_lua's ``LuaOutputFilter``
register theirs as their lines are walked, and a line holding a secret may
not be judged: with either module loaded the names are not judged, nor
with a module tcpaudit does not know (it may register any), nor in httpd
2.2, whose core took any name.
"""

from __future__ import annotations

from collections.abc import Collection

from .values import ascii_lower

__all__ = ["output_filter_error", "output_filters"]

_REGISTERED = {
    "core_module": ("CONTENT_LENGTH", "CORE", "SUBREQ_CORE", "OLD_WRITE"),
    "http_module": ("HTTP_HEADER", "CHUNK", "HTTP_OUTERROR", "BYTERANGE"),
    "logio_module": ("LOGIO_TTFB_OUT",),
    "bucketeer_module": ("BUCKETEER",),
    "buffer_module": ("BUFFER",),
    "brotli_module": ("BROTLI_COMPRESS",),
    "cache_module": ("CACHE", "CACHE_SAVE", "CACHE_SAVE_SUBREQ", "CACHE_OUT",
                     "CACHE_OUT_SUBREQ", "CACHE_REMOVE_URL", "CACHE_INVALIDATE"),
    "case_filter_module": ("CaseFilter",),
    "charset_lite_module": ("XLATEOUT",),
    "data_module": ("DATA",),
    "deflate_module": ("DEFLATE", "INFLATE"),
    "dumpio_module": ("DUMPIO_OUT",),
    "expires_module": ("MOD_EXPIRES",),
    "headers_module": ("FIXUP_HEADERS_OUT", "FIXUP_HEADERS_ERR"),
    "http2_module": ("H2_C2_NET_OUT", "H2_C2_NOTES_OUT", "H2_C2_NET_CATCH_H1",
                     "H2_C2_RESPONSE_OUT", "H2_C2_TRAILERS_OUT", "H2_C2_WS_OUT"),
    "include_module": ("INCLUDES",),
    "proxy_ftp_module": ("PROXY_SEND_DIR",),
    "proxy_html_module": ("proxy-html",),
    "ratelimit_module": ("RATE_LIMIT",),
    "reqtimeout_module": ("reqtimeout",),
    "sed_module": ("Sed",),
    "session_module": ("MOD_SESSION_OUT",),
    "ssl_module": ("SSL/TLS Filter", "SSL/TLS Coalescing Filter"),
    "substitute_module": ("SUBSTITUTE",),
    "xml2enc_module": ("xml2enc",),
    # PHP's filter SAPI registers one; its handler SAPI none.
    "php_module": ("PHP",),
    "php7_module": ("PHP",),
    "php5_module": ("PHP",),
}  # fmt: skip
# Modules registering output filters as their lines are walked.
_REGISTERING_AT_WALK = frozenset({"ext_filter_module", "lua_module"})


def output_filters(loaded: Collection[str]) -> frozenset[str] | None:
    """The output filter names (lower-cased) the loaded modules register; None
    when they cannot be known before the walk (mod_ext_filter, mod_lua)."""
    if not _REGISTERING_AT_WALK.isdisjoint(loaded):
        return None
    return frozenset(name.lower() for module in loaded for name in _REGISTERED.get(module, ()))


def output_filter_error(words: tuple[str, ...], filters: frozenset[str]) -> str | None:
    """The first name of ``AddOutputFilterByType``'s first word (``;``-separated,
    empty names skipped as apr_strtok skips them) no loaded module registers."""
    if not words:
        return None
    for name in words[0].split(";"):
        if name and ascii_lower(name) not in filters:
            return f"Unknown filter provider {name}"
    return None
