"""Generated Apache trees of realistic shapes, for bench/apache_load.py.

Each shape is a Debian- or RHEL-layout root that both ``tcpaudit facts --root
TREE`` and the real ``apache2 -t`` (see ``apache2_command``) read whole:

- ``sites``: 100 site files of 17-line vhosts, plain words only (the shape
  the benchmark started with);
- ``realistic``: what hosts run: tab indentation, comments and blank lines,
  a port-80 vhost redirecting with ``RewriteCond %{HTTPS} !=on`` and a
  ``<IfModule mod_ssl.c>`` port-443 twin with certificates, HSTS headers,
  ``<Directory>`` and ``<FilesMatch "\\.(cgi|shtml|phtml|php)$">`` per vhost,
  regex escapes, quoted arguments, ``${APACHE_LOG_DIR}`` log paths from
  envvars, a reverse proxy on every tenth site; 100 site files;
- ``per-file``: RHEL's conf.d with one small file per vhost (as many
  files as vhosts), ``Include`` by wildcard.

Run: python bench/shapes.py SHAPE VHOSTS DIR   (writes DIR/SHAPE-VHOSTS)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

__all__ = ["SHAPES", "apache2_command", "apache2_environment", "generate"]

MODULES = Path("/usr/lib/apache2/modules")
SITE_FILES = 100
SHAPES = ("sites", "realistic", "per-file")


def _sites_vhost(index: int) -> list[str]:
    return [
        "<VirtualHost *:80>",
        f"    ServerName site{index}.example.org",
        f"    ServerAlias www.site{index}.example.org",
        "    ServerAdmin webmaster@example.org",
        "    DocumentRoot /tmp",
        "    ErrorLog /dev/null",
        "    CustomLog /dev/null combined",
        "    KeepAliveTimeout 5",
        "    Timeout 60",
        "    <Directory /tmp>",
        "        Options -Indexes",
        "        AllowOverride None",
        "        Require all granted",
        "    </Directory>",
        "    RewriteEngine On",
        f"    RewriteRule ^/old{index}$ /new [R=301,L]",
        "</VirtualHost>",
    ]


def _realistic_vhost(index: int) -> list[str]:
    name = f"shop{index}.example.com"
    lines = [
        f"# {name}: plain HTTP only redirects to HTTPS",
        "<VirtualHost *:80>",
        f"\tServerName {name}",
        f"\tServerAlias www.{name} static.{name}",
        "\tServerAdmin webmaster@example.com",
        "\tDocumentRoot /var/www/html",
        "",
        "\tRewriteEngine On",
        "\tRewriteCond %{HTTPS} !=on",
        "\t" + r"RewriteCond %{REQUEST_URI} !^/\.well-known/acme-challenge/",
        "\tRewriteRule ^/?(.*) https://%{SERVER_NAME}/$1 [R=301,L]",
        "",
        f"\tErrorLog ${{APACHE_LOG_DIR}}/{name}-error.log",
        f"\tCustomLog ${{APACHE_LOG_DIR}}/{name}-access.log combined",
        "</VirtualHost>",
        "",
        "<IfModule mod_ssl.c>",
        "<VirtualHost *:443>",
        f"\tServerName {name}",
        f"\tServerAlias www.{name}",
        "\tDocumentRoot /var/www/html",
        "\tLogLevel warn",
        f'\tErrorLog "${{APACHE_LOG_DIR}}/{name}-ssl-error.log"',
        f'\tCustomLog "${{APACHE_LOG_DIR}}/{name}-ssl-access.log" combined',
        "",
        "\tSSLEngine on",
        "\tSSLCertificateFile\tssl/site.pem",
        "\tSSLCertificateKeyFile\tssl/site.key",
        '\tHeader always set Strict-Transport-Security "max-age=63072000; includeSubDomains"',
        '\tHeader always set X-Content-Type-Options "nosniff"',
        "",
        "\t<Directory /var/www/html>",
        "\t\tOptions -Indexes +FollowSymLinks",
        "\t\tAllowOverride FileInfo AuthConfig",
        "\t\tRequire all granted",
        "\t</Directory>",
        "\t" + r'<FilesMatch "\.(cgi|shtml|phtml|php)$">',
        "\t\tSSLOptions +StdEnvVars",
        "\t</FilesMatch>",
        f"\tRedirectMatch 301 ^/catalog/(.*)\\.html$ https://{name}/products/$1",
        "\tKeepAliveTimeout 5",
    ]
    if index % 10 == 0:
        lines += [
            "\tProxyPreserveHost On",
            "\tProxyPass /api/ http://127.0.0.1:8080/api/ timeout=30 keepalive=On",
            "\tProxyPassReverse /api/ http://127.0.0.1:8080/api/",
        ]
    return [*lines, "</VirtualHost>", "</IfModule>", ""]


def _write_sites(root: Path, vhosts: int, render: object, lines_per_file: int) -> None:
    sites = root / "etc/apache2/sites-enabled"
    sites.mkdir(parents=True, exist_ok=True)
    per_file = -(-vhosts // SITE_FILES)
    for number in range(SITE_FILES):
        first = number * per_file
        lines: list[str] = []
        for index in range(first, min(first + per_file, vhosts)):
            lines.extend(render(index))  # type: ignore[operator]
        (sites / f"site-{number:03d}.conf").write_text("\n".join(lines) + "\n")


def _loads(*names: str) -> list[str]:
    return [f"LoadModule {name}_module {MODULES}/mod_{name}.so" for name in names]


def _certificate(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / "site.pem").exists():
        return
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=bench.invalid", "-keyout", str(directory / "site.key"),
         "-out", str(directory / "site.pem")],
        capture_output=True, check=True,
    )  # fmt: skip


def generate(shape: str, root: Path, vhosts: int) -> None:
    """Write a tree of ``shape`` with ``vhosts`` virtual hosts under ``root``."""
    conf = root / "etc/apache2"
    conf.mkdir(parents=True, exist_ok=True)
    if shape == "sites":
        (conf / "apache2.conf").write_text("\n".join([
            *_loads("mpm_event", "authz_core", "rewrite"),
            "ErrorLog /dev/null", "Listen 80", "Timeout 300", "KeepAlive On",
            "IncludeOptional sites-enabled/*.conf", "",
        ]))  # fmt: skip
        _write_sites(root, vhosts, _sites_vhost, 17)
    elif shape == "realistic":
        (conf / "envvars").write_text(
            "unset HOME\nexport APACHE_RUN_USER=www-data\nexport APACHE_RUN_GROUP=www-data\n"
            "export APACHE_LOG_DIR=/var/log/apache2$SUFFIX\nexport LANG=C\n"
        )
        (conf / "apache2.conf").write_text("\n".join([
            "# Global configuration", "Timeout 300", "KeepAlive On", "MaxKeepAliveRequests 100",
            "KeepAliveTimeout 5", "HostnameLookups Off", "ErrorLog ${APACHE_LOG_DIR}/error.log",
            "LogLevel warn",
            *_loads("mpm_event", "authz_core", "authz_host", "rewrite", "alias", "headers",
                    "mime", "dir", "setenvif", "reqtimeout", "socache_shmcb", "ssl", "proxy",
                    "proxy_http"),
            "<IfModule mpm_event_module>", "\tStartServers\t\t 2", "\tMinSpareThreads\t\t 25",
            "\tMaxSpareThreads\t\t 75", "\tThreadLimit\t\t 64", "\tThreadsPerChild\t\t 25",
            "\tMaxRequestWorkers\t 150", "\tMaxConnectionsPerChild   0", "</IfModule>",
            "RequestReadTimeout header=20-40,MinRate=500 body=10,MinRate=500",
            'LogFormat "%v:%p %h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\"" vhost_combined',
            'LogFormat "%h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\"" combined',
            "Listen 80", "<IfModule ssl_module>", "\tListen 443", "</IfModule>",
            "<Directory />", "\tOptions FollowSymLinks", "\tAllowOverride None",
            "\tRequire all denied", "</Directory>",
            '<FilesMatch "^\\.ht">', "\tRequire all denied", "</FilesMatch>",
            "IncludeOptional sites-enabled/*.conf", "",
        ]))  # fmt: skip
        _certificate(conf / "ssl")
        _write_sites(root, vhosts, _realistic_vhost, 45)
    elif shape == "per-file":
        conf = root / "etc/httpd"
        (conf / "conf.d").mkdir(parents=True, exist_ok=True)
        (conf / "conf").mkdir(parents=True, exist_ok=True)
        (conf / "conf/httpd.conf").write_text("\n".join([
            *_loads("mpm_event", "authz_core", "rewrite"),
            "ErrorLog /dev/null", "Listen 80", "IncludeOptional conf.d/*.conf", "",
        ]))  # fmt: skip
        for index in range(vhosts):
            (conf / f"conf.d/site{index:05d}.conf").write_text(
                "\n".join(_sites_vhost(index)) + "\n"
            )
    else:
        raise ValueError(f"unknown shape {shape!r}: {', '.join(SHAPES)}")


def apache2_command(shape: str, root: Path) -> list[str]:
    """The apache2 -t that reads the same files as ``tcpaudit facts --root root``."""
    if shape == "per-file":
        conf = root / "etc/httpd"
        return ["apache2", "-d", str(conf), "-f", str(conf / "conf/httpd.conf"), "-t"]
    conf = root / "etc/apache2"
    return ["apache2", "-d", str(conf), "-f", str(conf / "apache2.conf"), "-t"]


def apache2_environment(shape: str) -> dict[str, str]:
    """What apachectl would export from the tree's envvars (the realistic shape's)."""
    environment = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
    if shape == "realistic":
        environment |= {"APACHE_LOG_DIR": "/var/log/apache2", "APACHE_RUN_USER": "www-data",
                        "APACHE_RUN_GROUP": "www-data"}  # fmt: skip
    return environment


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in SHAPES or not sys.argv[2].isdigit():
        sys.exit(f"usage: python bench/shapes.py {'|'.join(SHAPES)} VHOSTS DIR")
    shape, count, directory = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    generate(shape, directory / f"{shape}-{count}", count)
