"""mod_proxy's checks of ProxyPass, ProxyPassMatch and BalancerMember, against apache2.

Each case runs ``apache2 -t`` on the same text as tcpaudit: both accept or
both refuse, at the same line.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from apache_harness import MODULE_DIR, run_apache, static_modules
from hypothesis import given, settings
from hypothesis import strategies as st
from test_numbers_as_httpd import DEBIAN, _both, _mpm

from tcpaudit.apache import load_apache
from tcpaudit.apache.proxy_params import _pattern_pieces, _without_port_references

MODULES = "".join(
    f"LoadModule {name}_module {MODULE_DIR}/mod_{name}.so\n"
    for name in ("authz_core", "proxy", "proxy_http", "slotmem_shm", "proxy_balancer",
                 "lbmethod_byrequests")
)  # fmt: skip

# An event server with mod_proxy and its balancer's modules, listening.
_PROXIED = _mpm("event") + MODULES + "Listen 8080\n"
CASES = [
    "ProxyPass /a http://b/ timeout=0",
    "ProxyPass /a http://b/ timeout=abc",
    "ProxyPass /a http://b/ ttl=0",
    "ProxyPass /a http://b/ keepalive=yes",
    "ProxyPass /a http://b/ retry=-1",
    "ProxyPass /a http://b/ disablereuse=maybe",
    "ProxyPass /a http://b/ max=-1",
    "ProxyPass /a http://b/ connectiontimeout=0",
    "ProxyPass /a http://b/ connectiontimeout=500ms",
    "ProxyPass /a http://b/ flushwait=99999999",
    "ProxyPass /a http://b/ status=+Q",
    "ProxyPass /a http://b/ status=+H-D",
    "ProxyPass /a http://b/ foo=1",
    "ProxyPass /a http://b/ =5",
    "ProxyPass /a http://b/ timeout",
    "ProxyPass /a http://b/ nocanon timeout=5 TIMEOUT=6",
    "ProxyPass /a http://b/ timeout=0 timeout=5",
    "ProxyPass /a balancer://x lbmethod=nope",
    "ProxyPass /a balancer://x lbmethod=byrequests",
    "ProxyPass /a balancer://x lbmethod=bytraffic",
    "ProxyPass /a",
    "ProxyPass /a b",
    "ProxyPass /a http:///x",
    "ProxyPass /a http://b:x/",
    "ProxyPass /a ! timeout=0",
    "ProxyPass /a unix:/run/x.sock",
    "ProxyPass /a unix:/run/x.sock|http://localhost/ timeout=0",
    "ProxyPass /a http://b/ mapping=nope",
    "ProxyPass /a http://b/ loadfactor=0.5",
    "ProxyPass /a http://b/ loadfactor=1.5 acquire=0 ping=0",
    "ProxyPass /a http://b/ smax=5 max=2 iobuffersize=100",
    "ProxyPassMatch ~ /a http://b/",
    "ProxyPassMatch ^/a http://b/ retry=0",
    # A worker this server already has covers the URL: parameters ignored.
    "ProxyPass /a http://b/\nProxyPass /c http://b/ timeout=0",
    "ProxyPass /a http://b/\nProxyPass /c http://B/x timeout=0",
    "ProxyPass /a http://b/x\nProxyPass /c http://b/ timeout=0",
    "<VirtualHost *:80>\nProxyPass /a http://b/ timeout=0\n</VirtualHost>",
    "ProxyPass /a http://b/\n<VirtualHost *:80>\nProxyPass /c http://b/ timeout=0\n</VirtualHost>",
    "<Location /l>\nProxyPass http://b/ timeout=0\n</Location>",
    "<Location /l>\nProxyPass http://b/ /x\n</Location>",
    "<Proxy balancer://x>\nBalancerMember http://b timeout=0\n</Proxy>",
    "<Proxy balancer://x>\nBalancerMember http://b route=r1 loadfactor=50\n</Proxy>",
    "<Proxy balancer://x>\nBalancerMember http://b http://c\n</Proxy>",
    "BalancerMember balancer://x http://b timeout=0",
    "BalancerMember balancer://x http://b retry=5",
    "BalancerMember http://b",
    # The sixty-fifth round's: status flags, lengths, AddressTTL, LoadFactor.
    "ProxyPass /a http://b/ status=R",
    "ProxyPass /a http://b/ status=+f-G",
    "ProxyPass /a http://b/ status=O",
    "ProxyPass /a http://b/ route=" + "r" * 63,
    "ProxyPass /a http://b/ route=" + "r" * 64,
    "ProxyPass /a http://b/ redirect=" + "r" * 64,
    # (secret='s length is not judged: its value is hidden as it is read.)
    "ProxyPass /a http://b/ upgrade=" + "u" * 16,
    "ProxyPass /a http://b/ upgrade=ANY",
    "ProxyPass /a http://b/ flusher=" + "f" * 16,
    "ProxyPass /a balancer://x nonce=" + "n" * 70,
    "ProxyPass /a balancer://x nonce=None",
    "ProxyPass /a http://" + "h" * 300 + "/",
    "ProxyPass /a http://b/ addressttl=abc",
    "ProxyPass /a http://b/ addressttl=-5",
    "ProxyPass /a http://b/ addressttl=2147483648",
    "ProxyPass /a http://b/ addressttl=-1",
    "ProxyPass /a http://b/ addressttl=5",
    "ProxyPass /a http://b/ loadfactor=0x10",
    "ProxyPass /a http://b/ loadfactor=100.009",
    "ProxyPass /a http://b/ loadfactor=0.999",
    "ProxyPass /a balancer:// timeout=5",
    "ProxyPass /a balancer:x",
    # Worker names drop the scheme's default port.
    "ProxyPass /a http://b:80/\nProxyPass /c http://b/ timeout=0",
    "ProxyPass /a https://b:443/\nProxyPass /c https://b/ timeout=0",
    "ProxyPass /a http://b/\nProxyPass /c http://b:80/ timeout=0",
    # A member's worker is its balancer's, not the server's.
    "<Proxy balancer://x>\nBalancerMember http://b\n</Proxy>\nProxyPass /c http://b/ timeout=0",
    # ProxySet: in <Proxy>, or naming a worker or balancer that must exist.
    "<Proxy balancer://x>\nProxySet timeout=0\n</Proxy>",
    "<Proxy balancer://x>\nProxySet lbmethod=nope\n</Proxy>",
    "<Proxy balancer://x>\nProxySet lbmethod=byrequests stickysession=S\n</Proxy>",
    "<Proxy http://b>\nProxySet timeout=0\n</Proxy>",
    "<Proxy http://b>\nProxySet timeout=5\n</Proxy>",
    "ProxySet balancer://x timeout=0",
    "ProxySet http://b/ foo=1",
    "ProxyPass /a http://b/\nProxySet http://b/ timeout=0",
    "ProxyPass /a http://b/\nProxySet http://b/ timeout=5",
    "ProxyPass /a balancer://x\nProxySet balancer://x timeout",
    # The sixty-sixth round's: a <Proxy> line's own parameters.
    "<Proxy balancer://x timeout=0>\nBalancerMember http://a\n</Proxy>",
    "<Proxy balancer://x foo=1>\nBalancerMember http://a\n</Proxy>",
    "<Proxy balancer://x timeout=5>\nBalancerMember http://a\n</Proxy>",
    "<Proxy http://b/ retry=-1>\n</Proxy>",
    "<Proxy http://b/ bogus=1>\n</Proxy>",
    "<Proxy http://b/* timeout=5>\n</Proxy>",
    "<Proxy * timeout=5>\n</Proxy>",
    "<Proxy /x timeout=5>\n</Proxy>",
    "<Proxy http://b/ timeout>\n</Proxy>",
    "<Proxy balancer:/x timeout=5>\n</Proxy>",
    "<Proxy http:/b timeout=5>\n</Proxy>",
    "<ProxyMatch ^http://b/ timeout=5>\n</ProxyMatch>",
    "<Proxy proxy:balancer://x>\nBalancerMember http://a\n</Proxy>",
    "<Proxy proxy:http://b/>\nProxySet timeout=5\n</Proxy>",
    # ProxyPassMatch: $N in the port; its workers apart from ProxyPass's.
    "ProxyPassMatch ^/(\\d+)$ http://b:$1/",
    "ProxyPassMatch ^/(.*)$ http://[::1]:$1/ timeout=5",
    "ProxyPass /a http://b:$1/",
    "ProxyPass /a http://b/\nProxyPassMatch ^/c(.*)$ http://b/$1 timeout=0",
    "ProxyPassMatch ^/a http://b/\nProxyPass /c http://b/ timeout=0",
    "ProxyPass /c http://b/\nProxyPassMatch ^/a http://b/ timeout=0",
    "ProxyPassMatch ^/a http://b/$1\nProxyPassMatch ^/c http://b/$1 timeout=0",
    # A hidden password or value: the rest is still checked.
    "ProxyPass /a http://user:s3cretpass@b/ timeout=0",
    "Define DB_PASSWORD hunter2x\nProxyPass /a http://u:${DB_PASSWORD}@b/ timeout=0",
    # (timeout=${API_TOKEN}: a hidden value httpd reads, not judged.)
    "Define API_TOKEN 7\n<Proxy balancer://${API_TOKEN}>\nBalancerMember http://a timeout=0\n</Proxy>",
    # A secret in the query leaves the rest of the URL to judge.
    "ProxyPass /a http://b:x/?api_key=S3cr3tPassw0rd",
    "ProxyPass /a http//b/?token=S3cr3tPassw0rdS3cr3t",
    "ProxySet http://b/?password=S3cr3tPassw0rd timeout=5",
    # A ProxyPassMatch port: httpd cuts "$N" (a digit after '$') and what
    # follows it to the path, from the authority's first ':' on.
    "ProxyPassMatch ^/(a) http://b:-$1/",
    "ProxyPassMatch ^/(a) http://b:$a/",
    "ProxyPassMatch ^/(a) http://b:x$1/",
    "ProxyPassMatch ^/(a) http://b:1$1x/",
    "ProxyPassMatch ^/(a) http://b:$1$x/",
    "ProxyPassMatch ^/(a) http://[::1$1]/",
    # apr reads a port with strtol: a sign, blanks; 16 bits; 0 or the
    # scheme's own is no port (the next line shares that worker).
    "ProxyPass /a http://b:-1/",
    "ProxyPass /a http://b:+80/\nProxyPass /c http://b/ timeout=0",
    'ProxyPass /a "http://b: 80/"',
    "ProxyPass /a http://b:\u00b2/",
    "ProxyPass /a http://b:65616/\nProxyPass /c http://b/ timeout=0",
    "ProxyPass /a http://b:0/\nProxyPass /c http://b/ timeout=0",
    "ProxyPass /a http://b:/\nProxyPass /c http://b/ timeout=0",
    "ProxyPass /a http://[::1/",
    "ProxyPass /a http://[/",
    "ProxyPass /a http://[::1]x/",
    "ProxyPass /a http://[::1]:x/",
    # A ProxySet outside <Proxy> finds a ProxyPassMatch's worker too.
    "ProxyPassMatch ^/(a) http://b/$1 timeout=3\nProxySet http://b/zz timeout=7",
    "ProxyPassMatch ^/(a) http://b/$1 timeout=3\nProxySet http://c/zz timeout=7",
    "ProxyPassMatch ^/(a) http://b/$1\n<Proxy http://b/zz>\nProxySet timeout=7\n</Proxy>\n"
    "ProxyPass /q http://b/zz timeout=9",
    # A BalancerMember outside <Proxy> takes its balancer from the
    # section's path; a ProxySet only from a <Proxy> that is its parent.
    "<Location /a>\nBalancerMember http://b1/\n</Location>",
    "<Directory /a>\nBalancerMember http://b1/\n</Directory>",
    "<Files a>\nBalancerMember http://b1/\n</Files>",
    '<If "true">\nBalancerMember http://b1/\n</If>',
    "<Location balancer://c>\nBalancerMember http://b1/\n</Location>",
    "<Directory balancer://c>\nBalancerMember http://b1/\n</Directory>",
    "<Files balancer://c>\nBalancerMember http://b1/\n</Files>",
    "<Directory ~ balancer://c>\nBalancerMember http://b1/\n</Directory>",
    "<Proxy balancer://c>\n<Limit GET>\nBalancerMember http://b1/\n</Limit>\n</Proxy>",
    "<Proxy balancer://c>\n<Limit GET>\nProxySet timeout=5\n</Limit>\n</Proxy>",
    '<Proxy balancer://c>\n<If "true">\nProxySet timeout=5\n</If>\n</Proxy>',
    "<Location /a>\nProxySet timeout=5\n</Location>",
    "ProxyPass /a http://b/\n<Location /a>\nProxySet http://b/ timeout=5\n</Location>",
    # <Proxy> and <ProxyMatch> give add_pass its path (cmd->path), as <Location> does.
    "<Proxy http://b/>\nProxyPass http://c/ timeout=7\n</Proxy>",
    "<Proxy http://b/>\nProxyPass http://c/\n</Proxy>",
    "<Proxy http://b/>\nProxyPass /a http://c/\n</Proxy>",
    "<ProxyMatch ^http://b/>\nProxyPass http://c/\n</ProxyMatch>",
    "<Proxy http://b/>\nProxyPassMatch http://c/\n</Proxy>",
    "<Proxy balancer://x>\nBalancerMember http://m1/\nProxyPass balancer://x/\n</Proxy>",
    "<Proxy http://b/>\n<IfModule proxy_module>\nProxyPass http://c/\n</IfModule>\n</Proxy>",
    # A match worker's path is compiled as a regular expression, even a "!" route's.
    "<Proxy *>\nProxyPass http://c/\n</Proxy>",
    "<Proxy *>\nProxyPass !\n</Proxy>",
    "<Proxy http://b/*>\nProxyPass http://c/\n</Proxy>",
    "<Location /a**>\nProxyPass http://c/\n</Location>",
    "<Location /(*>\nProxyPass http://c/\n</Location>",
    '<Location "/a(*">\nProxyPass !\n</Location>',
    "<Location /[a*>\nProxyPass http://c/\n</Location>",
    "<Location /a{2,1}*>\nProxyPass http://c/\n</Location>",
    # Python's re refuses "(?<n>...)", PCRE takes it: accepted.
    "<Location /(?<n>a)*>\nProxyPass http://c/\n</Location>",
    "ProxyPassMatch ^/(a* http://b/",
    "ProxyPassMatch ^/a) http://b/",
    "ProxyPass ~ ^/a** http://b/",
    "ProxyPassMatch ^/(?<n>a) http://b/$1",
    # PCRE's verbs and options, which Python's re takes for "nothing to repeat".
    'ProxyPassMatch "^/a(*FAIL)" http://b/',
    'ProxyPassMatch "(*UTF)^/a" http://b/',
    'ProxyPassMatch "^/a(*MARK:x)b" !',
    '<Location "/a*(*COMMIT)">\nProxyPass http://c/\n</Location>',
    # A section's own expression, compiled before its contents are read.
    '<LocationMatch "^/(">\nRequire all granted\n</LocationMatch>',
    '<Location ~ "^/(">\nRequire all granted\n</Location>',
    '<DirectoryMatch "^/(">\nRequire all granted\n</DirectoryMatch>',
    '<Files ~ "a{2,1}">\nRequire all granted\n</Files>',
    '<FilesMatch "(">\nRequire all granted\n</FilesMatch>',
    '<ProxyMatch "^http://b/(">\nProxySet timeout=5\n</ProxyMatch>',
    '<ProxyMatch "proxy:[">\nRequire all granted\n</ProxyMatch>',
    '<LocationMatch "^/a(*FAIL)">\nRequire all granted\n</LocationMatch>',
    '<LocationMatch "^/(?<n>a)">\nRequire all granted\n</LocationMatch>',
    '<Directory ~ "^/srv/[a-z]+">\nRequire all granted\n</Directory>',
]


@pytest.mark.parametrize("text", CASES)
def test_proxy_lines_are_checked_as_mod_proxy_checks_them(tmp_path: Path, text: str) -> None:
    _both(tmp_path, _PROXIED + text + "\n")


def test_a_port_reference_cut_from_a_hidden_password_is_not_refused(tmp_path: Path) -> None:
    # httpd cuts "$1@b:x" from the userinfo's ':' and accepts the line; the
    # password is hidden as it is read, so the dumps differ by that word only.
    text = _PROXIED + "ProxyPassMatch ^/(a) http://u:$1@b:x/\n"
    with pytest.raises(AssertionError, match="tcpaudit-redacted"):
        _both(tmp_path, text)
    run = run_apache(tmp_path / "apache", DEBIAN.main_file, DEBIAN.server_root)
    assert run.returncode == 0, run.stderr
    loaded = load_apache(DEBIAN.main_file, root=tmp_path / "tcpaudit", version="2.4.71",
                         compiled_in=static_modules())  # fmt: skip
    assert [route.url for route in loaded.proxy_routes] == ["http://u:tcpaudit-redacted@b:x/"]


def test_a_route_sharing_a_worker_runs_with_the_workers_parameters(tmp_path: Path) -> None:
    # apache2 warns "Ignoring parameter 'timeout=700' ... because of worker
    # sharing" (AH01146): /c runs with the worker /a defined, timeout 5.
    run, loaded = _both(
        tmp_path,
        _PROXIED + "ProxyPass /a http://b/ timeout=5\nProxyPass /c http://b/ timeout=700\n",
    )
    assert "AH01146" in run.stderr  # type: ignore[attr-defined]
    first, second = loaded.proxy_routes  # type: ignore[attr-defined]
    assert (first.params, first.shared_with) == ({"timeout": "5"}, None)
    assert second.params == {"timeout": "5"}
    assert second.shared_with == f"{first.file}:{first.line}"


def test_a_route_in_a_proxy_section_defines_the_worker_a_later_route_shares(
    tmp_path: Path,
) -> None:
    # It was refused ("ProxyPass URL must be absolute!"): its worker, with its
    # timeout, is the one a later ProxyPass to the same URL runs with.
    run, loaded = _both(
        tmp_path,
        _PROXIED + "<Proxy http://b/>\nProxyPass http://c/ timeout=7\n"
        "</Proxy>\nProxyPass /z http://c/ timeout=700\n",
    )
    assert "AH01146" in run.stderr  # type: ignore[attr-defined]
    first, second = loaded.proxy_routes  # type: ignore[attr-defined]
    assert (first.path, first.url, first.params) == ("http://b/", "http://c/", {"timeout": "7"})
    assert (second.path, second.params) == ("/z", {"timeout": "7"})
    assert second.shared_with == f"{first.file}:{first.line}"


@pytest.mark.parametrize(
    ("section", "path"),
    [("<Location ~ ^/x>", "^/x"), ("<LocationMatch ^/y>", "^/y"), ("<Location /z>", "/z")],
)
def test_a_route_in_a_location_takes_its_path_as_httpd_keeps_it(
    tmp_path: Path, section: str, path: str
) -> None:
    # core.c's urlsection: cmd->path is the expression after "~" (the route
    # was recorded with the path "~").
    closing = "</LocationMatch>" if "Match" in section else "</Location>"
    _, loaded = _both(
        tmp_path,
        _mpm("event") + MODULES + f"Listen 8080\n{section}\nProxyPass http://c/zz timeout=3\n"
        f"{closing}\n",
    )
    (route,) = loaded.proxy_routes  # type: ignore[attr-defined]
    assert (route.path, route.params) == (path, {"timeout": "3"})


@pytest.mark.parametrize(
    "text",
    [
        "ProxyPass /a http//alice:S3cr3tPassw0rd@backend.example/",
        "BalancerMember balancer://x http:/alice:S3cr3tPassw0rd@x/",
        "ProxyPass /a balancer:/alice:S3cr3tPassw0rd@x/",
        "<Proxy balancer://x>\nProxySet nonce=S3cr3tPassw0rd" + "x" * 40 + "\n</Proxy>",
        "<Proxy http://b/>\nProxySet upgrade=S3cr3tPassw0rdghp_abcdefghijklmnop\n</Proxy>",
        "ProxySet http://alice:S3cr3tPassw0rd@nowhere/ timeout=5",
        # A password holding '/', '?' or '#': the authority ends there for
        # httpd, the password goes on to the '@'.
        "ProxyPass /a http://alice:abc/S3cr3tPassw0rd@backend.example/",
        "ProxyPass /a http://alice:abc?S3cr3tPassw0rd@backend.example:x/",
    ],
)
def test_an_error_line_of_mod_proxy_never_shows_a_password(tmp_path: Path, text: str) -> None:
    # The refusals quoted the URL or the value: a malformed URL's password,
    # a nonce or a token reached the error line.
    run, loaded = _both(tmp_path, _PROXIED + text + "\n")
    assert not run.accepted  # type: ignore[attr-defined]
    assert "S3cr3tPassw0rd" not in str(loaded) and "abc" not in str(loaded)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("http://$1/", "http://backend.internal:8080/$1"),
        ("http://b/$1", "http://b/zz"),
        ("http://b/x$1", "http://b/xyz"),
        ("http://b/$1/q", "http://b/zzz/q"),
        ("http://$1/", "http://other/"),
        ("http://b:8$1/x", "http://b:8/$1/x"),
        ("http://b/$1", "http://b/z"),  # the name is longer than the URL
        ("http://b/$1", "http://c/zzzzz"),
        ("http://b/\\\\x$1", "http://b/\\\\xyz"),
        ("http://b", "http://bb/x"),  # no path: a prefix of another host
        ("http://b", "http://b/x"),
        ("http://a$1", "http://abcdefgh/y"),  # a $N name: no bound of the host's length
        ("http://a/$1", "http://abcdefgh/y"),
        ("http://b$1", "http://bb/x"),
    ],
)
def test_a_proxypassmatch_worker_name_is_matched_as_httpd_matches_it(
    tmp_path: Path, first: str, second: str
) -> None:
    # ap_proxy_get_worker_ex compares a ProxyPassMatch worker's name as a
    # pattern ($N: any text) against the next ProxyPassMatch's URL, without
    # the scheme://host bound of a prefix; apache2 -t says AH01146 when the
    # second line shares the first one's worker.
    text = _PROXIED + f"ProxyPassMatch ^/(a) {first}\nProxyPassMatch ^/(c) {second} timeout=7\n"
    run, loaded = _both(tmp_path, text)
    shared_by_apache = "Ignoring parameter 'timeout=7'" in run.stderr  # type: ignore[attr-defined]
    routes = loaded.proxy_routes  # type: ignore[attr-defined]
    assert (routes[1].shared_with is not None) == shared_by_apache, run.stderr  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "lines",
    [
        "ProxyPass ~ ^/(a) http://b/$1\nProxyPassMatch ^/(c) http://b/zz timeout=7",
        "ProxyPassMatch ^/(a) http://b/$1\nProxyPass ~ ^/(c) http://b/zz timeout=7",
        "<Location /app*>\nProxyPass http://b/$1\n</Location>\n"
        "ProxyPassMatch ^/(c) http://b/zz timeout=7",
        "<LocationMatch ^/api/.*>\nProxyPass http://b/$1\n</LocationMatch>\n"
        "ProxyPassMatch ^/(c) http://b/zz timeout=7",
        "<LocationMatch ^/api/>\nProxyPass http://b/$1\n</LocationMatch>\n"
        "ProxyPassMatch ^/(c) http://b/zz timeout=7",
        "<LocationMatch ^/api/>\nProxyPass http://b/$1\n</LocationMatch>\n"
        "ProxyPass /c http://b/$1zz timeout=7",
        "<Location /a[b]>\nProxyPass http://b/$1\n</Location>\n"
        "ProxyPassMatch ^/(c) http://b/zz timeout=7",
        "<Location /a\\\\*>\nProxyPass http://b/$1\n</Location>\n"
        "ProxyPassMatch ^/(c) http://b/zz timeout=7",
    ],
)
def test_a_proxypass_makes_a_match_worker_where_httpd_does(tmp_path: Path, lines: str) -> None:
    # add_pass makes a ProxyPass's worker a match one after '~' and in a
    # location whose path is a wildcard pattern (apr_fnmatch_test): a later
    # ProxyPassMatch then shares it (AH01146), a later ProxyPass does not.
    text = _PROXIED + lines + "\n"
    run, loaded = _both(tmp_path, text)
    shared_by_apache = "Ignoring parameter 'timeout=7'" in run.stderr  # type: ignore[attr-defined]
    last = loaded.proxy_routes[-1]  # type: ignore[attr-defined]
    assert last.words == ["timeout=7"]
    assert (last.shared_with is not None) == shared_by_apache, run.stderr  # type: ignore[attr-defined]


def _pieces_walked(name: str) -> tuple[str, ...] | None:
    """The pieces of a match worker's name, walked character by character (the
    form the search replaced, as it was)."""
    pieces: list[str] = []
    piece: list[str] = []
    index = 0
    while index < len(name):
        char = name[index]
        if char == "$" and name[index + 1 : index + 2] in _DIGITS:
            pieces.append("".join(piece))
            piece = []
            while name[index : index + 1] == "$" and name[index + 1 : index + 2] in _DIGITS:
                index += 2
            continue
        if char == "\\":
            index += 1
            if index >= len(name):
                return None
            char = name[index]
        piece.append(char)
        index += 1
    pieces.append("".join(piece))
    return tuple(pieces)


_DIGITS = frozenset("0123456789")


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="$1\\a/:", max_size=16))
def test_match_worker_pieces_are_searched_as_they_were_walked(name: str) -> None:
    # Searched in C now: a 32 MiB ProxyPassMatch port took 49 s walked.
    assert _pattern_pieces(name) == _pieces_walked(name)


def test_a_match_workers_port_reference_is_cut_as_it_was() -> None:
    assert _without_port_references("http://h:$1/x") == ("http://h:/x", "$1")
    assert _without_port_references("http://h:80$1x/y") == ("http://h:80/y", "$1x")
    assert _without_port_references("http://h:$x/y") == ("http://h:$x/y", "")
    assert _without_port_references("http://h/$1") == ("http://h/$1", "")
    assert _without_port_references("h:$1") == ("h:$1", "")
    assert _without_port_references("http://h:1$2") == ("http://h:1", "$2")
