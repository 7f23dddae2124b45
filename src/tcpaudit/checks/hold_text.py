"""How findings name a kind of stalled client and what ends its hold."""

from __future__ import annotations

from collections.abc import Mapping

from ..hold import HoldKind, KindHold

__all__ = ["KIND_WORDS", "hold_sentence", "timeout_bounds", "timeout_reading"]

KIND_WORDS: dict[HoldKind, str] = {
    "silent": "a client that connects and sends nothing",
    "header_stop": "a client that stops in the middle of its request header",
    "header_trickle": "a client that trickles its request header (slowloris)",
    "body_stall": "a client that stops sending its request body",
    "body_trickle": "a client that trickles its request body (slow POST)",
    "slow_reader": "a client that stops reading a response larger than the socket buffers",
    "keepalive_idle": "an idle keep-alive client",
    "tls_handshake": "a client that stalls in the TLS handshake",
}


def hold_sentence(hold: KindHold) -> str:
    """``a client that ... (silent) holds a worker 302 s (Timeout 300 s + 2 s lingering close)``."""
    who = f"{KIND_WORDS[hold.kind]} ({hold.kind})"
    where = f" in {hold.scope}" if hold.scope else ""
    if hold.seconds is None:
        return f"{who} holds a worker{where} for as long as it stays connected ({hold.describe()})"
    return f"{who} holds a worker{where} {hold.seconds:g} s ({hold.describe()})"


def _cut_by_stage(hold: KindHold | None) -> bool:
    return hold is not None and hold.limit.startswith("RequestReadTimeout")


def timeout_reading(holds: Mapping[HoldKind, KindHold], mpm: str, each: str) -> str:
    """What happens to a client that stops sending its request."""
    header, body = holds.get("silent"), holds.get("body_stall")
    if _cut_by_stage(header) and _cut_by_stage(body):
        assert header is not None and body is not None
        return (
            "a client that stops sending its request is cut by mod_reqtimeout "
            f"(header {header.limit_seconds:g} s, body {body.limit_seconds:g} s), not by Timeout"
        )
    if _cut_by_stage(header):
        assert header is not None
        return (
            "mod_reqtimeout cuts a client that stops sending its header at "
            f"{header.limit_seconds:g} s, but one that stops sending its body holds one "
            f"{mpm} worker {each} per read"
        )
    return f"a client that stops sending its request holds one {mpm} worker {each} per read"


def timeout_bounds(holds: Mapping[HoldKind, KindHold], each: str) -> str:
    """What only Timeout bounds, whatever mod_reqtimeout says."""
    parts = [
        f"each write to a client that stops reading a large response ({each}, on every "
        "MPM, event included)",
        "the wait for CGI output",
        "proxied requests without ProxyTimeout or timeout=",
        "idle tunnels (WebSocket, CONNECT)",
    ]
    handshake = holds.get("tls_handshake")
    if handshake is not None and not _cut_by_stage(handshake):
        parts.append("a stalled TLS handshake (no handshake stage applies)")
    lead = "Timeout still bounds" if _cut_by_stage(holds.get("silent")) else "It also bounds"
    return f"{lead} " + ", ".join(parts[:-1]) + " and " + parts[-1]
