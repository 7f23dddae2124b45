"""The public library surface: exported names, the documented calls, errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import tcpaudit

REPO = Path(__file__).resolve().parents[1]


def test_all_is_sorted_and_complete() -> None:
    assert list(tcpaudit.__all__) == sorted(tcpaudit.__all__)
    for name in tcpaudit.__all__:
        assert hasattr(tcpaudit, name), name
    public = {name for name in vars(tcpaudit) if not name.startswith("_")}
    modules = {name for name, value in vars(tcpaudit).items() if type(value).__name__ == "module"}
    assert public - modules - {"annotations"} <= set(tcpaudit.__all__)


def test_documented_flow() -> None:
    facts = tcpaudit.gather(root=REPO / "examples" / "closewait-incident")
    report = tcpaudit.audit(facts)
    assert report.grade == "F"
    assert [f.severity.rank for f in report.findings] == sorted(
        (f.severity.rank for f in report.findings), reverse=True
    )
    data = json.loads(report.to_json())
    assert data["schema_version"] == 1 and data["tool"]["name"] == "tcpaudit"
    assert data["apache"]["mpm"] == "prefork" and data["apache"]["version"] == "2.2"


def test_derived_timings_of_the_incident() -> None:
    derived = tcpaudit.gather(root=REPO / "examples" / "closewait-incident").derived
    assert derived.max_request_workers_effective == 150
    assert derived.keepalive_detect_seconds == 7200 + 75 * 9
    assert derived.retries2_giveup_seconds == 924.6
    assert derived.listen_backlog_effective == 128  # ListenBacklog 511 capped by somaxconn 128
    # A silent client: Timeout 300 s, then 2 s of lingering close in the prefork worker.
    assert derived.worker_hold_seconds_worst == 302
    assert derived.worker_hold_kind_worst == "silent"
    assert derived.exhaustion_clients_per_second == round(150 / 302, 3)


@pytest.mark.parametrize(("retries", "seconds"), [(15, 924.6), (8, 102.2), (9, 204.6), (3, 3.0)])
def test_retries2_giveup_formula(retries: int, seconds: float) -> None:
    from tcpaudit.facts import retries2_giveup_seconds

    assert retries2_giveup_seconds(retries) == seconds


@pytest.mark.parametrize(
    ("retries", "rto_max", "seconds"),
    # tcp_model_timeout with tcp_rto_max_ms (Linux 6.15): the doubling stops
    # at ilog2(rto_max / 200 ms), an exact power of two included (1.6 s: 3).
    [
        (15, 1.0, 14.4),
        (8, 1.0, 7.4),
        (2, 1.0, 1.4),
        (3, 1.6, 3.0),
        (4, 1.6, 4.6),
        (15, 60.0, 522.2),
    ],
)
def test_retries2_giveup_under_a_lowered_rto_cap(
    retries: int, rto_max: float, seconds: float
) -> None:
    from tcpaudit.facts import least_retries2_for, retries2_giveup_seconds

    assert retries2_giveup_seconds(retries, rto_max) == seconds
    assert least_retries2_for(100, 1.0) == 101 and least_retries2_for(100) == 8


def test_host_facts_from_dict_recomputes_derived() -> None:
    facts = tcpaudit.gather(root=REPO / "examples" / "tuned")
    document = facts.model_dump(mode="json")
    document["derived"] = {"keepalive_detect_seconds": 1}
    rebuilt = tcpaudit.HostFacts.model_validate(document)
    assert rebuilt.derived.keepalive_detect_seconds == 600 + 30 * 5


def test_parse_error_prints_file_and_line() -> None:
    error = tcpaudit.ApacheConfigError("bad", file="etc/x.conf", line=3)
    assert str(error) == "etc/x.conf:3: bad"
    assert isinstance(error, tcpaudit.ParseError) and isinstance(error, tcpaudit.TcpauditError)


def test_root_without_apache_is_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "etc" / "sysctl.d").mkdir(parents=True)
    (tmp_path / "etc" / "sysctl.d" / "90-tcp.conf").write_text("net.ipv4.tcp_retries2 = 8\n")
    facts = tcpaudit.gather(root=tmp_path)
    assert facts.apache is None
    assert any("no Apache configuration" in note.message for note in facts.notes)
    report = tcpaudit.audit(facts)
    assert all(not f.rule.startswith("TA1") for f in report.findings)


@pytest.mark.parametrize("shape", ["missing", "file", "empty"])
def test_a_root_with_nothing_to_audit_is_refused_like_the_cli_does(
    tmp_path: Path, shape: str
) -> None:
    # A mistyped image path must not grade A through the library either.
    root = tmp_path / "image"
    if shape == "file":
        root.write_text("not a tree\n")
    elif shape == "empty":
        (root / "etc").mkdir(parents=True)
    with pytest.raises(tcpaudit.UsageError) as caught:
        tcpaudit.gather(root=root)
    assert str(root) in str(caught.value)
    expected = {
        "missing": "does not exist",
        "file": "is not a directory",
        "empty": "nothing to audit",
    }
    assert expected[shape] in str(caught.value)


def test_auditing_never_writes_to_the_tree(tmp_path: Path) -> None:
    import shutil

    tree = tmp_path / "tree"
    shutil.copytree(REPO / "examples" / "closewait-incident", tree, symlinks=True)

    def snapshot() -> dict[str, tuple[bytes, int]]:
        return {
            str(p.relative_to(tree)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(tree.rglob("*"))
            if p.is_file()
        }

    before = snapshot()
    tcpaudit.audit(tcpaudit.gather(root=tree)).to_json()
    assert snapshot() == before


def _prefork_config(tmp_path: Path, text: str) -> tcpaudit.ApacheConfig:
    conf = tmp_path / "usr/local/apache2/conf/httpd.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text("LoadModule mpm_prefork_module modules/mod_mpm_prefork.so\n" + text)
    config = tcpaudit.load_apache(root=tmp_path)
    assert config is not None
    return config


def keepalive_hold_seconds(config: tcpaudit.ApacheConfig) -> float | None:
    from tcpaudit.hold import kind_holds

    return kind_holds(config)["keepalive_idle"].seconds


def test_keepalive_hold_ignores_vhosts_with_keepalive_off(tmp_path: Path) -> None:
    config = _prefork_config(
        tmp_path,
        "KeepAliveTimeout 2\n<VirtualHost *:80>\nKeepAlive Off\nKeepAliveTimeout 30\n</VirtualHost>\n",
    )
    # 2 s, then the prefork worker's lingering close (up to 2 s).
    assert keepalive_hold_seconds(config) == 4


def test_keepalive_hold_counts_a_vhost_that_turns_it_on(tmp_path: Path) -> None:
    config = _prefork_config(
        tmp_path,
        "KeepAlive Off\nKeepAliveTimeout 7\n<VirtualHost *:80>\nKeepAlive On\n</VirtualHost>\n",
    )
    assert keepalive_hold_seconds(config) == 9


def test_a_negative_timeout_is_no_limit_for_the_hold(tmp_path: Path) -> None:
    conf = tmp_path / "usr/local/apache2/conf/httpd.conf"
    conf.parent.mkdir(parents=True)
    event = "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
    conf.write_text(event + "Timeout -5\n")
    assert tcpaudit.gather(tmp_path).derived.request_read_hold_seconds is None
    # mod_reqtimeout's limits still bound the read (2.4 defaults: header 20 s).
    conf.write_text(event + "LoadModule reqtimeout_module modules/mod_reqtimeout.so\nTimeout -5\n")
    assert tcpaudit.gather(tmp_path).derived.request_read_hold_seconds == 20


def test_severities_order_by_risk_not_by_spelling() -> None:
    severity = tcpaudit.Severity
    assert severity("high") < severity("critical") and severity("critical") > severity("high")
    assert sorted(severity) == [
        severity.INFO,
        severity.LOW,
        severity.MEDIUM,
        severity.HIGH,
        severity.CRITICAL,
    ]
    assert max(severity("low"), severity("medium")) == "medium"
    assert severity.HIGH >= "high" and severity.INFO <= "low"
    with pytest.raises(TypeError):
        _ = severity.HIGH < "urgent"
    report = tcpaudit.audit(tcpaudit.gather(root=REPO / "examples" / "closewait-incident"))
    by_risk = sorted(report.findings, key=lambda f: f.severity, reverse=True)
    assert [f.severity for f in by_risk] == [f.severity for f in report.findings]


def test_a_link_loop_at_envvars_is_skipped_as_apache2ctl_skips_it(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(REPO / "tests" / "corpus" / "debian-12-apache2.4", tmp_path, dirs_exist_ok=True)
    envvars = tmp_path / "etc" / "apache2" / "envvars"
    envvars.unlink()
    envvars.symlink_to("envvars")  # ELOOP: apache2ctl's `test -f` is false, nothing is sourced
    facts = tcpaudit.gather(root=tmp_path)
    assert facts.apache is not None and facts.apache.mpm == "event"


def test_an_oserror_deep_in_a_loader_leaves_as_a_parse_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tcpaudit.facts

    def unreadable(*args: object, **kwargs: object) -> None:
        # What a reader that forgot to wrap it would let through.
        raise PermissionError(13, "Permission denied", "/etc/sysctl.d/99-x.conf")

    monkeypatch.setattr(tcpaudit.facts, "load_sysctl", unreadable)
    with pytest.raises(tcpaudit.ParseError) as caught:
        tcpaudit.gather(root=REPO / "examples" / "tuned")
    assert str(caught.value) == "/etc/sysctl.d/99-x.conf: Permission denied"


def test_load_facts_rebuilds_what_gather_gave() -> None:
    facts = tcpaudit.gather(root=REPO / "examples" / "tuned")
    from_text = tcpaudit.load_facts(facts.model_dump_json())
    from_dict = tcpaudit.load_facts(json.loads(facts.model_dump_json()), host="web9")
    assert from_text.model_dump(mode="json") == facts.model_dump(mode="json")
    assert from_dict.host == "web9" and from_dict.derived == facts.derived


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        ({"host": 5}, "host"),
        ({"host": "x", "apache": {"files": "etc/httpd.conf"}}, "apache"),
        ("[" * 100_000 + "]" * 100_000, "JSON"),
    ],
)
def test_load_facts_raises_facts_error_only(document: object, words: str) -> None:
    with pytest.raises(tcpaudit.FactsError) as caught:
        tcpaudit.load_facts(document)  # type: ignore[arg-type]  # wrong shapes on purpose
    assert words in str(caught.value)


def test_a_report_given_as_facts_is_named_for_what_it_is() -> None:
    report = tcpaudit.audit(tcpaudit.gather(root=REPO / "examples" / "tuned"))
    with pytest.raises(tcpaudit.FactsError) as caught:
        tcpaudit.load_facts(report.to_json())
    assert "this is a tcpaudit report" in str(caught.value)


def test_load_sysctl_turns_an_oserror_deep_inside_into_a_parse_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tcpaudit.sysctl.loader

    def unreadable(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", "/etc/sysctl.d/99-x.conf")

    monkeypatch.setattr(tcpaudit.sysctl.loader, "read_assignments", unreadable)
    with pytest.raises(tcpaudit.ParseError) as caught:
        tcpaudit.load_sysctl(root=REPO / "examples" / "tuned")
    assert str(caught.value) == "/etc/sysctl.d/99-x.conf: Permission denied"


def test_a_boot_tool_given_by_the_user_is_named_as_given() -> None:
    settings = tcpaudit.load_sysctl(root=REPO / "examples" / "tuned", boot="systemd")
    messages = [note.message for note in settings.notes]
    assert "persistent values follow systemd order, as given (--sysctl-boot)" in messages
    assert not any("caller" in message for message in messages)


def test_sysctl_naming_a_copy_of_sysctl_d_points_to_the_root(tmp_path: Path) -> None:
    drop_ins = tmp_path / "sysctl.d"
    drop_ins.mkdir()
    (drop_ins / "60-tcp.conf").write_text("net.ipv4.tcp_keepalive_time = 600\n")
    with pytest.raises(tcpaudit.SysctlError) as caught:
        tcpaudit.load_sysctl(drop_ins, root=tmp_path)
    assert "it holds .conf files" in str(caught.value)
    assert "etc/sysctl.d (give the tree with --root)" in str(caught.value)


@pytest.mark.parametrize(
    "limits",
    [
        "ServerLimit 0\nThreadLimit 0\nThreadsPerChild 0\n",
        "ServerLimit -2\nThreadLimit -3\nThreadsPerChild 25\n",
        "ServerLimit 2\nThreadLimit 0\nThreadsPerChild 25\n",
    ],
)
def test_limits_below_one_are_raised_to_one_as_httpd_does(tmp_path: Path, limits: str) -> None:
    # httpd warns and raises each to 1, then caps MaxRequestWorkers to what is left.
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        f"ServerRoot {tmp_path}\n"
        "LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\n"
        "LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so\n"
        f"PidFile {tmp_path}/pid\nErrorLog {tmp_path}/error.log\nServerName t.test\n"
        f"Listen 127.0.0.1:80\n{limits}MaxRequestWorkers 150\n"
    )
    checked = subprocess.run(
        ["apache2", "-t", "-f", str(conf)], capture_output=True, text=True, check=True
    )
    decreased = re.search(r"MaxRequestWorkers of 150 .* decreasing to (\d+)", checked.stderr)
    assert decreased is not None, checked.stderr
    facts = tcpaudit.gather(root="/", apache_conf=conf)
    assert facts.derived.max_request_workers_effective == int(decreased.group(1))
    # Every rule runs on such a tree (TA111 divided by a ThreadLimit of 0).
    capped = [f for f in tcpaudit.audit(facts).findings if f.rule == "TA111"]
    assert capped and capped[0].recommended is not None


def test_an_error_naming_a_file_with_a_newline_stays_one_line() -> None:
    error = tcpaudit.ParseError("unexpected \x1b[2J", file="conf.d/a\nb.conf", line=6)
    assert str(error) == "conf.d/a\\nb.conf:6: unexpected \\x1b[2J"
    assert "\n" not in str(error) and "\x1b" not in str(error)


def test_a_proxy_url_no_parser_accepts_is_no_backend_and_no_crash(tmp_path: Path) -> None:
    conf = tmp_path / "etc/httpd/conf/httpd.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(
        "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
        "LoadModule proxy_module modules/mod_proxy.so\n"
        "LoadModule proxy_http_module modules/mod_proxy_http.so\n"
        "Listen 80\n"
        "ProxyPass /a http://[::1]x/app\n"  # apache2 -t accepts both
        f"ProxyPass /b http://127.0.0.1:{'9' * 5000}/app\n"
    )
    report = tcpaudit.audit(tcpaudit.gather(root=tmp_path))
    assert report.grade in ("A", "B", "C", "D", "F")
    from tcpaudit.diagnose.backends import proxy_targets

    targets = facts_targets(tmp_path, proxy_targets)
    assert not any("9" * 10 in target.text for target in targets)  # type: ignore[attr-defined]


def facts_targets(root: Path, proxy_targets: object) -> list[object]:
    facts = tcpaudit.gather(root=root)
    assert facts.apache is not None
    return list(proxy_targets(facts.apache))  # type: ignore[operator]


def test_the_json_report_hides_tokens_as_the_cli_does(tmp_path: Path) -> None:
    # A token of a known kind in a file's name reached Report.to_json (and
    # through it the Ansible check's report_dir) while the CLI hid it.
    root = tmp_path / "root"
    shutil.copytree(REPO / "examples" / "closewait-incident", root, symlinks=True)
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    shutil.copy(root / "etc/httpd/conf.d/shop.conf", root / f"etc/httpd/conf.d/x,{token}.conf")
    report = tcpaudit.audit(tcpaudit.gather(root=root))
    assert token in report.model_dump_json()  # the model keeps what the host has
    text = report.to_json()
    assert token not in text and "x,tcpaudit-redacted.conf" in text
