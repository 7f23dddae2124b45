"""The tree walk asks a handler once per spelling of the words, and only where that is safe.

Handlers that judge the words alone (``Options``, ``AllowOverride``, the keyword
tables...) are asked once per (directive, words) in a walk; those that look at
the sections around (``ServerAlias``, ``Alias``) or at earlier lines
(``Listen``) are asked every time. A refusal still names the line it is on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import tcpaudit
from tcpaudit.apache import handlers
from tcpaudit.errors import ApacheConfigError

MODULES = "/usr/lib/apache2/modules"
HEAD = (
    f"LoadModule mpm_event_module {MODULES}/mod_mpm_event.so\n"
    f"LoadModule authz_core_module {MODULES}/mod_authz_core.so\n"
    f"LoadModule alias_module {MODULES}/mod_alias.so\n"
    f"LoadModule rewrite_module {MODULES}/mod_rewrite.so\n"
    "Listen 80\n"
)


def _load(tmp_path: Path, body: str) -> tcpaudit.ApacheConfig | None:
    conf = tmp_path / "usr/local/apache2/conf/httpd.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(HEAD + body)
    return tcpaudit.load_apache(root=tmp_path, version="2.4.71")


def _vhost(body: str) -> str:
    return f"<VirtualHost *:80>\n{body}</VirtualHost>\n"


def test_words_only_handlers_are_handlers() -> None:
    assert set(handlers._HANDLERS) >= handlers._WORDS_ONLY
    for key in ("serveralias", "alias", "scriptalias", "listen"):  # they look around
        assert not handlers.words_decide(key)
    assert handlers.words_decide("options") and handlers.words_decide("servertokens")
    assert not handlers.words_decide("documentroot")  # no handler check at all


def test_a_repeated_refusal_names_its_first_line(tmp_path: Path) -> None:
    body = (
        _vhost("Options -Indexes +FollowSymLinks\n") * 3
        + _vhost("LogLevel warn rewrite:trace2\nOptions Indexes +FollowSymLinks\n")
        + _vhost("Options Indexes +FollowSymLinks\n")
    )
    with pytest.raises(ApacheConfigError) as caught:
        _load(tmp_path, body)
    assert caught.value.line == 5 + 3 * 3 + 3
    assert "Either all Options must start with + or -" in str(caught.value)


def test_a_handler_that_looks_around_is_asked_every_time(tmp_path: Path) -> None:
    # Alias with one word is fine in a <Location>, refused outside one.
    body = "<Location /a>\nAlias /srv/a\n</Location>\nAlias /srv/a\n"
    with pytest.raises(ApacheConfigError) as caught:
        _load(tmp_path, body)
    assert caught.value.line == 5 + 4
    assert "Alias must have two arguments when used globally" in str(caught.value)


def test_a_second_listen_on_the_same_port_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ApacheConfigError) as caught:
        _load(tmp_path, "Listen 8080\nListen 8080\n")
    assert caught.value.line == 5 + 2
    assert "Cannot define multiple Listeners" in str(caught.value)


def test_repeated_valid_words_load(tmp_path: Path) -> None:
    config = _load(tmp_path, _vhost("Options -Indexes\nRewriteEngine On\n") * 50)
    assert config is not None and len(config.vhosts) == 50
