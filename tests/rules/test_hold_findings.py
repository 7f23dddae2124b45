"""What the rules built on the worker-hold model say, and that their fixes hold.

TA301 names the kind of stalled client that drains the pool, and its fix,
pasted into the main file, clears it on configurations of every shape (the
fix is computed on the model, then proven here by a new audit). TA101 says
what Timeout still bounds once mod_reqtimeout cuts the request. The
proxy-backend profile never recommends a KeepAliveTimeout at or below the
balancer's idle timeout. The corrected texts say what the kernel and httpd do.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import tcpaudit
from tcpaudit.engine import audit, load_catalogue

REPO = Path(__file__).resolve().parents[2]
DEBIAN = REPO / "tests/corpus/debian-12-apache2.4"
INCIDENT = REPO / "examples/closewait-incident"
CONF = "usr/local/apache2/conf/httpd.conf"
PREFORK = "LoadModule mpm_prefork_module modules/mod_mpm_prefork.so\n"
EVENT = "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
REQTIMEOUT = "LoadModule reqtimeout_module modules/mod_reqtimeout.so\n"


def tree(tmp_path: Path, text: str) -> Path:
    conf = tmp_path / "host" / CONF
    conf.parent.mkdir(parents=True)
    conf.write_text(text)
    return tmp_path / "host"


def findings(
    root: Path, *, profile: str | None = None, version: str | None = None
) -> dict[str, list[tcpaudit.Finding]]:
    report = audit(tcpaudit.gather(root, apache_version=version), profile=profile)  # type: ignore[arg-type]
    found: dict[str, list[tcpaudit.Finding]] = {}
    for finding in report.findings:
        found.setdefault(finding.rule, []).append(finding)
    return found


def paste(conf: Path, fix: str) -> None:
    """Set each directive of ``fix`` where the file sets it now, else append it."""
    text = conf.read_text()
    for line in fix.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name = line.split()[0]
        pattern = re.compile(rf"^{re.escape(name)}\s.*$", re.MULTILINE | re.IGNORECASE)
        if pattern.search(text) and name.lower() != "loadmodule":
            text = pattern.sub(line, text)
        else:
            text += line + "\n"
    conf.write_text(text)


@pytest.mark.parametrize(
    ("shape", "text", "kind"),
    [
        ("no-reqtimeout", PREFORK + "Timeout 300\nMaxRequestWorkers 150\n", "silent"),
        ("event-slow-reader", EVENT + REQTIMEOUT + "Timeout 300\n", "slow_reader"),
        (
            "keepalive-on-prefork",
            PREFORK + REQTIMEOUT + "Timeout 20\nKeepAliveTimeout 60\nMaxRequestWorkers 150\n",
            "keepalive_idle",
        ),
        (
            "tls-on-a-small-pool",
            EVENT
            + REQTIMEOUT
            + "LoadModule ssl_module modules/mod_ssl.so\nListen 443\nSSLEngine on\nTimeout 20\n"
            + "RequestReadTimeout header=10-20,MinRate=500 body=10-60,MinRate=500\n"
            + "MaxRequestWorkers 75\nServerLimit 3\n",
            # Timeout-bound, a stalled handshake ties with a slow reader (named first).
            "slow_reader",
        ),
        (
            "body-stage-off",
            PREFORK + REQTIMEOUT + "Timeout 100\nRequestReadTimeout header=10 body=0\n",
            "body_stall",
        ),
        (
            "small-pool",
            PREFORK + REQTIMEOUT + "Timeout 30\nMaxRequestWorkers 10\nServerLimit 10\n",
            "slow_reader",
        ),
        ("negative-timeout", EVENT + "Timeout -1\n", "silent"),
    ],
)
def test_ta301_names_the_kind_and_its_pasted_fix_clears_it(
    tmp_path: Path, shape: str, text: str, kind: str
) -> None:
    root = tree(tmp_path, text)
    before = findings(root)
    (exhaustion,) = before["TA301"]
    assert f"({kind})" in exhaustion.message, exhaustion.message
    assert exhaustion.fix
    paste(root / CONF, exhaustion.fix)
    after = findings(root)
    assert "TA301" not in after, after["TA301"][0].message
    # The fix raises no finding that was not there, and clears the timers' own.
    assert set(after) <= set(before), set(after) - set(before)
    for rule in ("TA101", "TA103", "TA111"):
        assert rule not in after, (rule, after.get(rule))


def test_ta301_names_the_virtual_host_it_cannot_fix_from_the_main_file(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        EVENT
        + REQTIMEOUT
        + "Timeout 20\nRequestReadTimeout header=20-40,MinRate=500 body=20-120,MinRate=500\n"
        + "<VirtualHost *:80>\n    ServerName files.example\n    Timeout 300\n</VirtualHost>\n",
    )
    (exhaustion,) = findings(root)["TA301"]
    assert "(slow_reader)" in exhaustion.message and "files.example" in exhaustion.message
    assert exhaustion.fix is not None
    assert (
        exhaustion.fix
        == "# in <VirtualHost *:80> files.example (usr/local/apache2/conf/httpd.conf:7):\nTimeout 30"
    )
    # The change replaces the virtual host's own line, where it wins.
    (change,) = exhaustion.fix_changes
    assert (change.line, change.action, change.text) == (7, "replace", "Timeout 30")


def test_debian_ta101_says_what_timeout_still_bounds(tmp_path: Path) -> None:
    # Debian: mod_reqtimeout cuts a silent client at 20 s; Timeout 300 is not its hold.
    (timeout,) = findings(DEBIAN)["TA101"]
    assert "holds one event worker 300 s" not in timeout.message
    assert "cut by mod_reqtimeout (header 20 s, body 10 s), not by Timeout" in timeout.message
    for bounded in (
        "stops reading a large response (300 s",
        "CGI output",
        "ProxyTimeout",
        "tunnels",
    ):
        assert bounded in timeout.message
    # The incident, without mod_reqtimeout, is held by Timeout itself.
    (incident,) = findings(INCIDENT)["TA101"]
    assert "stops sending its request holds one prefork worker 300 s per read" in incident.message


def test_ta101_names_the_tls_handshake_where_no_stage_bounds_it(tmp_path: Path) -> None:
    text = (
        EVENT
        + REQTIMEOUT
        + "LoadModule ssl_module modules/mod_ssl.so\nListen 443\nSSLEngine on\nTimeout 300\n"
    )
    (timeout,) = findings(tree(tmp_path / "a", text), version="2.4.71")["TA101"]
    assert "a stalled TLS handshake (no handshake stage applies)" in timeout.message
    staged = text + "RequestReadTimeout handshake=10\n"
    (timeout,) = findings(tree(tmp_path / "b", staged), version="2.4.71")["TA101"]
    assert "TLS handshake" not in timeout.message


def test_debian_ta301_quotes_slow_readers(tmp_path: Path) -> None:
    (exhaustion,) = findings(DEBIAN)["TA301"]
    # The vhost covering Listen 80 serves every request: the finding names it.
    assert "(slow_reader) holds a worker in <VirtualHost *:80> 300 s" in exhaustion.message
    assert "mod_reqtimeout never covers a response" in exhaustion.message


@pytest.mark.parametrize(
    "text",
    [
        PREFORK + REQTIMEOUT + "KeepAliveTimeout 15\nMaxRequestWorkers 150\nTimeout 20\n",
        PREFORK
        + REQTIMEOUT
        + "KeepAliveTimeout 120\nMaxRequestWorkers 20\nServerLimit 20\nTimeout 20\n",
        EVENT + "KeepAlive Off\n",
        PREFORK + "KeepAlive Off\nTimeout 300\n",
        EVENT
        + "KeepAliveTimeout 2\n<VirtualHost *:80>\nServerName a\nKeepAliveTimeout 1\n</VirtualHost>\n",
    ],
)
def test_proxy_backend_never_recommends_keepalive_at_or_below_the_balancer(
    tmp_path: Path, text: str
) -> None:
    found = findings(tree(tmp_path, text), profile="proxy-backend")
    asked = [
        float(match.group(1))
        for items in found.values()
        for finding in items
        for match in re.finditer(r"KeepAliveTimeout (\d+(?:\.\d+)?)", finding.fix or "")
    ]
    assert all(seconds > 60 for seconds in asked), (asked, found)
    assert "TA102" not in found


def test_proxy_backend_does_not_move_a_short_vhost_keepalive_to_the_first_vhost() -> None:
    # The incident's ignored vhost value (2 s) is dangerous behind a balancer.
    found = findings(INCIDENT, profile="proxy-backend")
    (ignored,) = found["TA107"]
    assert ignored.fix == "# delete: KeepAliveTimeout 2 (etc/httpd/conf.d/shop.conf:13)"
    assert ignored.recommended is None
    (change,) = ignored.fix_changes
    assert (change.file, change.line, change.action, change.text) == (
        "etc/httpd/conf.d/shop.conf",
        13,
        "replace",
        "",
    )
    assert "TA118" in ignored.message


def test_proxy_backend_asks_for_workers_when_keepalive_drains_the_pool(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        PREFORK
        + REQTIMEOUT
        + "KeepAliveTimeout 65\nMaxRequestWorkers 20\nServerLimit 20\nTimeout 20\n",
    )
    (exhaustion,) = findings(root, profile="proxy-backend")["TA301"]
    assert "(keepalive_idle)" in exhaustion.message
    assert exhaustion.fix is not None and "MaxRequestWorkers 335" in exhaustion.fix
    assert "KeepAliveTimeout" not in exhaustion.fix
    paste(root / CONF, exhaustion.fix)
    assert "TA301" not in findings(root, profile="proxy-backend")


def test_keepalive_texts_say_probes_end_close_wait_when_the_peer_is_gone() -> None:
    rules = {rule.id: rule for rule in load_catalogue()}
    for rule_id in ("TA201", "TA203", "TA302"):
        text = " ".join((rules[rule_id].rationale + rules[rule_id].message).split())
        assert "gone" in text, rule_id
    assert "never times CLOSE_WAIT out" not in rules["TA203"].rationale
    assert "only once the peer that closed has forgotten" not in rules["TA201"].rationale


def test_ta205_quotes_the_live_value_from_proc_and_applies_the_files(tmp_path: Path) -> None:
    case = REPO / "tests/rules/TA205/trigger/live-value-from-proc-not-the-file"
    (capped,) = findings(case)["TA205"]
    assert "net.core.somaxconn = 128 (proc/sys/net/core/somaxconn)" in capped.message
    assert "50-backlog.conf" not in capped.message
    # The file already sets 4096 for the next boot: apply it, do not write 511 over it.
    assert capped.fix == "sysctl -w net.core.somaxconn=4096"


def test_ta112_says_the_filter_delays_the_hold_and_spares_old_22(tmp_path: Path) -> None:
    text = "Listen 80\nAcceptFilter http none\n"
    root = tree(tmp_path, text)
    (off,) = findings(root, version="2.2.28")["TA112"]
    assert "31 s first" in off.message and "still held afterwards" in off.message
    assert "TA112" not in findings(root, version="2.2.27")


def test_ta104_flags_the_24_default_body_stage(tmp_path: Path) -> None:
    (weak,) = findings(tree(tmp_path, EVENT + REQTIMEOUT))["TA104"]
    assert "body=20,MinRate=500 without a maximum" in weak.message
    assert weak.current == "body: no maximum"


def test_debian_stock_tree_clears_with_its_fixes_pasted_in_apache2_conf(tmp_path: Path) -> None:
    # apache2.conf includes mods-enabled/ near its top: lines appended at its end win.
    root = tmp_path / "debian"
    shutil.copytree(DEBIAN, root, symlinks=True)
    before = findings(root)
    assert {"TA101", "TA104", "TA301"} <= set(before)
    for rule in ("TA301", "TA104", "TA101"):
        for finding in before[rule]:
            assert finding.fix is not None
            paste(root / "etc/apache2/apache2.conf", finding.fix)
    after = findings(root)
    assert not {"TA101", "TA104", "TA301"} & set(after), {r: after[r] for r in after}
    assert set(after) <= set(before)


def test_ta301_points_at_the_line_of_the_vhost_whose_hold_it_quotes(tmp_path: Path) -> None:
    # The server's Timeout 30 is a later line than Debian's 300; vhost a sets
    # its own 300, the longest hold: the finding quotes a's and must point there.
    root = tmp_path / "debian"
    shutil.copytree(DEBIAN, root, symlinks=True)
    with (root / "etc/apache2/apache2.conf").open("a") as conf:
        conf.write("Timeout 30\n")
    (root / "etc/apache2/sites-enabled/x.conf").write_text(
        "<VirtualHost *:80>\nServerName a\nTimeout 300\n</VirtualHost>\n"
        "<VirtualHost *:80>\nServerName b\nKeepAliveTimeout 60\nTimeout 20\n</VirtualHost>\n"
    )
    (exhaustion,) = findings(root)["TA301"]
    assert "<VirtualHost *:80> a 300 s" in exhaustion.message
    assert exhaustion.location is not None
    assert (exhaustion.location.file, exhaustion.location.line) == (
        "etc/apache2/sites-enabled/x.conf",
        3,
    )
