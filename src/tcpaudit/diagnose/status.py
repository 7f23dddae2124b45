"""mod_status's machine-readable page (``/server-status?auto``): what each worker does.

This module owns reading the scoreboard, from a capture (``--scoreboard FILE``)
or, when the operator opts in (``--status-url``), from the local server. The
fetch is the only network access tcpaudit makes, and it is fenced: plain HTTP
to 127.0.0.1, ``localhost`` or ``[::1]`` only, no proxy, no redirect, a short
timeout, a bounded read. A drained server cannot answer it either (the request
waits in the same accept queue), so a timeout is reported as a fact, not an
error.

Scoreboard letters (modules/generators/mod_status.c): ``_`` waiting for a
connection, ``S`` starting, ``R`` reading the request, ``W`` sending the reply
(handler running), ``K`` keep-alive wait, ``D`` DNS lookup, ``C`` closing,
``L`` logging, ``G`` graceful finish, ``I`` idle cleanup, ``.`` open slot.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field

from ..errors import ParseError, UsageError

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
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


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
    try:
        busy = int(values["BusyWorkers"]) if "BusyWorkers" in values else None
        idle = int(values["IdleWorkers"]) if "IdleWorkers" in values else None
    except ValueError as exc:
        raise ParseError(f"bad worker count: {exc}", file=source) from exc
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


def status_url(url: str) -> str:
    """Check that ``url`` names this host's status page over plain HTTP; add ``?auto``.

    Raises:
        UsageError: another scheme or host (tcpaudit fetches nothing remote).
    """
    try:
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port  # a port that is not a number, or above 65535
    except ValueError as exc:  # an unclosed "[" of an IPv6 address
        raise UsageError(f"--status-url {url!r}: not a URL ({exc})") from exc
    if port == 0 or any(char.isspace() or ord(char) < 0x20 for char in parts.netloc):
        raise UsageError(f"--status-url {url!r}: not a URL (no such port)")
    if parts.scheme != "http" or host not in _LOCAL_HOSTS:
        raise UsageError(
            f"--status-url {url!r}: only http://127.0.0.1, http://localhost or http://[::1] "
            "are fetched (capture remote pages and pass them with --scoreboard)"
        )
    query = parts.query
    if "auto" not in urllib.parse.parse_qs(query, keep_blank_values=True):
        query = f"{query}&auto" if query else "auto"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, ""))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect could point anywhere; the status page never needs one.
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def fetch_status(url: str, timeout_seconds: float = STATUS_TIMEOUT_SECONDS) -> Scoreboard:
    """Fetch and parse the local status page.

    Raises:
        UsageError: the URL is not a local plain-HTTP one.
        StatusUnavailable: no answer in time, an HTTP error, or not a status page.
    """
    checked = status_url(url)
    # No ProxyHandler settings: an http_proxy in the environment must not see the request.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    try:
        with opener.open(checked, timeout=timeout_seconds) as response:
            body = response.read(_MAX_STATUS_BYTES)
    except urllib.error.HTTPError as exc:
        raise StatusUnavailable(f"{checked} answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            raise StatusUnavailable(
                f"{checked} did not answer within {timeout_seconds:g} s"
            ) from exc
        raise StatusUnavailable(f"{checked}: {reason}") from exc
    try:
        return parse_status(body.decode("utf-8", errors="replace"), checked)
    except ParseError as exc:
        raise StatusUnavailable(f"{checked}: {exc.reason}") from exc
