"""Secrets written in Apache directives reach no output: reports, facts, fixes, errors, the module.

A proxy URL's password, AJP's ``secret=``, ``AuthLDAPBindPassword``, a
credential header, a secret-named variable or parameter: httpd needs each
of them, so a configuration holds them. Before, a ``ProxyPass`` password
was printed by every report format and by ``fix --format sarif``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpaudit.apache import ApacheConfig, load_apache
from tcpaudit.apache.secret_words import (
    redact_arguments,
    redact_text,
    references_in_secrets,
    secret_in_words,
)
from tcpaudit.cli import cli
from tcpaudit.remedy.secrets import secret_line
from tcpaudit.report import FORMATS

REPO = Path(__file__).resolve().parents[2]
CANARY = "PW-CANARY-51e7"
PLACEHOLDER = "tcpaudit-redacted"

# Each is a piece of configuration httpd 2.4 accepts with CentOS 7's modules.
SECRET_CONFIGURATION = f"""\
ProxyPass /priv/ http://admin:{CANARY}@127.0.0.1:8080/
ProxyPassMatch ^/m/(.*)$ http://user:{CANARY}@127.0.0.1:8081/$1
ProxyPass /ajp/ ajp://127.0.0.1:8009/ secret={CANARY}
ProxyPass /tok/ http://{CANARY}@127.0.0.1:8082/
<Proxy "balancer://pool">
    BalancerMember http://member:{CANARY}@10.0.0.1:8080
</Proxy>
ProxyPass /pool/ balancer://pool/
<Proxy "http://proxied:{CANARY}@10.0.0.2:8080/">
    Require all granted
</Proxy>
RewriteEngine On
RewriteRule ^/r/(.*) http://127.0.0.1:8083/$1?api_key={CANARY} [P,E=API_TOKEN:{CANARY}]
RequestHeader set Authorization "Bearer {CANARY}"
Header always set X-Auth-Token {CANARY}
SetEnv DB_PASSWORD {CANARY}
SetEnvIf Request_URI ^/x SESSION_SECRET={CANARY}
DBDriver pgsql
DBDParams "host=db user=app password={CANARY} dbname=shop"
Define BACKEND_URL http://svc:{CANARY}@127.0.0.1:8084/
ProxyPass /d/ ${{BACKEND_URL}}
Define PROXY_PASS {CANARY}
ProxyPass /e/ http://svc:${{PROXY_PASS}}@127.0.0.1:8085/
Define PLAIN_WORD {CANARY}
ProxyPass /f/ \\
    http://svc:${{PLAIN_WORD}}@127.0.0.1:8086/
<Location /fake>
    AuthBasicFake demo {CANARY}
</Location>
<IfModule mod_authnz_ldap.c>
    AuthLDAPBindPassword {CANARY}
</IfModule>
"""


def _load_lines(*modules: str) -> str:
    """LoadModule lines for ``modules``, as a Debian-like tree names them."""
    return "".join(f"LoadModule {module}_module modules/mod_{module}.so\n" for module in modules)


def _apache2_checks(conf: Path) -> subprocess.CompletedProcess[str]:
    """``apache2 -t`` on ``conf``, its verdict and messages."""
    return subprocess.run(
        ["apache2", "-t", "-f", str(conf)], capture_output=True, text=True, check=False,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"},
    )  # fmt: skip


def _accepted_and_loaded(conf: Path) -> ApacheConfig:
    """``conf`` as tcpaudit loads it, once apache2 has accepted it."""
    checked = _apache2_checks(conf)
    assert checked.returncode == 0, checked.stderr
    config = load_apache(conf, root="/")
    assert config is not None
    return config


def _centos_tree(tmp_path: Path, extra: str = SECRET_CONFIGURATION) -> Path:
    root = tmp_path / "root"
    shutil.copytree(REPO / "tests/corpus/certbot-centos7", root, symlinks=True)
    (root / "etc/httpd/conf.d/secrets.conf").write_text(extra)
    return root


def _outputs(root: Path) -> list[str]:
    runner = CliRunner()
    outputs = []
    facts = runner.invoke(cli, ["facts", "--root", str(root)])
    assert facts.exit_code == 0, facts.output
    outputs.append(facts.output + facts.stderr)
    for name in FORMATS:
        result = runner.invoke(cli, ["audit", "--root", str(root), "--format", name])
        assert result.exit_code in (0, 1), result.output
        outputs.append(result.output + result.stderr)
    for fix_format in ("diff", "ansible", "sarif"):
        result = runner.invoke(cli, ["fix", "--root", str(root), "--format", fix_format])
        assert result.exit_code in (0, 1), result.output
        outputs.append(result.output + result.stderr)
    return outputs


def test_no_secret_of_a_directive_reaches_any_output(tmp_path: Path) -> None:
    root = _centos_tree(tmp_path)
    outputs = _outputs(root)
    for text in outputs:
        assert CANARY not in text
    # Not vacuous: the proxy routes are reported, with the password replaced.
    table = outputs[1]
    assert f"http://admin:{PLACEHOLDER}@127.0.0.1:8080/" in table
    assert f"http://svc:{PLACEHOLDER}@127.0.0.1:8086/" in table
    facts = json.loads(outputs[0])
    assert facts["apache"]["settings"]["Timeout"]["value"] == 60
    # A fix quoting such a line says the placeholder is not to be pasted.
    report = json.loads(outputs[2])
    quoting = [f["fix"] for f in report["findings"] if PLACEHOLDER in (f["fix"] or "")]
    assert quoting and all("keep your own value there" in fix for fix in quoting)


def test_fix_leaves_out_a_file_holding_a_secret_and_names_it(tmp_path: Path) -> None:
    root = _centos_tree(tmp_path)
    result = CliRunner().invoke(cli, ["fix", "--root", str(root), "--format", "diff"])
    assert result.exit_code in (0, 1), result.output
    assert re.search(
        r"secrets\.conf holds a password in a URL \(line 1\): its changes are left out",
        result.output + result.stderr,
    )
    assert "+++ b/etc/httpd/conf.d/secrets.conf" not in result.output


@pytest.mark.parametrize(
    "line",
    [
        f"RequestHeader set Authorization Bearer {CANARY}",
        f"RequestHeader set Proxy-Authorization Basic {CANARY}",
        f"Header set X-Auth-Token abc {CANARY}",
        f"RequestHeader set X-Api-Key k kk{CANARY}",
        f"RequestHeader set Authorization Bearer xBearer{CANARY}",
        # A scheme and its token in two words, under a header of any name.
        f"Header set X-Upstream Bearer {CANARY}",
        f'RequestHeader set X-Upstream "Bearer" {CANARY}',
        # Past the value: an edit's replacement and condition, a condition's place.
        f"RequestHeader edit X-Foo ^ Bearer {CANARY}",
        f"Header always edit* X-Foo ^ Token {CANARY}",
        f'RequestHeader set X-Foo v "Bearer {CANARY}"',
    ],
)
def test_a_refused_credential_header_names_no_word_of_its_value(tmp_path: Path, line: str) -> None:
    # Unquoted, the token is read as the line's condition: httpd refuses it
    # quoting it ("Unknown parameter: <token>"); tcpaudit refuses it without.
    root = _debian_with_modules(tmp_path, line)
    for command in (["audit"], ["facts"], ["fix"]):
        result = CliRunner().invoke(cli, [*command, "--root", str(root)])
        assert result.exit_code == 2, result.output
        assert CANARY not in result.output + result.stderr
        assert "Unknown parameter: tcpaudit-redacted" in result.stderr


def test_a_hidden_word_is_not_replaced_inside_the_words_of_a_message(tmp_path: Path) -> None:
    # "y" is a hidden word of this line: the message's "many" stays whole.
    root = _debian_with_modules(tmp_path, f"RequestHeader set Authorization Bearer {CANARY} x y")
    result = CliRunner().invoke(cli, ["audit", "--root", str(root)])
    assert result.exit_code == 2, result.output
    assert result.stderr.endswith(": RequestHeader has too many arguments\n"), result.stderr


def test_a_stray_url_line_is_refused_or_noted_without_its_password(tmp_path: Path) -> None:
    # A broken continuation leaves a URL as a line of its own: httpd refuses
    # it by name; where a loaded module tcpaudit does not know may provide
    # it (CentOS 7's systemd_module), a note names it.
    stray = f"http://admin:{CANARY}@127.0.0.1:8080/"
    shown = f"http://admin:{PLACEHOLDER}@127.0.0.1:8080/"
    debian = tmp_path / "debian"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", debian, symlinks=True)
    with (debian / "etc/apache2/apache2.conf").open("a") as conf:
        conf.write(stray + "\n")
    refused = CliRunner().invoke(cli, ["audit", "--root", str(debian)])
    assert refused.exit_code == 2
    assert CANARY not in refused.output + refused.stderr
    assert f"Invalid command '{shown}'" in refused.stderr
    noted = CliRunner().invoke(
        cli, ["audit", "--root", str(_centos_tree(tmp_path, stray + "\n")), "--format", "json"]
    )
    assert noted.exit_code in (0, 1) and CANARY not in noted.output
    assert f"directive {shown} is not known" in noted.output


# Further shapes of a secret in a directive: each printed the canary
# somewhere before (reports, fix, or the module's snapshot).
VARIANTS = {
    "quote in a URL password": f"ProxyPass /q/ http://admin:pa'{CANARY}@backend/",
    "space in a URL password": f'ProxyPass /s/ "http://admin:pa {CANARY}@backend/"',
    "FastCGI variable": f'ProxyFCGISetEnvIf "true" DB_PASSWORD "{CANARY}"',
    "ACME account binding": f"MDExternalAccountBinding kid-1 {CANARY}",
    "DBDParams with spaces": f'DBDParams "host=db user=u password = {CANARY}"',
    "token compared in RewriteCond": f"RewriteCond %{{HTTP:X-Api-Key}} !^{CANARY}$",
    "Authorization matched by SetEnvIf": f'SetEnvIf Authorization "^Bearer {CANARY}$" ok',
    "token compared in <If>": f"<If \"%{{HTTP:X-Api-Key}} == '{CANARY}'\">\nRequire all granted\n</If>",
    "token compared in Require expr": (
        f"<Location /t>\nRequire expr \"req('X-Auth-Token') == '{CANARY}'\"\n</Location>"
    ),
    # mod_headers drops a trailing ':' from the name (Debian's security.conf
    # writes "X-Content-Type-Options:"): the upstream gets Authorization.
    "credential header named with a colon": f'RequestHeader set Authorization: "Bearer {CANARY}"',
    "Set-Cookie named with a colon": f'Header always set Set-Cookie: "sid={CANARY}"',
    "X-Authorization": f'RequestHeader set X-Authorization "{CANARY}"',
    "X-Forwarded-Authorization": f"RequestHeader set X-Forwarded-Authorization {CANARY}",
    "Bearer value in any header": f'RequestHeader set X-Upstream "Bearer {CANARY}"',
    "Basic value in any header": f"RequestHeader append X-Upstream 'basic {CANARY}'",
    "a header named X-Auth": f"RequestHeader set X-Auth {CANARY}",
    "a session header": f"RequestHeader set X-Session-Id {CANARY}",
    "Token value in any header": f'RequestHeader set X-Upstream "Token {CANARY}"',
    "ApiKey value in any header": f'RequestHeader set X-Upstream "ApiKey {CANARY}"',
    "Authorization compared as %{req:}": (
        f'RewriteEngine On\nRewriteCond "%{{req:Authorization}}" "={CANARY}"\nRewriteRule ^ - [F]'
    ),
    "Authorization compared as %{req_novary:}": (
        f"<If \"%{{req_novary:Authorization}} == '{CANARY}'\">\nRequire all granted\n</If>"
    ),
    # The expression of RewriteCond expr, Header's expr= condition, ap_expr's
    # functions written with spaces, a response header read by resp().
    "token compared in RewriteCond expr": (
        f"RewriteEngine On\nRewriteCond expr \"req('Authorization') == 'Bearer {CANARY}'\"\n"
        "RewriteRule ^ - [F]"
    ),
    "a space before req's parenthesis": (
        f"RewriteEngine On\nRewriteCond expr \"req ('X-Api-Key') == '{CANARY}'\"\n"
        "RewriteRule ^ - [F]"
    ),
    "spaces inside req's parenthesis": f"SetEnvIfExpr \"req ( 'Authorization' ) == '{CANARY}'\" x=1",
    "Header's expr= condition": (
        f"Header set X-Ok 1 \"expr=req('Authorization') == 'Bearer {CANARY}'\""
    ),
    "RequestHeader's expr= condition": (
        f'RequestHeader set X-Ok 1 "expr=%{{HTTP:Cookie}} =~ /sid={CANARY}/"'
    ),
    "Set-Cookie read by resp()": f"SetEnvIfExpr \"resp('Set-Cookie') == '{CANARY}'\" x=1",
    "Set-Cookie read by resp () in <If>": (
        f"<If \"resp ('Set-Cookie') == '{CANARY}'\">\nRequire all granted\n</If>"
    ),
    "Require expr over several words": (
        f"<Location /t>\nRequire expr %{{HTTP:X-Api-Key}} == '{CANARY}'\n</Location>"
    ),
    # mod_setenvif matches an attribute that is a regular expression against
    # every request header's name.
    "SetEnvIf attribute matching Proxy-Authorization": (
        f'SetEnvIf ^Prox.*ization "^Basic {CANARY}$" ok=1'
    ),
    "SetEnvIf attribute matching Proxy-Authorization by any name": (
        f'SetEnvIf ^Pr.xy-A "^{CANARY}$" ok=1'
    ),
    "NTLM value in any header": f'RequestHeader set X-Up "NTLM {CANARY}"',
    "SSWS value in any header": f'Header set X-Okta "SSWS {CANARY}"',
    "an unlisted scheme with an opaque token": f'RequestHeader set X-Up "Vendor {CANARY}x9y8z7"',
    # mod_rewrite's look-ahead, ap_expr's %{resp:}, a header named at request time.
    "a header read by look-ahead": (
        f"RewriteEngine On\nRewriteCond %{{LA-U:HTTP:X-Api-Key}} ^{CANARY}$\nRewriteRule ^/a - [F]"
    ),
    "Authorization read by LA-F": (
        "RewriteEngine On\n"
        f'RewriteCond %{{LA-F:HTTP:Authorization}} "=Bearer {CANARY}"\nRewriteRule ^/b - [F]'
    ),
    "a header named by a function": (
        f"<If \"req(tolower('COOKIE')) == '{CANARY}'\">\nRequire all denied\n</If>"
    ),
    "a header named by concatenation": (
        f"<If \"req('Coo' . 'kie') == '{CANARY}'\">\nRequire all denied\n</If>"
    ),
    "Set-Cookie read as %{resp:}": f'Header set X-C "v" "expr=%{{resp:Set-Cookie}} == \'{CANARY}\'"',
    # A credential kept in a variable of any name.
    # Names whose only secret part is "PW".
    "PW-named Define": f"Define DB_PW {CANARY}",
    "PW-named SetEnv": f"SetEnv LDAP_BIND_PW {CANARY}",
    "PW-named header": f"Header set X-Admin-PW {CANARY}",
    "pw query parameter": f"ProxyPass /a http://127.0.0.1:8080/?db_pw={CANARY}",
    # An opaque token after a scheme of any name, a condition after it.
    "scheme and opaque token before a condition": (
        f'Header set X-Custom "Custom 9f8e7d{CANARY}" env=foo'
    ),
    "scheme and opaque token before a stray word": (
        f'RequestHeader set X-Custom "Custom 9f8e7d{CANARY}" early'
    ),
    "Bearer value in SetEnv": (
        f'SetEnv UPSTREAM_HDR "Bearer {CANARY}"\nRequestHeader set X-Up "%{{UPSTREAM_HDR}}e"'
    ),
    "Bearer value set by SetEnvIf": (
        f'SetEnvIf Request_URI ^/ "UPH=Bearer {CANARY}"\nRequestHeader set X-Up "%{{UPH}}e"'
    ),
    "NTLM value set by a rewrite flag": (
        f'RewriteEngine On\nRewriteRule ^ - "[E=UPH:NTLM\\ {CANARY}]"\n'
        'RequestHeader set X-Up "%{UPH}e"'
    ),
    "SSWS value in SetEnv": f'SetEnv UPH "SSWS {CANARY}"',
    # A secret-named parameter after any character no name holds: a regular
    # expression's group or alternation, a fragment.
    # The argument checks of mod_rewrite read a quoted line's raw text, which
    # the reader does not redact: a message quoting a flag showed the secret.
    "URL password in a quoted rewrite flag": (
        f'RewriteEngine On\nRewriteRule "^/a" "/x" "[L, https://bob:{CANARY}@h/]"'
    ),
    "URL password in a quoted condition flag": (
        f'RewriteEngine On\nRewriteCond "%{{HTTP_HOST}}" "x" "[https://bob:{CANARY}@h/]"\n'
        "RewriteRule ^/q1$ - [F]"
    ),
    "password in a quoted redirect code": (
        f'RewriteEngine On\nRewriteRule "^/a" "/x" "[R=3 password={CANARY}]"'
    ),
    "token in a regex of the query string": (
        f"RewriteEngine On\nRewriteCond %{{QUERY_STRING}} (^|&)token={CANARY}($|&)\n"
        "RewriteRule ^/q1$ - [F]"
    ),
    "key in SetEnvIf's regex": f'SetEnvIf Query_String "(^|&)key={CANARY}" ok',
    "api_key in an <If> regex": (
        f'<If "%{{QUERY_STRING}} =~ /(?:^|&)api_key={CANARY}/">\nRequire all denied\n</If>'
    ),
    "access_token in a fragment": f'Redirect /cb "https://h.example/done#access_token={CANARY}"',
    "token in a header's URL fragment": f'Header set X-Next "https://h.example/#token={CANARY}"',
    "a group closing before '='": (
        f'<LocationMatch "^/api/(token)={CANARY}">\nRequire all denied\n</LocationMatch>'
    ),
    # A credential header copied with mod_headers' %{X}i, then compared.
    "Authorization copied by %{X}i, compared": (
        'RewriteEngine On\nRequestHeader set X-Tmp "%{Authorization}i"\n'
        f"RewriteCond %{{HTTP:X-Tmp}} ={CANARY}\nRewriteRule ^/q3$ - [F]"
    ),
    "Authorization copied into a response header, compared": (
        'Header set X-Copy "%{Authorization}i"\n'
        f'Header set X-Ok "1" "expr=%{{resp:X-Copy}} == \'{CANARY}\'"'
    ),
    # A secret on the command line of a piped log.
    "a token on a piped logger's command line": (
        f'CustomLog "|/usr/bin/logger -t x Authorization=Bearer\\ {CANARY}" combined'
    ),
    "a password on a piped error log's command line": (
        f'ErrorLog "|/usr/bin/logger --password={CANARY}"'
    ),
    # A secret as its own word after its option; names with '-' or an index.
    "a secret after its option on mod_md's command": (
        f"MDChallengeDns01 /usr/local/bin/dns01 --secret {CANARY}"
    ),
    "api-key in a proxied URL": f'ProxyPass /k "http://127.0.0.1:8080/?api-key={CANARY}"',
    "an index naming a password": (
        f'ProxyPass /a "http://127.0.0.1:8080/?auth[password]={CANARY}"'
    ),
    "a token inside another parameter's value": (
        f'Header set Refresh "0; url=https://x.example/?token={CANARY}"'
    ),
}


def _debian_with_modules(tmp_path: Path, conf: str) -> Path:
    root = tmp_path / "debian"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    enabled = root / "etc/apache2/mods-enabled"
    for module in ("proxy", "proxy_http", "proxy_fcgi", "headers", "rewrite", "dbd", "md"):
        for suffix in ("load", "conf"):
            if (root / f"etc/apache2/mods-available/{module}.{suffix}").exists():
                link = enabled / f"{module}.{suffix}"
                if not link.exists():
                    link.symlink_to(f"../mods-available/{module}.{suffix}")
    (root / "etc/apache2/sites-enabled/secret.conf").write_text(
        f"<VirtualHost *:80>\nServerName a.example\nKeepAlive Off\n{conf}\n"
        "ProxyPass /p2/ http://backend2/\n</VirtualHost>\n"
    )
    return root


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variants_of_directive_secrets_reach_no_output(tmp_path: Path, name: str) -> None:
    outputs = _outputs(_debian_with_modules(tmp_path, VARIANTS[name]))
    for text in outputs:
        assert CANARY not in text
    # The file is left out of every fix: its context would carry the secret.
    assert "secret.conf holds" in outputs[-3]


def test_a_third_party_directive_named_as_a_secret_is_replaced() -> None:
    # mod_auth_openidc's OIDCClientSecret, mod_auth_mysql's AuthMySQLPassword.
    for key in ("oidcclientsecret", "authmysqlpassword", "someapitoken"):
        assert redact_arguments(key, ("x", "y")) == (PLACEHOLDER, PLACEHOLDER)
    assert redact_arguments("servertokens", ("Prod",)) == ("Prod",)


@pytest.mark.parametrize(
    "conf",
    [
        "Define PRIVATE_PORT 8081\nListen ${PRIVATE_PORT}\n"
        "<VirtualHost *:${PRIVATE_PORT}>\nServerName x\n</VirtualHost>",
        "Define BYPASS_TIMEOUT 5\nTimeout ${BYPASS_TIMEOUT}",
    ],
)
def test_ordinary_names_holding_pass_or_private_keep_their_values(
    tmp_path: Path, conf: str
) -> None:
    # httpd reads these as any value; replacing them changed verdicts
    # (an error "Port must be specified", Timeout read as 0).
    root = tmp_path / "debian"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    (root / "etc/apache2/sites-enabled/v.conf").write_text(conf + "\n")
    result = CliRunner().invoke(cli, ["facts", "--root", str(root)])
    assert result.exit_code == 0, result.output
    facts = json.loads(result.output)
    if "Timeout" in conf:
        assert facts["apache"]["settings"]["Timeout"]["value"] == 5
    else:
        assert "*:8081" in [v["address"] for v in facts["apache"]["vhosts"]]


def test_fix_leaves_out_a_file_holding_a_terminal_escape(tmp_path: Path) -> None:
    root = tmp_path / "debian"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    conf = root / "etc/apache2/apache2.conf"
    conf.write_text(
        conf.read_text().replace("Timeout 300", "# \x1b]0;pwned\x07 title\nTimeout 300")
    )
    for fix_format in ("diff", "ansible", "sarif"):
        result = CliRunner().invoke(cli, ["fix", "--root", str(root), "--format", fix_format])
        assert result.exit_code in (0, 1)
        assert "\x1b" not in result.output + result.stderr
    assert "apache2.conf holds a control character a terminal acts on" in result.stderr


@pytest.mark.parametrize(
    ("key", "words", "expected"),
    [
        ("proxypass", ["/", "http://a:pw@h/"], ["/", f"http://a:{PLACEHOLDER}@h/"]),
        ("proxypass", ["/", "ws://tok@h/"], ["/", f"ws://{PLACEHOLDER}@h/"]),
        ("proxypass", ["/", "http://a:p@ss@h/x@y"], ["/", f"http://a:{PLACEHOLDER}@h/x@y"]),
        ("proxypass", ["/", "ajp://h/", "secret=s"], ["/", "ajp://h/", f"secret={PLACEHOLDER}"]),
        ("authldapbindpassword", ["s"], [PLACEHOLDER]),
        ("authbasicfake", ["user", "pw"], ["user", PLACEHOLDER]),
        ("ldaptrustedglobalcert", ["CERT_PFX", "/p", "pw"], ["CERT_PFX", "/p", PLACEHOLDER]),
        ("requestheader", ["set", "Authorization", "Basic x"], ["set", "Authorization", PLACEHOLDER]),
        ("header", ["always", "set", "X-Api-Key", "k"], ["always", "set", "X-Api-Key", PLACEHOLDER]),
        ("header", ["edit", "Set-Cookie", "a", "b"], ["edit", "Set-Cookie", PLACEHOLDER, PLACEHOLDER]),
        ("setenv", ["API_TOKEN", "t"], ["API_TOKEN", PLACEHOLDER]),
        ("define", ["DB_PASS", "p"], ["DB_PASS", PLACEHOLDER]),
        ("setenvif", ["Host", "x", "!A", "MY_KEY=v"], ["Host", "x", "!A", f"MY_KEY={PLACEHOLDER}"]),
        ("dbdparams", ["user=u pass='a b' db=x"], [PLACEHOLDER]),
        ("rewriterule", ["^/", "/x?token=t&a=1", "[E=SECRET_X:v]"],
         ["^/", f"/x?token={PLACEHOLDER}&a=1", f"[E=SECRET_X:{PLACEHOLDER}]"]),
    ],
)  # fmt: skip
def test_each_kind_of_secret_word_is_replaced(
    key: str, words: list[str], expected: list[str]
) -> None:
    assert list(redact_arguments(key, tuple(words))) == expected
    assert secret_in_words(key, words) is not None


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("serveradmin", ["webmaster@example.com"]),
        ("rewritecond", ["%{HTTPS}", "!=on"]),
        ("proxypass", ["/", "http://127.0.0.1:8080/", "keepalive=On", "timeout=600", "ttl=4"]),
        ("header", ["always", "set", "X-Frame-Options", "DENY"]),
        ("setenv", ["proxy-nokeepalive", "1"]),
        ("define", ["APACHE_LOG_DIR", "/var/log/apache2"]),
        ("sslcertificatekeyfile", ["/etc/ssl/private/site.key"]),
        ("customlog", ["|/usr/bin/rotatelogs -l /var/log/a.%Y 86400", "combined"]),
    ],
)
def test_ordinary_words_are_kept(key: str, words: list[str]) -> None:
    assert redact_arguments(key, tuple(words)) == tuple(words)
    assert secret_in_words(key, words) is None


def test_messages_lose_url_passwords() -> None:
    assert redact_text("seen http://u:pw@h/ twice") == f"seen http://u:{PLACEHOLDER}@h/ twice"
    assert redact_text("plain text") == "plain text"


def test_secret_line_finds_a_secret_across_a_continued_line() -> None:
    text = "Timeout 5\nProxyPass /a/ \\\n  http://u:pw@h/\n"
    assert secret_line(text, sysctl=False) == (3, "a password in a URL")
    assert secret_line("Timeout 5\nServerAdmin a@b.org\n", sysctl=False) is None
    # What the Ansible module already replaced: a patch against it would not apply.
    assert secret_line(f"AuthLDAPBindPassword {PLACEHOLDER}\n", sysctl=False) is not None


def test_values_used_as_secrets_elsewhere_keep_their_files_out_of_fixes(tmp_path: Path) -> None:
    # `Define UPVAL ...` in apache2.conf (a name that says nothing of a
    # secret), used as a URL's password in a site
    # file; a macro argument put there by `Use`: both lines are secrets by
    # use, and apache2.conf (which fix changes) must not be copied.
    root = _debian_with_modules(tmp_path, "ProxyPass /d/ http://svc:${UPVAL}@127.0.0.1:8081/")
    (root / "etc/apache2/mods-enabled/macro.load").symlink_to("../mods-available/macro.load")
    (root / "etc/apache2/sites-enabled/macro.conf").write_text(
        "<Macro Backend $password>\nProxyPass /m/ http://user:$password@127.0.0.1:8082/\n</Macro>\n"
    )
    conf = root / "etc/apache2/apache2.conf"
    text = conf.read_text()
    conf.write_text(
        text.replace("Timeout 300", f"Define UPVAL {CANARY}\nTimeout 300")
        + f"IncludeOptional sites-enabled/macro.conf\nUse Backend {CANARY}x\n"
    )
    facts = CliRunner().invoke(cli, ["facts", "--root", str(root)])
    assert facts.exit_code == 0, facts.output
    places = json.loads(facts.output)["apache"]["secret_value_lines"]
    lines = text.count("\n", 0, text.index("Timeout 300")) + 1
    assert {"file": "etc/apache2/apache2.conf", "line": lines} in places  # the Define
    # The Use line (the last), and the lines whose words held the secret.
    assert {"file": "etc/apache2/apache2.conf", "line": conf.read_text().count("\n")} in places
    assert {"file": "etc/apache2/sites-enabled/macro.conf", "line": 2} in places
    assert {"file": "etc/apache2/sites-enabled/secret.conf", "line": 4} in places
    outputs = _outputs(root)
    for output in outputs:
        assert CANARY not in output
    assert f"apache2.conf holds a value used as a secret elsewhere (line {lines})" in outputs[-3]


# A secret that appears only once the line's ${NAME}s are expanded, or
# that reaches a secret's place through another Define, another macro or
# an environment variable.
INDIRECT = {
    "URL in a Define of another file": (
        "Include /etc/apache2/backend.conf\nProxyPass /app ${BACKEND}",
        {"backend.conf": f"Define BACKEND http://appuser:{CANARY}@app.internal:8080/\n"},
    ),
    "scheme from a Define": (
        f"Define H http://u:\nProxyPass /h ${{H}}{CANARY}@h/\nUnDefine H",
        {},
    ),
    "nested Define": (
        f"Define B {CANARY}\nInclude /etc/apache2/px.conf",
        {"px.conf": "Define A ${B}\nProxyPass /a http://u:${A}@h/\n"},
    ),
    "macro passing its argument on": (
        f"Include /etc/apache2/macros.conf\nUse Outer {CANARY}",
        {
            "macros.conf": "<Macro Inner $p>\nProxyPass /m http://u:$p@h/\n</Macro>\n"
            "<Macro Outer $q>\nUse Inner $q\n</Macro>\n"
        },
    ),
    "environment variable in a credential header": (
        f"SetEnv XV {CANARY}\nInclude /etc/apache2/hdr.conf",
        {"hdr.conf": 'RequestHeader set Authorization "Basic %{XV}e"\n'},
    ),
    "SetEnvIf feeding a credential header": (
        f'SetEnvIf Request_URI "." UPHDR={CANARY}\nInclude /etc/apache2/hdr.conf',
        {"hdr.conf": 'RequestHeader set Authorization "Basic %{UPHDR}e"\n'},
    ),
    "RewriteRule [E=] feeding a credential header": (
        f"RewriteEngine On\nRewriteRule ^ - [E=UPHDR:{CANARY}]\nInclude /etc/apache2/hdr.conf",
        {"hdr.conf": 'RequestHeader set Authorization "Basic %{UPHDR}e"\n'},
    ),
    "two Defines giving the scheme": (
        "Define H http://appuser:\nDefine B ${H}\nInclude /etc/apache2/px.conf",
        {"px.conf": f"ProxyPass /x ${{B}}{CANARY}@10.0.0.2:8080/\n"},
    ),
    "Define, then SetEnv, then a credential header": (
        f"Define UPVAL {CANARY}\nSetEnv UPHDR ${{UPVAL}}\nInclude /etc/apache2/hdr.conf",
        {"hdr.conf": 'RequestHeader set Authorization "Basic %{UPHDR}e"\n'},
    ),
    # The Define's value also stands in lines where no secret is (a route's
    # path, a number): hidden there too, as the value's use made it a secret.
    "Define copied by SetEnv into a credential header, used elsewhere": (
        f"Define UPVAL {CANARY}\nSetEnv UPHDR ${{UPVAL}}\nInclude /etc/apache2/hdr.conf",
        {
            "hdr.conf": 'RequestHeader set Authorization "Bearer %{UPHDR}e"\n'
            "ProxyPass /${UPVAL}/ http://127.0.0.1:8081/\nTimeout ${UPVAL}\n"
        },
    ),
    "Define copied by SetEnvIf into an API key header, used elsewhere": (
        f"Define UPVAL {CANARY}\nSetEnvIf Host . UPHDR=${{UPVAL}}\nInclude /etc/apache2/hdr.conf",
        {
            "hdr.conf": 'RequestHeader set X-Api-Key "%{UPHDR}e"\n'
            "ProxyPass /${UPVAL}/ http://127.0.0.1:8081/\n"
        },
    ),
    "Define copied by [E=] into a credential header, used elsewhere": (
        f"Define UPVAL {CANARY}\nRewriteEngine On\nRewriteRule ^ - [E=UPHDR:${{UPVAL}}]\n"
        "Include /etc/apache2/hdr.conf",
        {
            "hdr.conf": 'RequestHeader set Authorization "%{UPHDR}e"\n'
            "ProxyPass /${UPVAL}/ http://127.0.0.1:8081/\n"
        },
    ),
    "Define copied through a request header, used elsewhere": (
        f"Define UPVAL {CANARY}\nDefine OTHER ${{UPVAL}}\nRequestHeader set X-Tmp ${{OTHER}}\n"
        "Include /etc/apache2/hdr.conf",
        {
            "hdr.conf": 'RequestHeader set Authorization "%{X-Tmp}i"\n'
            "ProxyPass /${UPVAL}/ http://127.0.0.1:8081/\n"
        },
    ),
    "macro parameter copied by SetEnv into a credential header, used elsewhere": (
        f"Include /etc/apache2/macros.conf\nUse Upstream {CANARY}",
        {
            "macros.conf": "<Macro Upstream $v>\nSetEnv UPHDR $v\n"
            'RequestHeader set Authorization "Bearer %{UPHDR}e"\n'
            "ProxyPass /$v/ http://127.0.0.1:8081/\n</Macro>\n"
        },
    ),
    "macro parameter copied through a request header, used elsewhere": (
        f"Include /etc/apache2/macros.conf\nUse Upstream x{CANARY}",
        {
            "macros.conf": "<Macro Upstream $v>\nRequestHeader set X-Tmp $v\n"
            'RequestHeader set X-Api-Key "%{X-Tmp}i"\n'
            "ProxyPass /$v/ http://127.0.0.1:8081/\nTimeout $v\n</Macro>\n"
        },
    ),
    # A Define passed to a macro whose body copies it where a credential
    # header outside the body reads it.
    "Define passed to a macro's SetEnv, read outside it": (
        f"Define UPVAL {CANARY}\nInclude /etc/apache2/macros.conf\nUse Copy ${{UPVAL}}\n"
        "Include /etc/apache2/hdr.conf",
        {
            "macros.conf": "<Macro Copy $x>\nSetEnv UPHDR $x\n</Macro>\n",
            "hdr.conf": 'RequestHeader set Authorization "Bearer %{UPHDR}e"\n'
            "ProxyPass /${UPVAL}/ http://127.0.0.1:8081/\n",
        },
    ),
    "Define passed to a macro's SetEnvIf, read outside it": (
        f"Define UPVAL {CANARY}\nInclude /etc/apache2/macros.conf\nUse Copy site ${{UPVAL}}\n"
        "Include /etc/apache2/hdr.conf",
        {
            "macros.conf": "<Macro Copy $name $x>\nSetEnvIf Host . UPHDR=$x\n</Macro>\n",
            "hdr.conf": 'RequestHeader set Proxy-Authorization "Basic %{UPHDR}e"\n'
            "ProxyPass /${UPVAL}/ http://127.0.0.1:8081/\n",
        },
    ),
    "Define passed to a macro's request header, read outside it": (
        f"Define UPVAL {CANARY}\nInclude /etc/apache2/macros.conf\nUse Copy ${{UPVAL}}\n"
        "Include /etc/apache2/hdr.conf",
        {
            "macros.conf": "<Macro Copy $x>\nRequestHeader set X-Tmp $x\n</Macro>\n",
            "hdr.conf": 'RequestHeader set Authorization "%{X-Tmp}i"\n'
            "ProxyPass /${UPVAL}/ http://127.0.0.1:8081/\n",
        },
    ),
    "Define passed through a nested Use to a macro's SetEnv": (
        f"Define UPVAL {CANARY}\nInclude /etc/apache2/macros.conf\nUse Outer ${{UPVAL}}\n"
        "Include /etc/apache2/hdr.conf",
        {
            "macros.conf": "<Macro Inner $y>\nSetEnv UPHDR $y\n</Macro>\n"
            "<Macro Outer $x>\nUse Inner $x\n</Macro>\n",
            "hdr.conf": 'RequestHeader set Authorization "Bearer %{UPHDR}e"\n'
            "ProxyPass /${UPVAL}/ http://127.0.0.1:8081/\n",
        },
    ),
    "Define passed through a body's Define to a macro's SetEnv": (
        f"Define UPVAL {CANARY}\nInclude /etc/apache2/macros.conf\nUse Outer ${{UPVAL}}\n"
        "Include /etc/apache2/hdr.conf",
        {
            "macros.conf": "<Macro Copy $y>\nSetEnv UPHDR $y\n</Macro>\n"
            "<Macro Outer $x>\nDefine W $x\nUse Copy ${W}\n</Macro>\n",
            "hdr.conf": 'RequestHeader set Authorization "Bearer %{UPHDR}e"\n'
            "ProxyPass /${UPVAL}/ http://127.0.0.1:8081/\n",
        },
    ),
    "Define passed after a Define of two words to a macro's SetEnv": (
        f'Define UPVAL {CANARY}\nDefine TWO "a b"\nInclude /etc/apache2/macros.conf\n'
        "Use Copy ${TWO} ${UPVAL}\nInclude /etc/apache2/hdr.conf",
        {
            "macros.conf": "<Macro Copy $n $m $x>\nSetEnv UPHDR $x\n</Macro>\n",
            "hdr.conf": 'RequestHeader set Authorization "Bearer %{UPHDR}e"\n'
            "ProxyPass /${UPVAL}/ http://127.0.0.1:8081/\n",
        },
    ),
    "Define passed on a middle macro's Use to a macro's SetEnv": (
        f"Define UPVAL {CANARY}\nInclude /etc/apache2/macros.conf\nUse Outer\n"
        "Include /etc/apache2/hdr.conf",
        {
            "macros.conf": "<Macro Copy $y>\nSetEnv UPHDR $y\n</Macro>\n"
            "<Macro Mid $m>\nUse Copy $m\n</Macro>\n<Macro Outer>\nUse Mid ${UPVAL}\n</Macro>\n",
            "hdr.conf": 'RequestHeader set Authorization "Bearer %{UPHDR}e"\n'
            "ProxyPass /${UPVAL}/ http://127.0.0.1:8081/\n",
        },
    ),
    "Define of two words passed to a macro's SetEnv": (
        f'Define UPVAL "{CANARY} zz"\nInclude /etc/apache2/macros.conf\nUse Copy ${{UPVAL}}\n'
        "Include /etc/apache2/hdr.conf",
        {
            "macros.conf": "<Macro Copy $y $z>\nSetEnv UPHDR $y\n</Macro>\n",
            "hdr.conf": 'RequestHeader set Authorization "Bearer %{UPHDR}e"\n'
            'ProxyPass "/${UPVAL}/" http://127.0.0.1:8081/\n',
        },
    ),
    "expr= reading an environment variable": (
        f"SetEnv UPSTREAMHDR {CANARY}\nInclude /etc/apache2/hdr.conf",
        {"hdr.conf": 'RequestHeader set Authorization "expr=Bearer %{reqenv:UPSTREAMHDR}"\n'},
    ),
    "SetEnvIf copying one variable into another": (
        f"SetEnvIf Request_URI . SRCVAR={CANARY}\nInclude /etc/apache2/hdr.conf",
        {
            "hdr.conf": 'SetEnvIf SRCVAR (.*) UPHDR=$1\nRequestHeader set Authorization "Basic %{UPHDR}e"\n'
        },
    ),
    "RewriteRule [E=] copying one variable into another": (
        f"SetEnvIf Request_URI . SRCVAR={CANARY}\nInclude /etc/apache2/hdr.conf",
        {
            "hdr.conf": "RewriteEngine On\nRewriteRule ^ - [E=UPHDR:%{ENV:SRCVAR}]\n"
            'RequestHeader set Authorization "Basic %{UPHDR}e"\n'
        },
    ),
    "a proxied URL's password read from a variable": (
        f"SetEnvIf Request_URI . SRCVAR={CANARY}\nInclude /etc/apache2/hdr.conf",
        {
            "hdr.conf": "RewriteEngine On\n"
            "RewriteRule ^/app/(.*) http://svc:%{ENV:SRCVAR}@127.0.0.1:8081/$1 [P]\n"
        },
    ),
    # httpd keeps Define values and the request's environment in apr tables,
    # whose keys match whatever their case.
    "a Define named in another case": (
        f"Define pw {CANARY}\nInclude /etc/apache2/px.conf",
        {"px.conf": "ProxyPass /d/ http://svc:${PW}@127.0.0.1:8081/\n"},
    ),
    "an environment variable named in another case": (
        f"SetEnv xv {CANARY}\nInclude /etc/apache2/hdr.conf",
        {"hdr.conf": 'RequestHeader set Authorization "Basic %{XV}e"\n'},
    ),
    "a RewriteCond's capture feeding [E=]": (
        f"SetEnvIf Request_URI . SRCV={CANARY}\nInclude /etc/apache2/hdr.conf",
        {
            "hdr.conf": "RewriteEngine On\nRewriteCond %{ENV:SRCV} (.+)\n"
            "RewriteRule ^ - [E=UPH:%1]\n"
            'RequestHeader set Authorization "Basic %{UPH}e"\n'
        },
    ),
    "a RewriteCond's capture as a proxied URL's password": (
        f"SetEnvIf Request_URI . SRCV={CANARY}\nInclude /etc/apache2/hdr.conf",
        {
            "hdr.conf": "RewriteEngine On\nRewriteCond %{ENV:SRCV} ^(.+)$\n"
            "RewriteRule ^/app/(.*) http://svc:%1@127.0.0.1:8081/$1 [P]\n"
        },
    ),
    "a request header copied into a credential header": (
        f"RequestHeader set X-Tmp {CANARY}\nInclude /etc/apache2/hdr.conf",
        {"hdr.conf": 'RequestHeader set Authorization "expr=%{req:X-Tmp}"\n'},
    ),
    "a request header read by SetEnvIf": (
        f"RequestHeader set X-Tmp {CANARY}\nInclude /etc/apache2/hdr.conf",
        {
            "hdr.conf": "SetEnvIf X-Tmp (.*) UPH=$1\n"
            'RequestHeader set Authorization "Basic %{UPH}e"\n'
        },
    ),
    "a variable interpolated into a proxied URL": (
        f"SetEnvIf Request_URI . UPV={CANARY}\nInclude /etc/apache2/px.conf",
        {
            "px.conf": "ProxyPassInterpolateEnv On\n"
            "ProxyPass /x http://svc:${UPV}@127.0.0.1:8081/ interpolate\n"
        },
    ),
    # A credential header's value copied into a variable or another header,
    # then compared with a literal in another file.
    "a copy of Authorization compared by RewriteCond": (
        "Include /etc/apache2/copy.conf\nRewriteEngine On\n"
        f'RewriteCond %{{ENV:HC}} "=Bearer {CANARY}"\nRewriteRule ^ - [F]',
        {"copy.conf": 'SetEnvIf Authorization "(.*)" HC=$1\n'},
    ),
    "a copy of Authorization compared by reqenv()": (
        f"Include /etc/apache2/copy.conf\nSetEnvIfExpr \"reqenv('HC') == 'Bearer {CANARY}'\" d=1",
        {"copy.conf": 'SetEnvIf Authorization "(.*)" HC=$1\n'},
    ),
    "a copy of Authorization compared by SetEnvIf": (
        f'Include /etc/apache2/copy.conf\nSetEnvIf HC "^Bearer {CANARY}$" deny=1',
        {"copy.conf": 'SetEnvIf Authorization "(.*)" HC=$1\n'},
    ),
    "a copy of Authorization compared in Header's condition": (
        f"Include /etc/apache2/copy.conf\nHeader set X-Ok 1 \"expr=reqenv('HC') == '{CANARY}'\"",
        {"copy.conf": 'SetEnvIf Authorization "(.*)" HC=$1\n'},
    ),
    "a capture of Authorization set by [E=] compared in <If>": (
        f"Include /etc/apache2/copy.conf\n<If \"%{{ENV:HC}} == '{CANARY}'\">\n"
        "Require all granted\n</If>",
        {
            "copy.conf": "RewriteEngine On\nRewriteCond %{HTTP:Authorization} (.+)\n"
            "RewriteRule ^ - [E=HC:%1]\n"
        },
    ),
    "Authorization copied into another request header, compared": (
        f"Include /etc/apache2/copy.conf\n<If \"req('X-Copy') == '{CANARY}'\">\n"
        "Require all granted\n</If>",
        {"copy.conf": 'RequestHeader set X-Copy "expr=%{req:Authorization}"\n'},
    ),
    "a capture of Authorization compared by the next RewriteCond": (
        "RewriteEngine On\nInclude /etc/apache2/cond.conf\n"
        f'RewriteCond %1 "=Bearer {CANARY}"\nRewriteRule ^ - [F]',
        {"cond.conf": "RewriteCond %{HTTP:Authorization} ^(.*)$\n"},
    ),
    "a copy of Authorization read by a variable named at request time": (
        f"Include /etc/apache2/copy.conf\n<If \"reqenv(tolower('HC')) == '{CANARY}'\">\n"
        "Require all denied\n</If>",
        {"copy.conf": 'SetEnvIf Authorization "(.*)" HC=$1\n'},
    ),
    "a chain of 400 macros": (
        "Include /etc/apache2/chain.conf\nUse M0 " + CANARY,
        {
            "chain.conf": "".join(
                f"<Macro M{index} $p>\nUse M{index + 1} $p\n</Macro>\n" for index in range(400)
            )
            + "<Macro M400 $p>\nProxyPass /m http://appuser:$p@10.0.0.2/\n</Macro>\n"
        },
    ),
}


def _indirect_tree(tmp_path: Path, name: str) -> Path:
    conf, files = INDIRECT[name]
    root = _debian_with_modules(tmp_path, "ServerAlias b.example")
    (root / "etc/apache2/mods-enabled/macro.load").symlink_to("../mods-available/macro.load")
    for file, text in files.items():
        (root / "etc/apache2" / file).write_text(text)
    main = root / "etc/apache2/apache2.conf"
    anchor = "IncludeOptional mods-enabled/*.conf\n"
    # Right after the modules, a few lines above what fix changes (Timeout).
    text = main.read_text().replace(anchor, anchor + conf + "\n", 1)
    main.write_text(text.replace("\nTimeout 300\n", "\n") + "Timeout 300\n")
    return root


@pytest.mark.parametrize("name", sorted(INDIRECT))
def test_secrets_reached_through_names_reach_no_output(tmp_path: Path, name: str) -> None:
    root = _indirect_tree(tmp_path, name)
    outputs = _outputs(root)
    for text in outputs:
        assert CANARY not in text
    # fix never writes the placeholder over a secret, and says what it left out.
    diff, playbook = outputs[-3], outputs[-2]
    assert not [line for line in diff.splitlines() if line[:1] == "+" and PLACEHOLDER in line]
    assert PLACEHOLDER not in playbook
    assert " holds " in diff


def test_userinfo_is_found_in_linear_time_as_the_pattern_found_it() -> None:
    # The pattern searched a scheme before each '@': a 320,000-character
    # line took over 120 s. The scan from each "://" finds the same userinfo.
    import random
    import re

    from tcpaudit.apache.secret_words import redact_userinfo

    pattern = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://)([^/?#]*)@")
    # A password holding '/', '?' or '#' is hidden past the authority (a
    # shape the pattern never knew): such texts are checked apart below.
    past = re.compile(r"://[^/?#]*:[^/?#]*[/?#]\S*@")

    def by_pattern(text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            user, colon, _ = match.group(2).partition(":")
            shown = f"{user}:{PLACEHOLDER}" if colon else PLACEHOLDER
            return f"{match.group(1)}{shown}@"

        return pattern.sub(replace, text)

    chooser = random.Random(5)
    pieces = ["a", "1", ":", "/", "@", "://", "?", "#", " ", "b:c", "'"]
    for _ in range(20_000):
        text = "".join(chooser.choice(pieces) for _ in range(chooser.randint(1, 14)))
        if past.search(text) is None:
            assert redact_userinfo(text) == by_pattern(text), text
    assert redact_userinfo("http://u:pa/ss@h/") == f"http://u:{PLACEHOLDER}/{PLACEHOLDER}@h/"
    assert redact_userinfo("ProxyPass /p " + "a" * 320_000 + "@://") == (
        "ProxyPass /p " + "a" * 320_000 + "@://"
    )


@pytest.mark.parametrize(
    "failing",
    [
        "Include /etc/apache2/${PWV}",  # refused while reading
        "${PWV} 5",  # refused by the walk after reading
        "KeepAliveTimeout ${PWV}",  # refused by the value checks
    ],
)
def test_an_error_line_hides_a_value_used_as_a_secret(tmp_path: Path, failing: str) -> None:
    # httpd refuses these too, and says the value; a CI log must not.
    conf = f"Define PWV {CANARY}\nProxyPass /x http://u:${{PWV}}@127.0.0.1:8081/\n{failing}"
    root = _debian_with_modules(tmp_path, conf)
    result = CliRunner().invoke(cli, ["audit", "--root", str(root)])
    assert result.exit_code == 2, result.output
    assert CANARY not in result.output + result.stderr
    assert PLACEHOLDER in result.stderr and "secret.conf:" in result.stderr


def test_a_note_hides_a_value_used_as_a_secret(tmp_path: Path) -> None:
    # httpd reads `Timeout PW-CANARY...` as 0 (atoi): tcpaudit notes it, without the value.
    conf = f"Define PWV {CANARY}\nProxyPass /x http://u:${{PWV}}@127.0.0.1:8081/\nTimeout ${{PWV}}"
    outputs = _outputs(_debian_with_modules(tmp_path, conf))
    for text in outputs:
        assert CANARY not in text
    assert f"Timeout {PLACEHOLDER} is read as 0" in outputs[0]


def test_a_secret_named_parameter_in_a_compared_literal_is_replaced() -> None:
    # RewriteCond %{QUERY_STRING} pass=...: the module replaced it, the loaders did not.
    words = redact_arguments("rewritecond", ("%{QUERY_STRING}", f"pass={CANARY}"))
    assert words == ("%{QUERY_STRING}", f"pass={PLACEHOLDER}")
    assert redact_arguments("rewritecond", ("%{HTTPS}", "!=on")) == ("%{HTTPS}", "!=on")


@pytest.mark.parametrize(
    ("key", "words", "redacted"),
    [
        ("logmessage", ["seen", "expr=req('Authorization') == 'Bearer s3'"], [0, 1]),
        ("sslrequire", ["%{HTTP_COOKIE}", "eq", '"sid=s3"'], [0, 1, 2]),
        ("filterprovider", ["f", "INCLUDES", "req('X-Api-Key') == 's3'"], [0, 1, 2]),
        ("require", ["expr", "'s3'", "==", "%{HTTP:X-Api-Key}"], [1, 2, 3]),
        ("header", ["set", "X", "1", "EXPR=req('Cookie') =~ /s3/"], [3]),
    ],
)  # fmt: skip
def test_expressions_comparing_a_credential_lose_their_literals(
    key: str, words: list[str], redacted: list[int]
) -> None:
    result = redact_arguments(key, tuple(words))
    assert [index for index, word in enumerate(result) if word != words[index]] == redacted
    assert "s3" not in " ".join(result)


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("header", ["always", "set", "Strict-Transport-Security", "max-age=63072000; includeSubDomains"]),
        ("header", ["set", "Server", "Apache 2.4.62"]),
        ("header", ["set", "X-Build", "release 2024.12.05"]),
        ("header", ["set", "Link", "</style.css>; rel=preload; as=style"]),
        ("setenvif", ["User-Agent", "^Mozilla/4", "nokeepalive"]),
        ("setenvif", ["Request_URI", r"\.gif$", "no-gzip"]),
        ("setenvifexpr", ["req('Host') == 'a.example'", "vh=a"]),
        ("rewritecond", ["expr", "%{HTTP:Host} == 'a.example'"]),
        ("rewritecond", ["%2", r"^example\.org$"]),
    ],
)  # fmt: skip
def test_honest_headers_and_conditions_keep_their_words(key: str, words: list[str]) -> None:
    assert redact_arguments(key, tuple(words)) == tuple(words)


def _schemes() -> list[str]:
    from tcpaudit.apache import credentials

    listed = re.search(r"\(\?:([^)]*)\)", credentials._CREDENTIAL_SCHEME.pattern)
    assert listed is not None
    return listed.group(1).split("|")


@pytest.mark.parametrize("scheme", _schemes())
def test_the_first_test_of_a_header_line_never_misses_a_credential_value(scheme: str) -> None:
    # worth_checking runs before redact_arguments and must never say "no" to a
    # line redact_arguments would change.
    from tcpaudit.apache.secret_checks import CHECK_HEADER, secret_check, worth_checking

    assert secret_check("header") == CHECK_HEADER
    for value in (f"{scheme} v", f"{scheme.upper()}\tv", f"Vendor{scheme} a1b2c3d4e5f6g7h8i9"):
        words = ("always", "set", "X-Up", value)
        line = f'Header always set X-Up "{value}"'
        if redact_arguments("header", words) != words:
            assert worth_checking(CHECK_HEADER, line)
    assert redact_arguments("header", ("set", "X-Up", f"{scheme} v"))[2] == PLACEHOLDER


def test_only_short_lines_are_remembered_by_the_first_test() -> None:
    # The cache holds lines between loads: long ones (a hostile tree's) are
    # tested each time instead of kept.
    from tcpaudit.apache import secret_checks

    remembered = secret_checks._worth_checking_remembered
    before = remembered.cache_info().currsize
    long_line = "Header set X-Long " + "a" * 300
    assert secret_checks.worth_checking(secret_checks.CHECK_HEADER, long_line) is False
    assert remembered.cache_info().currsize == before
    short_line = "Header set X-Short abc-" + str(before)
    secret_checks.worth_checking(secret_checks.CHECK_HEADER, short_line)
    assert remembered.cache_info().currsize == min(before + 1, remembered.cache_info().maxsize)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(^|&)token=s3($|&)", f"(^|&)token={PLACEHOLDER}"),
        ("https://h/#access_token=s3", f"https://h/#access_token={PLACEHOLDER}"),
        ("^/api/(token)=s3", f"^/api/(token)={PLACEHOLDER}"),
        ("/x?a=1&b=2", "/x?a=1&b=2"),
        ("max-age=600", "max-age=600"),
    ],
)
def test_secret_named_parameters_follow_any_character_no_name_holds(
    text: str, expected: str
) -> None:
    assert redact_text(text).startswith(expected)
    assert "s3" not in redact_text(text)


@pytest.mark.parametrize(
    ("key", "words", "kept"),
    [
        ("forensiclog", ["|/usr/local/bin/flog --token=s3"], []),
        ("extfilterdefine", ["gz", "mode=output", 'cmd="/usr/local/bin/f --password=s3"'], [0, 1]),
        ("defineexternalauth", ["pwauth", "pipe", "/usr/sbin/pwauth --password s3"], [0, 1]),
        ("mdmessagecmd", ["/usr/local/bin/notify", "--token", "s3"], [0]),
        ("action", ["h", "/cgi-bin/h?token=s3"], [0]),
        ("customlog", ["|/usr/bin/logger -t x Authorization=Bearer\\ s3", "combined"], [1]),
    ],
)  # fmt: skip
def test_secrets_on_command_lines_and_in_paths_are_replaced(
    key: str, words: list[str], kept: list[int]
) -> None:
    result = redact_arguments(key, tuple(words))
    assert "s3" not in " ".join(result)
    assert [index for index, word in enumerate(result) if word == words[index]] == kept


@pytest.mark.parametrize(
    ("key", "words"),
    [
        # RHEL's stock line: a path's parts name no secret.
        ("sslpassphrasedialog", ["exec:/usr/libexec/httpd-ssl-pass-dialog"]),
        ("customlog", ["|/usr/bin/rotatelogs /var/log/apache2/session-auth.%Y 86400", "combined"]),
        ("errorlog", ["syslog:local1"]),
        ("rewritemap", ["lower", "int:tolower"]),
    ],
)  # fmt: skip
def test_honest_command_lines_keep_their_words(key: str, words: list[str]) -> None:
    assert redact_arguments(key, tuple(words)) == tuple(words)


# A Define used as a URL's password is a secret by use; a handler's message
# quoted it after httpd's reading changed it (a piece of it at a blank or a
# ':', one backslash of two), which the exact value's replacement missed.
_CHANGED_FORMS = {
    "a piece at a blank": ('"a correcthorsebatterystaple"', 'ExpiresByType text/html "${BK}"',
                           ("correcthorsebatterystaple",)),
    "a piece before a colon": ("s3cr3tpart:0therhalf", "SSLSessionCache ${BK}",
                               ("s3cr3tpart", "0therhalf")),
    "one backslash of two": ("pass\\\\\\\\word1", "Mutex ${BK}", ("pass\\word1", "pass\\\\word1")),
    "an older handler": ("pass\\\\\\\\word1", "Options ${BK}", ("pass\\word1",)),
    "after a sign": ("+correcthorsebattery", "Options ${BK}", ("correcthorsebattery",)),
    "after a sign, FileETag": ("-correcthorsebattery", "FileETag ${BK}", ("correcthorsebattery",)),
    "lower-cased": ("CorrectHorse" * 25, 'ProxyPass /q "http://${BK}/"', ("correcthorse",)),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(_CHANGED_FORMS))
def test_a_secret_changed_by_the_reading_is_not_shown_in_an_error(
    tmp_path: Path, name: str
) -> None:
    value, line, shown = _CHANGED_FORMS[name]
    root = tmp_path / "root"
    modules = _load_lines("mpm_event", "proxy", "proxy_http", "expires", "ssl", "socache_shmcb")
    (root / "etc/apache2").mkdir(parents=True)
    (root / "etc/apache2/apache2.conf").write_text(
        f'{modules}Define BK {value}\nProxyPass /p "http://u:${{BK}}@b/"\n{line}\n'
    )
    result = CliRunner().invoke(cli, ["audit", "--root", str(root)])
    assert result.exit_code == 2, result.output
    assert PLACEHOLDER in result.stderr
    for form in shown:
        assert form not in (result.stdout + result.stderr).lower()


def _references_tried_in_turn(key: str, args: list[str], references: set[str]) -> set[str]:
    """references_in_secrets as it was: each reference looked for in each word."""
    from tcpaudit.apache.secret_words import _redacted, may_hold_secret

    if not may_hold_secret(key, " ".join(args)):
        return set()
    words, _kind = _redacted(key, args)
    if words is None:
        return set()
    found: set[str] = set()
    for before, after in zip(args, words, strict=True):
        if before != after:
            found.update(ref for ref in references if ref in before and ref not in after)
    return found


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.sampled_from(["${A}", "${B}", "${AB}", "$p", "x", ":", "@", "//", "u", "h"]),
             min_size=1, max_size=12),
)  # fmt: skip
def test_references_in_secrets_finds_what_trying_each_found(pieces: list[str]) -> None:
    # ${NAME}s are found in one pass over a word (150,000 tried in turn: 46 s).
    url = "http://" + "".join(pieces) + "@b/"
    args = ["/x", url]
    references = {"${A}", "${B}", "${AB}", "${C}", "$p"}
    assert references_in_secrets("proxypass", args, references) == _references_tried_in_turn(
        "proxypass", args, references
    )


@pytest.mark.parametrize("name", ["PW", "SHARED"])
def test_a_secret_define_used_elsewhere_reaches_no_output(tmp_path: Path, name: str) -> None:
    # A Define used as a URL's password (PW is a secret by its name as well,
    # SHARED by its use only) and, in other files, in a vhost's name and a
    # proxy route's host: its value went into those lines, and into findings,
    # facts and a fix that would write it into a file that never held it.
    value = "CanaryHorseBattery"
    root = tmp_path / "root"
    modules = _load_lines("mpm_event", "proxy", "proxy_http")
    (root / "etc/apache2/sites").mkdir(parents=True)
    (root / "etc/apache2/apache2.conf").write_text(
        f"{modules}Define {name} {value}\nIncludeOptional sites/*.conf\n"
    )
    (root / "etc/apache2/sites/a.conf").write_text(
        "<VirtualHost *:80>\nServerName a.example\nKeepAlive Off\n"
        f"ProxyPass /x http://u:${{{name}}}@127.0.0.1:8081/\n</VirtualHost>\n"
    )
    (root / "etc/apache2/sites/b.conf").write_text(
        f"<VirtualHost *:80>\nServerName b.example\nServerAlias ${{{name}}}.example\n"
        f"KeepAlive Off\nProxyPass /y http://${{{name}}}/\n</VirtualHost>\n"
    )
    for shown in _outputs(root):
        assert value.lower() not in shown.lower()
    fixed = CliRunner().invoke(cli, ["fix", "--root", str(root)])
    if name == "PW":
        # Hidden as the Define is read: no line of b.conf ever holds it.
        assert "apache2.conf holds a secret-named variable's value (line 4)" in fixed.stderr
    else:
        assert "sites/b.conf holds a value used as a secret elsewhere" in fixed.stderr


_MODULES = "".join(
    f"LoadModule {module}_module /usr/lib/apache2/modules/mod_{module}.so\n"
    for module in ("mpm_event", "authz_core", "proxy", "proxy_http")
)


@pytest.mark.parametrize(
    ("lines", "address"),
    [
        # A secret's value as a vhost's port, by its name or by its use as a password.
        (["Define SITE_TOKEN 8443", "Listen [::1]:${SITE_TOKEN}",
          "<VirtualHost [::1]:${SITE_TOKEN}>"], "[::1]:tcpaudit-redacted"),
        (["Define PW 8443", "ProxyPass /a http://u:${PW}@127.0.0.1:8081/",
          "Listen 127.0.0.1:${PW}", "<VirtualHost 127.0.0.1:${PW}>"], "127.0.0.1:tcpaudit-redacted"),
    ],
)  # fmt: skip
def test_a_vhost_whose_address_holds_a_secret_is_kept(
    tmp_path: Path, lines: list[str], address: str
) -> None:
    # apache2 takes it; tcpaudit refused it ("The address or port is invalid")
    # or dropped the vhost ("no address httpd can use"): kept now, the port not known.
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        f"{_MODULES}ErrorLog /dev/null\nListen 80\n"
        + "\n".join(lines)
        + "\nServerName a.example\n</VirtualHost>\n"
    )
    config = _accepted_and_loaded(conf)
    assert [(vhost.address, vhost.server_name) for vhost in config.vhosts] == [
        (address, "a.example")
    ]


def test_only_what_a_secret_reference_put_in_a_line_is_hidden(tmp_path: Path) -> None:
    # The password "monitor" is a secret by its use; the host and path written
    # as "monitor" on the same line are not, and stay.
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        f"{_MODULES}ErrorLog /dev/null\nListen 80\nServerName a.example\n"
        "Define SVC_CRED monitor\n"
        "ProxyPass /monitor http://monitor:${SVC_CRED}@127.0.0.1:9000/monitor\n"
        "ProxyPass /other http://backend/${SVC_CRED}/monitor\n"
    )
    config = load_apache(conf, root="/")
    assert config is not None
    routes = {route.path: route.url for route in config.proxy_routes}
    assert routes["/monitor"] == f"http://monitor:{PLACEHOLDER}@127.0.0.1:9000/monitor"
    assert routes["/other"] == f"http://backend/{PLACEHOLDER}/monitor"


@pytest.mark.parametrize(
    "lines",
    [
        # A Define made of a secret (Define HOST ${PW}x), used elsewhere.
        ["Define SHARED CanaryHorseBattery", "Define HOSTY ${SHARED}x",
         "ProxyPass /x http://u:${SHARED}@127.0.0.1:8081/", "ProxyPass /y http://${HOSTY}/"],
        # Siblings: the password is one Define holding the secret, another shows it.
        ["Define B CanaryHorseBattery", "Define A pre${B}", "Define S ${B}suf",
         "ProxyPass /x http://u:${A}@127.0.0.1:8081/", "ProxyPass /y http://${S}/"],
    ],
)  # fmt: skip
def test_a_define_holding_a_secret_reaches_no_output(tmp_path: Path, lines: list[str]) -> None:
    root = tmp_path / "root"
    modules = _load_lines("mpm_event", "proxy", "proxy_http")
    (root / "etc/apache2").mkdir(parents=True)
    (root / "etc/apache2/apache2.conf").write_text(modules + "\n".join(lines) + "\n")
    for args in (["audit", "--format", "json"], ["facts"], ["fix"]):
        result = CliRunner().invoke(cli, [*args, "--root", str(root)])
        assert result.exit_code in (0, 1), (args, result.output)
        assert "canaryhorsebattery" not in (result.stdout + result.stderr).lower(), args


def test_a_command_line_define_used_as_a_password_is_hidden(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc/apache2").mkdir(parents=True)
    (root / "etc/apache2/apache2.conf").write_text(
        "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
        "LoadModule proxy_module modules/mod_proxy.so\n"
        "LoadModule proxy_http_module modules/mod_proxy_http.so\n"
        "ProxyPass /x http://u:${SHARED}@127.0.0.1:8081/\n"
    )
    result = CliRunner().invoke(
        cli, ["facts", "--root", str(root), "-C", "Define SHARED CanaryHorseBattery"]
    )
    assert result.exit_code == 0, result.output
    assert "CanaryHorseBattery" not in result.stdout
    assert f"Define SHARED {PLACEHOLDER}" in result.stdout


@pytest.mark.parametrize(
    "body",
    [
        # The password parameter is also the vhost's name and a route's host.
        ["<VirtualHost *:80>", "ServerName $pw.example", "ServerAlias $pw",
         "ProxyPass /a http://u:$pw@127.0.0.1:8081/", "ProxyPass /c http://$pw:8081/",
         "</VirtualHost>"],
        # Passed on to a macro that puts it in a password, and used here otherwise.
        ["Use Inner $pw", "<VirtualHost *:80>", "ServerName $pw", "</VirtualHost>"],
        # An @-parameter (its value quoted) as a name.
        ["ProxyPass /a http://u:$pw@127.0.0.1:8081/", "<VirtualHost *:80>",
         "ServerName @pw", "</VirtualHost>"],
        # A macro named by a ${NAME} puts it in the password.
        ["Use ${INNER} $pw", "<VirtualHost *:80>", "ServerName $pw.example", "</VirtualHost>"],
        # A Define of the body made of it is the password.
        ["Define PWV $pw", "ProxyPass /i http://u:${PWV}@127.0.0.1:8082/",
         "<VirtualHost *:80>", "ServerName $pw.example", "</VirtualHost>"],
    ],
)  # fmt: skip
def test_a_macro_argument_used_as_a_password_reaches_no_output(
    tmp_path: Path, body: list[str]
) -> None:
    # Each Use's own secret is hidden where that Use put it; an argument that
    # is no secret (the port) and the same text written in a line (the
    # literal ServerAlias) are kept.
    parameters = "$pw @pw" if any("@pw" in line for line in body) else "$pw"
    root = tmp_path / "root"
    modules = _load_lines("mpm_event", "macro", "proxy", "proxy_http")
    (root / "etc/apache2").mkdir(parents=True)
    uses = [
        f"Use Site {value}" + (f" {value}" if "@pw" in parameters else "")
        for value in ("CanaryHorseBattery", "StapleCorrectZebra")
    ]
    (root / "etc/apache2/apache2.conf").write_text(
        modules
        + "Define INNER Inner\n"
        + "<Macro Inner $p>\nProxyPass /i http://u:$p@127.0.0.1:8082/\n</Macro>\n"
        + f"<Macro Site {parameters}>\n"
        + "\n".join(body)
        + "\n</Macro>\n"
        + "\n".join(uses)
        + "\n<VirtualHost *:80>\nServerName literal.example\nServerAlias canary.example\n"
        "</VirtualHost>\n"
    )
    runs = [["audit", "--root", str(root), "--format", form] for form in FORMATS]
    runs += [["facts", "--root", str(root)], ["fix", "--root", str(root)]]
    for args in runs:
        result = CliRunner().invoke(cli, args)
        assert result.exit_code in (0, 1), (args, result.output)
        shown = (result.stdout + result.stderr).lower()
        assert "canaryhorsebattery" not in shown, args
        assert "staplecorrectzebra" not in shown, args
    facts = json.loads(CliRunner().invoke(cli, ["facts", "--root", str(root)]).stdout)
    names = [vhost["server_name"] for vhost in facts["apache"]["vhosts"]]
    assert "literal.example" in names
    assert any(PLACEHOLDER in str(name) for name in names)


def test_a_macro_secret_is_hidden_once_the_walk_has_judged_it(tmp_path: Path) -> None:
    # httpd refuses a KeepAliveTimeout of a password's text; so does tcpaudit,
    # naming the line, without the value.
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        _MODULES + "LoadModule macro_module /usr/lib/apache2/modules/mod_macro.so\n"
        "ErrorLog /dev/null\nListen 80\nServerName a.example\n"
        "<Macro Site $pw>\nProxyPass /a http://u:$pw@127.0.0.1:8081/\nTimeout 5$pw\n</Macro>\n"
        "Use Site CanaryHorseBattery\n"
    )
    checked = _apache2_checks(conf)
    result = CliRunner().invoke(cli, ["facts", "--root", "/", "--apache-conf", str(conf)])
    assert "canaryhorsebattery" not in (result.stdout + result.stderr).lower()
    assert (result.exit_code == 0) == (checked.returncode == 0), (checked.stderr, result.stderr)


@pytest.mark.parametrize("value", ['Canary"HorseBattery', "Canary\\HorseBattery"])
def test_a_macro_password_with_a_quote_or_backslash_is_hidden_where_quoted(
    tmp_path: Path, value: str
) -> None:
    # mod_macro puts an @parameter's value in quotes, its '"' and '\\' escaped:
    # the text differs from the argument's, and is hidden all the same.
    root = tmp_path / "root"
    modules = _load_lines("mpm_event", "macro", "proxy", "proxy_http")
    (root / "etc/apache2").mkdir(parents=True)
    (root / "etc/apache2/apache2.conf").write_text(
        modules + "<Macro Site $pw @pw>\n<VirtualHost *:80>\nServerName @pw\n"
        "ProxyPass /a http://u:$pw@127.0.0.1:8081/\n</VirtualHost>\n</Macro>\n"
        f"Use Site {value} {value}\n"
    )
    for args in (["audit", "--format", "json"], ["facts"], ["fix"]):
        result = CliRunner().invoke(cli, [*args, "--root", str(root)])
        assert result.exit_code in (0, 1), (args, result.output)
        assert "horsebattery" not in (result.stdout + result.stderr).lower(), args


def test_only_what_a_macro_secret_put_in_a_line_is_hidden(tmp_path: Path) -> None:
    # The password argument is "monitor" (and "8080" for the second Use): the
    # same text written in the body, or put there by a ${NAME}, is no secret
    # and stays, as httpd reads it (a route's host and path, a Listen port).
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        _MODULES + "LoadModule macro_module /usr/lib/apache2/modules/mod_macro.so\n"
        "ErrorLog /dev/null\nListen 80\nServerName a.example\nDefine ADDR 127.0.0.1\n"
        "<Macro Site $pw $port>\nListen ${ADDR}:$port\n<VirtualHost ${ADDR}:$port>\n"
        "ServerName monitor.${ADDR}\n"
        "ProxyPass /monitor http://monitor:$pw@backend.local:8080/monitor\n"
        "</VirtualHost>\n</Macro>\n"
        "Use Site monitor 8081\nUse Site 8080 8082\n"
    )
    config = _accepted_and_loaded(conf)
    assert [(vhost.address, vhost.server_name) for vhost in config.vhosts] == [
        ("127.0.0.1:8081", "monitor.127.0.0.1"),
        ("127.0.0.1:8082", "monitor.127.0.0.1"),
    ]
    routes = [(route.path, route.url) for vhost in config.vhosts for route in vhost.proxy_routes]
    assert routes == [
        ("/monitor", f"http://monitor:{PLACEHOLDER}@backend.local:8080/monitor"),
        ("/monitor", f"http://monitor:{PLACEHOLDER}@backend.local:8080/monitor"),
    ]


_INNER = "<Macro Inner $p>\nProxyPass /i http://u:$p@127.0.0.1:8082/\n</Macro>\n"


@pytest.mark.parametrize(
    "conf",
    [
        # A macro named by a parameter of the macro using it.
        _INNER + "<Macro Outer $m $pw>\n<VirtualHost *:80>\nServerName $pw.example\n"
        "Use $m $pw\n</VirtualHost>\n</Macro>\nUse Outer Inner CanaryHorse\n",
        # The macro ${INNER} names changes between two Uses of the same macro.
        "<Macro Plain $p>\nHeader set X-Plain \"$p\"\n</Macro>\n" + _INNER
        + "Define INNER Plain\n<Macro Outer $pw>\n<VirtualHost *:80>\nServerName $pw.example\n"
        "Use ${INNER} $pw\n</VirtualHost>\n</Macro>\nUse Outer harmless\nDefine INNER Inner\n"
        "Use Outer CanaryHorse\n",
        # The macro used is defined again between two Uses.
        "<Macro Inner $p>\nHeader set X-Plain \"$p\"\n</Macro>\n<Macro Outer $pw>\n"
        "<VirtualHost *:80>\nServerName $pw.example\nUse Inner $pw\n</VirtualHost>\n</Macro>\n"
        "Use Outer harmless\n" + _INNER + "Use Outer CanaryHorse\n",
        # A Define of the body made of the password, used as a name.
        "<Macro Site $pw>\nDefine X $pw\n<VirtualHost *:80>\nServerName ${X}.example\n"
        "ProxyPass /a http://u:$pw@127.0.0.1:8081/\n</VirtualHost>\n</Macro>\nUse Site CanaryHorse\n",
        # A Define given as the password argument, used elsewhere as a name.
        "Define PWV CanaryHorse\n<Macro Site $pw>\nProxyPass /a http://u:$pw@127.0.0.1:8081/\n"
        "</Macro>\n<VirtualHost *:80>\nUse Site ${PWV}\nServerName ${PWV}.example\n</VirtualHost>\n",
        # A macro defined in the body of the one used, and used there.
        "<Macro Outer $pw>\n<Macro Inner $x>\nProxyPass /app http://user:$x@backend/\n</Macro>\n"
        "Use Inner $pw\n<VirtualHost *:80>\nServerName $pw.example\n</VirtualHost>\n</Macro>\n"
        "Use Outer CanaryHorse\n",
        # A line that is a secret's only with this Use's values.
        "<Macro Site $n $v>\nProxyPass /app http://backend/?$n=$v\n<VirtualHost *:80>\n"
        "ServerName $v.example\n</VirtualHost>\n</Macro>\nUse Site token CanaryHorse\n",
        "<Macro Site $n $v>\nDefine $n $v\n<VirtualHost *:80>\nServerName $v.example\n"
        "</VirtualHost>\n</Macro>\nUse Site DB_PASSWORD CanaryHorse\n",
        "<Macro Site $h $v>\nRequestHeader set $h $v\n<VirtualHost *:80>\nServerName $v.example\n"
        "</VirtualHost>\n</Macro>\nUse Site Authorization CanaryHorse\n",
        # A line that is a secret's once its ${NAME}s read (a Define's name in any case).
        "Define N token\n<Macro Site $v>\nProxyPass /app http://127.0.0.1:8080/?${N}=$v\n"
        "<VirtualHost *:80>\nServerName $v.example\n</VirtualHost>\n</Macro>\nUse Site CanaryHorse\n",
        "Define PRE http://u:\n<Macro Site $pw>\nProxyPass /a ${PRE}$pw@127.0.0.1:8081/\n"
        "<VirtualHost *:80>\nServerName $pw.example\n</VirtualHost>\n</Macro>\nUse Site CanaryHorse\n",
        "<Macro Site $pw>\nDefine PWV $pw\nProxyPass /a http://u:${pwv}@127.0.0.1:8081/\n"
        "<VirtualHost *:80>\nServerName $pw.example\n</VirtualHost>\n</Macro>\nUse Site CanaryHorse\n",
    ],
)  # fmt: skip
def test_a_secret_through_macros_and_defines_reaches_no_output(tmp_path: Path, conf: str) -> None:
    root = tmp_path / "root"
    modules = _load_lines("mpm_event", "macro", "proxy", "proxy_http", "headers")
    (root / "etc/apache2").mkdir(parents=True)
    (root / "etc/apache2/apache2.conf").write_text(modules + conf)
    for args in (["audit", "--format", "json"], ["audit", "--format", "sarif"], ["facts"]):
        result = CliRunner().invoke(cli, [*args, "--root", str(root)])
        assert result.exit_code in (0, 1), (args, result.output)
        assert "canaryhorse" not in (result.stdout + result.stderr).lower(), args
    facts = json.loads(CliRunner().invoke(cli, ["facts", "--root", str(root)]).stdout)
    names = [vhost["server_name"] for vhost in facts["apache"]["vhosts"]]
    assert names[-1] == f"{PLACEHOLDER}.example"
    assert set(names[:-1]) <= {"harmless.example"}


@pytest.mark.parametrize(
    "lines",
    [
        # A value ending in a backslash joins the line it ends to the next body
        # line: the URL's password is the second argument (apache2 reads it so).
        ["<Macro Site $a $pw>", "ProxyPass /x $a", "$pw@127.0.0.1:8081/",
         "<VirtualHost *:80>", "ServerName $pw.example", "</VirtualHost>", "</Macro>",
         "Use Site http://u:\\ CanaryHorseBattery"],
        # ... or the expansion's last line to the file's line after the Use.
        ["<Macro Site $a>", "<VirtualHost *:80>", "ServerName $a.example", "</VirtualHost>",
         "ProxyPass /x http://u:$a", "</Macro>", 'Use Site "CanaryHorseBattery\\\\"',
         "@127.0.0.1:8081/"],
        # ... or a nested Use's last line to the enclosing body's next line,
        # whose value is then the password.
        ["<Macro Inner $v $w>", "ProxyPass /x http://u:$v", "</Macro>", "<Macro Outer $q>",
         "Use Inner \\ x", "$q", "<VirtualHost *:80>", "ServerName $q.example",
         "</VirtualHost>", "</Macro>", "Use Outer CanaryHorseBattery@h/"],
    ],
)  # fmt: skip
def test_a_macro_secret_made_by_continued_lines_reaches_no_output(
    tmp_path: Path, lines: list[str]
) -> None:
    root = tmp_path / "root"
    (root / "etc/apache2").mkdir(parents=True)
    (root / "etc/apache2/apache2.conf").write_text(
        _load_lines("mpm_event", "macro", "proxy", "proxy_http") + "\n".join(lines) + "\n"
    )
    for shown in _outputs(root):
        assert "canaryhorsebattery" not in shown.lower()
    facts = json.loads(CliRunner().invoke(cli, ["facts", "--root", str(root)]).stdout)
    assert [vhost["server_name"] for vhost in facts["apache"]["vhosts"]] == [
        f"{PLACEHOLDER}.example"
    ]


@pytest.mark.parametrize(
    ("route", "value"),
    [
        # The value is the query's token and the route's path in one line: its
        # copy in the path does not make it no secret.
        ("ProxyPass /$v http://backend/?$n=$v", "CanaryHorseBattery"),
        # A URL's password and its port (the round-133 gap).
        ("ProxyPass /a http://u:$v@127.0.0.1:$v/", "18081"),
    ],
)
def test_a_macro_value_that_is_a_secret_and_more_reaches_no_output(
    tmp_path: Path, route: str, value: str
) -> None:
    root = tmp_path / "root"
    (root / "etc/apache2").mkdir(parents=True)
    (root / "etc/apache2/apache2.conf").write_text(
        _load_lines("mpm_event", "macro", "proxy", "proxy_http")
        + f"<Macro Site $n $v>\n{route}\n<VirtualHost *:80>\n"
        f"ServerName n$v.example\n</VirtualHost>\n</Macro>\nUse Site token {value}\n"
    )
    for shown in _outputs(root):
        assert value.lower() not in shown.lower()


def test_a_macro_value_inside_the_placeholder_is_still_hidden(tmp_path: Path) -> None:
    # "audit-re" stands in tcpaudit-redacted: the redacted line still held it.
    root = tmp_path / "root"
    (root / "etc/apache2").mkdir(parents=True)
    (root / "etc/apache2/apache2.conf").write_text(
        _load_lines("mpm_event", "macro", "proxy", "proxy_http")
        + "<Macro Site $n $v>\nProxyPass /a http://backend/?$n=$v\n<VirtualHost *:80>\n"
        "ServerName n$v.example\n</VirtualHost>\n</Macro>\nUse Site token audit-re\n"
    )
    facts = json.loads(CliRunner().invoke(cli, ["facts", "--root", str(root)]).stdout)
    assert [vhost["server_name"] for vhost in facts["apache"]["vhosts"]] == [
        f"n{PLACEHOLDER}.example"
    ]
