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
import re
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from apache_harness import MODULE_DIR, map_tree, run_apache, static_modules
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from test_apache_differential import Tree, apache_version, assert_same

from tcpaudit.apache import load_apache, walk, walk_verdicts
from tcpaudit.apache.directives import directive_owners, known_modules
from tcpaudit.errors import ApacheConfigError

EXAMPLES = int(os.environ.get("TCPAUDIT_DIFF_EXAMPLES", "1500"))
TREE = Tree("/etc/apache2/apache2.conf", "/etc/apache2")
BASE = [
    f"LoadModule mpm_event_module {MODULE_DIR}/mod_mpm_event.so",
    "ErrorLog /dev/null",
]
LOADABLE = ("reqtimeout", "rewrite", "autoindex", "macro", "alias", "proxy", "version")
_POOL = ThreadPoolExecutor(max_workers=1)
# The module the third-party build loads, hidden from tcpaudit's tables.
THIRD_PARTY = "lua_module"

# Spelt in several cases: ${NAME} finds a Define whatever its case (an apr
# table), <IfDefine> only as spelt (strcmp over httpd's array).
names = st.sampled_from(["ALPHA", "beta", "Gamma_2", "alpha", "BETA"])
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
        "ServerAdmin ${alpha}", "ServerAdmin ${BETA}", "KeepAlive ${GAMMA_2}",
        "ListenBacklog 1024", "ListenBacklog 1024 2048", "MaxRequestWorkers 300", "ServerLimit 12",
        "ThreadsPerChild 25", "ProxyTimeout 30", "AcceptFilter http data", "AcceptFilter http",
        "KeepAlive maybe", "${ALPHA} 5", "UndefMacro Site", "Use Site late.example",
        "Timeout 8\x00 x y", "ServerAdmin a\x00 \\",
        "ServerName a b", 'ServerName ""', "RewriteEngine maybe", "RewriteEngine on x",
        "KeepAlive On extra", "IndexIgnore", 'IndexIgnore ""', 'Define ""', "Define A b c",
        "DefaultRuntimeDir", "UndefMacro a b", "AcceptFilter http data x", "ServerTokens",
        "LogLevel warn rewrite:trace2", "LogLevel crit", "ServerTokens OS", "Listen 8080",
        "Listen *:8081", "LimitRequestBody 4096", "ErrorDocument 404 /x.html",
        "Alias /a /srv/a", "HostnameLookups Double", "LuaScope once", "LuaCodeCache stat",
        "MaxRequestWorkers 30",
    ]
)  # fmt: skip
# Lines a handler refuses (or that only some builds accept), drawn less often
# so that most trees are read to the end.
refusals = st.sampled_from(
    ["FooBarBaz 1", "some stray words", "50", "LogLevel info ssl:warn", "LogLevel alias:",
     "ServerSignature maybe", "Listen 8080", "Listen 127.0.0.1", "ListenBacklog 0",
     "LimitRequestBody 10k", "ErrorDocument 499 /x.html", "ServerAlias a.example",
     "ProxyTimeout 0", "Alias /srv/a", "UseCanonicalName yes", "Error \"stop here\"",
     "Options -Indexes FollowSymLinks"]
)  # fmt: skip
# What a <Directory>, <Location>, <If>... may hold, checked by their handlers.
inside = st.sampled_from(
    ["ServerName a.example", "KeepAliveTimeout 2", "Options None", "Timeout 4",
     "AllowOverride None", "Options -Indexes FollowSymLinks", "Options +Indexes -ExecCGI",
     "Options None +Indexes", "Options Indexes None", "AllowOverride FileInfo Options=Indexes",
     "Alias /a /srv/a", "Alias /srv/a", "ServerAlias b.example", "LogLevel debug",
     "Require all granted", "ErrorDocument 404 /x", "ServerName a.example", "Timeout 4",
     "Options Bogus", "AllowOverride Bogus", "ListenBacklog 5", "MaxRequestWorkers 5"]
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
             ("<Directory /srv/www>", "</Directory >"), ("<VirtualHost *:80", "</VirtualHost>"),
             ("<Directory /srv /var>", "</Directory>"), ('<If "true">', "</If>"),
             ("<Else>", "</Else>"), ('<ElseIf "false">', "</ElseIf>"), ("<Files x>", "</Files>"),
             ("<Files>", "</Files>")]
        )
    )  # fmt: skip
    contents = draw(st.lists(inside, max_size=3))
    return [opening, *contents, *draw(block(depth + 1)), closing]


@st.composite
def item(draw: st.DrawFn, depth: int) -> list[str]:
    choices = ["plain", "define", "undefine", "include", "load"]
    if depth < 2:
        choices += ["conditional", "section", "macro"]
    kind = draw(st.sampled_from(choices))
    if kind == "plain":
        return [draw(refusals if draw(st.integers(0, 5)) == 0 else plain)]
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
def config_tree(draw: st.DrawFn, base: list[str]) -> dict[str, bytes | str]:
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
            lines = base + lines
        newline = draw(st.sampled_from(["\n", "\n", "\r\n"]))
        text = newline.join(lines) + draw(st.sampled_from([newline, ""]))
        bom = "\ufeff" if draw(st.integers(0, 9)) == 0 else ""
        files[path] = (bom + text).encode("utf-8")
    return files


@dataclass(frozen=True)
class Case:
    """A generated tree and how httpd is started on it."""

    build: str  # "this", "linked-prefork" or "third-party"
    files: dict[str, bytes | str]
    defines: tuple[str, ...]
    directives: tuple[str, ...]
    environment: tuple[tuple[str, str], ...]


_BASES = {
    "this": BASE,
    # The MPM is linked in: the configuration loads none, and wraps its
    # LoadModules in <IfModule prefork.c> as openSUSE's loadmodule.conf does.
    "linked-prefork": [
        "<IfModule prefork.c>",
        f"LoadModule alias_module {MODULE_DIR}/mod_alias.so",
        "MaxRequestWorkers 30",
        "</IfModule>",
        "ErrorLog /dev/null",
    ],
    "third-party": [*BASE, f"LoadModule {THIRD_PARTY} {MODULE_DIR}/mod_lua.so"],
}


@st.composite
def case(draw: st.DrawFn) -> Case:
    build = draw(st.sampled_from(["this"] * 6 + ["linked-prefork", "third-party"]))
    defines = draw(st.lists(st.sampled_from(["ALPHA", "beta", "NAME=VALUE"]), max_size=2))
    directives = draw(st.lists(st.sampled_from(
        ["Timeout 3", "Define beta from-c", "FooBarBaz 2", "KeepAlive Off", "<IfDefine ALPHA>",
         "Timeout 1 2", "Listen 8080"]), max_size=2 if draw(st.integers(0, 3)) == 0 else 0))  # fmt: skip
    environment = draw(st.dictionaries(st.sampled_from(["ALPHA", "beta", "undefined_var"]),
                                       st.sampled_from(["env-value", "two words", ""]),
                                       max_size=2))  # fmt: skip
    return Case(build, draw(config_tree(_BASES[build])), tuple(defines), tuple(directives),
                tuple(sorted(environment.items())))  # fmt: skip


_INVALID = re.compile(r"Invalid command '([^']+)'")


def _hidden_owners(key: str, version: tuple[int, ...] = (2, 4)) -> frozenset[str] | None:
    """directive_owners as tcpaudit sees it when THIRD_PARTY is a module it cannot know."""
    found = directive_owners(key, version)
    return None if found is not None and THIRD_PARTY in found else found


@contextmanager
def _third_party_hidden() -> Iterator[None]:
    """tcpaudit's view of a module it cannot know: neither it nor its directives are listed."""
    with (
        mock.patch.object(walk, "directive_owners", _hidden_owners),
        mock.patch.object(walk_verdicts, "directive_owners", _hidden_owners),
        mock.patch.object(walk_verdicts, "known_modules", lambda: known_modules() - {THIRD_PARTY}),
    ):
        yield


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case())
@example(  # a file holding only a byte-order mark, beside a third-party module
    Case(
        build="third-party",
        files={
            "etc/apache2/apache2.conf": (
                b"LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\n"
                b"ErrorLog /dev/null\n"
                b"LoadModule lua_module /usr/lib/apache2/modules/mod_lua.so\n"
                b"Include conf.d/*.conf\n"
            ),
            "etc/apache2/conf.d/b.conf": b"\xef\xbb\xbf\n",
        },
        defines=(),
        directives=(),
        environment=(),
    )
)
@example(  # a name spelled by a defined ${VAR}, beside a third-party module: noted
    Case(
        build="third-party",
        files={
            "etc/apache2/apache2.conf": (
                b"LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\n"
                b"ErrorLog /dev/null\n"
                b"LoadModule lua_module /usr/lib/apache2/modules/mod_lua.so\n"
                b"${ALPHA} 5\n"
            ),
        },
        defines=(),
        directives=(),
        environment=(("ALPHA", "env-value"),),
    )
)
@example(  # ${NAME} finds a Define of another case; UnDefine too, <IfDefine> does not
    Case(
        build="this",
        files={
            "etc/apache2/apache2.conf": (
                b"LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\n"
                b"ErrorLog /dev/null\n"
                b"Define ka Off\nKeepAlive ${KA}\nDefine tmo 7\nTimeout ${TMO}\n"
                b"Define Pw one\nUnDefine PW\nServerAdmin x${pw}\n"
                b"<IfDefine KA>\nTimeout 9\n</IfDefine>\n"
            ),
        },
        defines=(),
        directives=(),
        environment=(),
    )
)
@example(  # Define NAME "" defines NAME without a value: ${NAME} stays as written
    Case(
        build="this",
        files={
            "etc/apache2/apache2.conf": (
                b"LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\n"
                b"ErrorLog /dev/null\n"
                b"Define E \"\"\nTimeout ${E}\nDefine F two\nDefine F ''\nServerAdmin ${F}\n"
                b"<IfDefine E>\nKeepAlive O${E}n\n</IfDefine>\n"
            ),
        },
        defines=(),
        directives=(),
        environment=(),
    )
)
def test_generated_tree_matches_apache2(generated: Case) -> None:
    with tempfile.TemporaryDirectory() as work:
        tcpaudit_root = Path(work) / "tcpaudit"
        for path, data in generated.files.items():
            target = tcpaudit_root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(data, str):
                target.symlink_to(data)
            else:
                target.write_bytes(data)
        apache_root = Path(work) / "apache"
        shutil.copytree(tcpaudit_root, apache_root, symlinks=True)
        map_tree(apache_root)
        options = tuple(
            word
            for flag, values in (("-D", generated.defines), ("-C", generated.directives))
            for value in values
            for word in (flag, value)
        )
        linked = ("mpm_prefork_module",) if generated.build == "linked-prefork" else ()
        environment = dict(generated.environment)
        # apache2 runs in its own process while tcpaudit reads the tree here:
        # on two cores, each example costs the longer of the two, not the sum.
        apache2 = _POOL.submit(run_apache, apache_root, TREE.main_file, TREE.server_root,
                               options=options, environment=environment, preload=linked)  # fmt: skip
        hidden = _third_party_hidden() if generated.build == "third-party" else nullcontext()
        with hidden:
            try:
                loaded = load_apache(
                    TREE.main_file, root=tcpaudit_root, version=apache_version(),
                    compiled_in=(*static_modules(), *linked), defines=generated.defines,
                    directives=generated.directives, environment=environment,
                )  # fmt: skip
            except ApacheConfigError as exc:
                loaded = exc  # type: ignore[assignment]
        run = apache2.result()
        event(f"{generated.build}: apache2 {'accepts' if run.accepted else 'refuses'}")
        invalid = _INVALID.search(run.stderr)
        if (
            generated.build == "third-party"
            and run.error is not None
            and invalid is not None
            and _hidden_owners(invalid.group(1).lower()) is None
            # A name spelled by an undefined ${VAR} or with a byte-order mark
            # is no module's, third-party or not: tcpaudit refuses those too
            # (httpd prints the mark's bytes escaped, as \xef\xbb\xbf).
            and "${" not in invalid.group(1)
            and not invalid.group(1).lstrip("<").startswith(("\ufeff", "\\xef\\xbb\\xbf"))
        ):
            # A name no module tcpaudit knows registers, where a third-party
            # module is loaded: tcpaudit cannot refuse it and notes that line;
            # then it reads on (and may refuse a later line apache2 never reached).
            if isinstance(loaded, ApacheConfigError):
                assert (loaded.file, loaded.line) != run.error, (run.stderr, loaded)
            else:
                assert loaded is not None
                noted = {(note.file, note.line) for note in loaded.notes
                         if "not known to tcpaudit" in note.message}  # fmt: skip
                assert run.error in noted, (run.stderr, loaded.notes)
            event("third-party: unknown name noted where apache2 refuses")
            return
        assert_same(run, loaded)  # type: ignore[arg-type]
