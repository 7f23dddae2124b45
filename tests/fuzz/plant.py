"""Secrets and a place outside the root, planted in each fuzzed tree after it is mutated.

Every promise of SECURITY.md about secrets is tested with a canary: a
TCP Fast Open key in /proc/sys and in sysctl.d lines (directly and through
globs), a PEM private key that a directive names, a secret-named variable in
envvars, secrets written in directives (a proxy URL's password, AJP's
secret=, AuthLDAPBindPassword, a credential header, a secret-named variable
or parameter), and files outside the root that links point to. None may appear in
any output, error message, facts document or snapshot.
"""

from __future__ import annotations

import random
from pathlib import Path

from trees import Node, Tree

__all__ = ["OUTSIDE_CANARY", "SECRET_CANARY", "make_outside", "plant"]

SECRET_CANARY = "SECRET-CANARY-3f9a"
OUTSIDE_CANARY = "OUTSIDE-CANARY-77c4"


def make_outside(directory: Path) -> Path:
    """A directory beside the roots, every file of which holds OUTSIDE_CANARY."""
    (directory / "dir" / "ipv4").mkdir(parents=True, exist_ok=True)
    for name in ("secret", "dir/a.conf", "dir/ipv4/tcp_retries2", "dir/osrelease"):
        (directory / name).write_text(f"ServerName {OUTSIDE_CANARY}\n{OUTSIDE_CANARY}\n")
    return directory


def _config_files(tree: Tree) -> list[str]:
    return sorted(
        path
        for path, node in tree.items()
        if node.kind == "file" and path.endswith(".conf") and "sysctl" not in path
    )


def plant(tree: Tree, rng: random.Random) -> list[str]:
    """Plant some of the canaries in ``tree``; return what was planted."""
    planted: list[str] = []
    secret = SECRET_CANARY
    if rng.random() < 0.7:
        mode = rng.choice([0o600, 0o644])
        tree["proc/sys/net/ipv4/tcp_fastopen_key"] = Node(
            "file", data=f"{secret}\n".encode(), mode=mode
        )
        planted.append(f"proc tcp_fastopen_key {mode:o}")
    if rng.random() < 0.7:
        lines = rng.sample(
            [
                f"net.ipv4.tcp_fastopen_key = {secret}",
                f"-net.ipv4.tcp_fastopen_key={secret}",
                f"net.ipv4.tcp_fastopen_ke? = {secret}",
                f"net/ipv4/tcp_fastopen_k[e]y = {secret}",
                f"net.ipv4.tcp_* = {secret}",
                f"net.core.netdev_rss_* = {secret}",
                f"net.ipv4.tcp_fast*_key = {secret}",
            ],
            k=rng.randint(1, 4),
        )
        where = rng.choice(
            ["etc/sysctl.d/55-tfo.conf", "usr/lib/sysctl.d/55-tfo.conf", "etc/sysctl.conf"]
        )
        previous = tree.get(where)
        head = previous.data + b"\n" if previous is not None and previous.kind == "file" else b""
        tree[where] = Node("file", data=head + "\n".join(lines).encode() + b"\n")
        planted.append(f"sysctl lines in {where}")
    configs = _config_files(tree)
    if configs and rng.random() < 0.5:
        tree["etc/ssl/private/canary.key"] = Node(
            "file",
            data=(
                "-----BEGIN PRIVATE KEY-----\n"
                f"MIIEvQIBADANBgkqhkiG9w0BAQEFAASC{secret}\n"
                "-----END PRIVATE KEY-----\n"
            ).encode(),
            mode=0o600,
        )
        target = rng.choice(configs)
        node = tree[target]
        tree[target] = Node(
            "file",
            data=node.data + b"\nSSLCertificateKeyFile /etc/ssl/private/canary.key\n",
            mode=node.mode,
        )
        planted.append(f"key named in {target}")
    if configs and rng.random() < 0.5:
        # Secrets httpd needs, written in directives (each inside the
        # <IfModule> of its module, so a tree without it still loads).
        lines = rng.sample(
            [
                f"<IfModule mod_proxy.c>\nProxyPass /p/ http://admin:{secret}@127.0.0.1:8080/\n"
                "</IfModule>",
                f"<IfModule mod_proxy.c>\nProxyPass /a/ ajp://127.0.0.1:8009/ secret={secret}\n"
                "</IfModule>",
                f"<IfModule mod_authnz_ldap.c>\nAuthLDAPBindPassword {secret}\n</IfModule>",
                f'<IfModule mod_headers.c>\nRequestHeader set Authorization "Bearer {secret}"\n'
                "</IfModule>",
                f"<IfModule mod_setenvif.c>\nSetEnvIf Request_URI ^/x DB_PASSWORD={secret}\n"
                "</IfModule>",
                f"Define PROXY_PASSWORD {secret}",
                f"Define BACKEND http://svc:{secret}@127.0.0.1:8081/",
                f"Define PW {secret}\n<IfModule mod_proxy.c>\n"
                "ProxyPass /d/ http://svc:${PW}@127.0.0.1:8084/\n</IfModule>",
                f'<IfModule mod_proxy.c>\nProxyPass /q/ "http://a:p\'x {secret}@127.0.0.1:8085/"\n'
                "</IfModule>",
                f"<IfModule mod_rewrite.c>\nRewriteCond %{{HTTP:X-Api-Key}} !^{secret}$\n</IfModule>",
                f"<IfModule mod_rewrite.c>\nRewriteRule ^/r http://127.0.0.1:8082/?token={secret}"
                " [P]\n</IfModule>",
                # A header name written with mod_headers' trailing colon; any
                # header sent a Bearer value; a Define named in another case.
                f'<IfModule mod_headers.c>\nRequestHeader set Authorization: "Bearer {secret}"\n'
                "</IfModule>",
                f'<IfModule mod_headers.c>\nRequestHeader set X-Upstream "Bearer {secret}"\n'
                "</IfModule>",
                f"Define pw_lower {secret}\n<IfModule mod_proxy.c>\n"
                "ProxyPass /l/ http://svc:${PW_LOWER}@127.0.0.1:8086/\n</IfModule>",
                # A variable a credential header reads through a RewriteCond's capture.
                f"<IfModule mod_setenvif.c>\nSetEnvIf Request_URI . SRCV={secret}\n</IfModule>\n"
                "<IfModule mod_rewrite.c>\nRewriteEngine On\nRewriteCond %{ENV:SRCV} (.+)\n"
                "RewriteRule ^ - [E=UPH:%1]\n</IfModule>\n<IfModule mod_headers.c>\n"
                'RequestHeader set Authorization "Basic %{UPH}e"\n</IfModule>',
                # Comparisons: an expression, a header's condition, a regex of
                # header names, a copy of Authorization; a scheme by its shape.
                "<IfModule mod_rewrite.c>\nRewriteEngine On\n"
                f"RewriteCond expr \"req ('Authorization') == 'Bearer {secret}'\"\n"
                "RewriteRule ^ - [F]\n</IfModule>",
                f"<IfModule mod_headers.c>\nHeader set X-Ok 1 \"expr=resp('Set-Cookie') == '{secret}'\"\n"
                "</IfModule>",
                f'<IfModule mod_setenvif.c>\nSetEnvIf ^Prox.*ation "^{secret}$" ok=1\n</IfModule>',
                '<IfModule mod_setenvif.c>\nSetEnvIf Authorization "(.*)" HC=$1\n'
                f'SetEnvIf HC "^Bearer {secret}$" deny=1\n</IfModule>',
                f'<IfModule mod_headers.c>\nRequestHeader set X-Up "NTLM {secret}"\n</IfModule>',
            ],
            k=rng.randint(1, 4),
        )
        target = rng.choice(configs)
        node = tree[target]
        tree[target] = Node(
            "file", data=node.data + ("\n" + "\n".join(lines) + "\n").encode(), mode=node.mode
        )
        planted.append(f"directive secrets in {target}")
    envvars = tree.get("etc/apache2/envvars")
    if envvars is not None and envvars.kind == "file":
        tree["etc/apache2/envvars"] = Node(
            "file", data=envvars.data + f"\nexport DB_PASSWORD={secret}\n".encode(), mode=0o644
        )
        planted.append("envvars DB_PASSWORD")
    return planted
