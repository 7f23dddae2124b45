"""mod_proxy's checks of one worker or balancer parameter (2.4).

set_worker_param and set_balancer_param (mod_proxy.c): each key's own
rule, with httpd's message when it refuses the value. ``proxy_params.py``
reads the lines and decides which parameters are checked.
"""

from __future__ import annotations

import re

from .values import InvalidValueError, c_long, parse_atoi, parse_timeout_parameter

__all__ = ["balancer_parameter_error", "worker_parameter_error"]

_ON_OFF = ("on", "off")
# Sizes of httpd's fixed fields (mod_proxy.h): a value as long is refused.
_ROUTE_SIZE = 64
_SCHEME_SIZE = 16
_NONCE_SIZE = 37
_C_FLOAT = re.compile(
    r"[ \t\n\v\f\r]*([-+]?(?:0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][-+]?[0-9]+)?"
    r"|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|inf(?:inity)?|nan))",
    re.IGNORECASE,
)
# mod_proxy_hcheck's parameters, taken when it is loaded.
_HEALTH_CHECK = frozenset({"hcmethod", "hcinterval", "hcpasses", "hcfails", "hcuri",
                           "hctemplate", "hcexpr"})  # fmt: skip
# Load-balancing methods and the module registering each.
_LBMETHODS = {"byrequests": "lbmethod_byrequests_module",
              "bytraffic": "lbmethod_bytraffic_module",
              "bybusyness": "lbmethod_bybusyness_module",
              "heartbeat": "lbmethod_heartbeat_module"}  # fmt: skip
# ap_proxy_set_wstatus: the worker status flags, any case.
_STATUS_FLAGS = frozenset("OINGUDSEHFCRoingudsehfcr")


def _on_off(value: str, message: str) -> str | None:
    return None if value.lower() in _ON_OFF else message


def _timeout_at_least_a_millisecond(value: str, unit: str, name: str, message: str) -> str | None:
    """ap_timeout_parameter_parse with ``unit`` as the default, then at least 1 ms."""
    try:
        seconds = _parameter_seconds(value, unit)
    except InvalidValueError:
        return f"{name} has wrong format"
    return None if seconds * 1_000_000 >= 1000 else message


def _parameter_seconds(value: str, unit: str) -> float:
    """ap_timeout_parameter_parse with a default unit (``ms`` or ``s``)."""
    stripped = value.lstrip(" \t\n\v\f\r")
    digits = len(stripped) - len(stripped.lstrip("+-0123456789"))
    if not stripped[digits:] and unit == "ms":
        value = value + "ms"
    return parse_timeout_parameter(value, (2, 4))


def _c_atof(value: str) -> float:
    """C ``atof``: the leading decimal or hexadecimal number, 0 without one."""
    match = _C_FLOAT.match(value)
    if match is None:
        return 0.0
    text = match.group(1)
    body = text.lstrip("+-")
    try:
        if body[:2].lower() == "0x":
            number = float.fromhex(body if "p" in body.lower() else body + "p0")
        else:
            number = float(body)
    except (ValueError, OverflowError):
        return 0.0
    return -number if text.startswith("-") else number


def _address_ttl(value: str) -> bool:
    """AddressTTL: -1, or whole seconds up to INT32_MAX (ap_timeout_parameter_parse)."""
    if value == "-1":
        return True
    try:
        seconds = parse_timeout_parameter(value, (2, 4))
    except InvalidValueError:
        return False
    return seconds <= 2**31 - 1 and seconds == int(seconds)


def worker_parameter_error(key: str, value: str, modules: frozenset[str]) -> str | None:
    """set_worker_param's message for one parameter, or None."""
    number = parse_atoi(value)
    if key == "loadfactor":
        # ival = atof(val) * 100.0, an int: the fraction below 1/100 is cut.
        scaled = _c_atof(value) * 100.0
        whole = int(scaled) if abs(scaled) < 2**31 else -1
        return None if 100 <= whole <= 10000 else "LoadFactor must be a number between 1..100"
    if key == "retry":
        return None if number >= 0 else "Retry must be a positive value"
    if key == "ttl":
        return None if number >= 1 else "TTL must be at least one second"
    if key in ("min", "max", "smax"):
        return None if number >= 0 else f"{key.capitalize()} must be a positive number"
    if key == "acquire":
        return _timeout_at_least_a_millisecond(
            value, "ms", "Acquire timeout", "Acquire must be at least one millisecond"
        )
    if key == "timeout":
        return None if number >= 1 else "Timeout must be at least one second"
    if key == "iobuffersize":
        size = c_long(re.match(r"\s*([+-]?\d*)", value).group(1) or "0")  # type: ignore[union-attr]
        return (
            None
            if size >= 512 or size == 0
            else ("IOBufferSize must be >= 512 bytes, or 0 for system default.")
        )
    if key == "receivebuffersize":
        return (
            None
            if number >= 512 or number == 0
            else ("ReceiveBufferSize must be >= 512 bytes, or 0 for system default.")
        )
    if key in ("keepalive", "disablereuse", "enablereuse"):
        spelled = {"keepalive": "KeepAlive", "disablereuse": "DisableReuse",
                   "enablereuse": "EnableReuse"}[key]  # fmt: skip
        return _on_off(value, f"{spelled} must be On|Off")
    if key == "status":
        index = 0
        while index < len(value):
            if value[index] in "+-":
                index += 1
            if index >= len(value) or value[index] not in _STATUS_FLAGS:
                return "Unknown status parameter option"
            index += 1
        return None
    if key == "flushpackets":
        return (
            None if value.lower() in ("on", "off", "auto") else "flushpackets must be on|off|auto"
        )
    if key == "flushwait":
        return (
            None
            if 0 <= number <= 1000
            else ("flushwait must be <= 1000, or 0 for system default of 10 millseconds.")
        )
    if key == "ping":
        return _timeout_at_least_a_millisecond(
            value, "s", "Ping/Pong timeout", "Ping/Pong timeout must be at least one millisecond"
        )
    if key == "lbset":
        return None if 0 <= number <= 99 else "lbset must be between 0 and 99"
    if key == "connectiontimeout":
        return _timeout_at_least_a_millisecond(
            value, "s", "Connectiontimeout", "Connectiontimeout must be at least one millisecond."
        )
    if key == "responsefieldsize":
        size = c_long(re.match(r"\s*([+-]?\d*)", value).group(1) or "0")  # type: ignore[union-attr]
        return (
            None
            if size >= 0
            else ("ResponseFieldSize must be greater than 0 bytes, or 0 for system default.")
        )
    if key in ("route", "redirect", "secret"):
        if len(value.encode("utf-8", "surrogateescape")) >= _ROUTE_SIZE:
            return f"{key.capitalize()} length must be < {_ROUTE_SIZE} characters"
        return None
    if key in ("flusher", "upgrade"):
        shown = "flusher name" if key == "flusher" else "upgrade protocol"
        if key == "upgrade" and value.lower() == "any":
            value = "*"
        if len(value.encode("utf-8", "surrogateescape")) >= _SCHEME_SIZE:
            return f"{shown} length must be < {_SCHEME_SIZE} characters"
        return None
    if key == "addressttl":
        return (
            None
            if _address_ttl(value)
            else ("AddressTTL must be -1 or a number of seconds not exceeding (2147483647)")
        )
    if key in _HEALTH_CHECK and "proxy_hcheck_module" in modules:
        return None
    return "unknown Worker parameter"


def balancer_parameter_error(key: str, value: str, modules: frozenset[str]) -> str | None:
    """set_balancer_param's message for one parameter, or None."""
    number = parse_atoi(value)
    if key == "stickysession":
        return None
    if key == "nonce":
        too_long = len(value.encode("utf-8", "surrogateescape")) >= _NONCE_SIZE
        return "Provided nonce is too large" if too_long and value.lower() != "none" else None
    if key == "stickysessionsep":
        return (
            None
            if len(value) == 1 or value.lower() == "off"
            else ("stickysessionsep must be a single character or Off")
        )
    if key == "nofailover":
        return _on_off(value, "failover must be On|Off")
    if key == "timeout":
        return None if number >= 1 else "timeout must be at least one second"
    if key == "maxattempts":
        return None if number >= 0 else "maximum number of attempts must be a positive number"
    if key == "lbmethod":
        module = _LBMETHODS.get(value)
        return None if module is not None and module in modules else "unknown lbmethod"
    if key in ("scolonpathdelim", "failontimeout", "forcerecovery"):
        return _on_off(value, f"{key} must be On|Off")
    if key == "failonstatus":
        for status in (part for part in re.split(r"[, ]+", value) if part):
            if not 100 <= parse_atoi(status) <= 599:
                return "failonstatus must be one or more HTTP response codes"
        return None
    if key == "growth":
        return None if 1 <= number <= 100 else "growth must be between 1 and 100"
    return "unknown Balancer parameter"
