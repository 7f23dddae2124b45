"""The reader's fast paths build what its general loop builds, line for line.

A file whose physical lines are its logical lines is read straight from them
(``LineReader._read_physical``) until a line needs the general loop. These
tests generate files mixing every kind of line the fast paths take or leave
(quotes, ``${VAR}`` defined or not, sections with and without their ``>``,
conditionals that hold and do not, read-time directives, includes, comments,
mistakes) and load each twice: as usual, and with the fast paths off (every
file through the general loop). The trees, notes, settings and errors agree.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

import tcpaudit
import tcpaudit.apache.loader as loader
import tcpaudit.apache.reader as reader
from tcpaudit.apache.tree import Directive
from tcpaudit.errors import TcpauditError

MODULES = "/usr/lib/apache2/modules"
HEAD = [
    f"LoadModule mpm_event_module {MODULES}/mod_mpm_event.so",
    f"LoadModule authz_core_module {MODULES}/mod_authz_core.so",
    f"LoadModule rewrite_module {MODULES}/mod_rewrite.so",
    f"LoadModule headers_module {MODULES}/mod_headers.so",
    "Listen 80",
    "Define SITE_ROOT /var/www",
]
SERVER_LEAVES = [
    "",
    '# a comment with "quotes" and ${UNSET}',
    "\t# an indented comment",
    "ServerName example.org",
    "\tTimeout 30",
    "KeepAliveTimeout\t5",
    'ServerAdmin "webmaster@example.org"',
    "DocumentRoot ${SITE_ROOT}/html",
    'ErrorLog "${SITE_ROOT}/logs/error.log"',
    "CustomLog ${UNDEFINED_VAR}/access.log combined",
]
ANYWHERE_LEAVES = [
    "",
    "Header always set X-Frame-Options 'SAMEORIGIN'",
    r"RewriteRule ^/old/(.*)\.html$ /new/$1 [R=301,L]",
    r'RewriteCond %{REQUEST_URI} "!^/\\.well-known/"',
    r"RewriteRule ^/a\\b /c",
    "\tRewriteEngine On",
]
DIRECTORY_LEAVES = ["Options -Indexes +FollowSymLinks", "\t\tRequire all granted"]
TOP_LEAVES = [
    f"LoadModule ssl_module {MODULES}/mod_ssl.so",
    "Define LATE value",
    "UnDefine LATE",
    "Include conf.d/extra.conf",
    "IncludeOptional conf.d/missing*.conf",
]
CONDITIONALS = [
    ("<IfModule mod_ssl.c>", "</IfModule>"),
    ("\t<IfModule !mod_ssl.c>", "\t</IfModule>"),
    ("<IfModule rewrite_module>", "</IfModule>"),
    ("<IfModule mod_nonexistent.c>", "</IfModule>"),
    ("<IfDefine SITE_ROOT>", "</IfDefine>"),
    ("<IfDefine !SITE_ROOT>", "</IfDefine>"),
    ("<IfDefine LATE>", "</IfDefine>"),
]
SECTIONS = [
    ("<Directory /var/www>", "</Directory>"),
    ("\t<Directory ${SITE_ROOT}>", "\t</Directory>"),
    ('<FilesMatch "\\.(php|cgi)$">', "</FilesMatch>"),
    ("<Location /status >", "</location>"),
]
VHOSTS = [
    ("<VirtualHost *:80>", "</VirtualHost>"),
    ("<VirtualHost ${SITE_ROOT}:80>", "</VirtualHost>"),
]
MISTAKES = [
    "<Location /status",
    "</Location>",
    '"Quoted" name',
    "Foo\\\\Bar baz",
    "ServerName>",
    "<IfModule>",
    "</IfModule extra>",
    "<IfVersion >= 2.4>",
    "FooBarBaz 1",
]


def _block(chooser: random.Random, depth: int, place: str) -> list[str]:
    """Lines for ``place``: "top" (the server), "vhost" or "directory"."""
    leaves = ANYWHERE_LEAVES + (DIRECTORY_LEAVES if place == "directory" else SERVER_LEAVES)
    lines: list[str] = []
    for _ in range(chooser.randint(2, 8)):
        kind = chooser.random()
        if kind < 0.15 and depth < 3:
            opening, closing = chooser.choice(CONDITIONALS)
            lines += [opening, *_block(chooser, depth + 1, place), closing]
        elif kind < 0.25 and depth < 3 and place != "directory":
            opening, closing = chooser.choice(SECTIONS)
            lines += [opening, *_block(chooser, depth + 1, "directory"), closing]
        elif kind < 0.32 and place == "top":
            opening, closing = chooser.choice(VHOSTS)
            lines += [opening, *_block(chooser, depth + 1, "vhost"), closing]
        elif kind < 0.4 and place == "top":
            lines.append(chooser.choice(TOP_LEAVES))
        else:
            lines.append(chooser.choice(leaves))
    return lines


def _tree(nodes: list[Directive]) -> list[Any]:
    return [
        (node.name, node.args, node.file, node.line, None if node.children is None else _tree(node.children))
        for node in nodes
    ]  # fmt: skip


def _load(root: Path, monkeypatch: pytest.MonkeyPatch, fast: bool) -> Any:
    seen: dict[str, Any] = {}
    checked = loader.check_result

    def recording(result: Any, *args: Any, **kwargs: Any) -> None:
        seen["tree"] = _tree(result.directives)
        seen["notes"] = [str(note) for note in result.notes]
        checked(result, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(loader, "check_result", recording)
        if not fast:
            patch.setattr(reader, "simple_physical_lines", lambda text: None)
        try:
            config = tcpaudit.load_apache(root=root, version="2.4.71", build="debian")
        except TcpauditError as exc:
            return seen, f"error: {exc}"
    assert config is not None
    return seen, config.model_dump_json()


def _write(root: Path, chooser: random.Random) -> None:
    conf = root / "etc/apache2"
    (conf / "conf.d").mkdir(parents=True)
    body = _block(chooser, 0, "top") + _block(chooser, 0, "top")
    if chooser.random() < 0.3:
        body.insert(chooser.randrange(len(body) + 1), chooser.choice(MISTAKES))
    (conf / "apache2.conf").write_text("\n".join(HEAD + body) + "\n")
    extra = _block(chooser, 1, "vhost")
    ending = "\n" if chooser.random() < 0.5 else ""
    (conf / "conf.d/extra.conf").write_text("\n".join(extra) + ending)


@pytest.mark.parametrize("seed", range(40))
def test_fast_paths_build_what_the_general_loop_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    _write(tmp_path, random.Random(seed))
    assert _load(tmp_path, monkeypatch, fast=True) == _load(tmp_path, monkeypatch, fast=False)


def test_the_generated_files_reach_both_outcomes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mix is varied enough: some files load, some are refused."""
    outcomes = set()
    for seed in range(40):
        root = tmp_path / str(seed)
        _write(root, random.Random(seed))
        outcomes.add(_load(root, monkeypatch, fast=True)[1].startswith("error: "))
    assert outcomes == {True, False}


REPEATED = [
    "ServerAdmin webmaster@example.org",
    "ProxyPass /api/ http://user:secret@127.0.0.1:8080/api/",
    "SetEnv BACKEND_TOKEN s3cret",
    'RequestHeader set Authorization "Bearer abc"',
    'Header always set X-Content-Type-Options "nosniff"',
    "\tDocumentRoot /var/www/html",
    "# the same comment",
    "<Directory /var/www>",
    "\tRequire all granted",
    "</Directory>",
    "<IfModule rewrite_module>",
    "RewriteEngine On",
    "</IfModule>",
]


def test_repeated_lines_make_the_nodes_and_secret_lines_of_their_first_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The physical loop remembers a line's node by its text: every repetition,
    in another file too, still has its own file and line, and a secret on it
    is redacted and listed each time."""
    conf = tmp_path / "etc/apache2"
    (conf / "conf.d").mkdir(parents=True)
    head = [
        *HEAD,
        f"LoadModule proxy_module {MODULES}/mod_proxy.so",
        f"LoadModule proxy_http_module {MODULES}/mod_proxy_http.so",
        f"LoadModule env_module {MODULES}/mod_env.so",
    ]
    vhosts = [
        line for _ in range(3) for line in ["<VirtualHost *:80>", *REPEATED, "</VirtualHost>"]
    ]
    (conf / "apache2.conf").write_text(
        "\n".join([*head, *vhosts, "Include conf.d/extra.conf"]) + "\n"
    )
    (conf / "conf.d/extra.conf").write_text("\n".join(vhosts) + "\n")
    fast = _load(tmp_path, monkeypatch, fast=True)
    assert fast == _load(tmp_path, monkeypatch, fast=False)
    document = fast[1]
    assert "s3cret" not in document and "user:secret@" not in document
    secret_lines = tcpaudit.load_apache(root=tmp_path, version="2.4.71", build="debian")
    assert secret_lines is not None
    listed = {(place.file, place.line) for place in secret_lines.secret_value_lines}
    proxy_lines = [n for n, line in enumerate(vhosts, start=1) if line.startswith("ProxyPass")]
    assert {("etc/apache2/conf.d/extra.conf", n) for n in proxy_lines} <= listed
