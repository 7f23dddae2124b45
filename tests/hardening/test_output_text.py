"""What audited text may do to the outputs: bytes that are not UTF-8, control characters, links.

- Bytes that are not UTF-8 (a latin-1 ServerName, a file name) reach every
  format as ``\\xNN``, every JSON output is read back by tcpaudit itself
  (``--facts``, ``--baseline``, ``fleet``) and by pydantic-core, and the
  round trips keep every finding.
- Control characters from a host name, a ServerName or a file name never
  reach the terminal raw from the table, Markdown and GitHub formats (a
  workflow log renders ANSI sequences).
- ``--output`` never writes through a symlink inside the audited root.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from tcpaudit.cli import cli
from tcpaudit.engine.findings import Report
from tcpaudit.facts import HostFacts

REPO = Path(__file__).resolve().parents[2]
INCIDENT = REPO / "examples" / "closewait-incident"
FORMATS = ("table", "json", "sarif", "junit", "markdown", "github")
# ESC sequences that clear the screen, set the window title and move the
# cursor, a C1 CSI, BEL, and a right-to-left override that reorders a line.
HOSTILE = "\x1b[2J\x1b]0;owned\x07\x9b31m\u202eevil"
RAW = ("\x1b", "\x07", "\x9b", "\u202e")


def _run(*args: str) -> tuple[int, bytes, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout_bytes, result.stderr


def _latin1_tree(tmp_path: Path) -> Path:
    """The incident with bytes that are not UTF-8 in a ServerName, a vhost and file names."""
    root = tmp_path / "root"
    shutil.copytree(INCIDENT, root, symlinks=True)
    conf_d = root / "etc/httpd/conf.d"
    with (root / "etc/httpd/conf/httpd.conf").open("ab") as handle:
        handle.write(b"ServerName caf\xe9.example\n")
    (conf_d / "b\xe9ta.conf".encode("latin-1").decode("utf-8", "surrogateescape")).write_bytes(
        b"<VirtualHost *:80>\nServerName b\xff.example\nTimeout 400\n</VirtualHost>\n"
    )
    sysctl_d = root / "etc/sysctl.d"
    sysctl_d.mkdir(parents=True, exist_ok=True)
    (sysctl_d / b"\xfe.conf".decode("utf-8", "surrogateescape")).write_bytes(
        b"net.ipv4.tcp_keepalive_time = 600\nnet.ipv4.\xfe = 1\n"
    )
    return root


# -- 9. bytes that are not UTF-8 -------------------------------------------------------


@pytest.mark.parametrize("output_format", FORMATS)
def test_every_format_shows_bytes_that_are_not_utf8(tmp_path: Path, output_format: str) -> None:
    root = _latin1_tree(tmp_path)
    code, out, err = _run("audit", "--root", str(root), "--format", output_format)
    assert code == 1, err
    text = out.decode("utf-8")  # strict: the output is UTF-8
    assert "\udcff" not in text and "\\udc" not in text
    if output_format in ("json", "sarif"):
        json.loads(text)
        # The JSON string b\\xff.example: the value read back is b\xff.example.
        assert "b\\\\xff.example" in text
        if output_format == "json":
            Report.model_validate_json(out)  # pydantic-core reads it too
    elif output_format == "markdown":
        assert "b\\\\xff.example" in text  # the backslash escaped for Markdown
    else:
        assert "b\\xff.example" in text


def test_facts_round_trip_keeps_every_finding(tmp_path: Path) -> None:
    root = _latin1_tree(tmp_path)
    code, facts_out, err = _run("facts", "--root", str(root))
    assert code == 0, err
    HostFacts.model_validate_json(facts_out)
    saved = tmp_path / "facts.json"
    saved.write_bytes(facts_out)
    direct = json.loads(_run("audit", "--root", str(root), "--format", "json")[1])
    again = json.loads(_run("audit", "--facts", str(saved), "--format", "json")[1])
    # Rule, scope and file: what names a finding (lines are the audit's business).
    assert [(f["rule"], f["scope"], f["location"]["file"]) for f in again["findings"]] == [
        (f["rule"], f["scope"], f["location"]["file"]) for f in direct["findings"]
    ]
    assert any("b\\xff.example" in (f["scope"] or "") for f in again["findings"])


def test_baseline_and_fleet_read_tcpaudits_own_report(tmp_path: Path) -> None:
    root = _latin1_tree(tmp_path)
    report = tmp_path / "web1.json"
    code, _, err = _run("audit", "--root", str(root), "--format", "json", "-o", str(report))
    assert code == 1, err
    code, out, err = _run(
        "audit", "--root", str(root), "--format", "json", "--baseline", str(report)
    )
    assert code == 0, err
    findings = json.loads(out)["findings"]
    assert findings and all(f["suppression_reason"] == "in baseline" for f in findings)
    assert any("b\\xff.example" in (f["scope"] or "") for f in findings)
    code, out, err = _run("fleet", str(report), "--format", "json")
    assert code == 0, err
    assert json.loads(out)["hosts"][0]["findings"] == len(findings)


def test_fleet_reads_reports_that_escaped_bytes_as_surrogates(tmp_path: Path) -> None:
    # tcpaudit 0.1 wrote such a byte as the JSON escape \udcff, which
    # pydantic-core refuses; the report is still read.
    report = json.loads(_run("audit", "--root", str(INCIDENT), "--format", "json")[1])
    report["host"] = "web\udcff1"
    path = tmp_path / "old.json"
    path.write_text(json.dumps(report))
    assert "\\udcff" in path.read_text()
    code, out, err = _run("fleet", str(path), "--format", "json")
    assert code == 0, err
    assert json.loads(out)["hosts"][0]["host"] == "web\\xff1"


# -- 13. control characters ------------------------------------------------------------


def _hostile_tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(INCIDENT, root, symlinks=True)
    (root / "etc/hostname").write_text(f"web{HOSTILE}\n")
    conf_d = root / "etc/httpd/conf.d"
    (conf_d / f"x{HOSTILE}.conf").write_text(
        f"<VirtualHost *:80>\nServerName a{HOSTILE}.example\nTimeout 400\n</VirtualHost>\n"
    )
    (root / "etc/sysctl.d").mkdir(exist_ok=True)
    (root / "etc/sysctl.d" / f"{HOSTILE}.conf").write_text(
        f"net.ipv4.tcp_retries2 = 9{HOSTILE}\nnet.ipv4.{HOSTILE} = 1\n"
    )
    return root


@pytest.mark.parametrize("output_format", ["table", "markdown", "github"])
def test_terminal_formats_never_pass_control_characters(tmp_path: Path, output_format: str) -> None:
    root = _hostile_tree(tmp_path)
    code, out, err = _run("audit", "--root", str(root), "--format", output_format)
    assert code == 1, err
    text = out.decode("utf-8")
    assert not [char for char in RAW if char in text]
    # Each is shown, so the reader sees that something odd is there.
    assert "\\x1b" in text and "\\u202e" in text
    # No host is named so: the root's name is used instead.
    header = text.splitlines()[-1] if output_format == "github" else text.splitlines()[0]
    assert " root" in header or "::root:" in header


def test_notes_and_fixes_in_the_table_are_one_line_each(tmp_path: Path) -> None:
    root = _hostile_tree(tmp_path)
    (root / "etc/sysctl.d/z.conf").write_text("net.ipv4.a\rb\u2028c = 1\n")
    text = _run("audit", "--root", str(root))[1].decode()
    notes = text.split("\nnotes:\n", 1)[1].splitlines()
    assert all(line.startswith("  - ") for line in notes)


# -- 14. --output through a link inside the root ---------------------------------------


@pytest.mark.parametrize("command", ["audit", "facts"])
@pytest.mark.parametrize("link", ["file", "directory", "climbing"])
def test_output_never_goes_through_a_link_inside_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, link: str
) -> None:
    repository = tmp_path / "repository"
    shutil.copytree(INCIDENT, repository, symlinks=True)
    victim_directory = tmp_path / "home"
    victim_directory.mkdir()
    victim = victim_directory / ".bashrc"
    victim.write_text("untouched\n")
    if link == "file":
        (repository / "tcpaudit.sarif").symlink_to(victim)
        output = "tcpaudit.sarif"
    elif link == "directory":
        (repository / "reports").symlink_to(victim_directory)
        output = "reports/.bashrc"
    else:
        (repository / "up").symlink_to("etc/../..")
        output = "up/home/.bashrc"
    monkeypatch.chdir(repository)
    code, _, err = _run(command, "--root", ".", "-o", output)
    assert code == 2
    assert err.startswith("tcpaudit: error: refusing to write ") and err.count("\n") == 1
    assert "symbolic link inside the audited root" in err
    assert victim.read_text() == "untouched\n"
    assert not [p for p in victim_directory.iterdir() if p.name != ".bashrc"]


def test_output_through_links_outside_the_root_is_written(tmp_path: Path) -> None:
    # A link of the user's own (outside --root) is the user's choice.
    reports = tmp_path / "reports"
    reports.mkdir()
    (tmp_path / "alias").symlink_to(reports)
    code, _, err = _run(
        "audit", "--root", str(INCIDENT), "--format", "json", "-o", str(tmp_path / "alias/r.json")
    )
    assert code == 1, err
    assert json.loads((reports / "r.json").read_text())["grade"] == "F"
    assert (reports / "r.json").stat().st_mode & 0o777 == 0o600
    assert not os.path.islink(reports / "r.json")


def test_a_repository_rule_reaches_no_terminal_raw(tmp_path: Path) -> None:
    """A rules directory named by an audited repository's tcpaudit.toml: rules and explain."""
    from tcpaudit.engine.catalogue import bundled_rules_dir

    rules = tmp_path / "rules"
    rules.mkdir()
    text = (bundled_rules_dir() / next(bundled_rules_dir().glob("TA101-*.yaml")).name).read_text()
    text = text.replace("id: TA101", "id: TA950", 1)
    title_line = next(line for line in text.splitlines() if line.startswith("title:"))
    hostile = json.dumps(f"evil {HOSTILE}")
    (rules / "TA950-hostile.yaml").write_text(text.replace(title_line, f"title: {hostile}", 1))
    for args in (["rules"], ["rules", "--format", "markdown"], ["explain", "TA950"]):
        code, out, err = _run(*args, "--rules-dir", str(rules))
        assert code == 0, err
        text_out = out.decode("utf-8")
        assert "evil" in text_out, args
        assert not [char for char in RAW if char in text_out], args
        assert "\\x1b" in text_out, args


def test_markdown_and_junit_keep_a_file_name_on_one_line(tmp_path: Path) -> None:
    # A newline in a file name reached the fix comment and the diff headers
    # raw: a line of its own, which an Actions log reads as a workflow command.
    root = tmp_path / "root"
    shutil.copytree(INCIDENT, root, symlinks=True)
    (root / "etc/httpd/conf.d/a\n::error file=evil::pwn.conf").write_text(
        "<VirtualHost *:80>\nServerName b.example\nTimeout 900\n</VirtualHost>\n"
    )
    for output_format in ("markdown", "junit", "table", "github", "sarif", "json"):
        code, out, err = _run("audit", "--root", str(root), "--format", output_format)
        assert code == 1, err
        lines = out.decode("utf-8").splitlines()
        assert not [line for line in lines if line.lstrip().startswith("::error file=evil")], (
            output_format
        )


def test_a_repository_rule_cannot_put_markup_in_references(tmp_path: Path) -> None:
    from tcpaudit.engine.catalogue import bundled_rules_dir

    rules = tmp_path / "rules"
    rules.mkdir()
    text = (
        next(bundled_rules_dir().glob("TA101-*.yaml"))
        .read_text()
        .replace("id: TA101", "id: TA951", 1)
    )
    markup = "x> ![t](https://evil.example/p.png) <img src=https://evil.example/q.png> <y"
    hostile = text.replace("references:\n", f"references:\n  - {json.dumps(markup)}\n", 1)
    (rules / "TA951-hostile.yaml").write_text(hostile)
    line = hostile.splitlines().index("references:") + 1
    code, out, err = _run("audit", "--root", str(INCIDENT), "--format", "markdown",
                          "--rules-dir", str(rules))  # fmt: skip
    assert code == 2 and b"evil" not in out
    assert err.strip().splitlines() == [
        f"tcpaudit: error: {rules / 'TA951-hostile.yaml'}:{line}: references: Value error, "
        f"{markup[:80]!r} is not an http(s) address without spaces, quotes or <>"
    ]


def test_a_patch_of_bytes_that_are_not_utf8_is_written_like_every_report(tmp_path: Path) -> None:
    # The patch must carry a latin-1 line as it is, so it was written raw:
    # in place, not atomically, keeping an existing file's mode (0644).
    root = tmp_path / "root"
    shutil.copytree(INCIDENT, root, symlinks=True)
    conf = root / "etc/httpd/conf/httpd.conf"
    conf.write_bytes(
        conf.read_bytes().replace(b"Timeout", b"ServerAdmin caf\xe9@example.org\nTimeout", 1)
    )
    target = tmp_path / "out.diff"
    target.write_text("old\n")
    target.chmod(0o644)
    code, _, err = _run("fix", "--root", str(root), "-o", str(target))
    assert code in (0, 1), err
    assert target.stat().st_mode & 0o777 == 0o600
    assert b"caf\xe9@example.org" in target.read_bytes()


def test_a_file_name_holding_newlines_adds_no_line_to_a_fix(tmp_path: Path) -> None:
    # httpd includes such a file; the fix named it in "# delete: ... (FILE:1)",
    # so pasting the fix pasted "KeepAlive Off" as a directive.
    root = tmp_path / "debian"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    (root / "etc/apache2/conf-enabled/z\nKeepAlive Off\n#.conf").write_text("ServerLimit 4\n")
    code, out, _err = _run("audit", "--root", str(root), "--format", "json")
    assert code in (0, 1)
    fixes = [finding["fix"] or "" for finding in json.loads(out)["findings"]]
    assert any("ServerLimit 4" in fix for fix in fixes), fixes
    for fix in fixes:
        assert "KeepAlive Off" not in fix.splitlines(), fix


def test_markdown_mentions_no_one_named_by_the_tree(tmp_path: Path) -> None:
    # A ServerName "@org/team" in a pull request's comment would notify the team.
    root = tmp_path / "debian"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    (root / "etc/apache2/sites-enabled/evil.conf").write_text(
        "<VirtualHost *:80>\nServerName @acme-corp/security-team\nKeepAliveTimeout 60\n"
        "Timeout 300\n</VirtualHost>\n"
    )
    code, out, _err = _run("audit", "--root", str(root), "--format", "markdown")
    assert code in (0, 1)
    # Prose only: GitHub mentions no one inside a code block.
    prose, fenced = [], False
    for line in out.decode().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            prose.append(line)
    text = "\n".join(prose)
    assert "acme-corp/security-team" in text and "@acme" not in text


@pytest.mark.parametrize(
    ("command", "target"),
    [
        ("audit", "etc/httpd/conf/httpd.conf"),
        ("audit", "etc/sysctl.conf"),
        ("facts", "etc/httpd/conf.d/shop.conf"),
        ("fix", "etc/httpd/conf/httpd.conf"),
        ("audit", "etc/hostname"),
        ("audit", "usr/sbin/httpd"),  # the binary the build was read from
        ("audit", "var/lib/dpkg/status"),
        # The live values of a /proc/sys replay.
        ("audit", "proc/sys/net/ipv4/tcp_keepalive_time"),
        ("facts", "proc/sys/net/core/somaxconn"),
        ("fix", "proc/sys/net/ipv4/tcp_keepalive_time"),
    ],
)
def test_output_is_never_written_over_a_file_the_run_read(
    tmp_path: Path, command: str, target: str
) -> None:
    # -o naming the audited main file replaced it by the report.
    root = tmp_path / "root"
    shutil.copytree(INCIDENT, root, symlinks=True)
    (root / "etc/hostname").write_text("shop\n")
    for extra in ("usr/sbin/httpd", "var/lib/dpkg/status"):
        (root / extra).parent.mkdir(parents=True, exist_ok=True)
        (root / extra).write_text("evidence\n")
    before = (root / target).read_bytes()
    code, _, err = _run(command, "--root", str(root), "-o", str(root / target))
    assert code == 2, err
    assert err.startswith("tcpaudit: error: refusing to write ") and err.count("\n") == 1
    assert "this run read that file" in err
    assert (root / target).read_bytes() == before


def test_output_is_never_written_over_a_file_read_through_a_link(tmp_path: Path) -> None:
    # The tree reads sites-enabled/a.conf, a link to the real file: -o names the real one.
    root = tmp_path / "root"
    shutil.copytree(INCIDENT, root, symlinks=True)
    real = root / "etc/httpd/conf.d/shop.conf"
    moved = root / "srv/shop.conf"
    moved.parent.mkdir()
    real.rename(moved)
    real.symlink_to("../../../srv/shop.conf")
    before = moved.read_bytes()
    code, _, err = _run("audit", "--root", str(root), "-o", str(moved))
    assert code == 2 and "this run read that file" in err, err
    assert moved.read_bytes() == before
    baseline = tmp_path / "baseline.json"
    assert _run("audit", "--root", str(root), "--format", "json", "-o", str(baseline))[0] == 1
    code, _, err = _run(
        "audit", "--root", str(root), "--baseline", str(baseline), "-o", str(baseline)
    )
    assert code == 2 and "this run read that file" in err, err


def test_output_is_never_written_over_a_file_of_a_sysctl_directory(tmp_path: Path) -> None:
    # --sysctl DIR reads every file below DIR: -o naming one replaced it.
    live = tmp_path / "sc"
    (live / "net/ipv4").mkdir(parents=True)
    target = live / "net/ipv4/tcp_keepalive_time"
    target.write_text("7200\n")
    code, _, err = _run("audit", "--root", str(INCIDENT), "--sysctl", str(live), "-o", str(target))
    assert code == 2 and "this run read that file" in err, err
    assert target.read_text() == "7200\n"


@pytest.mark.parametrize("where", ["sysctl-dir", "proc-sys"])
def test_output_is_never_a_new_file_of_a_tree_read_whole(tmp_path: Path, where: str) -> None:
    # A new file there is a key the next run reads.
    root = tmp_path / "root"
    shutil.copytree(INCIDENT, root, symlinks=True)
    args = ["audit", "--root", str(root)]
    target = root / "proc/sys/net/ipv4/report"
    if where == "sysctl-dir":
        live = tmp_path / "sc"
        (live / "net/ipv4").mkdir(parents=True)
        (live / "net/ipv4/tcp_keepalive_time").write_text("7200\n")
        args += ["--sysctl", str(live)]
        target = live / "net/ipv4/report"
    code, _, err = _run(*args, "-o", str(target))
    assert code == 2 and "which this run reads" in err, err
    assert not target.exists()


@pytest.mark.parametrize(
    ("command", "target"),
    [
        ("audit", "etc/sysctl.d/zz-report.conf"),  # the boot tool's *.conf
        ("audit", "etc/httpd/conf.d/report.conf"),  # IncludeOptional conf.d/*.conf
        ("fix", "etc/httpd/conf.d/zz-fix.conf"),  # a patch read as directives failed every run
        ("audit", "etc/os-release"),  # looked for, not found
    ],
)
def test_output_is_never_a_new_file_the_next_run_reads(
    tmp_path: Path, command: str, target: str
) -> None:
    root = tmp_path / "root"
    shutil.copytree(INCIDENT, root, symlinks=True)
    (root / "etc/sysctl.d").mkdir(exist_ok=True)
    code, _, err = _run(command, "--root", str(root), "-o", str(root / target))
    assert code == 2 and "the next run would read it as configuration" in err, err
    assert not (root / target).exists()
    # What no wildcard matches is written: README's CI recipe.
    code, _, err = _run(
        "audit", "--root", str(root), "--format", "sarif", "-o", str(root / "x.sarif")
    )
    assert code in (0, 1) and (root / "x.sarif").exists(), err


@pytest.mark.parametrize(
    ("include", "target"),
    [
        # httpd's wildcards (apr_fnmatch): an escape and a "[^...]" set.
        ("IncludeOptional conf.d/*\\.conf", "etc/httpd/conf.d/report.conf"),
        ("IncludeOptional conf.d/[^x]*.conf", "etc/httpd/conf.d/report.conf"),
        # A literal IncludeOptional of a file that does not exist yet.
        ("IncludeOptional conf.d/extra.txt", "etc/httpd/conf.d/extra.txt"),
        # The boot tool's /etc/sysctl.conf, absent here.
        ("", "etc/sysctl.conf"),
    ],
)
def test_output_is_never_a_file_an_include_or_the_boot_tool_would_read(
    tmp_path: Path, include: str, target: str
) -> None:
    root = tmp_path / "root"
    shutil.copytree(INCIDENT, root, symlinks=True)
    main = root / "etc/httpd/conf/httpd.conf"
    main.write_text(
        main.read_text().replace("Include conf.d/*.conf", include or "Include conf.d/*.conf")
    )
    (root / "etc/sysctl.conf").unlink()
    code, _, err = _run("audit", "--root", str(root), "-o", str(root / target))
    assert code == 2 and "the next run would read it as configuration" in err, err
    assert not (root / target).exists()


@pytest.mark.parametrize(
    ("include", "target", "command"),
    [
        # httpd reads a directory Include names whole, hidden files and
        # subdirectories too; so the directories a wildcard matches.
        ("Include /srv/inc", "srv/inc/report.txt", "audit"),
        ("Include /srv/inc/", "srv/inc/sub/report.txt", "facts"),
        ("Include /srv/inc", "srv/inc/.report", "fix"),
        ("IncludeOptional /srv/empty/", "srv/empty/report.txt", "audit"),
        ("Include /srv/inc/*", "srv/inc/sub/report.txt", "audit"),
    ],
)
def test_output_is_never_a_new_file_of_a_directory_an_include_reads_whole(
    tmp_path: Path, include: str, target: str, command: str
) -> None:
    root = tmp_path / "root"
    shutil.copytree(INCIDENT, root, symlinks=True)
    (root / "srv/inc/sub").mkdir(parents=True)
    (root / "srv/empty").mkdir()
    (root / "srv/inc/a.conf").write_text("KeepAlive On\n")
    (root / "srv/inc/sub/b.conf").write_text("KeepAliveTimeout 5\n")
    main = root / "etc/httpd/conf/httpd.conf"
    main.write_text(main.read_text() + include + "\n")
    code, _, err = _run("audit", "--root", str(root))
    assert code in (0, 1), err
    code, _, err = _run(command, "--root", str(root), "-o", str(root / target))
    assert code == 2 and "which this run reads" in err, err
    assert not (root / target).exists()
    # The refusal is not idle: a file there is read as configuration.
    (root / target).write_text("# report\n")
    code, out, err = _run("facts", "--root", str(root))
    assert code == 0 and target in json.loads(out)["apache"]["files"], err


def test_output_is_never_what_tcpaudit_itself_reads_next_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its configuration (searched for from the working directory up), its
    # rule directories, fleet's reports, and a new file under the root's etc/.
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    root = tmp_path / "root"
    shutil.copytree(INCIDENT, root, symlinks=True)
    (root / "etc/httpd/conf.d/extra").mkdir()
    rules = tmp_path / "rules"
    rules.mkdir()
    config = tmp_path / "my.toml"
    config.write_text('disable = ["TA202"]\n')
    reports = tmp_path / "reports"
    reports.mkdir()
    assert (
        _run("audit", "--root", str(root), "--format", "json", "-o", str(reports / "a.json"))[0]
        == 1
    )
    cases = [
        ("audit", "--root", str(root), "-o", str(work / "tcpaudit.toml")),
        ("fix", "--root", str(root), "--config", str(config), "-o", str(config)),
        ("audit", "--root", str(root), "--rules-dir", str(rules), "-o", str(rules / "r.yaml")),
        ("fleet", str(reports / "a.json"), "-o", str(reports / "a.json")),
        ("fleet", str(reports), "-o", str(reports / "all.json")),
        ("audit", "--root", str(root), "-o", str(root / "etc/httpd/conf.d/extra/x.conf")),
    ]
    for args in cases:
        before = sorted(path.name for path in tmp_path.rglob("*"))
        code, _, err = _run(*args)
        assert code == 2 and err.startswith("tcpaudit: error: refusing to write "), (args, err)
        assert sorted(path.name for path in tmp_path.rglob("*")) == before, args
    assert not (work / "tcpaudit.toml").exists()


def test_audited_text_never_makes_a_ci_runner_command(tmp_path: Path) -> None:
    # GitHub's runner acts on "##[cmd]" anywhere in a line and on "::cmd::"
    # at a line's start: a host name, a ServerName or a managed host's
    # report could stop the job's commands (stop-commands) or set outputs.
    root = tmp_path / "root"
    shutil.copytree(INCIDENT, root, symlinks=True)
    (root / "etc/hostname").write_text("##[stop-commands]tok\n")
    for fmt in ("table", "json", "markdown"):
        code, out, err = _run("audit", "--root", str(root), "--format", fmt)
        assert code in (0, 1), err
        assert "##[" not in out.decode(), fmt
    report = json.loads(_run("audit", "--root", str(root), "--format", "json")[1])
    assert report["host"] == "##[stop-commands]tok"  # the data itself is kept
    reports = tmp_path / "reports"
    reports.mkdir()
    for index, host in enumerate(["::stop-commands::tok", "##[add-mask]grade"]):
        (reports / f"{index}.json").write_text(json.dumps({**report, "host": host}))
    for fmt in ("table", "markdown"):
        code, out, err = _run("fleet", str(reports), "--format", fmt)
        text = out.decode()
        assert "##[" not in text, fmt
        assert not [line for line in text.splitlines() if line.lstrip().startswith("::")], fmt
    broken = tmp_path / "broken" / "etc/apache2"
    broken.mkdir(parents=True)
    (broken / "apache2.conf").write_text(
        "LoadModule mpm_event_module m.so\nListen 80\n"
        'ServerName "##[set-output name=verdict;]pass x"\n'
    )
    code, _, err = _run("audit", "--root", str(tmp_path / "broken"))
    assert code == 2 and "Invalid ServerName" in err and "##[" not in err, err


_RUNNER_MARKER = re.compile(r"##[A-Za-z]*\[")


def test_no_ci_runners_command_marker_reaches_a_log(tmp_path: Path) -> None:
    # Azure Pipelines acts on "##vso[" and TeamCity on "##teamcity[" anywhere
    # in a line, as GitHub does on "##[": a file name or host name holding one
    # could set a pipeline variable or stop the build. Readers of JSON and XML
    # get the text as written; the human formats say what they escaped.
    root = tmp_path / "root"
    shutil.copytree(INCIDENT, root, symlinks=True)
    conf_d = root / "etc/httpd/conf.d"
    (conf_d / "shop.conf").rename(conf_d / "##vso[task.setvariable variable=ok]shop.conf")
    (root / "etc/hostname").write_text("##TeamCity[buildStop comment='x']\n")
    outputs = {}
    for fmt in ("table", "json", "markdown", "junit", "sarif", "github"):
        code, out, err = _run("audit", "--root", str(root), "--format", fmt)
        assert code in (0, 1), err
        outputs[fmt] = out.decode()
        assert not _RUNNER_MARKER.search(outputs[fmt]), fmt
    report = json.loads(outputs["json"])
    assert report["host"] == "##TeamCity[buildStop comment='x']"
    assert any("##vso[task" in str(finding["location"]) for finding in report["findings"])
    suite = ET.fromstring(outputs["junit"])
    assert suite.attrib["hostname"] == "##TeamCity[buildStop comment='x']"
    failures = "".join(node.text or "" for node in suite.iter("failure"))
    assert "##vso[task.setvariable" in failures
    # The location line of each failure reads back as written too.
    assert "conf.d/##vso[task.setvariable variable=ok]shop.conf:" in failures
    assert "#\\u0023" not in failures
    for fmt in ("table", "markdown"):
        assert outputs[fmt].rstrip().splitlines()[-1].startswith('note: "#\\u0023" stands for'), fmt


def test_junit_and_fix_notes_carry_no_runner_command(tmp_path: Path) -> None:
    # JUnit wrote a suppression reason's "::stop-commands::" at a line's
    # start, and read back a literal "#\u0023" as "##"; `fix` printed its
    # notes (a file name holding "##vso[") to stderr as they were.
    root = tmp_path / "root"
    shutil.copytree(INCIDENT, root, symlinks=True)
    reason = "ok\n::stop-commands::pwn\n  ::add-mask::x\rsee #\\u0023[ and ##vso[x]"
    config = tmp_path / "tcpaudit.toml"
    config.write_text(f'[[suppress]]\nrule = "TA102"\nreason = {json.dumps(reason)}\n')
    code, out, err = _run(
        "audit", "--root", str(root), "--config", str(config), "--format", "junit"
    )
    assert code in (0, 1), err
    text = out.decode()
    assert not _RUNNER_MARKER.search(text)
    assert not [line for line in re.split("[\r\n]", text) if line.lstrip().startswith("::")]
    skipped = [
        node.attrib.get("message", "") + (node.text or "")
        for node in ET.fromstring(text).iter("skipped")
    ]
    assert any(reason.replace("\r", "\n") in message or reason in message for message in skipped), (
        skipped
    )
    conf_d = root / "etc/httpd/conf.d"
    (conf_d / "shop.conf").rename(conf_d / "##vso[task.setvariable variable=X]shop.conf")
    with (conf_d / "##vso[task.setvariable variable=X]shop.conf").open("a") as handle:
        handle.write("ProxyPass /b/ http://admin:S3cretPassw0rd@127.0.0.1:8081/\n")
    code, _, err = _run("fix", "--root", str(root))
    assert code in (0, 1), err
    assert "holds a password in a URL" in err and not _RUNNER_MARKER.search(err), err


def test_rules_explain_and_diagnose_carry_no_runner_command(tmp_path: Path) -> None:
    # A rules directory (an audited repository's tcpaudit.toml may name one)
    # and a diagnosed host's name reached stdout as written through
    # `rules --format json`, `explain` and `diagnose --format json`.
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "TA950-site.yaml").write_text(
        "id: TA950\n"
        'title: "Site ##[stop-commands]tok ##vso[task.setvariable variable=x]1"\n'
        "severity: medium\ncheck: apache_setting_above\n"
        "params: {setting: Timeout, max_seconds: 10, recommended_seconds: 10}\n"
        'summary: "Flags ##teamcity[buildStop] a Timeout."\n'
        "rationale: Our load balancer gives up after 10 s.\n"
        'example: {bad: "Timeout 30\\n::error::from-example\\n", use_instead: "Timeout 10"}\n'
        'message: "Timeout is {current} s."\n'
        'references: ["https://x.example/##[group]ref"]\n'
    )
    code, out, err = _run("rules", "--rules-dir", str(rules), "--format", "json")
    assert code == 0, err
    assert not _RUNNER_MARKER.search(out.decode())
    (site,) = [rule for rule in json.loads(out) if rule["id"] == "TA950"]
    assert site["title"] == "Site ##[stop-commands]tok ##vso[task.setvariable variable=x]1"
    code, out, err = _run("explain", "TA950", "--rules-dir", str(rules))
    assert code == 0, err
    text = out.decode()
    assert not _RUNNER_MARKER.search(text)
    assert not [line for line in text.splitlines() if line.lstrip().startswith("::")], text
    root = tmp_path / "host"
    shutil.copytree(REPO / "tests/diagnose/fixtures/keepalive-drained", root, symlinks=True)
    (root / "etc/hostname").write_text("##[stop-commands]tok\n")
    code, out, err = _run("diagnose", "--root", str(root), "--format", "json")
    assert not _RUNNER_MARKER.search(out.decode()), out
    assert json.loads(out)["host"] == "##[stop-commands]tok"
    code, out, err = _run("diagnose", "--root", str(root))
    assert out.decode().count('stands for "##"') == 1


# Where each start-up file is, and the main file its family's layout finds.
_STARTUP_FILES = {
    "envvars": "etc/apache2/envvars",
    "conf.d": "etc/conf.d/apache2",
    "unit": "etc/systemd/system/httpd.service",
    "drop-in": "etc/systemd/system/httpd.service.d/env.conf",
}
_STARTUP_MAIN = {
    "envvars": ("etc/apache2/apache2.conf",
                "LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\n"),
    "conf.d": ("etc/apache2/httpd.conf", "Timeout 60\n"),
    "unit": ("etc/httpd/conf/httpd.conf",
             'ServerRoot "/etc/httpd"\nLoadModule mpm_event_module modules/mod_mpm_event.so\n'),
}  # fmt: skip
_RHEL_UNIT = "[Service]\nExecStart=/usr/sbin/httpd $OPTIONS -DFOREGROUND\n"


@pytest.mark.parametrize(
    ("where", "text", "target", "shown"),
    [
        # Debian's envvars, sourced by apachectl's dash: a file test, then '.'.
        ("envvars", "[ -r /srv/extra.sh ] && . /srv/extra.sh\n", "srv/extra.sh", "srv/extra.sh"),
        ("envvars", "if [ -f /srv/x2.sh ]; then . /srv/x2.sh; fi\n", "srv/x2.sh", "srv/x2.sh"),
        ("envvars", "test -e /srv/flag && APACHE_ARGUMENTS=-DFLAG\n", "srv/flag", "FLAG"),
        # Pathname expansion: of '.', of a loop's words (a class, as dash
        # matches it), of the arguments apachectl expands unquoted (from /).
        ("envvars", ". /srv/d/*.inc\n", "srv/d/0.inc", "srv/d/0.inc"),
        ("envvars", 'for f in /srv/d/[[:alnum:]]*.inc; do . "$f"; done\n', "srv/d/0.inc",
         "srv/d/0.inc"),
        ("envvars", "APACHE_ARGUMENTS='-D KEEP?'\n", "KEEPX", "KEEPX"),
        # Gentoo's conf.d, sourced by OpenRC's bash, which goes on past a
        # 'source' of a missing file.
        ("conf.d", "source /srv/g.sh\nAPACHE2_OPTS=-DSSL\n", "srv/g.sh", "srv/g.sh"),
        # systemd's EnvironmentFile=: optional, globbed, required (the
        # service would not start without it), set by a drop-in.
        ("unit", "EnvironmentFile=-/srv/env\n", "srv/env", "srv/env"),
        ("unit", "EnvironmentFile=-/srv/*.env\n", "srv/x.env", "srv/x.env"),
        ("unit", "EnvironmentFile=/srv/needed\n", "srv/needed", "srv/needed"),
        ("drop-in", "[Service]\nEnvironmentFile=-/srv/d.env\n", "srv/d.env", "srv/d.env"),
    ],
)  # fmt: skip
def test_output_is_never_a_name_the_start_up_files_look_for(
    tmp_path: Path, where: str, text: str, target: str, shown: str
) -> None:
    # The service's start-up files test, source and glob names anywhere in
    # the root: a report there was sourced as shell (the next run stopped
    # at its first line) or read as an environment file next time.
    root = tmp_path / "root"
    (root / "srv/d").mkdir(parents=True)
    (root / "srv/d/a.inc").write_text("A=1\n")
    main, main_text = _STARTUP_MAIN["unit" if where == "drop-in" else where]
    files = {main: main_text, _STARTUP_FILES[where]: text}
    if where in ("unit", "drop-in"):
        files[_STARTUP_FILES["unit"]] = _RHEL_UNIT + (text if where == "unit" else "")
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    code, out, err = _run("facts", "--root", str(root))
    invocation = json.loads(out)["apache"]["invocation"]
    assert code == 0 and shown not in invocation["files"] + invocation["defines"], err
    code, _, err = _run("facts", "--root", str(root), "-o", str(root / target))
    assert code == 2 and err.count("\n") == 1, err
    assert "the next run would read it as configuration" in err, err
    assert not (root / target).exists()
    # The refusal is not idle: a harmless file there changes what is read.
    (root / target).write_text("# report\n")
    code, out, err = _run("facts", "--root", str(root))
    invocation = json.loads(out)["apache"]["invocation"]
    assert code == 0 and shown in invocation["files"] + invocation["defines"], (err, invocation)
