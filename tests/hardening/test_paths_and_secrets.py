"""Nothing outside --root is read, no secret reaches any output, nothing audited is written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tcpaudit.apache.shell_state import REDACTED_VALUE
from tcpaudit.cli import cli
from tcpaudit.report import FORMATS

REPO = Path(__file__).resolve().parents[2]
MARKER = "SECRET-MARKER-7f3a9c"


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(REPO / "examples" / "closewait-incident", root, symlinks=True)
    return root


def _every_output(root: Path, *, fixes: bool = True) -> list[Result]:
    """``facts``, ``audit`` in every format, then (``fixes``) ``fix`` in the
    formats that carry findings' text: patch, SARIF log, playbook."""
    runner = CliRunner()
    outputs = [runner.invoke(cli, ["facts", "--root", str(root)])]
    outputs += [
        runner.invoke(cli, ["audit", "--root", str(root), "--format", name]) for name in FORMATS
    ]
    if fixes:
        outputs += [
            runner.invoke(cli, ["fix", "--root", str(root), "--format", name])
            for name in ("diff", "sarif", "ansible")
        ]
    return outputs


def _debian_proxy(tmp_path: Path, backend: str, text: str) -> Path:
    """Debian's stock tree with mod_proxy and its ``backend`` module enabled
    and ``text`` appended to apache2.conf."""
    root = tmp_path / "debian"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    for name in ("proxy", backend):
        (root / f"etc/apache2/mods-enabled/{name}.load").symlink_to(
            f"../mods-available/{name}.load"
        )
    with (root / "etc/apache2/apache2.conf").open("a") as conf:
        conf.write(text)
    return root


def test_absolute_symlink_and_dotdot_stay_inside_the_root(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    outside = tmp_path / "outside.conf"
    outside.write_text(f"Timeout {MARKER}\n")
    conf_d = root / "etc" / "httpd" / "conf.d"
    # Inside the root, /<tmp>/outside.conf does not exist: the link must not reach the real file.
    (conf_d / "escape.conf").symlink_to(outside)
    (conf_d / "climb.conf").symlink_to(Path("../../../../..") / outside.relative_to("/"))
    result = CliRunner().invoke(cli, ["facts", "--root", str(root)])
    assert MARKER not in result.output + result.stderr
    if result.exit_code == 0:
        facts = json.loads(result.output)
        assert facts["apache"]["settings"]["Timeout"]["value"] == 300
        assert not any("outside" in name for name in facts["apache"]["files"])
    else:
        # A link that names nothing inside the root is a file Apache could not open.
        assert result.exit_code == 2 and "Could not open configuration file" in result.stderr


def test_private_key_content_never_reaches_any_format(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    key = root / "etc" / "pki" / "tls" / "private" / "shop.key"
    key.parent.mkdir(parents=True)
    key.write_text(f"-----BEGIN PRIVATE KEY-----\n{MARKER}\n-----END PRIVATE KEY-----\n")
    key.chmod(0o600)
    ssl = root / "etc" / "httpd" / "conf.d" / "ssl.conf"
    ssl.write_text(
        "LoadModule ssl_module modules/mod_ssl.so\nListen 443\n"
        "<VirtualHost *:443>\n  SSLEngine on\n"
        "  SSLCertificateKeyFile /etc/pki/tls/private/shop.key\n</VirtualHost>\n"
    )
    proc_key = root / "proc" / "sys" / "net" / "ipv4" / "tcp_fastopen_key"
    proc_key.write_text(f"{MARKER}\n")
    proc_key.chmod(0o600)
    runner = CliRunner()
    outputs = [runner.invoke(cli, ["facts", "--root", str(root)]).output]
    for name in FORMATS:
        outputs.append(runner.invoke(cli, ["audit", "--root", str(root), "--format", name]).output)
    outputs.append(runner.invoke(cli, ["diagnose", "--root", str(root), "--format", "json"]).output)
    assert outputs[0].startswith("{")
    for text in outputs:
        assert MARKER not in text


def test_a_full_run_changes_no_byte_and_no_mtime(tmp_path: Path) -> None:
    root = _tree(tmp_path)

    def snapshot() -> dict[str, tuple[bytes, int, int]]:
        return {
            str(path): (path.read_bytes(), path.stat().st_mtime_ns, path.stat().st_mode)
            for path in sorted(root.rglob("*"))
            if path.is_file() and not path.is_symlink()
        }

    before = snapshot()
    runner = CliRunner()
    for name in FORMATS:
        runner.invoke(cli, ["audit", "--root", str(root), "--format", name])
    runner.invoke(cli, ["facts", "--root", str(root)])
    runner.invoke(cli, ["diagnose", "--root", str(root)])
    assert snapshot() == before
    assert sorted(os.listdir(root)) == sorted(os.listdir(REPO / "examples" / "closewait-incident"))


def test_a_secret_named_variable_used_in_a_directive_is_not_shown(tmp_path: Path) -> None:
    # The service's start-up files export DB_PASSWORD; a directive names it.
    # httpd would read the value; tcpaudit shows a placeholder wherever the
    # value would appear (here: the note that Timeout is not a number).
    debian = tmp_path / "debian"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", debian, symlinks=True)
    with (debian / "etc/apache2/envvars").open("a") as envvars:
        envvars.write(f"export DB_PASSWORD={MARKER}\nexport API_TOKEN=${{DB_PASSWORD}}x\n")
    with (debian / "etc/apache2/apache2.conf").open("a") as conf:
        conf.write("Timeout ${DB_PASSWORD}\nServerAdmin ${API_TOKEN}\n")
    rhel = tmp_path / "rhel"
    shutil.copytree(REPO / "tests/corpus/certbot-centos7", rhel, symlinks=True)
    (rhel / "etc/sysconfig").mkdir(parents=True, exist_ok=True)
    (rhel / "etc/sysconfig/httpd").write_text(f"SECRET_KEY={MARKER}\n")
    unit = rhel / "etc/systemd/system/httpd.service"
    unit.parent.mkdir(parents=True)
    unit.write_text(
        f"[Service]\nEnvironment=DB_PASS={MARKER}\nEnvironmentFile=/etc/sysconfig/httpd\n"
        "ExecStart=/usr/sbin/httpd $OPTIONS -DFOREGROUND\n"
    )
    with (rhel / "etc/httpd/conf/httpd.conf").open("a") as conf:
        conf.write("ServerAdmin ${SECRET_KEY}\nTimeout ${DB_PASS}\n")
    runner = CliRunner()
    for root in (debian, rhel):
        facts = runner.invoke(cli, ["facts", "--root", str(root)])
        assert facts.exit_code == 0, facts.output
        # Read as its placeholder, Timeout would be 0: it is "not known" instead.
        timeout = json.loads(facts.output)["apache"]["settings"]["Timeout"]
        assert timeout["value"] is None and "hides" in timeout["note"]
        outputs = [facts.output]
        for name in FORMATS:
            result = runner.invoke(cli, ["audit", "--root", str(root), "--format", name])
            assert result.exit_code in (0, 1), result.output
            outputs.append(result.output + result.stderr)
        for text in outputs:
            assert MARKER not in text


@pytest.mark.parametrize(
    "name", ["LDAP_BIND_PW", "DB_PW", "DBPASS", "MASTERKEY", "AES_KEY_1", "SMTP_PASS2"]
)
def test_short_secret_names_are_secret_names(tmp_path: Path, name: str) -> None:
    # Named the short way, these values were shown in the notes of a
    # directive using them (Timeout is not a number).
    root = tmp_path / "debian"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    with (root / "etc/apache2/envvars").open("a") as envvars:
        envvars.write(f"export {name}={MARKER}\n")
    with (root / "etc/apache2/apache2.conf").open("a") as conf:
        conf.write(f"Timeout ${{{name}}}\n")
    runner = CliRunner()
    facts = runner.invoke(cli, ["facts", "--root", str(root)])
    assert facts.exit_code == 0, facts.output
    assert name in json.loads(facts.output)["apache"]["invocation"]["environment"]
    outputs = [facts.output]
    for format_name in FORMATS:
        result = runner.invoke(cli, ["audit", "--root", str(root), "--format", format_name])
        outputs.append(result.output + result.stderr)
    for text in outputs:
        assert MARKER not in text


def test_secret_named_values_reach_neither_notes_nor_fixes(tmp_path: Path) -> None:
    # Shell the start-up files hold but tcpaudit does not evaluate was quoted
    # in notes; `tcpaudit fix` copied a secret-named Define as a context line
    # of its patch and inside its playbook's whole-file copy.
    root = tmp_path / "debian"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    with (root / "etc/apache2/envvars").open("a") as envvars:
        # (${DB_PASSWORD/x/y} was the second line: a bad substitution, dash stops.)
        envvars.write(f"DB_PASSWORD+={MARKER}\nA=$(printf %s {MARKER}) eval B={MARKER}\n")
    conf = root / "etc/apache2/apache2.conf"
    conf.write_text(
        conf.read_text().replace("Timeout 300", f"Define DB_PASSWORD {MARKER}\nTimeout 300")
    )
    runner = CliRunner()
    facts = runner.invoke(cli, ["facts", "--root", str(root)])
    assert facts.exit_code == 0, facts.output
    notes = [note["message"] for note in json.loads(facts.output)["apache"]["notes"]]
    assert "shell command 'DB_PASSWORD+=...' is not evaluated" in notes
    outputs = [facts.output]
    for name in FORMATS:
        outputs.append(runner.invoke(cli, ["audit", "--root", str(root), "--format", name]).output)
    for fix_format in ("diff", "ansible", "sarif"):
        result = runner.invoke(cli, ["fix", "--root", str(root), "--format", fix_format])
        assert result.exit_code in (0, 1), result.output
        outputs.append(result.output + result.stderr)
    assert "secret-named variable" in outputs[-3]
    for text in outputs:
        assert MARKER not in text


@pytest.mark.parametrize(
    ("envvars", "conf"),
    [
        ("export PROXY_PASS_TIMEOUT=600\n", "Timeout ${PROXY_PASS_TIMEOUT}\n"),
        ("export SORT_KEY=9090\n", "KeepAliveTimeout ${SORT_KEY}\n"),
        ("", "Define TOKEN_TIMEOUT 7\nTimeout ${TOKEN_TIMEOUT}\n"),
    ],
)
def test_a_hidden_value_used_as_a_number_is_not_known(
    tmp_path: Path, envvars: str, conf: str
) -> None:
    # Its name is a secret's, so its value is hidden; read as the placeholder
    # it was Timeout 0 (a wrong grade) or a refused KeepAliveTimeout.
    root = tmp_path / "debian"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    with (root / "etc/apache2/envvars").open("a") as handle:
        handle.write(envvars)
    with (root / "etc/apache2/apache2.conf").open("a") as handle:
        handle.write(conf)
    facts = CliRunner().invoke(cli, ["facts", "--root", str(root)])
    assert facts.exit_code == 0, facts.output
    name = conf.splitlines()[-1].split()[0]
    setting = json.loads(facts.output)["apache"]["settings"][name]
    assert setting["value"] is None and "not known" in setting["note"]


@pytest.mark.parametrize(
    "line", ["Timeout ghp_abcdefghijklmnopqrstuvwxyz0123456789",
             "ServerName ghp_abcdefghijklmnopqrstuvwxyz0123456789*"],
)  # fmt: skip
def test_a_token_of_a_known_kind_in_an_apache_file_is_never_shown(
    tmp_path: Path, line: str
) -> None:
    # Notes and error lines of Apache files quoted it (start-up files hid it).
    root = tmp_path / "debian"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    with (root / "etc/apache2/apache2.conf").open("a") as conf:
        conf.write(line + "\n")
    for result in _every_output(root, fixes=False):
        assert "ghp_" not in result.output + result.stderr


@pytest.mark.parametrize(
    "before", ["", "\x01", "\u200b", "\x7f"], ids=["plain", "x01", "zwsp", "del"]
)
def test_a_token_in_a_value_tcpaudit_shows_is_hidden_in_every_output(
    tmp_path: Path, before: str
) -> None:
    # A vhost's name, a route's path, URL and parameters reached findings,
    # fixes and facts with the token in them. After a character the writers
    # escape (\x01, \u200b, \x7f: the escape ends in a word character), the
    # token was shown in every format but Markdown.
    token = before + "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
    root = _debian_proxy(
        tmp_path,
        "proxy_http",
        f"<VirtualHost *:80>\nServerName {token}.example.com\n"
        f"ProxyPass /{token} http://backend.example/{token} timeout=500\n"
        f"ProxyPass /b http://backend2.example/ route={token}\n</VirtualHost>\n",
    )
    # fix's SARIF log and playbook carry the findings' messages and fixes too.
    outputs = _every_output(root)
    assert "tcpaudit-redacted.example.com" in outputs[0].output
    if not before:
        assert "timeout=30" in outputs[-2].output  # the route's fix is there, its token hidden
    for result in outputs:
        assert result.exit_code in (0, 1), result.output
        assert "ghp_" not in result.output + result.stderr


def test_a_fix_leaves_out_a_file_holding_a_token_of_a_known_kind(tmp_path: Path) -> None:
    # Reports hide such tokens; a patch must copy its files' text, so a file
    # holding one gets no change (its context lines would carry the token).
    root = tmp_path / "debian"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    with (root / "etc/apache2/apache2.conf").open("a") as conf:
        conf.write("Timeout 300\nSetEnv X ghp_abcdefghijklmnopqrstuvwxyz0123456789\n")
    result = CliRunner().invoke(cli, ["fix", "--root", str(root)])
    assert result.exit_code in (0, 1), result.output
    assert "ghp_" not in result.output + result.stderr
    assert "etc/apache2/apache2.conf" in result.stderr  # named as left out


@pytest.mark.parametrize("fmt", ["diff", "ansible", "sarif"])
def test_a_fix_leaves_out_a_file_holding_what_outputs_hide_as_a_token(
    tmp_path: Path, fmt: str
) -> None:
    # After an escape ("%2C") the pass that hides tokens in outputs takes a
    # token the plan's test did not: the playbook wrote the placeholder over
    # the file's own text, and its checksum no longer matched.
    root = tmp_path / "debian"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    with (root / "etc/apache2/apache2.conf").open("a") as conf:
        conf.write("Timeout 300\n# rotated: a%2Cghp_0123456789abcdefABCDEF\n")
    result = CliRunner().invoke(cli, ["fix", "--root", str(root), "--format", fmt])
    assert result.exit_code in (0, 1), result.output
    assert REDACTED_VALUE not in result.output
    assert "etc/apache2/apache2.conf holds a token" in result.stderr  # named as left out


@pytest.mark.parametrize(
    ("defines", "url"),
    [
        ("Define BK http://127.0.0.1:8080/ghp_AAAAAAAAAAAAAAAAAAAAAAAA/\n", "${BK}"),
        ("Define A ghp_\nDefine B AAAAAAAAAAAAAAAAAAAAAAAA\n", "http://127.0.0.1:8080/${A}${B}/"),
    ],
)
@pytest.mark.parametrize("fmt", ["diff", "ansible"])
def test_a_fix_never_rewrites_a_line_into_a_token_it_reads_through_names(
    tmp_path: Path, defines: str, url: str, fmt: str
) -> None:
    # The line holds ${BK}; its words as read hold the token: the patch
    # printed it, the playbook wrote the placeholder over it.
    root = tmp_path / "root"
    (root / "etc/apache2").mkdir(parents=True)
    (root / "etc/apache2/apache2.conf").write_text(
        "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
        "LoadModule proxy_module modules/mod_proxy.so\n"
        "LoadModule reqtimeout_module modules/mod_reqtimeout.so\n"
        f"Include backend.conf\nProxyPass /app {url} timeout=900\n"
    )
    (root / "etc/apache2/backend.conf").write_text(defines)
    result = CliRunner().invoke(cli, ["fix", "--root", str(root), "--format", fmt])
    assert result.exit_code in (0, 1), result.output
    assert "ghp_" not in result.output and REDACTED_VALUE not in result.output
    assert "a token of a known kind in its changed line" in result.stderr


def test_a_command_line_s_secrets_never_reach_diagnose_s_output(tmp_path: Path) -> None:
    # The running httpd's own words: a -C URL password, a token in a -D, a
    # secret-named Define given with -c, a secret-named -D value.
    root = tmp_path / "site"
    shutil.copytree(REPO / "tests/diagnose/fixtures/proxied-site", root, symlinks=True)
    argv = [
        "/usr/sbin/apache2", "-f", "/srv/site/site.conf",
        "-C", "ProxyPass /z http://admin:hunter2pass@127.0.0.1:9/",
        "-DSECRET_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "-c", "Define API_KEY AKIAIOSFODNN7EXAMPLE", "-DDB_PASSWORD=plainpw",
        # A value glued to its flag (apr_getopt reads it so), an <If> section.
        "-CDefine DB_PASSWORD gluedpw1", "-XCDefine API_TOKEN gluedpw2",
        "-c", "<If \"%{HTTP:X-Api-Key} == 'ifsecret3'\">", "-c", "</If>",
    ]  # fmt: skip
    for pid in ("11444", "11445", "11446"):
        (root / "proc" / pid / "cmdline").write_bytes(b"\0".join(map(str.encode, argv)) + b"\0")
    runner = CliRunner()
    for name in ("table", "json"):
        result = runner.invoke(cli, ["diagnose", "--root", str(root), "--format", name])
        assert result.exit_code in (0, 1), result.output
        shown = result.output + result.stderr
        for secret in ("hunter2pass", "ghp_", "AKIAIOSFODNN7", "plainpw", "gluedpw", "ifsecret"):
            assert secret not in shown, (name, secret)
        assert "/srv/site/site.conf" in shown  # the rest of the command line is shown


def test_markdown_escapes_no_token_past_the_writer(tmp_path: Path) -> None:
    # Escaped for Markdown (ghp\_...), a token no longer looked like one to the
    # writer's last pass: fleet and a baseline's reason showed it.
    token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
    root = _tree(tmp_path)
    runner = CliRunner()
    report = json.loads(
        runner.invoke(cli, ["audit", "--root", str(root), "--format", "json"]).output
    )
    for finding in report["findings"]:
        finding["title"] = f"token {token} pw"
        finding["current"] = f"was {token}"
    (tmp_path / "a.json").write_text(json.dumps(report))
    outputs = [
        runner.invoke(cli, ["fleet", str(tmp_path / "a.json"), "--format", "markdown"]),
        runner.invoke(
            cli,
            [
                "audit",
                "--root",
                str(root),
                "--baseline",
                str(tmp_path / "a.json"),
                "--format",
                "markdown",
            ],
        ),
    ]
    for result in outputs:
        assert result.exit_code in (0, 1), result.output
        assert "ghp" not in result.output + result.stderr
        assert "tcpaudit-redacted" in result.output


def test_the_debug_log_hides_tokens_and_escapes(tmp_path: Path) -> None:
    # -vv logs each rule's decision with the vhost it is about.
    token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
    root = tmp_path / "debian"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    with (root / "etc/apache2/apache2.conf").open("a") as conf:
        conf.write(f"<VirtualHost *:80>\nServerName {token}.ex\x1b[2Jample\nTimeout 900\n"
                   "</VirtualHost>\n")  # fmt: skip
    script = "import sys; from tcpaudit.cli import main; sys.exit(main())"
    result = subprocess.run(
        [sys.executable, "-c", script, "-vv", "audit", "--root", str(root)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    assert "tcpaudit.engine" in result.stderr  # the decisions were logged
    assert "ghp_" not in result.stderr and "\x1b" not in result.stderr


@pytest.mark.parametrize("content", ["<VirtualHost", "Timeout abc def"])
@pytest.mark.parametrize("command", ["audit", "facts", "fix"])
def test_a_token_in_a_file_s_name_is_hidden_in_the_error_line(
    tmp_path: Path, content: str, command: str
) -> None:
    # The error line named the file as it is: a token in its name was shown,
    # though notes and reports hid the same name.
    token = "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    root = tmp_path / "root"
    (root / "etc/apache2/conf.d").mkdir(parents=True)
    (root / "etc/apache2/apache2.conf").write_text(
        "LoadModule mpm_event_module modules/mod_mpm_event.so\nListen 80\n"
        f"Include conf.d/{token}.conf\n"
    )
    (root / f"etc/apache2/conf.d/{token}.conf").write_text(content + "\n")
    result = CliRunner().invoke(cli, [command, "--root", str(root)])
    assert result.exit_code == 2, result.output
    assert "conf.d/tcpaudit-redacted.conf:1: " in result.stderr
    assert "ghp_" not in result.output + result.stderr


@pytest.mark.parametrize(
    "word",
    ["secret=a;{m}", "secret=a&{m}", "secret=a,{m}", "secret='x'{m}", '"secret=a {m}"'],
)
def test_a_parameter_word_s_whole_value_is_hidden_in_facts(tmp_path: Path, word: str) -> None:
    # mod_proxy's value is the rest of the word: facts showed what followed
    # the first ';', '&', ',' or quoted run of it.
    line = f"ProxyPass /a ajp://127.0.0.1:8009/ {word.format(m=MARKER)}\n"
    root = _debian_proxy(tmp_path, "proxy_ajp", line)
    result = CliRunner().invoke(cli, ["facts", "--root", str(root)])
    assert result.exit_code == 0, result.output
    assert "secret=tcpaudit-redacted" in result.output
    assert MARKER not in result.output


@pytest.mark.parametrize(
    "word",
    [
        "http://127.0.0.1:8080/?token='ab'{m}",
        "\"http://127.0.0.1:8080/?token='ab'{m}&x=1\"",
        '"http://127.0.0.1:8080/?password=\\"ab\\"{m}"',
        "http://127.0.0.1:8080/?q=1&token='a'{m}",
    ],
)
def test_a_query_parameter_s_value_after_a_quoted_run_is_hidden(tmp_path: Path, word: str) -> None:
    # Inside a URL quotes are characters: the value ran only to the end of
    # its first quoted run, and the rest was shown.
    root = _debian_proxy(tmp_path, "proxy_http", f"ProxyPass /a {word.format(m=MARKER)}\n")
    outputs = _every_output(root, fixes=False)
    assert "tcpaudit-redacted" in outputs[0].output
    for result in outputs:
        assert result.exit_code in (0, 1), result.output
        assert MARKER not in result.output + result.stderr


def _windows(token: str, length: int = 10) -> set[str]:
    body = token[4:]
    return {body[start : start + length] for start in range(len(body) - length + 1)}


def test_no_piece_of_a_token_survives_a_wrap_a_cut_or_an_escape(tmp_path: Path) -> None:
    # The table wrapped a message before the pass over the whole output (a
    # JWT over two lines: no piece of it was a token); a note cut a value at
    # 60 characters inside a token (its first characters shown); the GitHub
    # format escaped the comma before a token in a file's name to "%2C",
    # which the pass took for a word the token was part of.
    jwt = "eyJ" + "hbGciOiJIUzI1NiJ9QkLmNoPqRsTuVwXyZ" * 3 + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0"
    long_token = "ghp_" + "Zq8Wm2Xr7Ty4Up1Vs6Nk3Lj9Hg5Fd0Ca" * 3
    named = "ghp_" + "Mx7Pq2Wr9Ks4Lt6Vb1Nz3Jh8"
    cut = "ghp_" + "Rf4Tg7Yh2Uj5Ik8Ol3Pa6Sd9"
    root = _debian_proxy(
        tmp_path,
        "proxy_http",
        f"ProxyPass /{jwt} http://127.0.0.1:8081/ timeout=900\n"
        f"ProxyPass /b http://127.0.0.1:8082/{long_token} timeout=900\n",
    )
    (root / f"etc/apache2/sites-enabled/x,{named}.conf").write_text(
        "ProxyPass /c http://127.0.0.1:8083/ timeout=900\n"
    )
    (root / "etc/sysctl.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/sysctl.d/90-x.conf").write_text(
        f"net.ipv4.tcp_keepalive_time = {'y' * 44} {cut}\n"
    )
    outputs = _every_output(root)
    assert "refused by the kernel" in outputs[1].output  # the cut note is there
    assert "x%2Ctcpaudit-redacted.conf" in outputs[list(FORMATS).index("github") + 1].output
    pieces = _windows(jwt) | _windows(long_token) | _windows(named) | _windows(cut)
    for result in outputs:
        assert result.exit_code in (0, 1), result.output
        text = result.output + result.stderr
        assert not [piece for piece in pieces if piece in text], text


def test_a_token_in_a_file_s_name_survives_no_percent_encoding(tmp_path: Path) -> None:
    # SARIF's URIs percent-encoded whsec_'s "+" before the pass over the
    # whole log, which then found only "whsec_Ab": the rest was shown.
    token = "whsec_Ab+cdefghijklmnopqrstuvwxyz0123456789"
    root = _debian_proxy(tmp_path, "proxy_http", "")
    (root / f"etc/apache2/sites-enabled/{token}.conf").write_text(
        "ProxyPass /c http://127.0.0.1:8083/ timeout=900\n"
    )
    runner = CliRunner()
    outputs = [
        runner.invoke(cli, [command, "--root", str(root), "--format", "sarif"])
        for command in ("audit", "fix")
    ]
    assert "tcpaudit-redacted.conf" in outputs[0].output
    for result in outputs:
        assert result.exit_code in (0, 1), result.output
        assert not [piece for piece in _windows(token) if piece in result.output]


_RULE_WITH_TOKENS = """\
id: TA950
title: demo {github} rule
severity: medium
check: sysctl_value_compare
params: {{key: net.ipv4.tcp_retries2, flag_when: below, threshold: 8, recommended: 8}}
applies_to: {{requires: sysctl}}
summary: Flags {anthropic} here.
rationale: >
  A rationale long enough to be wrapped, so that the key we rotate lands at
  the end of a line: sk-ant-{anthropic_body} and then the jwt, {jwt} ok
example: {{bad: "net.ipv4.tcp_retries2 = 3", use_instead: "net.ipv4.tcp_retries2 = 8"}}
message: tcp_retries2 is {{current}}
references: [https://www.kernel.org/doc/html/latest/networking/ip-sysctl.html]
tags: [kernel]
"""


def test_rules_and_explain_show_no_token_of_a_rules_directory(tmp_path: Path) -> None:
    # A rules directory may come from the audited repository (tcpaudit.toml):
    # `rules` and `explain` wrote its text without the pass that hides
    # tokens, and explain wrapped its rationale inside them first.
    github = "ghp_AbCdEfGhIjKlMnOpQrStUvWx0123"
    anthropic_body = "api03AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
    jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + "eyJzdWIiOiIxMjM0NTY3ODkwIn0" * 3 + ".Sfl"
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "TA950-demo.yaml").write_text(
        _RULE_WITH_TOKENS.format(
            github=github,
            anthropic="sk-ant-" + anthropic_body,
            anthropic_body=anthropic_body,
            jwt=jwt,
        )
    )
    runner = CliRunner()
    outputs = [
        runner.invoke(cli, ["rules", "--rules-dir", str(rules), "--format", name])
        for name in ("table", "json", "markdown")
    ]
    outputs.append(runner.invoke(cli, ["explain", "--rules-dir", str(rules), "TA950"]))
    assert "## Why is this bad?" in outputs[-1].output
    pieces = _windows(github) | _windows("sk-ant-" + anthropic_body) | _windows(jwt)
    for result in outputs:
        assert result.exit_code == 0, result.output
        assert "TA950" in result.output
        assert not [piece for piece in pieces if piece in result.output], result.output
