"""The proxy rules judge the worker a route runs with, and fix the line its value comes from.

How httpd builds and finds workers is measured on a real apache2 in
tests/lab/test_proxy_workers.py; here each rule's finding and fix follow
from it: a ProxySet or <Proxy> line that sets the worker, and a server-level
route run in a virtual host with that host's Timeout.
"""

from __future__ import annotations

from pathlib import Path

import tcpaudit
from tcpaudit.engine import Finding

HEAD = (
    "LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\n"
    "LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so\n"
    "LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so\n"
    "Listen 80\nTimeout 30\n"
)


def _findings(root: Path, text: str, rule: str) -> list[Finding]:
    conf = root / "etc" / "apache2" / "apache2.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(HEAD + text)
    report = tcpaudit.audit(tcpaudit.gather(root=root))
    return [finding for finding in report.findings if finding.rule == rule]


def _line(text: str, wanted: str) -> int:
    return (HEAD + text).splitlines().index(wanted) + 1


def test_a_server_route_is_judged_with_each_vhosts_timeout(tmp_path: Path) -> None:
    text = (
        "ProxyPass /a http://backend.example/\n"
        "<VirtualHost *:80>\nServerName v.example\nTimeout 600\n</VirtualHost>\n"
    )
    (finding,) = _findings(tmp_path, text, "TA108")
    assert finding.current == 600 and finding.scope is not None and "v.example" in finding.scope
    # The fix sets ProxyTimeout inside that vhost.
    assert finding.fix_changes and finding.fix_changes[0].file == "etc/apache2/apache2.conf"
    assert "ProxyTimeout" in (finding.fix or "")


def test_a_later_proxyset_is_the_value_and_the_line_fixed(tmp_path: Path) -> None:
    text = "ProxyPass /a http://backend.example/ timeout=5\nProxySet http://backend.example/ timeout=900\n"
    (finding,) = _findings(tmp_path, text, "TA108")
    assert finding.current == 900
    at = _line(text, "ProxySet http://backend.example/ timeout=900")
    assert finding.location is not None
    assert (finding.location.file, finding.location.line) == ("etc/apache2/apache2.conf", at)
    (change,) = finding.fix_changes
    assert change.line == at and change.action == "replace"
    assert change.text == f"ProxySet http://backend.example/ timeout={finding.recommended}"


def test_a_route_sharing_a_proxy_sections_worker_is_fixed_there(tmp_path: Path) -> None:
    # The ProxyPass's own keepalive=On is ignored (AH01146): the worker <Proxy> defined runs.
    text = (
        "<Proxy http://backend.example/>\nProxySet keepalive=Off\n</Proxy>\n"
        "ProxyPass /a http://backend.example/ keepalive=On\n"
    )
    (finding,) = _findings(tmp_path, text, "TA109")
    (change,) = finding.fix_changes
    assert change.line == _line(text, "ProxySet keepalive=Off")
    assert change.text == "ProxySet keepalive=On"


def test_parameters_on_a_proxy_line_are_the_workers(tmp_path: Path) -> None:
    text = '<Proxy "http://backend.example/" timeout=900>\n</Proxy>\nProxyPass /a http://backend.example/\n'
    (finding,) = _findings(tmp_path, text, "TA108")
    assert finding.current == 900
    (change,) = finding.fix_changes
    assert change.line == _line(text, '<Proxy "http://backend.example/" timeout=900>')
    assert change.text == f"<Proxy http://backend.example/ timeout={finding.recommended}>"


def test_a_vhost_route_to_a_backend_the_main_server_names_runs_with_its_worker(
    tmp_path: Path,
) -> None:
    text = (
        "ProxyPass /m http://backend.example/ timeout=900\n"
        "<VirtualHost *:80>\nServerName v.example\n"
        "ProxyPass /v http://backend.example/ timeout=5\n</VirtualHost>\n"
    )
    config = tcpaudit.gather(root=_tree(tmp_path, text)).apache
    assert config is not None
    (route,) = config.vhosts[0].proxy_routes
    assert route.params == {"timeout": "900"}
    assert (
        route.shared_with
        == f"etc/apache2/apache2.conf:{_line(text, 'ProxyPass /m http://backend.example/ timeout=900')}"
    )


def _tree(root: Path, text: str) -> Path:
    conf = root / "etc" / "apache2" / "apache2.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(HEAD + text)
    return root


def test_short_urls_of_a_proxypassmatch_run_with_the_default_worker(tmp_path: Path) -> None:
    # timeout=5 covers only URLs at least as long as the worker's name; /m
    # runs with the default worker and the server's Timeout of 600.
    text = "Timeout 600\nProxyPassMatch ^/m(.*)$ http://backend.example/$1 timeout=5\n"
    (finding,) = _findings(tmp_path, text, "TA108")
    assert finding.current == 600
    assert "shorter than its ProxyPassMatch worker's name" in finding.message


def test_a_vhost_inheriting_no_workers_runs_server_routes_with_its_own_timers(
    tmp_path: Path,
) -> None:
    text = (
        "ProxyPass /m http://backend.example/ timeout=5\n"
        "<VirtualHost *:80>\nServerName v.example\nProxyPassInherit Off\nBalancerInherit Off\n"
        "Timeout 600\n</VirtualHost>\n"
    )
    (finding,) = _findings(tmp_path, text, "TA108")
    assert finding.current == 600 and finding.scope is not None and "v.example" in finding.scope


def test_a_balancer_routes_members_are_judged_and_fixed_on_their_lines(tmp_path: Path) -> None:
    # timeout= on the ProxyPass is the balancer's wait for a free member;
    # the member runs with the server's Timeout until its own line says otherwise.
    text = (
        "Timeout 600\n<Proxy balancer://pool>\nBalancerMember http://app1.example/\n"
        "BalancerMember http://app2.example/ timeout=5\n</Proxy>\n"
        "ProxyPass /a balancer://pool/ timeout=5\n"
    )
    findings = _findings(tmp_path, text, "TA108")
    assert [finding.current for finding in findings] == [600]
    assert "member http://app1.example/" in findings[0].message
    keepalive = _findings(tmp_path / "again", text, "TA109")
    assert {change.line for f in keepalive for change in f.fix_changes} == {
        _line(text, "BalancerMember http://app1.example/"),
        _line(text, "BalancerMember http://app2.example/ timeout=5"),
    }


def test_members_outside_a_proxy_section_join_the_balancer_its_path_names(tmp_path: Path) -> None:
    # add_member takes the balancer from any section's path (cmd->path):
    # <Location balancer://...> and a <Limit> inside <Proxy> define members
    # (apache2 -t accepts both: tests/apache/test_proxy_params.py).
    text = (
        "LoadModule proxy_balancer_module /usr/lib/apache2/modules/mod_proxy_balancer.so\n"
        "Timeout 600\n<Location balancer://pool>\nBalancerMember http://app1.example/\n"
        "</Location>\n<Proxy balancer://pool>\n<Limit GET>\n"
        "BalancerMember http://app2.example/ timeout=5\n</Limit>\n</Proxy>\n"
        "ProxyPass /a balancer://pool/ timeout=5\n"
    )
    findings = _findings(tmp_path, text, "TA108")
    assert [finding.current for finding in findings] == [600]
    assert "member http://app1.example/" in findings[0].message
    keepalive = _findings(tmp_path / "again", text, "TA109")
    assert {change.line for f in keepalive for change in f.fix_changes} == {
        _line(text, "BalancerMember http://app1.example/"),
        _line(text, "BalancerMember http://app2.example/ timeout=5"),
    }


def test_a_proxypassmatch_port_reference_names_the_worker_as_httpd_does(tmp_path: Path) -> None:
    # httpd names the worker of http://b:$1/ "http://b$1/" (the "$1" cut from
    # the port and put before the path), so the second line shares it and
    # its timeout=7 is ignored (apache2 -t: AH01146).
    text = (
        "ProxyPassMatch ^/(a) http://b:$1/ timeout=5\nProxyPassMatch ^/(c) http://b$1/ timeout=7\n"
    )
    conf = tmp_path / "etc" / "apache2" / "apache2.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(HEAD + text)
    apache = tcpaudit.gather(root=tmp_path).apache
    assert apache is not None
    second = apache.proxy_routes[1]
    assert second.shared_with == f"etc/apache2/apache2.conf:{_line(text, text.splitlines()[0])}"
