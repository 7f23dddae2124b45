"""mod_status's machine-readable page (``/server-status?auto``): what each worker does.

This module owns reading the scoreboard, from a capture (``--scoreboard FILE``)
or, when the operator opts in (``--status-url``), from the local server. The
fetch is the only network access tcpaudit makes, and it is fenced: http or
https to 127.0.0.1, ``localhost`` or ``[::1]`` only, no proxy, no redirect, a
short timeout, a bounded read. Credentials in the URL go as basic
authentication and never into a message (``status_target``). A drained server
cannot answer it either (the request waits in the same accept queue), so a
timeout is reported as a fact, not an error.

Scoreboard letters (modules/generators/mod_status.c): ``_`` waiting for a
connection, ``S`` starting, ``R`` reading the request, ``W`` sending the reply
(handler running), ``K`` keep-alive wait, ``D`` DNS lookup, ``C`` closing,
``L`` logging, ``G`` graceful finish, ``I`` idle cleanup, ``.`` open slot.
"""

from __future__ import annotations

import logging
import ssl
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field

from ..apache.known_tokens import shown_prefix
from ..errors import ParseError
from ..safetext import printable
from .status_target import StatusTarget, shown_url, status_target

__all__ = [
    "SCOREBOARD_STATES",
    "STATUS_TIMEOUT_SECONDS",
    "Scoreboard",
    "StatusUnavailable",
    "fetch_status",
    "parse_status",
    "status_url",
]

SCOREBOARD_STATES: dict[str, str] = {
    "_": "waiting",
    "S": "starting",
    "R": "reading",
    "W": "writing",
    "K": "keepalive",
    "D": "dns",
    "C": "closing",
    "L": "logging",
    "G": "graceful",
    "I": "idle_cleanup",
    ".": "open_slot",
}
# Long enough for a healthy local server, short enough not to stall a
# diagnosis of a drained one.
STATUS_TIMEOUT_SECONDS = 2.0
# ?auto is a few hundred bytes per thousand slots; anything far larger is not it.
_MAX_STATUS_BYTES = 1 << 20

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scoreboard:
    """The parsed ``?auto`` page.

    Attributes:
        source: the URL or file it came from.
        busy_workers: ``BusyWorkers`` as mod_status counts them.
        idle_workers: ``IdleWorkers``.
        states: worker count per state name (``keepalive``, ``writing``...),
            from the ``Scoreboard`` line, open slots excluded.
        mpm: ``ServerMPM`` when the page says it (2.4.x).
    """

    source: str
    busy_workers: int
    idle_workers: int
    states: dict[str, int] = field(default_factory=dict)
    mpm: str | None = None

    def count(self, state: str) -> int:
        return self.states.get(state, 0)


class StatusUnavailable(Exception):  # noqa: N818  # a condition the report states, not a failure
    """The status page could not be fetched; ``reason`` says why, in words for the report."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def parse_status(text: str, source: str) -> Scoreboard:
    """Parse mod_status ``?auto`` text.

    Raises:
        ParseError: the text has no ``Scoreboard:`` line or no worker counts.
    """
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            values[key.strip()] = value.strip()
    board = values.get("Scoreboard")
    if board is None:
        raise ParseError("no 'Scoreboard:' line: not a mod_status ?auto page", file=source)
    letters = Counter(board)
    unknown = set(letters) - set(SCOREBOARD_STATES)
    if unknown:
        raise ParseError(f"unknown scoreboard letters {sorted(unknown)}", file=source)
    states = {SCOREBOARD_STATES[letter]: n for letter, n in letters.items() if letter != "."}
    busy = _worker_count(values, "BusyWorkers", len(board), source)
    idle = _worker_count(values, "IdleWorkers", len(board), source)
    if busy is None:
        busy = sum(n for name, n in states.items() if name not in ("waiting", "open_slot"))
    if idle is None:
        idle = states.get("waiting", 0)
    return Scoreboard(
        source=source,
        busy_workers=busy,
        idle_workers=idle,
        states=dict(sorted(states.items())),
        mpm=values.get("ServerMPM"),
    )


def _worker_count(values: dict[str, str], key: str, slots: int, source: str) -> int | None:
    """``key``'s count, which no server can make larger than its scoreboard."""
    if key not in values:
        return None
    text = values[key]
    if not text.isdigit() or not text.isascii() or len(text) > 9 or int(text) > slots:
        shown = printable(shown_prefix(text, 24)) + ("..." if len(text) > 24 else "")
        raise ParseError(
            f"{key} {shown!r} is not a count of the scoreboard's {slots} slots", file=source
        )
    return int(text)


def status_url(url: str) -> str:
    """Check that ``url`` names this host's status page; return it without credentials, with ``?auto``.

    Raises:
        UsageError: not a URL, or another scheme or host (tcpaudit fetches nothing remote).
    """
    return status_target(url).url


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect could point anywhere; the status page never needs one.
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def fetch_status(url: str, timeout_seconds: float = STATUS_TIMEOUT_SECONDS) -> Scoreboard:
    """Fetch and parse the local status page (with basic authentication if ``url`` has a user).

    Raises:
        UsageError: the URL is not a local http or https one.
        StatusUnavailable: no answer in time, an HTTP error, or not a status page.
    """
    target = status_target(url)
    # An "@" left in the path may end a password cut short by a "/": hidden too.
    shown = shown_url(target.url)
    # No ProxyHandler settings: an http_proxy in the environment must not see the request.
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({}), _NoRedirect()]
    if target.tls:
        handlers.append(urllib.request.HTTPSHandler(context=_loopback_tls()))
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(target.url)
    if target.authorization is not None:
        # Sent with the first request, as curl does: no second round trip on a busy server.
        request.add_unredirected_header("Authorization", target.authorization)
    log.info("fetching %s%s", shown, " with basic authentication" if target.authorization else "")
    try:
        with opener.open(request, timeout=timeout_seconds) as response:
            body = response.read(_MAX_STATUS_BYTES)
    except urllib.error.HTTPError as exc:
        challenge = exc.headers.get("WWW-Authenticate", "") if exc.headers else ""
        exc.close()
        raise StatusUnavailable(_refusal(target, exc.code, challenge)) from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            raise StatusUnavailable(f"{shown} did not answer within {timeout_seconds:g} s") from exc
        raise StatusUnavailable(f"{shown}: {reason}") from exc
    try:
        return parse_status(body.decode("utf-8", errors="replace"), shown)
    except ParseError as exc:
        raise StatusUnavailable(f"{shown}: {exc.reason}") from exc


def _refusal(target: StatusTarget, code: int, challenge: str) -> str:
    """Why an HTTP error status stops the fetch, with what to do about a 401."""
    text = f"{shown_url(target.url)} answered HTTP {code}"
    if code != 401:
        return text
    scheme = challenge.split(None, 1)[0] if challenge.strip() else ""
    if scheme and scheme.lower() != "basic":
        # The scheme is the server's word: shown only when it is a plain token.
        named = scheme if scheme.isascii() and scheme.isalnum() else "another scheme"
        return f"{text}: it asks for {named} authentication, and tcpaudit sends only basic"
    if target.authorization is not None:
        return f"{text}: the user and password were refused"
    return (
        f"{text}: it asks for a user and password (http://USER:PASSWORD@host/... "
        "or --status-auth-env)"
    )


def _loopback_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    # The connection stays on this host, and a local server's certificate names
    # its public name, never 127.0.0.1: checking it would refuse every server.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
