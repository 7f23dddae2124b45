"""Which status page to fetch, with which credentials, and how to name it without them.

A status page is often behind ``AuthType Basic``. ``http://user:password@host/``
is read as curl reads it: the user ends at the first ``:``, ``%XX`` escapes in
user and password are decoded to bytes (an invalid escape stays as written),
and the credentials go in an ``Authorization: Basic`` header, sent with the
first request. The host is what follows the last ``@`` (as in Python and
browsers), so an ``@`` in a password needs no escape; a ``/``, ``?`` or ``#``
does, since it ends the host part.

The user and password are taken out before anything else sees the URL:
urllib gets the URL without them (none of its exception texts can echo them)
and a base64 header value, and every message about a URL as given shows it
through ``shown_url``, which hides all before its last ``@``.

Only this host is fetched: ``127.0.0.1``, ``localhost`` or ``[::1]``, over
http or https. Over https the certificate is not checked: the connection
does not leave this host, and a server's certificate names its public name,
never 127.0.0.1, so checking it would refuse every local server.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import UsageError

__all__ = [
    "StatusTarget",
    "credentials_from_environment",
    "shown_url",
    "status_target",
    "url_with_credentials",
]

_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_SCHEMES = frozenset({"http", "https"})
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
# A character no URL holds as written: whitespace, C0 and C1 controls.
_NOT_IN_A_URL = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
_MAX_PORT_DIGITS = 5
# Printable ASCII that may stand in a path or query as written (quote keeps letters and digits).
_URL_ASCII = "!#$%&'()*+,-./:;=?@[\\]^_`{|}~\"<>"
_ESCAPE_HINT = "; a '/', '?' or '#' in a user or password is written %2F, %3F or %23"


@dataclass(frozen=True)
class StatusTarget:
    """A checked status URL.

    Attributes:
        url: what is fetched and what messages show: no user or password,
            ``?auto`` added, no fragment.
        authorization: the ``Authorization`` header value, or None; never in
            the object's repr.
    """

    url: str
    authorization: str | None = field(default=None, repr=False)

    @property
    def tls(self) -> bool:
        return self.url.startswith("https:")


def shown_url(url: str) -> str:
    """``url`` as a message may show it: whatever precedes its last ``@`` becomes ``***``.

    Works on any text, a URL Python cannot parse included; it hides too much
    rather than too little (an ``@`` in a path hides the path before it).
    """
    scheme = _SCHEME.match(url)
    # Without a known scheme, "user:password@host" would look like scheme "user:".
    head = scheme.group() if scheme and scheme.group()[:-1].lower() in _SCHEMES else ""
    rest = url[len(head) :]
    if "@" not in rest:
        return url
    slashes = "//" if rest.startswith("//") else ""
    return f"{head}{slashes}***@{rest.rpartition('@')[2]}"


def status_target(url: str) -> StatusTarget:
    """Check that ``url`` names this host's status page; take its credentials out; add ``?auto``.

    Raises:
        UsageError: not a URL, or another scheme or host (tcpaudit fetches
            nothing remote); the message shows the URL through ``shown_url``.
    """
    shown = shown_url(url)
    if _NOT_IN_A_URL.search(url):
        raise UsageError(f"--status-url {shown!r}: not a URL (a space or control character)")
    try:
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:  # an unclosed "[", a bracketed host that is no address
        # Python's text may quote the host part, credentials included: neither
        # shown nor chained (a traceback would print it).
        raise UsageError(f"--status-url {shown!r}: not a URL (its host cannot be read)") from None
    # An "@" past the host part: a user or password cut short by an unescaped "/", "?" or "#".
    cut_short = parts.scheme in _SCHEMES and "@" in parts.path + parts.query + parts.fragment
    hint = _ESCAPE_HINT if cut_short else ""
    userinfo, at, hostport = parts.netloc.rpartition("@")
    port = _port_text(hostport)
    if port and not (
        len(port) <= _MAX_PORT_DIGITS
        and port.isascii()
        and port.isdigit()
        and 0 < int(port) < 65536
    ):
        if not (port.isascii() and port.isdigit()) and parts.netloc in shown:
            # "user:password" whose "@" is missing or escaped reads as host:port: not shown.
            shown = shown.replace(parts.netloc, "***", 1)
        raise UsageError(
            f"--status-url {shown!r}: not a URL (the port is not a number from 1 to 65535){hint}"
        )
    if parts.scheme in _SCHEMES and not host:
        raise UsageError(f"--status-url {shown!r}: not a URL (no host){hint}")
    if parts.scheme not in _SCHEMES or host not in _LOCAL_HOSTS:
        raise UsageError(
            f"--status-url {shown!r}: only http://127.0.0.1, http://localhost or http://[::1] "
            "(or https://) are fetched (capture remote pages and pass them with --scoreboard)"
            f"{hint}"
        )
    query = parts.query
    if "auto" not in urllib.parse.parse_qs(query, keep_blank_values=True):
        query = f"{query}&auto" if query else "auto"
    path = _ascii(parts.path or "/")
    checked = urllib.parse.urlunsplit((parts.scheme, hostport, path, _ascii(query), ""))
    if not at:
        return StatusTarget(url=checked)
    user, _, password = userinfo.partition(":")
    credentials = _unescaped(user) + b":" + _unescaped(password)
    if b"\0" in credentials:  # curl refuses it too: no server compares a NUL
        raise UsageError(f"--status-url {shown!r}: not a URL (%00 in the user or password)")
    return StatusTarget(
        url=checked, authorization="Basic " + base64.b64encode(credentials).decode("ascii")
    )


def url_with_credentials(url: str, credentials: str) -> str:
    """``url`` with ``user:password`` (as curl's ``-u`` takes them) written into it.

    Raises:
        UsageError: the URL is refused (see ``status_target``), already holds
            credentials, or ``credentials`` has no ``:``.
    """
    if status_target(url).authorization is not None:
        raise UsageError(
            f"--status-url {shown_url(url)!r} holds a user already: give the credentials once"
        )
    user, colon, password = credentials.partition(":")
    if not colon:
        raise UsageError("the status credentials must be user:password (no ':' found)")
    scheme, _, rest = url.partition("//")
    return f"{scheme}//{_escaped(user)}:{_escaped(password)}@{rest}"


def credentials_from_environment(name: str, environment: Mapping[str, str]) -> str:
    """The ``user:password`` held by the environment variable ``name``.

    Raises:
        UsageError: the variable is unset, empty or has no ``:`` (its value is never shown).
    """
    value = environment.get(name)
    if not value:
        raise UsageError(f"--status-auth-env {name}: the environment variable is unset or empty")
    if ":" not in value:
        raise UsageError(
            f"--status-auth-env {name}: the environment variable must hold user:password"
        )
    return value


def _port_text(hostport: str) -> str | None:
    """The text after the host's ``:``, or None (an IPv6 address's colons are in brackets)."""
    if hostport.startswith("["):
        hostport = hostport.partition("]")[2]
    if ":" not in hostport:
        return None
    return hostport.rpartition(":")[2]


def _ascii(text: str) -> str:
    """``text`` with what is not ASCII %-escaped (UTF-8), the rest as written: a request line is ASCII."""
    return urllib.parse.quote(text.encode("utf-8", "surrogateescape"), safe=_URL_ASCII)


def _unescaped(text: str) -> bytes:
    # A command line's undecodable bytes arrive as surrogates: sent as they were given.
    return urllib.parse.unquote_to_bytes(text.encode("utf-8", "surrogateescape"))


def _escaped(text: str) -> str:
    return urllib.parse.quote(text.encode("utf-8", "surrogateescape"), safe="")
