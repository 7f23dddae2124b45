"""The facts module's redaction of secrets that only show once httpd reads a line:
header names as mod_headers compares them, Define and environment names of any
case, values carried from one variable or request header to another, ${NAME}s
tried in httpd's reading order within bounds that fail closed, and mod_macro.

Each tree is Debian's configuration with proxy, headers, rewrite, setenvif,
macro and env enabled and a snippet read right after the modules' files; the
module file is imported as Ansible ships it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from ansible_trees import REPO, load_facts_module, write

import tcpaudit
from tcpaudit.snapshot import facts_from_snapshot

CANARY = "FLOW-CANARY-5e1b"
MAIN = "/etc/apache2/apache2.conf"
_MODULES = ("proxy", "proxy_http", "headers", "rewrite", "setenvif", "macro", "env")


@pytest.fixture(scope="module")
def module() -> ModuleType:
    return load_facts_module()


def never_run(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError(f"no program may run for a tree root: {args}")


def debian_with(tmp_path: Path, snippet: str, files: dict[str, str] | None = None) -> Path:
    """Debian's tree with the modules enabled and ``snippet`` after their Include."""
    root = tmp_path / "root"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    enabled = root / "etc/apache2/mods-enabled"
    for name in _MODULES:
        for kind in ("load", "conf"):
            available = root / f"etc/apache2/mods-available/{name}.{kind}"
            if available.exists() and not (enabled / f"{name}.{kind}").exists():
                (enabled / f"{name}.{kind}").symlink_to(f"../mods-available/{name}.{kind}")
    main = root / MAIN.lstrip("/")
    anchor = "IncludeOptional mods-enabled/*.conf\n"
    text = main.read_text(encoding="utf-8")
    assert anchor in text
    main.write_text(text.replace(anchor, anchor + snippet + "\n", 1), encoding="utf-8")
    for path, content in (files or {}).items():
        if path == "+envvars":  # added to Debian's envvars
            with (root / "etc/apache2/envvars").open("a", encoding="utf-8") as envvars:
                envvars.write(content)
        else:
            write(root, path, content)
    return root


def take(module: ModuleType, root: Path) -> dict[str, Any]:
    """The snapshot as the controller receives it (through JSON)."""
    document: dict[str, Any] = json.loads(json.dumps(module.snapshot(str(root), runner=never_run)))
    return document


def sent_lines(document: dict[str, Any], path: str = MAIN) -> list[str]:
    content: str = document["files"][path]["content"]
    return content.split("\n")


def assert_kept_out(module: ModuleType, root: Path, *, valid: bool = True) -> dict[str, Any]:
    """No canary leaves the host, every Apache file keeps its lines, the controller
    reads it (or, for a configuration httpd refuses, refuses it too)."""
    document = take(module, root)
    assert CANARY not in json.dumps(document)
    for path, entry in document["files"].items():
        original = root / path.lstrip("/")
        if "content" in entry and original.is_file() and not original.is_symlink():
            text = original.read_text(encoding="utf-8", errors="surrogateescape")
            assert len(entry["content"].split("\n")) == len(text.split("\n")), path
    if valid:
        assert facts_from_snapshot(document).apache is not None
    else:
        with pytest.raises(tcpaudit.ApacheConfigError, match=r"apache2\.conf:\d+: "):
            facts_from_snapshot(document)
    return document


# -- header names as mod_headers compares them, and credential values -------------


@pytest.mark.parametrize(
    "snippet",
    [
        f'RequestHeader set Authorization: "Bearer {CANARY}"',
        f'Header always set Set-Cookie: "sid={CANARY}; HttpOnly"',
        f'RequestHeader set Proxy_Authorization "Basic {CANARY}"',
        f"RequestHeader set X-Authorization tok{CANARY}",
        f"RequestHeader set X-Forwarded-Authorization tok{CANARY}",
        f"RequestHeader append x-session-cookie {CANARY}",
        f"RequestHeader set X-Api-Key: {CANARY}",
        # Any header name carrying a credential scheme.
        f'RequestHeader set X-Upstream "Bearer {CANARY}"',
        f"Header always set X-Debug 'basic {CANARY}'",
        f'Header onsuccess edit X-Up ^(.*)$ "BEARER {CANARY}"',
        f'RequestHeader set X-Upstream "bearer {CANARY}" early',
        f'RequestHeader set X-Upstream "Bearer\t{CANARY}"',
        f'RequestHeader set X-Upstream "  Basic {CANARY}"',
        # Names holding "auth" or "session", and the other credential schemes.
        f"RequestHeader set X-Auth {CANARY}",
        f"RequestHeader set X-Session-Id {CANARY}",
        f'RequestHeader set X-Upstream "Token {CANARY}"',
        f'RequestHeader set X-Upstream "ApiKey {CANARY}"',
        f'RequestHeader set X-Upstream "Digest username={CANARY}"',
        f'RequestHeader set X-Upstream "AWS4-HMAC-SHA256 Credential={CANARY}"',
    ],
)
def test_credential_headers_of_every_spelling_are_redacted(
    module: ModuleType, tmp_path: Path, snippet: str
) -> None:
    document = assert_kept_out(module, debian_with(tmp_path, snippet))
    line = next(line for line in sent_lines(document) if "eader" in line and "tcpaudit" in line)
    # The name and the action stay: the controller still sees which header is set.
    assert line.split()[:2] == snippet.split()[:2]


@pytest.mark.parametrize(
    "snippet",
    [
        # Unquoted: httpd reads the token as the line's condition and refuses
        # it, quoting it ("Unknown parameter: ..."): kept out all the same.
        f"RequestHeader set Authorization Bearer {CANARY}",
        f"RequestHeader set Proxy-Authorization Basic {CANARY}",
        f"Header set X-Auth-Token abc {CANARY}",
        f"Header set X-Auth-Token abc {CANARY} early",
    ],
)
def test_a_credential_header_value_of_several_words_is_kept_out(
    module: ModuleType, tmp_path: Path, snippet: str
) -> None:
    document = assert_kept_out(module, debian_with(tmp_path, snippet), valid=False)
    line = next(line for line in sent_lines(document) if "eader" in line and "tcpaudit" in line)
    assert line.endswith(" early") == snippet.endswith(" early")  # a condition stays


def test_header_words_follow_the_package_for_these_rules(module: ModuleType) -> None:
    redact = module.redact_directive_words
    assert redact("requestheader", ["set", "Authorization:", "Bearer x"])[2] == "tcpaudit-redacted"
    assert redact("header", ["always", "set", "X-Note", "Basic x"])[3] == "tcpaudit-redacted"
    # Not a credential scheme, not a credential name: kept.
    kept = ["set", "X-Forwarded-Proto", "https"]
    assert redact("requestheader", kept) == kept
    kept = ["set", "X-Basically", "basics"]
    assert redact("header", kept) == kept


# -- Define and environment names fold case, as httpd's tables do -----------------


@pytest.mark.parametrize(
    "snippet",
    [
        f"Define pw {CANARY}\nProxyPass /d/ http://svc:${{PW}}@127.0.0.1:8081/",
        f"Define Pw {CANARY}\nDefine URL http://svc:${{pW}}@127.0.0.1:8081/\nProxyPass /d/ ${{url}}",
        f'SetEnv xv {CANARY}\nRequestHeader set Authorization "Basic %{{XV}}e"',
        f'SetEnv xv {CANARY}\nRequestHeader set Authorization "expr=%{{ENV:XV}}"',
        f"SetEnv xv {CANARY}\nRequestHeader set Cookie \"expr=%{{reqenv('XV')}}\"",
        f"RequestHeader set x-tmp {CANARY}\nSetEnvIfNoCase X-TMP (.*) tv=$1\n"
        'RequestHeader set Authorization "Basic %{TV}e"',
        f"SetEnvIf Request_URI . lower={CANARY}\n"
        'RequestHeader set Authorization "Basic %{LOWER}e"',
        'PassEnv upw\nRequestHeader set Authorization "Basic %{UPW}e"',
    ],
)
def test_define_and_environment_names_of_any_case_are_followed(
    module: ModuleType, tmp_path: Path, snippet: str
) -> None:
    root = debian_with(tmp_path, snippet)
    if "PassEnv" in snippet:
        with (root / "etc/apache2/envvars").open("a", encoding="utf-8") as envvars:
            envvars.write(f"export upw={CANARY}\n")
    assert_kept_out(module, root)


def test_a_case_folded_define_that_is_no_secret_keeps_the_verdict(
    module: ModuleType, tmp_path: Path
) -> None:
    # httpd reads ${KA} as ka's value: the line is sent as written.
    root = debian_with(tmp_path, "Define ka Off\nKeepAlive ${KA}")
    document = take(module, root)
    assert "KeepAlive ${KA}" in sent_lines(document)
    assert "Define ka Off" in sent_lines(document)


# -- values carried from one name to another ---------------------------------------


@pytest.mark.parametrize(
    "snippet",
    [
        # A RewriteRule's %1 is what the RewriteCond before it read.
        f"SetEnvIf Request_URI . SRCV={CANARY}\nRewriteEngine On\n"
        "RewriteCond %{ENV:SRCV} (.+)\nRewriteRule ^ - [E=UPH:%1]\n"
        'RequestHeader set Authorization "Basic %{UPH}e"',
        f"RequestHeader set X-Src {CANARY}\nRewriteEngine On\n"
        "RewriteCond %{HTTP:X-Src} (.+)\nRewriteRule ^ - [E=UPH:%1,L]\n"
        'RequestHeader set Authorization "Basic %{UPH}e"',
        # A credential header reading another request header.
        f'RequestHeader set X-Tmp {CANARY}\nRequestHeader set Authorization "expr=%{{req:X-Tmp}}"',
        f'RequestHeader add x-tmp {CANARY}\nRequestHeader set Authorization "expr=%{{HTTP:X-TMP}}"',
        f"RequestHeader merge X-Tmp {CANARY}\n"
        "RequestHeader set Authorization \"expr=%{req('x-tmp')}\"",
        f"RequestHeader setifempty X-Tmp {CANARY}\n"
        "RequestHeader set Authorization \"expr=%{http('X-Tmp')}\"",
        f'RequestHeader append X-Tmp {CANARY}\nRequestHeader set Cookie "%{{X-Tmp}}i"',
        f'RequestHeader set X-Tmp {CANARY}\nRequestHeader set Authorization "expr=%{{HTTP_X_TMP}}"',
        f"RequestHeader set X-Tmp {CANARY}\nSetEnvIf X-Tmp (.*) TV=$1\n"
        'RequestHeader set Authorization "Basic %{TV}e"',
        f"RequestHeader set X-A {CANARY}\nRequestHeader set X-B %{{X-A}}i\n"
        'RequestHeader set Authorization "expr=%{req:X-B}"',
        # An unexpanded ${NAME} of a ProxyPass ... interpolate is read from the environment.
        f"SetEnvIf Request_URI . UPV={CANARY}\nProxyPassInterpolateEnv On\n"
        "ProxyPass /x http://svc:${UPV}@127.0.0.1:8081/ interpolate",
        f"RewriteEngine On\nRewriteRule ^ - [E=upv:{CANARY}]\nProxyPassInterpolateEnv On\n"
        "ProxyPassReverse /x http://svc:${UPV}@127.0.0.1:8081/ interpolate",
    ],
)
def test_secrets_carried_by_rewrite_headers_and_interpolation_stay_on_the_host(
    module: ModuleType, tmp_path: Path, snippet: str
) -> None:
    assert_kept_out(module, debian_with(tmp_path, snippet))


def test_a_header_no_credential_reads_keeps_its_value(module: ModuleType, tmp_path: Path) -> None:
    snippet = (
        "RequestHeader set X-Tmp plain-value\nRequestHeader set X-Other x\n"
        'RequestHeader set Authorization "expr=%{req:X-Other}"\n'
        # A token compared in an expression naming another header too: Host stays.
        "RequestHeader set Host internal.example\n"
        "<If \"%{HTTP:X-Api-Key} == 'tok' && %{HTTP:Host} == 'a'\">\n</If>"
    )
    document = take(module, debian_with(tmp_path, snippet))
    lines = sent_lines(document)
    assert "RequestHeader set X-Tmp plain-value" in lines
    assert "RequestHeader set X-Other tcpaudit-redacted" in lines
    assert "RequestHeader set Host internal.example" in lines
    assert "tok" not in "".join(line for line in lines if line.startswith("<If"))


@pytest.mark.parametrize(
    "line",
    [
        "Header set X-Key-Type key env=HTTPS",
        "Header set X-Mode token early",
        "Header set X-Upstream Bearer env=A",
        "Header edit* X-Kind Bearer Token",
    ],
)
def test_a_scheme_name_before_a_condition_is_sent_as_written(
    module: ModuleType, tmp_path: Path, line: str
) -> None:
    # A scheme's name as the value, a condition after it: no token stands.
    assert line in sent_lines(take(module, debian_with(tmp_path, line)))


# -- ${NAME}s tried in httpd's order; bounds that fail closed ----------------------


@pytest.mark.parametrize(
    ("snippet", "files"),
    [
        # A ninth value, five names on a line, a line over 64 KiB once expanded.
        (
            "".join(f"Define H http://h{i}/\n" for i in range(1, 9))
            + f"Define H http://u:\nProxyPass /h ${{H}}{CANARY}@127.0.0.1:8081/",
            {},
        ),
        (
            "Define A h\nDefine B t\nDefine C t\nDefine D p\nDefine E ://u:\n"
            f"ProxyPass /h ${{A}}${{B}}${{C}}${{D}}${{E}}{CANARY}@127.0.0.1:8081/",
            {},
        ),
        (
            "Define PAD " + "p" * 40_000 + "\nDefine H http://u:\n"
            f"ProxyPass /h ${{H}}{CANARY}@127.0.0.1:8081/${{PAD}}${{PAD}}",
            {},
        ),
        # The budget spent by earlier lines.
        (
            "Define BIG "
            + "x" * 60_000
            + "\n"
            + "".join(f'Header always set X-Pad{i} "pass${{BIG}}"\n' for i in range(300))
            + f"Define H http://u:\nProxyPass /h ${{H}}{CANARY}@127.0.0.1:8081/",
            {},
        ),
        # More values than tried under <IfDefine>s.
        (
            "".join(f"<IfDefine V{i}>\nDefine H http://u{i}:\n</IfDefine>\n" for i in range(12))
            + f"ProxyPass /h ${{H}}{CANARY}@127.0.0.1:8081/",
            {},
        ),
        (
            "".join(f"<IfDefine V{i}>\nDefine H http://u{i}:\n</IfDefine>\n" for i in range(12))
            + f"Define PW {CANARY}\nProxyPass /h ${{H}}${{PW}}@127.0.0.1:8081/",
            {},
        ),
        # The password split over two Defines: each is a part of the secret.
        (f"Define H http://u:\nDefine PW {CANARY}\nProxyPass /h ${{H}}${{PW}}@h/", {}),
        # Each inclusion of a file reads the value Define'd before it.
        (
            "Define H http://a/\nInclude /etc/apache2/px.conf\n"
            "Define H http://u:\nInclude /etc/apache2/px.conf\nUnDefine H",
            {"/etc/apache2/px.conf": f"ProxyPass /x ${{H}}{CANARY}@10.0.0.2:8080/\n"},
        ),
        # Under a condition the value may or may not be the one given.
        (
            f"<IfDefine NEVER_SET>\nDefine H http://u:\n</IfDefine>\n"
            f"RequestHeader set X-Note ${{H}}{CANARY}@h/",
            {},
        ),
        # A start-up export, and a value written over a continued line.
        (
            f"ProxyPass /h ${{BACKEND_URL}}{CANARY}@h/",
            {"+envvars": "export BACKEND_URL=http://u:\n"},
        ),
        (f"Define H http://u:\nProxyPass /h \\\n  ${{H}}{CANARY}@h/", {}),
        (f'Define H "http://u:"\nProxyPass /h "${{H}}{CANARY}@h/"', {}),
        # A value secret by its use elsewhere, beside or inside the words that
        # make another secret once expanded: the line is not sent expanded.
        (
            f"Define PW {CANARY}\nProxyPass /a http://u:${{PW}}@h/\nDefine H http://u:\n"
            "ProxyPass /x${PW} ${H}y@h/",
            {},
        ),
        (
            f"Define PW {CANARY}\nProxyPass /a http://u:${{PW}}@h/\nDefine H http://u:\n"
            "<VirtualHost *:80>\nServerAlias ${PW}${H}x@h/\n</VirtualHost>",
            {},
        ),
        # A directive whose name is a Define.
        ("Define RH RequestHeader\n${RH} set Authorization " + CANARY, {}),
    ],
)
def test_expanded_lines_never_leave_a_secret_whatever_bound_applies(
    module: ModuleType, tmp_path: Path, snippet: str, files: dict[str, str]
) -> None:
    assert_kept_out(module, debian_with(tmp_path, snippet, files))


def test_a_line_a_bound_stops_keeps_its_words_and_count(module: ModuleType, tmp_path: Path) -> None:
    # Twelve values of H, each a path holding '@': more than are tried.
    snippet = (
        "".join(f"<IfDefine V{i}>\nDefine H http://x/{i}@\n</IfDefine>\n" for i in range(12))
        + 'ProxyPass "/h" ${H}/path keepalive=On'
    )
    document = take(module, debian_with(tmp_path, snippet))
    assert 'ProxyPass "/h" tcpaudit-redacted tcpaudit-redacted' in sent_lines(document)


def test_lines_that_cannot_hold_a_secret_are_sent_as_written(
    module: ModuleType, tmp_path: Path
) -> None:
    # Twelve values of H (past the bound), none holding '@': ServerAlias stays.
    snippet = (
        "".join(f"<IfDefine V{i}>\nDefine H h{i}.example\n</IfDefine>\n" for i in range(12))
        + "ServerAlias ${H} www.${H}"
    )
    document = take(module, debian_with(tmp_path, snippet))
    assert "ServerAlias ${H} www.${H}" in sent_lines(document)


def test_a_directive_name_too_costly_to_expand_refuses_the_snapshot(
    module: ModuleType, tmp_path: Path
) -> None:
    snippet = (
        "".join(f"<IfDefine V{i}>\nDefine K Header{i}\n</IfDefine>\n" for i in range(12))
        + f"${{K}} set Authorization {CANARY}"
    )
    root = debian_with(tmp_path, snippet)
    with pytest.raises(ValueError, match=r"^/etc/apache2/apache2\.conf:\d+: ") as raised:
        module.snapshot(str(root), runner=never_run)
    assert CANARY not in str(raised.value)
    assert "\n" not in str(raised.value)


def test_too_many_unchecked_lines_refuse_the_snapshot_naming_one(
    module: ModuleType, tmp_path: Path
) -> None:
    cases = "".join(f"<IfDefine V{i}>\nDefine H http://x/{i}@\n</IfDefine>\n" for i in range(12))
    lines = "".join(f"ProxyPass /p{i} ${{H}}{CANARY}\n" for i in range(module.MAX_CLOSED_LINES + 1))
    root = debian_with(
        tmp_path, "Include /etc/apache2/many.conf", {"/etc/apache2/many.conf": cases + lines}
    )
    with pytest.raises(ValueError, match=r"^/etc/apache2/many\.conf:\d+: more than ") as raised:
        module.snapshot(str(root), runner=never_run)
    assert CANARY not in str(raised.value)


def test_honest_sites_redefining_a_name_snapshot_unchanged(
    module: ModuleType, tmp_path: Path
) -> None:
    # 100 sites each Define SITE and use it (and ${APACHE_LOG_DIR}): each line
    # has one value where it stands, none is a secret, nothing changes.
    root = debian_with(tmp_path, "")
    sites = root / "etc/apache2/sites-enabled"
    for number in range(100):
        (sites / f"site{number:03d}.conf").write_text(
            f"Define SITE site{number}\n"
            "<VirtualHost *:80>\n"
            "    ServerName ${SITE}.example.org\n"
            "    DocumentRoot /srv/www/${SITE}\n"
            "    ErrorLog ${APACHE_LOG_DIR}/${SITE}-error.log\n"
            "    CustomLog ${APACHE_LOG_DIR}/${SITE}-access.log combined\n"
            "    ProxyPass /api/ http://${SITE}-backend:8080/ keepalive=On\n"
            "    KeepAliveTimeout 5\n"
            "</VirtualHost>\n",
            encoding="utf-8",
        )
    document = take(module, root)
    for number in range(100):
        path = f"/etc/apache2/sites-enabled/site{number:03d}.conf"
        assert document["files"][path]["content"] == (root / path.lstrip("/")).read_text()
    # The controller reads them as a local audit does.
    direct = json.loads(tcpaudit.audit(tcpaudit.gather(root)).to_json())
    remote = json.loads(tcpaudit.audit(facts_from_snapshot(document)).to_json())
    assert remote["findings"] == direct["findings"]
    assert remote["grade"] == direct["grade"]


# -- mod_macro ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "snippet",
    [
        f"<Macro Mk $v>\nDefine UPW $v\n</Macro>\nUse Mk {CANARY}\n"
        "ProxyPass /d/ http://svc:${UPW}@127.0.0.1:8081/",
        f"<Macro Mk $v>\nSetEnv XV $v\n</Macro>\nUse Mk {CANARY}\n"
        'RequestHeader set Authorization "Basic %{XV}e"',
        f'<Macro Hd $name $val>\nRequestHeader set $name "$val"\n</Macro>\n'
        f'Use Hd Authorization "Bearer {CANARY}"',
        f"<Macro Hd $name $val>\nRequestHeader set $name $val\n</Macro>\nUse Hd X-Api-Token {CANARY}",
        f"<Macro Px $scheme $rest>\nProxyPass /m $scheme$rest\n</Macro>\n"
        f"Use Px http:// svc:{CANARY}@h:8081/",
        # The secret written in the body, its URL completed by the argument.
        f"<Macro Px $s>\nProxyPass /m $s//svc:{CANARY}@h:8081/\n</Macro>\nUse Px http:",
        # Through a Define the Use argument names.
        f"Define PART svc:{CANARY}\n<Macro Px $rest>\nProxyPass /m http://$rest@h/\n</Macro>\n"
        "Use Px ${PART}",
        # Through a macro using another.
        f"<Macro In $x>\nRequestHeader set Cookie $x\n</Macro>\n"
        f"<Macro Out $y>\nUse In $y\n</Macro>\nUse Out {CANARY}",
        # A Use before its macro (httpd refuses it; its arguments are still checked).
        f'Use Hd Authorization "Bearer {CANARY}"\n<Macro Hd $name $val>\n'
        'RequestHeader set $name "$val"\n</Macro>',
        # The name a body line sets is an argument too.
        f"<Macro S $n $v>\nDefine $n $v\n</Macro>\nUse S PW {CANARY}\n"
        "ProxyPass /q http://u:${PW}@h/",
        f"<Macro S $n $v>\nSetEnv $n $v\n</Macro>\nUse S XV {CANARY}\n"
        'RequestHeader set Authorization "Basic %{XV}e"',
        f"<Macro S $n $v>\nRequestHeader set $n $v\n</Macro>\nUse S X-Tmp {CANARY}\n"
        'RequestHeader set Authorization "expr=%{req:X-Tmp}"',
        f"<Macro A $x>\nUse B $x\n</Macro>\n<Macro B $y>\nDefine Q $y\n</Macro>\n"
        f"Use A {CANARY}\nProxyPass /q http://u:${{Q}}@h/",
        # A macro whose body Defines a name and another line using it.
        f"<Macro Mk $v>\nDefine H $v\nProxyPass /m ${{H}}@h/\n</Macro>\nUse Mk http://u:{CANARY}",
        # The same value given to an @parameter (quoted by mod_macro where a name is).
        f"<Macro S $pw @pw>\n<VirtualHost *:80>\nServerName @pw\n"
        f"ProxyPass /a http://u:$pw@127.0.0.1:8081/\n</VirtualHost>\n</Macro>\n"
        f"Use S {CANARY} {CANARY}",
        # A macro named by a ${NAME}, inside and outside a macro.
        f"Define INNER inner\n<Macro Inner $p>\nProxyPass /i http://u:$p@127.0.0.1:8082/\n"
        f"</Macro>\n<Macro Site $pw>\nUse ${{INNER}} $pw\n</Macro>\nUse Site {CANARY}",
        f"Define INNER inner\n<Macro Inner $p>\nProxyPass /i http://u:$p@127.0.0.1:8082/\n"
        f"</Macro>\nUse ${{INNER}} {CANARY}",
        # A <Macro> line read as httpd reads it: a quoted name or parameter, a ${NAME} name.
        f'<Macro "Inner" $p>\nProxyPass /i http://u:$p@127.0.0.1:8082/\n</Macro>\nUse Inner {CANARY}',
        f'<Macro Inner "$p">\nProxyPass /i http://u:$p@127.0.0.1:8082/\n</Macro>\nUse Inner {CANARY}',
        f"Define MN Inner\n<Macro ${{MN}} $p>\nProxyPass /i http://u:$p@127.0.0.1:8082/\n</Macro>\n"
        f"Use Inner {CANARY}",
        # A macro defined in the body of the one used, and used there.
        f"<Macro Outer $pw>\n<Macro Inner $x>\nProxyPass /app http://user:$x@backend/\n</Macro>\n"
        f"Use Inner $pw\n</Macro>\nUse Outer {CANARY}",
        # Flags before the parameters are no parameters (httpd 2.4.71 takes them out).
        f"<Macro Site /IgnoreEmptyArgs $pw>\nProxyPass /i http://u:$pw@127.0.0.1:8082/\n</Macro>\n"
        f"Use Site {CANARY}",
        f"<Macro Site /ignorebadnesting/IgnoreEmptyArgs $x $pw>\n"
        f"ProxyPass /i http://u:$pw@127.0.0.1:8082/\n</Macro>\nUse Site a {CANARY}",
        f"<Macro Site /Other\t$x $pw>\nProxyPass /i http://u:$pw@127.0.0.1:8082/\n</Macro>\n"
        f"Use Site {CANARY}",
        # A Define given to a macro that copies it where a credential header
        # outside reads it, after a ${NAME} of two words (which moves it to the
        # third parameter), through a nested Use, through the body's Define.
        f'Define UPVAL {CANARY}\nDefine TWO "a b"\n<Macro Copy $n $m $x>\nSetEnv UPHDR $x\n'
        '</Macro>\nUse Copy ${TWO} ${UPVAL}\nRequestHeader set Authorization "Bearer %{UPHDR}e"\n'
        "ProxyPass /${UPVAL}/ http://127.0.0.1:8081/",
        f"Define UPVAL {CANARY}\n<Macro Inner $y>\nSetEnv UPHDR $y\n</Macro>\n"
        "<Macro Outer $x>\nUse Inner $x\n</Macro>\nUse Outer ${UPVAL}\n"
        'RequestHeader set Authorization "Bearer %{UPHDR}e"\nProxyPass /${UPVAL}/ http://h:8081/',
        f"Define UPVAL {CANARY}\n<Macro Copy $y>\nSetEnv UPHDR $y\n</Macro>\n"
        "<Macro Outer $x>\nDefine W $x\nUse Copy ${W}\n</Macro>\nUse Outer ${UPVAL}\n"
        'RequestHeader set Authorization "Bearer %{UPHDR}e"\nProxyPass /${UPVAL}/ http://h:8081/',
        # Two macros whose names differ by a non-ASCII letter's case (httpd folds
        # ASCII letters only): the one used puts the argument in a password.
        f"<Macro \u00c9t\u00e9 $pw>\nProxyPass /i http://u:$pw@127.0.0.1:8082/\n</Macro>\n"
        f"<Macro \u00e9t\u00e9 $pw>\n<VirtualHost *:80>\nServerName $pw.example\n</VirtualHost>\n"
        f"</Macro>\nUse \u00c9t\u00e9 {CANARY}",
    ],
)
def test_secrets_assembled_by_macros_stay_on_the_host(
    module: ModuleType, tmp_path: Path, snippet: str
) -> None:
    assert_kept_out(module, debian_with(tmp_path, snippet), valid=not snippet.startswith("Use"))


@pytest.mark.parametrize(
    "snippet",
    [
        # Words counted from a Define httpd never reads (a false <IfDefine>, a
        # second Define): the argument may be in any position from there on.
        f'Define S "{CANARY} z"\nDefine D p\n<IfDefine NEVER_SET>\nDefine D "p q"\n'
        f"Define S {CANARY}\n</IfDefine>\n<Macro Copy $m $x $z>\nSetEnv UPHDR $x\n</Macro>\n"
        'Use Copy ${D} ${S}\nRequestHeader set Authorization "Bearer %{UPHDR}e"',
        f'Define S {CANARY}\n<IfDefine NEVER_SET>\nDefine D "p q"\n</IfDefine>\n'
        "<Macro Copy $m $x>\nSetEnv UPHDR $x\n</Macro>\nUse Copy ${D} ${S}\n"
        'RequestHeader set Authorization "Bearer %{UPHDR}e"',
        # A scheme and its token in two words, under a header of any name.
        f"Header set X-Upstream Bearer {CANARY}",
        f"RequestHeader edit X-Foo ^ Bearer {CANARY}",
        f'RequestHeader set X-Foo v "Bearer {CANARY}"',
        f'Header set X-Custom "Custom 9f8e7d{CANARY}" env=foo',
    ],
)
def test_no_word_count_or_split_value_sends_a_copied_secret(
    module: ModuleType, tmp_path: Path, snippet: str
) -> None:
    assert CANARY not in json.dumps(take(module, debian_with(tmp_path, snippet)))


@pytest.mark.parametrize(
    "snippet",
    [
        f"Define DB_PW {CANARY}\nServerName ${{DB_PW}}.example",
        f"SetEnv LDAP_BIND_PW {CANARY}",
        f"Header set X-Admin-PW {CANARY}",
        f"ProxyPass /a http://127.0.0.1:8080/?db_pw={CANARY}",
    ],
)
def test_names_whose_secret_part_is_pw_stay_on_the_host(
    module: ModuleType, tmp_path: Path, snippet: str
) -> None:
    assert_kept_out(module, debian_with(tmp_path, snippet))


def test_a_use_of_thousands_of_arguments_is_followed_in_little_memory(
    module: ModuleType, tmp_path: Path
) -> None:
    # Each parameter from the first ${NAME} on got a copy of what every argument
    # reads: 5,000 arguments (a 78 KB file) took 1.3 GB.
    import tracemalloc

    parameters = " ".join(f"$p{index}" for index in range(5_000))
    arguments = " ".join(f"${{V{index}}}" for index in range(5_000))
    root = debian_with(
        tmp_path,
        f"<Macro M {parameters}>\nSetEnv X $p0\n</Macro>\nUse M {arguments} x\n"
        'RequestHeader set Authorization "Bearer %{X}e"',
    )
    tracemalloc.start()
    try:
        take(module, root)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200 * 2**20, peak


def test_honest_macros_are_sent_as_written(module: ModuleType, tmp_path: Path) -> None:
    snippet = (
        "<Macro VHost $name $port>\n<VirtualHost *:$port>\n    ServerName $name\n"
        "    ProxyPass / http://$name-backend:8080/ keepalive=On\n</VirtualHost>\n</Macro>\n"
        "Use VHost shop.example 80\nUse VHost blog.example 8080"
    )
    root = debian_with(tmp_path, snippet)
    document = take(module, root)
    assert document["files"][MAIN]["content"] == (root / MAIN.lstrip("/")).read_text()


# -- cost ---------------------------------------------------------------------------------


def run_snapshot_child(root: Path) -> str:
    """The snapshot of ``root`` taken in a child (safety bound: 120 s, the limit is 30 s)."""
    script = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from ansible_trees import load_facts_module\n"
        "module = load_facts_module()\n"
        "try:\n"
        f"    print(json.dumps(module.snapshot({str(root)!r}, runner=None)))\n"
        "except ValueError as exc:\n"
        "    print('refused: ' + str(exc))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_a_file_of_the_largest_size_combining_names_is_read_within_bounds(
    tmp_path: Path,
) -> None:
    # 32 Defines of four names, then ${A}${B}${C}${D} as often as 4 MiB allows:
    # 88 s in the module before; each line has one value per name where it stands.
    defines = "".join(
        f"Define {name} {name.lower()}{value}\n" for name in "ABCD" for value in range(8)
    )
    line = "ServerAlias ${A}${B}${C}${D}\n"
    body = line * ((4 * 1024 * 1024 - 4096) // len(line))
    root = debian_with(
        tmp_path, "Include /etc/apache2/combo.conf", {"/etc/apache2/combo.conf": defines + body}
    )
    out = run_snapshot_child(root)
    document = json.loads(out)
    assert document["files"]["/etc/apache2/combo.conf"]["content"] == defines + body


def test_a_hostile_file_of_the_largest_size_is_refused_not_sent(tmp_path: Path) -> None:
    cases = "".join(
        f"<IfDefine V{i}>\nDefine {n} http://x/{n}{i}@\n</IfDefine>\n"
        for n in "AB"
        for i in range(12)
    )
    line = f"ProxyPass /p ${{A}}${{B}}{CANARY}\n"
    body = line * ((4 * 1024 * 1024 - 4096) // len(line))
    root = debian_with(
        tmp_path, "Include /etc/apache2/combo.conf", {"/etc/apache2/combo.conf": cases + body}
    )
    out = run_snapshot_child(root)
    assert out.startswith("refused: /etc/apache2/combo.conf:")
    assert CANARY not in out


@pytest.mark.parametrize(
    "snippet",
    [
        f'RewriteEngine On\nRewriteCond "%{{req:Authorization}}" "={CANARY}"\nRewriteRule ^ - [F]',
        f"<If \"%{{req_novary:Authorization}} == '{CANARY}'\">\nRequire all granted\n</If>",
        f"<If \"%{{REQ:X-Api-Token}} == '{CANARY}'\">\nRequire all granted\n</If>",
    ],
)
def test_literals_compared_with_a_header_read_as_req_are_redacted(
    module: ModuleType, tmp_path: Path, snippet: str
) -> None:
    # ap_expr's %{req:NAME} and %{req_novary:NAME} read a request header too.
    assert_kept_out(module, debian_with(tmp_path, snippet))


# -- literals compared with credentials in further shapes ---------------------------

_COPY = {"/etc/apache2/copy.conf": 'SetEnvIf Authorization "(.*)" HC=$1\n'}


@pytest.mark.parametrize(
    ("snippet", "files"),
    [
        (
            f"RewriteEngine On\nRewriteCond expr \"req('Authorization') == 'Bearer {CANARY}'\"\n"
            "RewriteRule ^ - [F]",
            {},
        ),
        (
            f"RewriteEngine On\nRewriteCond expr \"req ('X-Api-Key') == '{CANARY}'\"\n"
            "RewriteRule ^ - [F]",
            {},
        ),
        (f"SetEnvIfExpr \"req ( 'Authorization' ) == '{CANARY}'\" x=1", {}),
        (f"Header set X-Ok 1 \"expr=req('Authorization') == 'Bearer {CANARY}'\"", {}),
        (f'RequestHeader set X-Ok 1 "expr=%{{HTTP:Cookie}} =~ /sid={CANARY}/"', {}),
        (f"SetEnvIfExpr \"resp('Set-Cookie') == '{CANARY}'\" x=1", {}),
        (f"<If \"resp ('Set-Cookie') == '{CANARY}'\">\nRequire all granted\n</If>", {}),
        (f"<Location /t>\nRequire expr %{{HTTP:X-Api-Key}} == '{CANARY}'\n</Location>", {}),
        (f'SetEnvIf ^Prox.*ization "^Basic {CANARY}$" ok=1', {}),
        (f'SetEnvIf ^Pr.xy-A "^{CANARY}$" ok=1', {}),
        (f'RequestHeader set X-Up "NTLM {CANARY}"', {}),
        (f'Header set X-Okta "SSWS {CANARY}"', {}),
        (f'RequestHeader set X-Up "Vendor {CANARY}x9y8z7"', {}),
        # A capture of Authorization compared by the next RewriteCond.
        (
            "RewriteEngine On\nRewriteCond %{HTTP:Authorization} ^(.*)$\n"
            f'RewriteCond %1 "=Bearer {CANARY}"\nRewriteRule ^ - [F]',
            {},
        ),
        (
            "RewriteEngine On\nInclude /etc/apache2/cond.conf\n"
            f"RewriteCond %1 ={CANARY}\nRewriteRule ^ - [F]",
            {"/etc/apache2/cond.conf": "RewriteCond %{HTTP:Authorization} ^(.*)$\n"},
        ),
        # A copy of Authorization, made in another file, compared with a literal.
        (
            "Include /etc/apache2/copy.conf\nRewriteEngine On\n"
            f'RewriteCond %{{ENV:HC}} "=Bearer {CANARY}"\nRewriteRule ^ - [F]',
            _COPY,
        ),
        (f"Include /etc/apache2/copy.conf\nSetEnvIfExpr \"reqenv('HC') == '{CANARY}'\" d=1", _COPY),
        (f'Include /etc/apache2/copy.conf\nSetEnvIf HC "^Bearer {CANARY}$" deny=1', _COPY),
        (
            f"Include /etc/apache2/copy.conf\nHeader set X-Ok 1 \"expr=reqenv('hc') == '{CANARY}'\"",
            _COPY,
        ),
        (
            f"Include /etc/apache2/copy.conf\n<If \"%{{ENV:HC}} == '{CANARY}'\">\n"
            "Require all granted\n</If>",
            {
                "/etc/apache2/copy.conf": "RewriteEngine On\n"
                "RewriteCond %{HTTP:Authorization} (.+)\nRewriteRule ^ - [E=HC:%1]\n"
            },
        ),
        (
            f"Include /etc/apache2/copy.conf\n<If \"req('X-Copy') == '{CANARY}'\">\n"
            "Require all granted\n</If>",
            {"/etc/apache2/copy.conf": 'RequestHeader set X-Copy "expr=%{req:Authorization}"\n'},
        ),
        # Look-ahead, %{resp:}, headers and variables named at request time.
        (
            f"RewriteEngine On\nRewriteCond %{{LA-U:HTTP:X-Api-Key}} ^{CANARY}$\nRewriteRule ^ - [F]",
            {},
        ),
        (
            f'RewriteEngine On\nRewriteCond %{{LA-F:HTTP:Authorization}} "=Bearer {CANARY}"\n'
            "RewriteRule ^ - [F]",
            {},
        ),
        (f"<If \"req(tolower('COOKIE')) == '{CANARY}'\">\nRequire all denied\n</If>", {}),
        (f"<If \"req('Coo' . 'kie') == '{CANARY}'\">\nRequire all denied\n</If>", {}),
        (f'Header set X-C "v" "expr=%{{resp:Set-Cookie}} == \'{CANARY}\'"', {}),
        (
            f"Include /etc/apache2/copy.conf\n<If \"reqenv(tolower('HC')) == '{CANARY}'\">\n"
            "Require all denied\n</If>",
            _COPY,
        ),
        # A credential kept in a variable of any name.
        (f'SetEnv UPSTREAM_HDR "Bearer {CANARY}"\nRequestHeader set X-Up "%{{UPSTREAM_HDR}}e"', {}),
        (f'SetEnvIf Request_URI ^/ "UPH=Bearer {CANARY}"\nRequestHeader set X-Up "%{{UPH}}e"', {}),
        (
            f'RewriteEngine On\nRewriteRule ^ - "[E=UPH:NTLM\\ {CANARY}]"\n'
            'RequestHeader set X-Up "%{UPH}e"',
            {},
        ),
        (f'SetEnv UPH "SSWS {CANARY}"', {}),
        # Parameters after any character no name holds; copies by %{X}i, into a
        # response header, by SetEnvIfExpr's $1; a piped program's command line.
        (
            f"RewriteEngine On\nRewriteCond %{{QUERY_STRING}} (^|&)token={CANARY}($|&)\n"
            "RewriteRule ^/q1$ - [F]",
            {},
        ),
        (f'Redirect /cb "https://h.example/done#access_token={CANARY}"', {}),
        (f'<LocationMatch "^/api/(token)={CANARY}">\nRequire all denied\n</LocationMatch>', {}),
        (
            'RewriteEngine On\nRequestHeader set X-Tmp "%{Authorization}i"\n'
            f"RewriteCond %{{HTTP:X-Tmp}} ={CANARY}\nRewriteRule ^/q3$ - [F]",
            {},
        ),
        (
            "SetEnvIfExpr \"req('Authorization') =~ /(.*)/\" HC=$1\n"
            f"<If \"env('HC') == '{CANARY}'\">\nRequire all denied\n</If>",
            {},
        ),
        (
            'Header set X-Copy "%{Authorization}i"\n'
            f'Header set X-Ok "1" "expr=%{{resp:X-Copy}} == \'{CANARY}\'"',
            {},
        ),
        (f'CustomLog "|/usr/bin/logger -t x Authorization=Bearer\\ {CANARY}" combined', {}),
        (f'ErrorLog "|/usr/bin/logger --password={CANARY}"', {}),
        (
            "LoadModule md_module /usr/lib/apache2/modules/mod_md.so\n"
            f"MDChallengeDns01 /usr/local/bin/dns01 --secret {CANARY}",
            {},
        ),
        (f'ProxyPass /k "http://127.0.0.1:8080/?api-key={CANARY}"', {}),
        (f'ProxyPass /a "http://127.0.0.1:8080/?auth[password]={CANARY}"', {}),
        (f'Header set Refresh "0; url=https://x.example/?token={CANARY}"', {}),
        # The comparison read before the copy, in httpd's order.
        (
            f'SetEnvIf HC "^{CANARY}$" deny=1\nInclude /etc/apache2/copy.conf',
            _COPY,
        ),
    ],
)
def test_literals_compared_with_credentials_in_any_shape_stay_on_the_host(
    module: ModuleType, tmp_path: Path, snippet: str, files: dict[str, str]
) -> None:
    # Each is a configuration apache2 -t accepts.
    assert_kept_out(module, debian_with(tmp_path, snippet, files))


def test_honest_conditions_beside_a_copied_credential_are_sent_as_written(
    module: ModuleType, tmp_path: Path
) -> None:
    # PHP-FPM sites copy Authorization into the environment; their other
    # conditions, and headers of no credential, keep every word.
    kept = [
        "RewriteEngine On",
        r"RewriteCond %{HTTP_HOST} ^(www\.)?(.*)$",
        r"RewriteCond %2 ^example\.org$",
        "RewriteRule ^ - [E=SITE:%2]",
        "RewriteCond %{REQUEST_FILENAME} !-f",
        "RewriteRule ^ index.php [L]",
        "<If \"%{ENV:SITE} == 'example.org'\">",
        "</If>",
        'Header always set Strict-Transport-Security "max-age=63072000; includeSubDomains"',
        'Header set Server "Apache 2.4.62"',
        "SetEnvIf User-Agent ^Mozilla/4 nokeepalive",
        'BrowserMatch "MSIE 4\\.0b2;" nokeepalive downgrade-1.0 force-response-1.0',
        'SetEnv PHP_VALUE "upload_max_filesize 64M"',
        "SetEnv APP_ENV production",
        "RewriteRule ^/old/(.*)$ /new/$1 [R=301,L,E=MOVED:1]",
        'CustomLog "|/usr/bin/rotatelogs -l /var/log/apache2/access.%Y%m%d 86400" combined',
        "RewriteCond %{QUERY_STRING} (^|&)page=([0-9]+)",
        'Header set X-Copy-Host "%{Host}i"',
        "SSLPassPhraseDialog exec:/usr/libexec/httpd-ssl-pass-dialog",
    ]
    snippet = 'SetEnvIf Authorization "(.*)" HTTP_AUTHORIZATION=$1\n' + "\n".join(kept)
    lines = sent_lines(take(module, debian_with(tmp_path, snippet)))
    for line in kept:
        assert line in lines


@pytest.mark.parametrize(
    "opener",
    [
        f"<Proxy ajp://10.0.0.7:8009/ timeout=5 secret={CANARY}>",
        f"<Proxy balancer://c3 Secret={CANARY}>",
        f"<Proxy http://10.0.0.7/?token={CANARY}>",
        f"<Location /x?token={CANARY}>",
        # httpd drops what follows a section's last '>'.
        f"<Proxy ajp://10.0.0.7:8009/ secret={CANARY}> # the backend",
        f"<Proxy ajp://10.0.0.7:8009/ secret={CANARY}>x",
        f"<Location /x?token={CANARY}> token={CANARY}",
    ],
)
def test_a_section_openers_hidden_last_word_keeps_its_closing_bracket(
    module: ModuleType, tmp_path: Path, opener: str
) -> None:
    # The '>' went with the hidden value, and the controller refused the host
    # ("<Proxy> directive missing closing '>'") that a local audit grades.
    name = opener[1:].split()[0]
    root = debian_with(tmp_path, f"{opener}\n  ProxySet timeout=7\n</{name}>"
                       if name == "Proxy" else f"{opener}\n</{name}>")  # fmt: skip
    document = assert_kept_out(module, root)
    (shown,) = [line for line in sent_lines(document) if line.startswith(f"<{name}")]
    assert shown.count(">") == 1 and CANARY not in shown, shown


@pytest.mark.parametrize(
    ("opener", "closer"),
    [
        (f"<Directory /srv> password={CANARY}", "</Directory>"),
        (f'<Location /x> RequestHeader set Authorization "Basic {CANARY}"', "</Location>"),
        ("<Location /x> Authorization: Bearer " + CANARY, "</Location>"),
        (f"<Location /x> X-Api-Key:{CANARY}", "</Location>"),
        (f"<IfModule mod_proxy.c> ProxyPass /b ajp://h:8009/ secret={CANARY}", "</IfModule>"),
        (f"<VirtualHost *:80> SSLPassword {CANARY}", "</VirtualHost>"),
        ("<Location /x>", f"</Location> secret={CANARY}"),
        (f"<Proxy ajp://h:8009/> 'x' \"u:{CANARY}@h\"", "</Proxy>"),
        (f'"<Directory" /srv> password={CANARY}', "</Directory>"),
        ("<Directory /srv>", f'"</Directory>" password={CANARY}'),
        (f"'<Location' /x> password={CANARY}", "</Location>"),
    ],
)
def test_text_httpd_drops_after_a_section_line_never_leaves_the_host(
    module: ModuleType, tmp_path: Path, opener: str, closer: str
) -> None:
    # httpd reads an opener's arguments up to the line's last '>' and a
    # closer's first word only: what follows is never read, and was sent as
    # written whatever it held.
    root = debian_with(tmp_path, f"{opener}\n{closer}")
    document = assert_kept_out(module, root)
    lines = sent_lines(document)
    assert any(line.startswith(opener[: opener.rindex(">") + 1]) for line in lines)
    assert any(line.startswith(closer.split()[0]) for line in lines)


@pytest.mark.parametrize(
    ("opener", "closer", "valid"),
    [
        (f"<Directory /srv password={CANARY}>", "</Directory>", False),
        (f"<Files x.txt password={CANARY}>", "</Files>", False),
        (f"<Directory /srv Authorization:Bearer{CANARY}>", "</Directory>", False),
        (f"<Directory ~ ^/srv token={CANARY}>", "</Directory>", False),
        (f"<IfModule mod_ssl.c password={CANARY}>", "</IfModule>", True),
        (f"<IfDefine X password={CANARY}>", "</IfDefine>", True),
        (f'<If "true">\n</If>\n<Else password={CANARY}>', "</Else>", False),
        (f"<LocationMatch ~ password={CANARY}>", "</LocationMatch>", False),
        (f"<IfVersion >= 2.4 password={CANARY}>", "</IfVersion>", False),
        (f"<IfDirective Timeout password={CANARY}>", "</IfDirective>", True),
        (f"<IfSection Directory password={CANARY}>", "</IfSection>", True),
        # A name carrying the '>', arguments ending in one; no '>' at all.
        (f"<Directory> /srv password={CANARY}>", "</Directory>", False),
        (f"<IfModule> a password={CANARY}>", "</IfModule>", True),
        (f"<Directory /srv password={CANARY}", "</Directory>", False),
        (f"<IfVersion >= 2.4>password={CANARY}", "</IfVersion>", False),
        (f"<AuthnProviderAlias file f password={CANARY}>", "</AuthnProviderAlias>", True),
        (
            f'<AuthnProviderAlias file f "Authorization: Bearer {CANARY}">',
            "</AuthnProviderAlias>",
            True,
        ),
        (
            f"<Directory /srv>\n<RequireAll password={CANARY}>\nRequire all granted\n</RequireAll>",
            "</Directory>",
            False,
        ),
    ],
)
def test_words_httpd_never_reads_in_a_section_opener_never_leave_the_host(
    module: ModuleType, tmp_path: Path, opener: str, closer: str, valid: bool
) -> None:
    # httpd reads one word of these openers (two after '~'): IfModule and
    # IfDefine ignore the rest, Directory, Files and Location refuse them
    # whatever they hold; the controller's verdict is the same either way.
    root = debian_with(tmp_path, f"{opener}\n{closer}")
    assert_kept_out(module, root, valid=valid)


@pytest.mark.parametrize(
    "text",
    [
        f"ProxyPass /a http://u:{CANARY}@b/x\\",
        f"SetEnv PASSWORD {CANARY} \\",
        f'RequestHeader set Authorization \\\n"Bearer {CANARY}"\\',
    ],
)
def test_a_last_line_ending_in_a_backslash_is_still_redacted(
    module: ModuleType, tmp_path: Path, text: str
) -> None:
    # The last group of a file was never handled when its line ended in
    # '\\' with no line feed after it: it was sent as written.
    root = debian_with(tmp_path, "Include /etc/apache2/x.conf")
    (root / "etc/apache2/x.conf").write_text(text)
    assert CANARY not in json.dumps(take(module, root))


@pytest.mark.parametrize(
    "snippet",
    [
        "<Directory /srv>\n<RequireAll> xjunk\nRequire all granted\n</RequireAll>\n</Directory>",
        '<If "true">\n</If>\n<Else> password=' + CANARY + "\n</Else>",
    ],
)
def test_an_openers_arguments_after_its_name_keep_the_refusal(
    module: ModuleType, tmp_path: Path, snippet: str
) -> None:
    # "<RequireAll> xjunk": httpd reads "xjunk" as the arguments and, with no
    # '>' there, refuses the line; dropping it made the controller accept
    # what a local audit refuses.
    root = debian_with(tmp_path, snippet)
    with pytest.raises(tcpaudit.ApacheConfigError, match="missing closing"):
        tcpaudit.gather(root=root)
    assert_kept_out(module, root, valid=False)


@pytest.mark.parametrize(
    "snippet",
    [
        f'"ProxyPass" /a ajp://h:8009/ secret={CANARY}',
        f"'ProxyPass' /a ajp://h:8009/ secret={CANARY}",
        f'"RequestHeader" set Authorization "Bearer {CANARY}"',
        f'"Define" DB_PASSWORD {CANARY}',
        f'"SetEnv" API_TOKEN {CANARY}',
        f'"<Proxy" ajp://10.0.0.7:8009/ secret={CANARY}>\nProxySet timeout=7\n</Proxy>',
        f'"<Location" /x?token={CANARY}>\n</Location>',
        # A quoted word ends at its closing quote: no blank is needed after it.
        f'"ProxyPass"/a ajp://h:8009/ secret={CANARY}',
        f"'Header'always set X-Api-Key {CANARY}",
        f'"RequestHeader"set Authorization "Bearer {CANARY}"',
        f'"<Proxy"ajp://10.0.0.7:8009/ secret={CANARY}>\nProxySet timeout=7\n</Proxy>',
    ],
)
def test_a_quoted_directive_name_is_redacted_as_the_name(
    module: ModuleType, tmp_path: Path, snippet: str
) -> None:
    # httpd strips the quotes of a quoted name, and so does tcpaudit's audit;
    # the module compared the name with its quotes and sent the line as written.
    assert_kept_out(module, debian_with(tmp_path, snippet))


@pytest.mark.parametrize(
    "snippet",
    [
        f"ProxyPass /a 'http://u:x\\' {CANARY}@127.0.0.1:8080/'",
        f"ProxyPass /a 'http://u:x\\'{CANARY}@127.0.0.1:8080/'",
        f"ProxyPass /a 'http://u:\\'{CANARY}\\'@127.0.0.1:8080/'",
        f"ProxyPass /a http://127.0.0.1:8080/ 'secret=x\\' {CANARY}'",
    ],
)
def test_an_escaped_quote_inside_single_quotes_stays_inside_the_word(
    module: ModuleType, tmp_path: Path, snippet: str
) -> None:
    # ap_getword_conf reads \' inside '...' as a quote of the word, as it
    # reads \" inside "...": the module ended the word there and sent the rest.
    assert_kept_out(module, debian_with(tmp_path, snippet))


@pytest.mark.parametrize(
    "snippet",
    [
        f"'Proxy\\'Pass' /a http://127.0.0.1:8080/ secret={CANARY}",
        f"ProxyPas /a ajp://127.0.0.1:8009/ secret={CANARY}",
        f'<"Proxy" "http://127.0.0.1:8080/" secret={CANARY}>\n</Proxy>',
        f"BalancerMembr ajp://127.0.0.1:8009 'secret=a b {CANARY}'",
    ],
)
def test_secret_parameters_of_a_name_no_rule_knows_stay_on_the_host(
    module: ModuleType, tmp_path: Path, snippet: str
) -> None:
    # A misspelt directive (httpd refuses it, and so does the controller)
    # was sent as written, "secret=" and all.
    assert_kept_out(module, debian_with(tmp_path, snippet), valid=False)


@pytest.mark.parametrize(
    "snippet",
    [
        f"ProxyPass /a ajp://127.0.0.1:8009/ secret=a;{CANARY}",
        f"ProxyPass /a ajp://127.0.0.1:8009/ secret=a&{CANARY}",
        f"ProxyPass /a ajp://127.0.0.1:8009/ secret=a,{CANARY}",
        f"<Proxy ajp://127.0.0.1:8009/>\nProxySet secret=a,{CANARY}\n</Proxy>",
        f"ProxyPass /a ajp://127.0.0.1:8009/ secret='x'{CANARY}",
        f'ProxyPass /a ajp://127.0.0.1:8009/ secret="x"{CANARY}',
        f"<Proxy balancer://b>\nBalancerMember ajp://127.0.0.1:8009 secret='x'{CANARY}\n</Proxy>",
        # A quote never closed runs to the end of the line: one word for httpd.
        f'ProxyPass /a ajp://127.0.0.1:8009/ "secret=x {CANARY}',
        f"ProxyPass /a ajp://127.0.0.1:8009/ 'secret=x {CANARY}",
        f'ProxyPass /a "http://u:pw {CANARY}@127.0.0.1:8080/',
        f'SetEnv P "secret=x;{CANARY}"',
    ],
)
def test_a_parameter_word_s_whole_value_stays_on_the_host(
    module: ModuleType, tmp_path: Path, snippet: str
) -> None:
    # mod_proxy's value is the rest of the word (';', '&', ',' and quotes
    # included), and an unclosed quote's word runs to the line's end: the
    # module sent what followed the first of those.
    assert_kept_out(module, debian_with(tmp_path, snippet))


@pytest.mark.parametrize(
    "snippet",
    [
        f"ProxyPass /a ajp://127.0.0.1:8009/ secret=a\u00a0{CANARY}",
        f"ProxyPass /a ajp://127.0.0.1:8009/ secret=a\u2003{CANARY}",
        f"ProxyPass /a ajp://127.0.0.1:8009/ secret=a\x1f{CANARY}",
        f"ProxyPass /a ajp://127.0.0.1:8009/ secret=a\u3000{CANARY}",
    ],
)
def test_only_httpd_s_blanks_end_a_word(module: ModuleType, tmp_path: Path, snippet: str) -> None:
    # httpd splits words at space, tab, CR, LF, VT and FF only: the module
    # split at any Unicode blank and sent the secret after it.
    assert_kept_out(module, debian_with(tmp_path, snippet))


@pytest.mark.parametrize(
    "snippet",
    [
        f'<Directory "/srv secret={CANARY}>\n</Directory>',
        f"<Files 'x token={CANARY}>\n</Files>",
        f'<Location "/x?token={CANARY}>\n</Location>',
        f'<Proxy "ajp://127.0.0.1:8009/ secret={CANARY}>\n</Proxy>',
        f'<Proxy ajp://127.0.0.1:8009/ "secret={CANARY}>\n</Proxy>',
    ],
)
def test_an_unclosed_quote_in_an_opener_ends_at_its_closing_bracket(
    module: ModuleType, tmp_path: Path, snippet: str
) -> None:
    # httpd cuts an opener at its last '>' before reading words: the
    # module's unclosed quote took the '>' along, and the redacted line lost
    # it (the controller refused "missing closing '>'").
    assert_kept_out(module, debian_with(tmp_path, snippet))


@pytest.mark.parametrize("blank", ["\u00a0", "\x1c", "\u3000"])
def test_a_hash_after_a_blank_httpd_does_not_skip_is_no_comment(
    module: ModuleType, tmp_path: Path, blank: str
) -> None:
    # httpd strips only space, tab, CR, LF, VT and FF before a '#': the line is
    # a directive it refuses; the module emptied it as a comment, and the
    # controller accepted the host.
    assert_kept_out(module, debian_with(tmp_path, f"{blank}# password={CANARY}"), valid=False)


@pytest.mark.parametrize(
    "snippet",
    [
        f"ProxyPass /a http://127.0.0.1:8080/?token='ab'{CANARY}",
        f"ProxyPass /a \"http://127.0.0.1:8080/?token='ab'{CANARY}&x=1\"",
        f"RequestHeader set X-Q \"q?password='a'{CANARY}\"",
        f"<Proxy \"http://127.0.0.1:8080/?token='a'{CANARY}\">\n</Proxy>",
    ],
)
def test_a_query_parameter_s_value_after_a_quoted_run_stays_on_the_host(
    module: ModuleType, tmp_path: Path, snippet: str
) -> None:
    assert_kept_out(module, debian_with(tmp_path, snippet))


@pytest.mark.parametrize(
    "snippet",
    [
        # An empty line continues a joined line still ending in a backslash.
        f"ProxyPass /x http://u:\\\\\n\n{CANARY}@127.0.0.1:8081/",
        f"ProxyPass /x http://u:\\\\\r\n\r\n{CANARY}@127.0.0.1:8081/",
        f"ProxyPass /x http://u:\\\\\\\\\n\n\n{CANARY}@127.0.0.1:8081/",
    ],
)
def test_secrets_continued_through_empty_lines_stay_on_the_host(
    module: ModuleType, tmp_path: Path, snippet: str
) -> None:
    assert_kept_out(module, debian_with(tmp_path, snippet))


@pytest.mark.parametrize(
    "snippet",
    [
        # A value ending in a backslash joins the line it ends to the next body
        # line: a URL's password made of two lines (httpd reads it so).
        f"<Macro Site $a $pw>\nProxyPass /x $a\n$pw@127.0.0.1:8081/\n<VirtualHost *:80>\n"
        f"ServerName $pw.example\n</VirtualHost>\n</Macro>\nUse Site http://u:\\ {CANARY}",
        # ... or to the file's next line, after the Use.
        f'<Macro Site $a>\nProxyPass /x $a\n</Macro>\nUse Site "http://u:\\\\"\n'
        f"{CANARY}@127.0.0.1:8081/",
    ],
)
def test_a_use_argument_ending_in_a_backslash_refuses_the_snapshot(
    module: ModuleType, tmp_path: Path, snippet: str
) -> None:
    root = debian_with(tmp_path, snippet)
    with pytest.raises(
        ValueError, match=r"^/etc/apache2/apache2\.conf:\d+: a Use argument"
    ) as raised:
        module.snapshot(str(root), runner=never_run)
    assert CANARY not in str(raised.value)
