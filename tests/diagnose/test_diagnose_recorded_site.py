"""The recorded proxying site (fixtures/proxied-site, from ``capture_site.py``) replays as it ran.

The tree holds the live kernel tables and the server processes' cmdline,
stat, environ, exe and fd links of ``apache2 -f /srv/site/site.conf -D
SLOWSITE``: the diagnosis of the copy must judge that file with that define,
as the live tests assert on the running server.
"""

from __future__ import annotations

from pathlib import Path

from tcpaudit.diagnose import diagnose

SITE = Path(__file__).resolve().parent / "fixtures" / "proxied-site"


def _pids() -> list[int]:
    return sorted(int(p.name) for p in (SITE / "proc").iterdir() if p.name.isdigit())


def test_the_copy_is_judged_by_its_own_command_line() -> None:
    result = diagnose(SITE)
    parent = _pids()[0]
    instance = result.instance
    assert instance is not None and instance.pid == parent
    assert instance.config_file == "srv/site/site.conf"
    assert instance.arguments == ["-f", "/srv/site/site.conf", "-D", "SLOWSITE", "-DFOREGROUND"]
    conf_lines = (SITE / "srv" / "site" / "site.conf").read_text().splitlines()
    timeout = next(f for f in result.findings if f.rule == "TA101")
    assert timeout.current == 120 and timeout.location is not None
    assert conf_lines[timeout.location.line - 1] == "    Timeout 120"
    c = result.connections
    assert (c.close_wait_unaccepted, c.close_wait_unaccepted_fin_only, c.close_wait_owned) == (
        3,
        2,
        1,
    )
    assert (c.established_unaccepted, c.syn_recv, c.close_wait_other) == (1, 1, 1)
    (backend,) = result.backends
    assert backend.line is not None and conf_lines[backend.line - 1].startswith("ProxyPass /api/ ")
    assert result.workers.busy == 2 and result.apache is not None
    assert result.apache.mpm == "prefork"
