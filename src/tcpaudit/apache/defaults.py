"""httpd's compiled-in defaults, by version and MPM, each with its source.

These apply when no directive sets a value; the model marks them as defaults
so a report can say "not set: Apache's compiled default of 300 s applies".
"""

from __future__ import annotations

from .values import StageDefaults

__all__ = [
    "DEFAULT_KEEPALIVE",
    "DEFAULT_KEEPALIVE_TIMEOUT_SECONDS",
    "DEFAULT_LISTEN_BACKLOG",
    "DEFAULT_MAX_KEEPALIVE_REQUESTS",
    "DEFAULT_REQUEST_READ_TIMEOUT_2_4",
    "MPM_DEFAULTS",
    "default_timeout_seconds",
]

# core.c: DEFAULT_TIMEOUT is 300 up to 2.3.14 and 60 from 2.3.15 (CHANGES, docs).
_TIMEOUT_CHANGED_IN = (2, 3, 15)
DEFAULT_KEEPALIVE = True  # core docs: KeepAlive Default On
DEFAULT_KEEPALIVE_TIMEOUT_SECONDS = 5  # core docs: KeepAliveTimeout Default 5
DEFAULT_MAX_KEEPALIVE_REQUESTS = 100  # core docs: MaxKeepAliveRequests Default 100
DEFAULT_LISTEN_BACKLOG = 511  # mpm_common docs: ListenBacklog Default 511

# mod_reqtimeout docs (2.4), MRT_DEFAULT_* in mod_reqtimeout.c: the limits in force
# when the module is loaded and RequestReadTimeout does not name a stage (the
# handshake stage, from 2.4.39, defaults to 0: off). 2.2's module has no
# defaults (no limit).
DEFAULT_REQUEST_READ_TIMEOUT_2_4 = StageDefaults(
    ("header=20-40,MinRate=500", "body=20,MinRate=500")
)

# mpm_common docs: per-MPM defaults of the worker limits. MaxRequestWorkers of
# threaded MPMs is the compiled ServerLimit x ThreadsPerChild (16 x 25), set in
# the MPM's pre_config before the configuration's own values are read.
MPM_DEFAULTS: dict[str, dict[str, int]] = {
    "prefork": {
        "ServerLimit": 256,
        "MaxRequestWorkers": 256,
        "ThreadsPerChild": 1,
        "ThreadLimit": 1,
    },
    "worker": {
        "ServerLimit": 16,
        "MaxRequestWorkers": 400,
        "ThreadsPerChild": 25,
        "ThreadLimit": 64,
    },
    "event": {
        "ServerLimit": 16,
        "MaxRequestWorkers": 400,
        "ThreadsPerChild": 25,
        "ThreadLimit": 64,
    },
}


def default_timeout_seconds(version: tuple[int, ...]) -> int:
    """``Timeout`` when not set: 300 s up to 2.3.14, 60 s from 2.3.15."""
    padded = version + (0,) * (3 - len(version))
    return 300 if padded < _TIMEOUT_CHANGED_IN else 60
