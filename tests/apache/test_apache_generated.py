"""Generated configurations: tcpaudit and the real apache2 agree on every one.

Hypothesis builds small trees from the constructs httpd executes while reading
(continued lines, comments, ``#`` inside arguments, CRLF, a byte-order mark,
word counts httpd refuses,
Define/UnDefine/``${VAR}``, the six conditional sections, Include and
IncludeOptional of files, globs, directories and missing paths, LoadModule
before or after its use, sections left open or closed wrongly, mod_macro) and
the settings tcpaudit tracks, with values valid and invalid. Each tree is
judged by ``apache2 -t`` and by ``load_apache`` and compared as in
test_apache_differential.py: accept/reject and the blamed file:line, files, the
effective directives, vhosts, modules.

The default run tries 3,000 trees (about seventy seconds); set
TCPAUDIT_DIFF_EXAMPLES to try more.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from apache_harness import MODULE_DIR, map_tree, run_apache
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_apache_differential import Tree, assert_same, load_with_tcpaudit

EXAMPLES = int(os.environ.get("TCPAUDIT_DIFF_EXAMPLES", "3000"))
TREE = Tree("/etc/apache2/apache2.conf", "/etc/apache2")
BASE = [
    f"LoadModule mpm_event_module {MODULE_DIR}/mod_mpm_event.so",
    "ErrorLog /dev/null",
]
LOADABLE = ("reqtimeout", "rewrite", "autoindex", "macro", "alias", "proxy", "version")

names = st.sampled_from(["ALPHA", "beta", "Gamma_2"])
modules = st.sampled_from(
    ["reqtimeout_module", "mod_reqtimeout.c", "rewrite_module", "mod_rewrite.c",
     "version_module", "mod_version.c", "nonexistent_module", "autoindex_module",
     "mpm_event_module", "event.c", "util_ldap.c"]
)  # fmt: skip
plain = st.sampled_from(
    [
        "Timeout 5", "Timeout 5ms", "Timeout abc", "Timeout 5 # five", "Timeout",
        "keepalive off", "KeepAlive On", "KeepAliveTimeout 100ms", "KeepAliveTimeout 1m",
        "KeepAliveTimeout 3", "KeepAliveTimeout abc", "MaxKeepAliveRequests 0",
        "MaxKeepAliveRequests 50 # fifty", "ServerAdmin admin@example.org",
        "ServerName www.example.org", "ServerSignature Off", "Timeout 7 \\",
        "IndexIgnore .??* *~ *# HEADER*", "RewriteEngine On", "RequestReadTimeout header=5",
        "MaxSpareServers 3", "\ufeffTimeout 9", "Timeout\t 11  ",
        "'Timeout' 12", "# a comment", "  # indented comment", "# comment \\",
        "ServerAdmin ${ALPHA}", "ServerAdmin ${undefined_var}", "ServerAdmin a${beta}b",
        "ListenBacklog 1024", "ListenBacklog 1024 2048", "MaxRequestWorkers 300", "ServerLimit 12",
        "ThreadsPerChild 25", "ProxyTimeout 30", "AcceptFilter http data", "AcceptFilter http",
        "KeepAlive maybe", "${ALPHA} 5", "UndefMacro Site", "Use Site late.example",
        "Timeout 8\x00 x y", "ServerAdmin a\x00 \\",
        "ServerName a b", 'ServerName ""', "RewriteEngine maybe", "RewriteEngine on x",
        "KeepAlive On extra", "IndexIgnore", 'IndexIgnore ""', 'Define ""', "Define A b c",
        "DefaultRuntimeDir", "UndefMacro a b", "AcceptFilter http data x", "ServerTokens",
    ]
)  # fmt: skip


@st.composite
def conditional(draw: st.DrawFn, depth: int) -> list[str]:
    kind = draw(st.sampled_from(["IfModule", "IfDefine", "IfVersion", "IfFile", "IfDirective",
                                 "IfSection", "ifmodule"]))  # fmt: skip
    negate = draw(st.sampled_from(["", "!"]))
    if kind.lower() == "ifmodule":
        argument = negate + draw(modules) + draw(st.sampled_from(["", "", " extra", " !x"]))
    elif kind == "IfDefine":
        argument = negate + draw(names)
    elif kind == "IfVersion":
        argument = draw(st.sampled_from([">= 2.4", "< 2.4.16", "2.4.71", "!~ ^2\\.2", "= /^2\\.4/",
                                         "> 2.5", "== 2.4", "2.4.x", "<= 2.4.71"]))  # fmt: skip
    elif kind == "IfFile":
        argument = negate + draw(st.sampled_from(["conf.d", "/etc/apache2/apache2.conf",
                                                  "missing.conf", "conf.d/a.conf"]))  # fmt: skip
    elif kind == "IfDirective":
        argument = negate + draw(st.sampled_from(["RewriteEngine", "Timeout", "NoSuchThing"]))
    else:
        argument = negate + draw(st.sampled_from(["VirtualHost", "Macro", "Nope"]))
    if draw(st.integers(0, 19)) == 0:
        argument = draw(st.sampled_from(["", "!", '""', "! reqtimeout_module"]))
    body = draw(block(depth + 1))
    closing = draw(st.sampled_from([f"</{kind}>", f"</{kind}>", f"</{kind.upper()}>",
                                    f"</{kind} >", "</Other>", ""]))  # fmt: skip
    return [f"<{kind} {argument}>", *body, closing]


@st.composite
def section(draw: st.DrawFn, depth: int) -> list[str]:
    opening, closing = draw(
        st.sampled_from(
            [("<VirtualHost *:80>", "</VirtualHost>"), ("<Directory /srv/www>", "</Directory>"),
             ("<VirtualHost *:80>", "</virtualhost>"), ("<Location />", "</Location>"),
             ("<Directory /srv/www>", "</Directory >"), ("<VirtualHost *:80", "</VirtualHost>")]
        )
    )  # fmt: skip
    inside = draw(st.lists(st.sampled_from(["ServerName a.example", "KeepAliveTimeout 2",
                                            "Options None", "Timeout 4", "AllowOverride None"]),
                           max_size=3))  # fmt: skip
    return [opening, *inside, *draw(block(depth + 1)), closing]


@st.composite
def item(draw: st.DrawFn, depth: int) -> list[str]:
    choices = ["plain", "define", "undefine", "include", "load"]
    if depth < 2:
        choices += ["conditional", "section", "macro"]
    kind = draw(st.sampled_from(choices))
    if kind == "plain":
        return [draw(plain)]
    if kind == "define":
        value = draw(st.sampled_from(["", " value", ' "two words"', " ''", " x y"]))
        return [f"Define {draw(names)}{value}"]
    if kind == "undefine":
        return [f"UnDefine {draw(names)}"]
    if kind == "include":
        directive = draw(st.sampled_from(["Include", "IncludeOptional"]))
        target = draw(st.sampled_from(["conf.d/*.conf", "conf.d", "conf.d/a.conf", "nothing/*.conf",
                                       "conf.d/*.none", "missing.conf", "conf.d/[ab].conf",
                                       "/etc/apache2/conf.d/*", "conf.d/../conf.d/b.conf",
                                       "conf*/a.conf", "link.d/*.conf", "link.d",
                                       "conf.d/link.conf", "nothing/*/x.conf", "conf.d/sub",
                                       "conf.d/*/*.conf", "*.d/b.conf"]))  # fmt: skip
        return [f"{directive} {target}"]
    if kind == "load":
        name = draw(st.sampled_from(LOADABLE))
        return [f"LoadModule {name}_module {MODULE_DIR}/mod_{name}.so"]
    if kind == "conditional":
        return draw(conditional(depth))
    if kind == "section":
        return draw(section(depth))
    use = draw(st.sampled_from(["Use Site one.example", "Use Site", "Use Other x"]))
    return ["<Macro Site $host>", "<VirtualHost *:80>", "ServerName $host", "</VirtualHost>",
            "</Macro>", use]  # fmt: skip


def block(depth: int) -> st.SearchStrategy[list[str]]:
    return st.lists(item(depth), max_size=4 if depth else 8).map(
        lambda items: [line for lines in items for line in lines]
    )


# Symlinks a tree may have: a linked directory (not followed by a wildcard in
# the middle of a path) and a linked file (named as linked, not as its target).
LINKS = {"etc/apache2/link.d": "conf.d", "etc/apache2/conf.d/link.conf": "a.conf"}


@st.composite
def config_tree(draw: st.DrawFn) -> dict[str, bytes | str]:
    """Files (bytes) and symlinks (target text) of a tree; the main file always exists."""
    files: dict[str, bytes | str] = {
        link: target for link, target in LINKS.items() if draw(st.booleans())
    }
    for path in ("etc/apache2/apache2.conf", "etc/apache2/conf.d/a.conf",
                 "etc/apache2/conf.d/b.conf", "etc/apache2/conf.d/sub/c.conf",
                 "etc/apache2/conf.d/.hidden.conf"):  # fmt: skip
        if path != "etc/apache2/apache2.conf" and not draw(st.booleans()):
            continue
        lines = draw(block(1 if "conf.d" in path else 0))
        if path == "etc/apache2/apache2.conf":
            lines = BASE + lines
        newline = draw(st.sampled_from(["\n", "\n", "\r\n"]))
        text = newline.join(lines) + draw(st.sampled_from([newline, ""]))
        bom = "\ufeff" if draw(st.integers(0, 9)) == 0 else ""
        files[path] = (bom + text).encode("utf-8")
    return files


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(config_tree())
def test_generated_tree_matches_apache2(files: dict[str, bytes | str]) -> None:
    with tempfile.TemporaryDirectory() as work:
        tcpaudit_root = Path(work) / "tcpaudit"
        for path, data in files.items():
            target = tcpaudit_root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(data, str):
                target.symlink_to(data)
            else:
                target.write_bytes(data)
        apache_root = Path(work) / "apache"
        shutil.copytree(tcpaudit_root, apache_root, symlinks=True)
        map_tree(apache_root)
        run = run_apache(apache_root, TREE.main_file, TREE.server_root)
        assert_same(run, load_with_tcpaudit(tcpaudit_root, TREE))
