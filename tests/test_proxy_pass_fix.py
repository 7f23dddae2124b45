"""The ProxyPass fixes keep every word of the line but the one they change."""

from __future__ import annotations

from pathlib import Path

import pytest

from tcpaudit.apache import load_apache
from tcpaudit.apache.lexer import split_words
from tcpaudit.apache.model import ProxyRoute
from tcpaudit.checks.fixes import proxy_pass_with

EVENT = "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
PROXY = "LoadModule proxy_module modules/mod_proxy.so\n"


def _route(words: list[str], path: str = "/api/") -> ProxyRoute:
    return ProxyRoute(path=path, url="http://10.0.0.5:8080/api/", words=words, file="f", line=1)


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ([], "ProxyPass /api/ http://10.0.0.5:8080/api/ timeout=30"),
        (["nocanon", "Timeout=300", "retry=0"],
         "ProxyPass /api/ http://10.0.0.5:8080/api/ nocanon timeout=30 retry=0"),
        (["interpolate", "keepalive=On"],
         "ProxyPass /api/ http://10.0.0.5:8080/api/ interpolate keepalive=On timeout=30"),
    ],
)  # fmt: skip
def test_only_the_parameter_changes(words: list[str], expected: str) -> None:
    assert proxy_pass_with(_route(words), "timeout", "30") == expected


def test_the_fix_reads_back_as_the_same_words() -> None:
    route = _route(['a "quoted" word', "", "nocanon"], path="/with space/")
    line = proxy_pass_with(route, "keepalive", "On")
    assert split_words(line) == [
        "ProxyPass", "/with space/", "http://10.0.0.5:8080/api/",
        'a "quoted" word', "", "nocanon", "keepalive=On",
    ]  # fmt: skip


def test_the_loader_keeps_flags_in_order(tmp_path: Path) -> None:
    conf = tmp_path / "etc/apache2/apache2.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(
        EVENT + PROXY + "ProxyPass /api/ http://b:8080/ nocanon timeout=300 retry=0 noquery\n"
    )
    config = load_apache(root=tmp_path, version="2.4", compiled_in=("core_module", "so_module"))
    assert config is not None
    (route,) = config.proxy_routes
    assert route.words == ["nocanon", "timeout=300", "retry=0", "noquery"]
    assert route.params == {"timeout": "300", "retry": "0"}


def test_routes_in_location_sections_and_proxypassmatch(tmp_path: Path) -> None:
    conf = tmp_path / "etc/apache2/apache2.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(
        EVENT + PROXY
        + "<Location /b/>\n    ProxyPass http://b/ timeout=300\n</Location>\n"
        + "ProxyPassMatch ^/m/(.*)$ http://m/$1\n"
        + "ProxyPass /x/ !\n"
        + "<VirtualHost *:80>\n<LocationMatch ^/c/>\nProxyPass http://c/\n</LocationMatch>\n"
        + "<Location /skip/>\nProxyPass !\n</Location>\n</VirtualHost>\n"
    )  # fmt: skip
    config = load_apache(root=tmp_path, version="2.4", compiled_in=("core_module", "so_module"))
    assert config is not None
    server = [(r.directive, r.section, r.path, r.url, r.line) for r in config.proxy_routes]
    assert server == [
        ("ProxyPass", "Location /b/", "/b/", "http://b/", 4),
        ("ProxyPassMatch", None, "^/m/(.*)$", "http://m/$1", 6),
    ]
    (vhost,) = config.vhosts
    assert [(r.section, r.path, r.url) for r in vhost.proxy_routes] == [
        ("LocationMatch ^/c/", "^/c/", "http://c/")
    ]
    # A fix inside a Location names the backend only, as the line there does.
    assert (
        proxy_pass_with(config.proxy_routes[0], "timeout", "30") == "ProxyPass http://b/ timeout=30"
    )
    assert proxy_pass_with(config.proxy_routes[1], "keepalive", "On") == (
        "ProxyPassMatch ^/m/(.*)$ http://m/$1 keepalive=On"
    )
