"""``tcpaudit fix``: the command line, and each behaviour of the planner, one test each."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

import tcpaudit
from tcpaudit.cli import cli
from tcpaudit.engine.findings import FileChange, Finding, Severity
from tcpaudit.errors import ParseError
from tcpaudit.remedy import merge_changes, plan, render_diff
from tcpaudit.remedy.diff import quoted_path

REPO = Path(__file__).resolve().parents[2]
INCIDENT = REPO / "examples" / "closewait-incident"


def _fix(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["fix", *args])
    return result.exit_code, result.stdout, result.stderr


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _copy(tmp_path: Path, source: Path = INCIDENT) -> Path:
    root = tmp_path / "host"
    shutil.copytree(source, root, symlinks=True)
    return root


def test_fix_never_writes_to_the_tree(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    before = _digest(root)
    code, out, _ = _fix("--root", str(root))
    assert code == 0 and out.startswith("diff --git a/")
    code, playbook, _ = _fix("--root", str(root), "--format", "ansible")
    assert code == 0 and "ansible.builtin.copy" in playbook
    assert _digest(root) == before


def test_rule_limits_the_patch_to_that_rule(tmp_path: Path) -> None:
    code, out, _ = _fix("--root", str(INCIDENT), "--rule", "ta101")
    assert code == 0
    assert "+Timeout 30" in out and "KeepAliveTimeout" not in out and "sysctl" not in out


def test_unknown_rule_and_facts_file_exit_2(tmp_path: Path) -> None:
    code, _, err = _fix("--root", str(INCIDENT), "--rule", "TA999")
    assert code == 2 and "--rule TA999: no such rule" in err
    facts = tmp_path / "facts.json"
    facts.write_text(tcpaudit.gather(root=INCIDENT).model_dump_json())
    code, _, err = _fix("--facts", str(facts))
    assert code == 2 and "not --facts" in err


def test_a_file_changed_since_the_audit_is_refused_at_its_line(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    report = tcpaudit.audit(tcpaudit.gather(root=root))
    conf = root / "etc/httpd/conf/httpd.conf"
    conf.write_text(conf.read_text().replace("Timeout 300\n", "# Timeout 300\n"))
    with pytest.raises(ParseError) as raised:
        plan(report.findings, root)
    assert (raised.value.file, raised.value.line) == ("etc/httpd/conf/httpd.conf", 11)
    assert "expected timeout here" in raised.value.reason


def test_a_clean_tree_gives_an_empty_patch() -> None:
    code, out, _ = _fix("--root", str(REPO / "examples" / "tuned"))
    assert (code, out) == (0, "")


def test_output_file_holds_the_patch_and_patch_applies_it(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    target = tmp_path / "fix.patch"
    code, out, _ = _fix("--root", str(root), "-o", str(target))
    assert code == 0 and out == ""
    done = subprocess.run(["patch", "-p1", "--batch", "-i", str(target)], cwd=root,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout
    assert "\nTimeout 30\n" in (root / "etc/httpd/conf/httpd.conf").read_text()
    # Applied, there is nothing left to fix in the files.
    assert _fix("--root", str(root))[1] == ""


def _finding(rule: str, *changes: FileChange, severity: Severity = Severity.HIGH) -> Finding:
    return Finding(rule=rule, severity=severity, title=rule, message=rule,
                   fix_changes=list(changes))  # fmt: skip


def test_same_line_asked_twice_is_written_once_and_the_more_severe_value_kept() -> None:
    one = FileChange(file="a.conf", line=3, action="replace", text="Timeout 30")
    two = FileChange(file="a.conf", line=3, action="replace", text="Timeout 45")
    merged = merge_changes([_finding("TA301", one), _finding("TA115", two, severity=Severity.LOW)])
    assert [(m.change.text, m.rules) for m in merged] == [("Timeout 30", ["TA301", "TA115"])]


def test_proxy_pass_rewrites_keep_what_each_rule_changed(tmp_path: Path) -> None:
    conf = tmp_path / "etc" / "p.conf"
    conf.parent.mkdir()
    conf.write_text("ProxyPass /a/ http://b/ keepalive=Off timeout=300\n")
    ttl = FileChange(file="etc/p.conf", line=1, action="replace",
                     text="ProxyPass /a/ http://b/ keepalive=Off timeout=300 ttl=4")  # fmt: skip
    alive = FileChange(file="etc/p.conf", line=1, action="replace",
                       text="ProxyPass /a/ http://b/ keepalive=On timeout=300")  # fmt: skip
    short = FileChange(file="etc/p.conf", line=1, action="replace",
                       text="ProxyPass /a/ http://b/ keepalive=Off timeout=30")  # fmt: skip
    findings = [_finding("TA113", ttl), _finding("TA109", alive), _finding("TA108", short)]
    (edit,) = plan(findings, tmp_path).edits
    assert edit.after == "ProxyPass /a/ http://b/ keepalive=On timeout=30 ttl=4\n"


def test_inserted_lines_are_indented_inside_their_section(tmp_path: Path) -> None:
    conf = tmp_path / "v.conf"
    conf.write_text("<VirtualHost *:80>\n\tServerName a\n</VirtualHost>\n")
    change = FileChange(file="v.conf", line=1, action="insert_after", text="Timeout 30")
    (edit,) = plan([_finding("TA101", change)], tmp_path).edits
    assert edit.after == "<VirtualHost *:80>\n\tTimeout 30\n\tServerName a\n</VirtualHost>\n"


def test_append_to_a_file_without_final_newline_and_create_a_new_one(tmp_path: Path) -> None:
    (tmp_path / "m.conf").write_text("Listen 80")
    appended = FileChange(file="m.conf", action="append", text="Timeout 30")
    created = FileChange(file="etc/sysctl.d/99-tcpaudit.conf", action="append",
                         text="net.ipv4.tcp_retries2 = 8")  # fmt: skip
    planned = plan([_finding("TA101", appended), _finding("TA202", created)], tmp_path)
    diff = render_diff(planned)
    assert "new file mode 100644\n--- /dev/null\n+++ b/etc/sysctl.d/99-tcpaudit.conf" in diff
    assert "-Listen 80\n\\ No newline at end of file\n+Listen 80\n+Timeout 30\n" in diff
    root = tmp_path
    done = subprocess.run(["git", "apply", "--check", "-"], input=diff, text=True, cwd=root,
                          capture_output=True)  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_a_change_through_a_link_edits_the_file_it_points_to(tmp_path: Path) -> None:
    (tmp_path / "avail").mkdir()
    (tmp_path / "enabled").mkdir()
    (tmp_path / "avail" / "site.conf").write_text("Timeout 300\n")
    os.symlink("../avail/site.conf", tmp_path / "enabled" / "site.conf")
    change = FileChange(file="enabled/site.conf", line=1, action="replace", text="Timeout 30")
    (edit,) = plan([_finding("TA101", change)], tmp_path).edits
    assert edit.path == "avail/site.conf"


def test_suppressed_findings_are_not_fixed(tmp_path: Path) -> None:
    (tmp_path / "m.conf").write_text("Timeout 300\n")
    change = FileChange(file="m.conf", line=1, action="replace", text="Timeout 30")
    finding = _finding("TA101", change).model_copy(update={"suppressed": True})
    assert plan([finding], tmp_path).edits == []


def test_paths_git_must_quote_are_quoted() -> None:
    assert quoted_path("a/etc/plain.conf") == "a/etc/plain.conf"
    assert quoted_path('a/my "site".conf') == '"a/my \\"site\\".conf"'
    assert quoted_path("a/caf\u00e9 x.conf") == '"a/caf\\303\\251 x.conf"'


def test_a_file_that_is_not_utf8_is_patched_byte_for_byte(tmp_path: Path) -> None:
    root = tmp_path / "host"
    conf = root / "usr/local/apache2/conf/httpd.conf"
    conf.parent.mkdir(parents=True)
    conf.write_bytes(
        b"LoadModule mpm_event_module modules/mod_mpm_event.so\n# caf\xe9\nTimeout 300\n"
    )
    # A playbook carries text: it refuses the file and says to use the patch.
    code, _, err = _fix("--root", str(root), "--format", "ansible")
    assert code == 2 and "not UTF-8 text" in err and "use the patch" in err
    target = tmp_path / "fix.patch"
    code, _, _ = _fix("--root", str(root), "-o", str(target))
    assert code == 0 and b"# caf\xe9\n" in target.read_bytes()
    done = subprocess.run(["patch", "-p1", "--batch", "-i", str(target)], cwd=root,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout
    assert b"# caf\xe9\nTimeout 30\n" in conf.read_bytes()


def test_a_file_name_with_quotes_blanks_and_utf8_applies_with_both_tools(tmp_path: Path) -> None:
    source = tmp_path / "source"
    conf = source / "usr/local/apache2/conf"
    conf.mkdir(parents=True)
    name = 'my "odd" site \u00e9.conf'
    (conf / "httpd.conf").write_text(
        "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
        "LoadModule reqtimeout_module modules/mod_reqtimeout.so\n"
        'Include "conf/my \\"odd\\" site \u00e9.conf"\n'
    )
    (conf / name).write_text("Timeout 300\n")
    code, diff, _ = _fix("--root", str(source))
    assert code == 0 and '"a/usr/local/apache2/conf/my \\"odd\\" site \\303\\251.conf"' in diff
    for tool in (["patch", "-p1", "--batch"], ["git", "apply"]):
        copy = tmp_path / tool[0]
        shutil.copytree(source, copy)
        done = subprocess.run(tool, input=diff, text=True, cwd=copy, capture_output=True)
        assert done.returncode == 0, done.stdout + done.stderr
        assert (copy / "usr/local/apache2/conf" / name).read_text() == "Timeout 30\n"


def test_a_drop_in_masked_by_a_link_to_dev_null_is_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "host"
    conf = root / "usr/local/apache2/conf"
    conf.mkdir(parents=True)
    (conf / "httpd.conf").write_text(
        "LoadModule mpm_event_module modules/mod_mpm_event.so\nTimeout 300\n"
    )
    (root / "etc/sysctl.d").mkdir(parents=True)
    os.symlink("/dev/null", root / "etc/sysctl.d/99-tcpaudit.conf")
    code, diff, err = _fix("--root", str(root))
    assert code == 0 and "+Timeout 30" in diff
    # Never a patch creating dev/null: the masked file's changes are named on stderr.
    assert "dev/null b/dev/null" not in diff and "sysctl" not in diff
    assert "99-tcpaudit.conf is a link to /dev/null (masked)" in err


@pytest.mark.parametrize(
    "secret_line",
    [
        "net.ipv4.tcp_fastopen_key = 0f1e2d3c-4b5a6978-8796a5b4-c3d2e1f0",
        "-net.ipv4.tcp_fastopen_key=0f1e2d3c-4b5a6978-8796a5b4-c3d2e1f0",
        "net/ipv4/tcp_fastopen_k[e]y = 0f1e2d3c-4b5a6978-8796a5b4-c3d2e1f0",
        "net.ipv4.tcp_fast*_key = 0f1e2d3c-4b5a6978-8796a5b4-c3d2e1f0",
    ],
)
def test_a_file_holding_a_secret_is_left_out_with_a_note(tmp_path: Path, secret_line: str) -> None:
    """A patch's context lines and a playbook's whole file would copy the secret."""
    root = _copy(tmp_path)
    conf = root / "etc/sysctl.conf"
    conf.write_text(conf.read_text() + f"net.ipv4.tcp_keepalive_time = 7200\n{secret_line}\n")
    secret = "0f1e2d3c-4b5a6978-8796a5b4-c3d2e1f0"
    for output_format in ("diff", "ansible", "sarif"):
        code, out, err = _fix("--root", str(root), "--format", output_format)
        assert code == 0, err
        assert secret not in out and secret not in err
        assert "etc/sysctl.conf holds a secret sysctl key (line" in err
        assert "make them by hand" in err
    # The other files' changes are still planned.
    code, out, err = _fix("--root", str(root))
    assert "+++ b/etc/httpd/conf/httpd.conf" in out and "etc/sysctl.conf" not in out


def test_a_configuration_file_holding_a_private_key_is_left_out(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    main = root / "etc/httpd/conf/httpd.conf"
    key = "-----BEGIN RSA PRIVATE KEY-----\n# MIIEpAIBAAKCAQEA-not-a-real-key\n# -----END RSA PRIVATE KEY-----\n"
    main.write_text(main.read_text().replace("Timeout 300\n", f"# {key}Timeout 300\n"))
    code, out, err = _fix("--root", str(root), "--format", "ansible")
    assert code == 0, err
    assert "MIIEpAIBAAKCAQEA" not in out
    assert "etc/httpd/conf/httpd.conf holds a private key (line" in err


@pytest.mark.parametrize(
    "key",
    [
        "# -----BEGIN PGP PRIVATE KEY BLOCK-----\n# lQOYBGSECRETBODY\n# -----END PGP PRIVATE KEY BLOCK-----\n",
        "# ---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\n# P2/56wSECRETBODY\n# ---- END SSH2 ENCRYPTED PRIVATE KEY ----\n",
        "# PuTTY-User-Key-File-3: ssh-ed25519\n# Private-Lines: 1\n# AAAASECRETBODY\n# Private-MAC: 0a\n",
        "# -----BEGIN PRIVATE KEY----- MIIEvSECRETBODY -----END PRIVATE KEY-----\n",
        "# -----BEGIN PGP SECRET KEY BLOCK-----\n# lQOYBGSECRETBODY\n# -----END PGP SECRET KEY BLOCK-----\n",
    ],
    ids=["pgp", "ssh2", "putty", "one-line-pem", "pgp2"],
)
def test_a_file_holding_a_private_key_of_any_armour_is_left_out(tmp_path: Path, key: str) -> None:
    # Only "-----BEGIN ... PRIVATE KEY-----" was a key: an OpenPGP, SSH2 or
    # PuTTY key was copied into the playbook, and into a patch's context.
    root = _copy(tmp_path)
    main = root / "etc/httpd/conf/httpd.conf"
    main.write_text(main.read_text().replace("Timeout 300\n", f"{key}Timeout 300\n"))
    for output_format in ("ansible", "diff"):
        code, out, err = _fix("--root", str(root), "--format", output_format)
        assert code == 0, err
        assert "SECRETBODY" not in out
        assert "etc/httpd/conf/httpd.conf holds a private key (line" in err


def test_a_value_a_macro_use_gives_is_not_fixed_in_the_macro_body(tmp_path: Path) -> None:
    # The main server's Timeout 600 comes from `Use M 600`, reported at the
    # body's `Timeout $t`: rewriting that line would also change vhost b's
    # `Use M 5` (apache2's DUMP_CONFIG showed b going from 5 to 30). The
    # main server reads connections on 8081, which no vhost covers.
    conf = tmp_path / "usr/local/apache2/conf"
    conf.mkdir(parents=True)
    (conf / "httpd.conf").write_text(
        "ServerRoot /usr/local/apache2\nListen 8080\nListen 8081\n"
        "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
        "LoadModule reqtimeout_module modules/mod_reqtimeout.so\n"
        "LoadModule authz_core_module modules/mod_authz_core.so\n"
        "LoadModule macro_module modules/mod_macro.so\n"
        "<Macro M $t>\nTimeout $t\n</Macro>\nUse M 600\n"
        "<VirtualHost *:8080>\nServerName b\nUse M 5\n</VirtualHost>\n"
        "RequestReadTimeout header=20-40,MinRate=500 body=20-120,MinRate=500\n"
    )
    code, out, err = _fix("--root", str(tmp_path), "--apache-build", "debian")
    assert code in (0, 1), err
    assert "usr/local/apache2/conf/httpd.conf: line 9 is in a <Macro> body" in err
    assert "httpd.conf" not in out  # nothing of the shared body is changed
    assert "+++ b/etc/sysctl.d/99-tcpaudit.conf" in out  # the other fixes are still there


@pytest.mark.parametrize("fmt", ["diff", "ansible", "sarif"])
def test_a_dangling_link_never_leads_a_fix_outside_the_tree(tmp_path: Path, fmt: str) -> None:
    # etc/sysctl.d links to missing/../../<outside>: the drop-in's path kept
    # the "..", and the playbook made "missing" and wrote outside the root.
    root = tmp_path / "root"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    (root / "etc/sysctl.conf").write_text("net.core.somaxconn = 128\n")
    (root / "etc/sysctl.d").symlink_to("../nonexist/../../../outside")
    code, out, err = _fix("--root", str(root), "--format", fmt)
    assert code in (0, 1), err
    assert "leads outside the audited tree" in err
    assert "outside/99-tcpaudit.conf" not in out and "nonexist" not in out


def test_a_findings_fix_on_a_macro_body_line_says_every_use_shares_it(tmp_path: Path) -> None:
    # The finding's own fix quoted "Timeout 600", the first Use's expansion,
    # as the line to change, with nothing saying vhost b's `Use M 5` shares it.
    conf = tmp_path / "usr/local/apache2/conf"
    conf.mkdir(parents=True)
    (conf / "httpd.conf").write_text(
        "ServerRoot /usr/local/apache2\nListen 8080\nListen 8081\n"
        "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
        "LoadModule authz_core_module modules/mod_authz_core.so\n"
        "LoadModule macro_module modules/mod_macro.so\n"
        "<Macro M $t>\nTimeout $t\n</Macro>\nUse M 600\n"
        "<VirtualHost *:8080>\nServerName b\nUse M 5\n</VirtualHost>\n"
    )
    report = tcpaudit.audit(tcpaudit.gather(root=tmp_path, apache_build="debian"))
    (timeout,) = [f for f in report.findings if f.rule == "TA101"]
    assert timeout.location is not None and timeout.location.line == 8
    assert timeout.fix is not None
    assert timeout.fix.startswith(
        "# usr/local/apache2/conf/httpd.conf:8 is in a <Macro> body, which every Use"
    ), timeout.fix
    for finding in report.findings:  # every fix changing that line says so, no other
        in_body = any(change.line == 8 for change in finding.fix_changes)
        assert in_body == ("<Macro> body" in (finding.fix or "")), finding.rule
