"""Captures as operators paste them: netstat -tp and ss -tp without -n, without -a, without root.

The seed's own lines (examples/closewait-incident/netstat-tp.txt, verbatim)
print service names (``server:http``), peers as names, and no listener; a
``tcp6`` line shows an IPv4 peer as ``::ffff:a.b.c.d``, ss as
``[::ffff:a.b.c.d]``; long peer names come cut to netstat's column. They are
read, never refused, and the diagnosis says what such a capture cannot show.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from diagnose_helpers import run, run_json

from tcpaudit.diagnose import TcpState, classify, parse_netstat, parse_ss
from tcpaudit.diagnose import services as services_module
from tcpaudit.diagnose.services import BUILTIN_SERVICES, service_port

REPO = Path(__file__).resolve().parents[2]
INCIDENT = REPO / "examples" / "closewait-incident"
SEED_CAPTURE = INCIDENT / "netstat-tp.txt"
# The operator's lines, exactly as the incident's report shows them.
SEED_LINES = [
    "Proto Recv-Q Send-Q Local Address     Foreign Address          State       PID/Program name",
    "tcp        1      0 server:http       proxy.example:54021      CLOSE_WAIT  -",
    "tcp      913      0 server:http       proxy.example:50953      CLOSE_WAIT  -",
]


def test_the_seed_capture_is_the_operators_lines_verbatim() -> None:
    lines = SEED_CAPTURE.read_text().splitlines()
    assert lines[1:] == SEED_LINES
    assert lines[0] == "Active Internet connections (w/o servers)"  # netstat -tp's own title


def test_the_seed_capture_is_read_with_names_kept_and_ports_looked_up() -> None:
    records = parse_netstat(SEED_CAPTURE.read_text(), "netstat-tp.txt")
    assert [(r.local_address, r.local_port, r.remote_address, r.remote_port) for r in records] == [
        ("server", 80, "proxy.example", 54021),
        ("server", 80, "proxy.example", 50953),
    ]
    assert [(r.state, r.rx_queue) for r in records] == [
        (TcpState.CLOSE_WAIT, 1),
        (TcpState.CLOSE_WAIT, 913),
    ]
    # netstat's '-' without a listener showing its process proves nothing either way.
    assert classify(records, [80]).connections.close_wait_unknown == 2


def test_diagnosing_the_seed_capture_says_what_it_cannot_show() -> None:
    code, data = run_json("--root", str(INCIDENT), "--netstat", str(SEED_CAPTURE))
    assert code == 1  # the incident configuration's high findings
    assert data["ports"] == [80]  # from the configuration's Listen line
    c = data["connections"]
    assert (c["close_wait_unknown"], c["close_wait_unaccepted"], c["close_wait_owned"]) == (2, 0, 0)
    assert c["close_wait_unknown_fin_only"] == 1  # Recv-Q 1; the other holds 912 request bytes
    assert sorted(s["unread_bytes"] for s in data["close_wait"]) == [1, 913]
    assert {s["remote"] for s in data["close_wait"]} == {
        "proxy.example:54021",
        "proxy.example:50953",
    }
    verdict = data["verdict"]
    assert "1 of them still has request bytes unread" in verdict
    assert "1 of them holds nothing unread but the client's FIN (Recv-Q 1)" in verdict
    notes = " | ".join(n["message"] for n in data["notes"])
    assert "the netstat capture has no listening socket (taken without -l or -a)" in notes
    assert "shows host names (proxy.example, server; taken without -n)" in notes
    assert "netstat shows '-' both for never-accepted sockets" in notes
    assert data["instance"]["found_by"].startswith("a capture names no command line: judged")


def test_netstat_as_root_with_a_listener_tells_fin_only_from_request(tmp_path: Path) -> None:
    capture = tmp_path / "netstat.txt"
    capture.write_text(
        "Active Internet connections (servers and established)\n" + SEED_LINES[0] + "\n"
        "tcp        3      0 0.0.0.0:http            0.0.0.0:*               LISTEN      "
        "1021/httpd\n"
        "tcp        1      0 web1:http               s1117227.xgsspn.imtp.:54021 CLOSE_WAIT  -\n"
        "tcp        1      0 web1:http               s1117228.xgsspn.imtp.:54022 CLOSE_WAIT  -\n"
        "tcp      913      0 web1:http               proxy.example:50953      CLOSE_WAIT  -\n"
        "tcp6       0      0 web1:https              ::ffff:198.51.100.9:41000 ESTABLISHED "
        "1022/httpd\n"
    )
    records = parse_netstat(capture.read_text(), "netstat.txt")
    assert records[1].remote_address == "s1117227.xgsspn.imtp." and records[1].remote_port == 54021
    assert (records[4].local_port, records[4].remote_address) == (443, "198.51.100.9")
    result = classify(records, [80, 443])
    c = result.connections
    assert (c.close_wait_unaccepted, c.close_wait_unaccepted_fin_only, c.established) == (3, 2, 1)
    code, data = run_json("--root", str(INCIDENT), "--netstat", str(capture), "--ports", "80,443")
    assert code == 1
    assert data["connections"]["close_wait_unaccepted_fin_only"] == 2
    assert "2 sent nothing but the FIN (Recv-Q 1" in data["verdict"]
    assert "1 carries a request (Recv-Q above 1)" in data["verdict"]


def test_ss_without_n_and_with_mapped_addresses(tmp_path: Path) -> None:
    text = (
        "State      Recv-Q Send-Q        Local Address:Port          Peer Address:Port Process\n"
        "CLOSE-WAIT 1      0      [::ffff:192.0.2.10]:https [::ffff:198.51.100.7]:54021\n"
        "CLOSE-WAIT 518    0      [::ffff:192.0.2.10]:https [::ffff:198.51.100.7]:54022\n"
        "ESTAB      0      0                192.0.2.10:http-alt       198.51.100.8:40000\n"
    )
    records = parse_ss(text, "ss.txt")
    assert [(r.local_address, r.local_port, r.remote_address) for r in records] == [
        ("192.0.2.10", 443, "198.51.100.7"),
        ("192.0.2.10", 443, "198.51.100.7"),
        ("192.0.2.10", 8080, "198.51.100.8"),
    ]
    capture = tmp_path / "ss.txt"
    capture.write_text(text)
    code, data = run_json("--root", str(INCIDENT), "--ss", str(capture), "--ports", "443")
    assert code == 1  # the incident configuration's findings
    notes = " | ".join(n["message"] for n in data["notes"])
    assert "the ss capture has no process column (taken without -p)" in notes
    assert "the ss capture has no listening socket" in notes
    assert data["connections"]["close_wait_unknown"] == 2


def test_an_unknown_service_name_is_one_error_line_naming_the_line(tmp_path: Path) -> None:
    capture = tmp_path / "netstat.txt"
    capture.write_text(SEED_LINES[0] + "\ntcp 1 0 server:nosuchsvc peer:1 CLOSE_WAIT -\n")
    code, out, err = run("--root", str(INCIDENT), "--netstat", str(capture))
    assert code == 2 and out == ""
    assert err.strip() == (
        f"tcpaudit: error: {capture}:2: unknown service name 'nosuchsvc' (not in /etc/services "
        "or tcpaudit's own table): capture with -n to print ports as numbers"
    )


def test_service_names_without_etc_services(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services_module, "_SERVICES_FILE", "/nonexistent/services")
    services_module._system_table.cache_clear()
    try:
        assert services_module._system_table() == {}
        assert (service_port("http"), service_port("HTTPS"), service_port("http-alt")) == (
            80,
            443,
            8080,
        )
        assert service_port("nosuchsvc") is None
    finally:
        services_module._system_table.cache_clear()


def test_the_shipped_table_agrees_with_this_hosts_services_file() -> None:
    # Where both know a name, they agree (the names are IANA's everywhere).
    system = services_module._system_table()
    assert system, "this host has /etc/services"
    disagree = {
        name: (port, system[name])
        for name, port in BUILTIN_SERVICES.items()
        if name in system and system[name] != port
    }
    assert disagree == {}


@pytest.mark.parametrize(("queued", "warned"), [(6, True), (5, False), (9, False)])
def test_a_queue_close_to_its_backlog_is_said(tmp_path: Path, queued: int, warned: bool) -> None:
    # ss -ltn shows the queue (Recv-Q) and the backlog (Send-Q) of a listener; 9 > 8 is full.
    capture = tmp_path / "ss.txt"
    capture.write_text(
        "State      Recv-Q Send-Q Local Address:Port  Peer Address:Port Process\n"
        f"LISTEN     {queued}      8      0.0.0.0:80         0.0.0.0:*\n"
    )
    _, data = run_json("--root", str(INCIDENT), "--ss", str(capture))
    verdict = data["verdict"]
    assert (f"is close to its backlog ({queued} of 8)" in verdict) is warned
    assert ("is full (9 > backlog 8)" in verdict) is (queued == 9)


def test_a_listener_name_of_a_capture_is_shown_escaped(tmp_path: Path) -> None:
    # ss without -n prints names; a capture is text someone hands over.
    capture = tmp_path / "ss.txt"
    capture.write_text(
        "State Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n"
        "LISTEN 0 511 web1\x1b]0;PWNED\x07\x1b[2J\u202e:60801 0.0.0.0:* "
        'users:(("apache2",pid=13449,fd=3)) ino:235141\n'
    )
    code, out, err = run(
        "--root", str(REPO / "tests/diagnose/fixtures/healthy"), "--ss", str(capture)
    )
    assert code in (0, 1), err
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "web1\\x1b]0;PWNED\\x07\\x1b[2J\\u202e" in out
