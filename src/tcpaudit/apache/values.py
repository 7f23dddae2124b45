"""Parse directive arguments into values the way httpd's own handlers do.

Each parser mirrors the handler in httpd that reads the directive, because
the audit must see the number Apache runs with, not the one a reader would
guess: ``Timeout 5ms`` is five *seconds* (atoi), ``KeepAliveTimeout 100ms``
is a tenth of a second (ap_timeout_parameter_parse, 2.4 only).
"""

from __future__ import annotations

import re

from pydantic import ConfigDict

from ..first_error import FirstErrorModel

__all__ = [
    "InvalidValueError",
    "ReadTimeoutLimit",
    "RequestReadTimeoutValue",
    "StageDefaults",
    "ascii_lower",
    "c_int",
    "parse_atoi",
    "parse_flag_keepalive",
    "parse_proxy_params",
    "parse_request_read_timeout",
    "parse_timeout_parameter",
    "utf8_length",
]

# C's isspace() and digits only (Python's \s and \d take Unicode ones too).
_LEADING_INT = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)")


class InvalidValueError(Exception):
    """Raised when httpd itself would reject the value (it refuses to start)."""


_LONG_MAX = 2**63 - 1


def c_long(digits: str) -> int:
    """``strtol`` of a run of digits (optional sign): saturates at LONG_MAX / LONG_MIN.

    Python's ``int`` would build a number of any size (and refuses more than
    4300 digits with ValueError); httpd's C never sees more than a long.
    """
    negative = digits.startswith("-")
    body = digits.lstrip("+-").lstrip("0")
    # strtol reads ASCII digits only ('²' is a digit to str.isdigit): the run of them.
    ascii_run = len(body) - len(body.lstrip("0123456789"))
    body = body[:ascii_run] or "0"
    value = _LONG_MAX + (1 if negative else 0) if len(body) > 19 else int(body)
    value = min(value, _LONG_MAX + (1 if negative else 0))
    return -value if negative else value


def _fits(digits: str) -> bool:
    """Whether strtol reads ``digits`` without ERANGE (a saturated value is exact)."""
    body = digits.lstrip("+-").lstrip("0") or "0"
    limit = str(_LONG_MAX + digits.startswith("-"))
    return len(body) < len(limit) or (len(body) == len(limit) and body <= limit)


def c_int(value: int) -> int:
    """A long cast to C's 32-bit ``int``: the low 32 bits, signed (glibc's
    ``atoi`` is ``(int) strtol``: 4294967306 is 10, a saturated long -1)."""
    return (value + 2**31) % 2**32 - 2**31


def ascii_lower(text: str) -> str:
    """``text`` as httpd's ap_str_tolower and strcasecmp fold it: ASCII letters
    only (str.lower folds the Kelvin sign to "k" and "É" to "é", httpd
    does not)."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


def utf8_length(text: str) -> int:
    """The bytes of ``text`` in UTF-8, as httpd counts them."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogateescape"))


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def parse_atoi(text: str) -> int:
    """C ``atoi``: the leading integer, 0 when there is none (``5ms`` -> 5, ``abc`` -> 0)."""
    match = _LEADING_INT.match(text)
    return c_int(c_long(match.group(1))) if match else 0


def parse_timeout_parameter(text: str, version: tuple[int, ...]) -> float:
    """Seconds from a time value as ``KeepAliveTimeout`` reads it.

    2.4 uses ``ap_timeout_parameter_parse`` (server/util.c): a non-negative
    integer, then a unit judged by its first letters only: none or ``s...``
    seconds, ``h...`` hours, ``ms...`` milliseconds, ``mi...`` minutes;
    anything else (``1m``, ``abc``, ``5 s``) is refused. 2.2 uses atoi.
    """
    if version < (2, 4):
        return float(parse_atoi(text))
    match = _LEADING_INT.match(text)
    amount = c_long(match.group(1)) if match else 0
    unit = text[match.end() :] if match else text
    if (
        match
        and c_long(match.group(1)) in (_LONG_MAX, -_LONG_MAX - 1)
        and not _fits(match.group(1))
    ):
        raise InvalidValueError(f"time value {text!r} is out of range")  # strtoi64's ERANGE
    if amount < 0:
        raise InvalidValueError(f"invalid time value {text!r}")
    # The largest amount of each unit whose microseconds fit an int64 (2.4.x
    # returns ERANGE past it): seconds, hours, milliseconds, minutes.
    if unit == "" or unit.startswith("s"):
        seconds, most = float(amount), _LONG_MAX // 1_000_000
    elif unit.startswith("h"):
        seconds, most = amount * 3600.0, _LONG_MAX // 3600 // 1_000_000
    elif unit.startswith("ms"):
        seconds, most = amount / 1000, _LONG_MAX // 1000
    elif unit.startswith("mi"):
        seconds, most = amount * 60.0, _LONG_MAX // 60 // 1_000_000
    else:
        raise InvalidValueError(f"invalid time unit in {text!r}")
    if amount > most:
        raise InvalidValueError(f"time value {text!r} is out of range")
    return seconds


def parse_flag_keepalive(text: str, version: tuple[int, ...] = (2, 4)) -> bool:
    """``KeepAlive``: a FLAG in 2.4 (``On`` or ``Off`` only, any case); in 2.2
    ``Off`` (or 0) disables it and any other word enables it (http_core.c).
    """
    if version >= (2, 4) and text.lower() not in ("on", "off"):
        raise InvalidValueError("KeepAlive must be On or Off")
    return not (text.lower() == "off" or text == "0")


class ReadTimeoutLimit(FirstErrorModel):
    """One stage of mod_reqtimeout: initial timeout, optional maximum, minimum rate.

    ``default`` marks a stage no RequestReadTimeout line names, which runs with
    the module's compiled defaults (2.4). It matters in 2.4.39 only, where the
    compiled MinRate of such stages is not applied (PR 63325, fixed in 2.4.40:
    the ``#if MRT_DEFAULT_HEADER_MIN_RATE`` tests name macros that do not exist).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_seconds: int
    max_seconds: int | None = None
    min_rate_bytes: int | None = None
    default: bool = False

    @property
    def worst_case_seconds(self) -> int:
        """The initial timeout, or the maximum when a MinRate extends the stage up to one.

        A MinRate without a maximum extends the stage without limit while the
        client keeps sending at that rate; this property then still gives the
        initial timeout (see ``unbounded_by_rate``).
        """
        if self.max_seconds is not None and self.min_rate_bytes:
            return self.max_seconds
        return self.timeout_seconds

    @property
    def unbounded_by_rate(self) -> bool:
        """A MinRate and no maximum: a client sending at that rate is never cut."""
        return bool(self.min_rate_bytes) and not self.max_seconds and not self.disabled

    @property
    def disabled(self) -> bool:
        return self.timeout_seconds == 0


class RequestReadTimeoutValue(FirstErrorModel):
    """mod_reqtimeout's limits; a stage set to 0 or absent imposes no limit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    handshake: ReadTimeoutLimit | None = None
    header: ReadTimeoutLimit | None = None
    body: ReadTimeoutLimit | None = None


class StageDefaults(tuple[str, ...]):
    """RequestReadTimeout arguments that stand for the module's compiled defaults.

    ``parse_request_read_timeout`` marks the stages it reads from such a tuple
    as ``default``: the same words written in a configuration file are not.
    """

    __slots__ = ()


_STAGE = re.compile(r"^(handshake|header|body)=(.*)$", re.IGNORECASE)


def _reqtimeout_int(text: str) -> int:
    """mod_reqtimeout's parse_int: ``(int) strtol`` of the whole word (leading
    blanks and a sign taken), refused when nothing or more follows, or below 0."""
    match = _LEADING_INT.match(text)
    if not match:
        raise InvalidValueError(f"RequestReadTimeout value {text!r} is not numerical")
    if match.end() != len(text):
        raise InvalidValueError(f"RequestReadTimeout cannot parse {text[match.end() :]!r}")
    value = c_int(c_long(match.group(1)))
    if value < 0:
        raise InvalidValueError(f"RequestReadTimeout value {text!r} is negative as an int")
    return value


def _stage_limit(text: str) -> ReadTimeoutLimit:
    """One stage's value as set_reqtimeout_param reads it (mod_reqtimeout.c)."""
    position = text.lower().find(",minrate=")
    maximum = 0
    min_rate: int | None = None
    if position >= 0:
        initial = text[:position]
        min_rate = _reqtimeout_int(text[position + len(",minrate=") :])
        if min_rate == 0:
            raise InvalidValueError("RequestReadTimeout MinRate must be larger than 0")
        if "-" in initial:
            initial, _, high = initial.partition("-")
            maximum = _reqtimeout_int(high)
    elif "-" in text:
        raise InvalidValueError("RequestReadTimeout needs MinRate with a timeout range")
    else:
        initial = text
    timeout = _reqtimeout_int(initial)
    if maximum and timeout >= maximum:
        raise InvalidValueError("RequestReadTimeout maximum must be larger than the timeout")
    return ReadTimeoutLimit(
        timeout_seconds=timeout, max_seconds=maximum or None, min_rate_bytes=min_rate
    )


def parse_request_read_timeout(
    args: tuple[str, ...], base: RequestReadTimeoutValue | None
) -> RequestReadTimeoutValue:
    """Apply ``RequestReadTimeout`` arguments over the limits already in force.

    A stage the arguments name replaces that stage only (set_reqtimeout_param
    clears the stage, then reads it); the others keep ``base``'s. Arguments
    given as ``StageDefaults`` yield stages marked ``default``.
    """
    stages: dict[str, ReadTimeoutLimit | None] = {
        "handshake": base.handshake if base else None,
        "header": base.header if base else None,
        "body": base.body if base else None,
    }
    compiled = isinstance(args, StageDefaults)
    for arg in args:
        match = _STAGE.match(arg)
        if not match:
            raise InvalidValueError(f"unknown RequestReadTimeout parameter {arg!r}")
        stage = _stage_limit(match.group(2))
        stages[match.group(1).lower()] = (
            stage.model_copy(update={"default": True}) if compiled else stage
        )
    return RequestReadTimeoutValue(**stages)


def parse_proxy_params(args: tuple[str, ...]) -> dict[str, str]:
    """The ``key=value`` worker parameters of a ``ProxyPass`` line (lower-cased keys)."""
    params: dict[str, str] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if sep and key and "/" not in key and ":" not in key:
            params[key.lower()] = value
    return params
