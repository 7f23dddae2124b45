"""Which module registers each directive, where it is allowed, and which run early.

httpd refuses to start on a directive no loaded module registers ("Invalid
command ..., perhaps misspelled or defined by a module not included in the
server configuration"), and ``<IfDirective>``/``<IfSection>`` ask the same
question. This module answers it from ``directives-2.4.tsv`` (generated from
``apache2 -L`` of httpd 2.4 with every module loaded, see
tests/apache/apache_directive_table.py: owners and "Allowed in"), plus
hand-kept lists for httpd 2.2 and for common third-party modules. A directive
in none of them is *unknown*: tcpaudit cannot tell which module owns it and
says so in a note instead of refusing. ``walk.py`` applies these answers.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

__all__ = [
    "KEPT_READ_TIME_DIRECTIVES",
    "PROXY_SECTION_DIRECTIVES",
    "READ_TIME_DIRECTIVES",
    "WALKED_READ_TIME_DIRECTIVES",
    "allowed_by_authconfig",
    "allowed_here",
    "canonical_name",
    "directive_owners",
    "known_modules",
    "probed_version",
    "similar_directive",
    "word_count_kind",
]

_TABLE_FILE = "directives-2.4.tsv"
_MODULES_FILE = "modules-2.4.txt"
_OVERRIDES_FILE = "overrides-2.4.tsv"

# Directives httpd executes while reading the files (EXEC_ON_READ in httpd 2.4's
# core.c, mod_so.c, mod_version.c, mod_macro.c, mod_remoteip.c, mod_lua.c) when their
# module is loaded at that point: they change what is read next and never reach
# the configuration tree `-D DUMP_CONFIG` prints, but for mod_remoteip's two
# lists (WALKED_READ_TIME_DIRECTIVES). The evaluator keeps four of them in its tree
# all the same (KEPT_READ_TIME_DIRECTIVES): they tell which modules and names a
# configuration relies on.
READ_TIME_DIRECTIVES: dict[str, str] = {
    "define": "core_module",
    "undefine": "core_module",
    "include": "core_module",
    "includeoptional": "core_module",
    "loadmodule": "so_module",
    "loadfile": "so_module",
    "serverroot": "core_module",
    "defaultruntimedir": "core_module",
    "<ifmodule": "core_module",
    "<ifdefine": "core_module",
    "<iffile": "core_module",
    "<ifdirective": "core_module",
    "<ifsection": "core_module",
    "<ifversion": "version_module",
    "<macro": "macro_module",
    "use": "macro_module",
    "undefmacro": "macro_module",
    "remoteiptrustedproxylist": "remoteip_module",
    "remoteipinternalproxylist": "remoteip_module",
    # Registers an authorization provider as it is read, in any section.
    "luaauthzprovider": "lua_module",
}
KEPT_READ_TIME_DIRECTIVES = frozenset({"loadmodule", "define", "undefine", "serverroot"})
# Run while reading, yet kept in httpd's tree and checked by its walk like any
# other directive, place and word count (measured: mod_remoteip's lists are
# refused in <Directory> at the walk, after earlier lines' errors).
WALKED_READ_TIME_DIRECTIVES = frozenset({"remoteiptrustedproxylist", "remoteipinternalproxylist"})

_MPMS_2_2 = frozenset({"mpm_prefork_module", "mpm_worker_module", "mpm_event_module"})

# httpd 2.2 ownership where it differs from 2.4 (the 2.2 module pages on
# httpd.apache.org/docs/2.2/mod/): access control lived in mod_authz_host and
# core, User/Group in the MPMs, the 2.2 cache back-ends had other names.
_OWNERS_2_2: dict[str, frozenset[str]] = {
    # core.c in 2.2; mod_authn_core, mod_authz_core and mod_filter took them in 2.3.
    "authtype": frozenset({"core_module"}),
    "authname": frozenset({"core_module"}),
    "require": frozenset({"core_module"}),
    "addoutputfilterbytype": frozenset({"core_module"}),
    "order": frozenset({"authz_host_module"}),
    "allow": frozenset({"authz_host_module"}),
    "deny": frozenset({"authz_host_module"}),
    "satisfy": frozenset({"core_module"}),
    "user": _MPMS_2_2,
    "group": _MPMS_2_2,
    "acceptmutex": _MPMS_2_2,
    "lockfile": _MPMS_2_2,
    "identitycheck": frozenset({"core_module"}),
    "authdefaultauthoritative": frozenset({"authn_default_module"}),
    "authzdefaultauthoritative": frozenset({"authz_default_module"}),
    "authzuserauthoritative": frozenset({"authz_user_module"}),
    "authzgroupfileauthoritative": frozenset({"authz_groupfile_module"}),
    "authzldapauthoritative": frozenset({"authnz_ldap_module"}),
    "sslmutex": frozenset({"ssl_module"}),
    "mcachesize": frozenset({"mem_cache_module"}),
    "mcachemaxobjectcount": frozenset({"mem_cache_module"}),
    "mcacheminobjectsize": frozenset({"mem_cache_module"}),
    "mcachemaxobjectsize": frozenset({"mem_cache_module"}),
    "mcacheremovalalgorithm": frozenset({"mem_cache_module"}),
    "mcachemaxstreamingbuffer": frozenset({"mem_cache_module"}),
    "cacheroot": frozenset({"disk_cache_module"}),
    "cachedirlevels": frozenset({"disk_cache_module"}),
    "cachedirlength": frozenset({"disk_cache_module"}),
    "cachemaxfilesize": frozenset({"disk_cache_module"}),
    "cacheminfilesize": frozenset({"disk_cache_module"}),
}

# Modules that first shipped with httpd 2.3/2.4: in a 2.2 configuration their
# directives' 2.2 owner (if any) is not known here.
_NEW_IN_2_4 = frozenset(
    {
        "access_compat_module",
        "authn_core_module",
        "authz_core_module",
        "unixd_module",
        "watchdog_module",
        "slotmem_shm_module",
        "slotmem_plain_module",
        "socache_shmcb_module",
        "socache_dbm_module",
        "socache_memcache_module",
        "socache_redis_module",
        "cache_disk_module",
        "cache_socache_module",
        "lua_module",
        "macro_module",
        "md_module",
        "http2_module",
        "proxy_http2_module",
        "proxy_html_module",
        "xml2enc_module",
        "session_module",
        "session_cookie_module",
        "session_crypto_module",
        "session_dbd_module",
        "remoteip_module",
        "ratelimit_module",
        "request_module",
        "sed_module",
        "heartbeat_module",
        "heartmonitor_module",
        "lbmethod_heartbeat_module",
        "proxy_fcgi_module",
        "proxy_wstunnel_module",
        "proxy_express_module",
        "proxy_hcheck_module",
        "brotli_module",
        "authnz_fcgi_module",
        "allowmethods_module",
        "buffer_module",
        "data_module",
        "dialup_module",
        "log_debug_module",
    }
)

# Third-party modules common on the distributions tcpaudit reads (their own
# documentation): PHP, mod_wsgi, Subversion's mod_dav_svn and mod_authz_svn.
_PHP = frozenset({"php_module", "php7_module", "php5_module"})
_THIRD_PARTY: dict[str, frozenset[str]] = {
    "php_value": _PHP,
    "php_flag": _PHP,
    "php_admin_value": _PHP,
    "php_admin_flag": _PHP,
    "svnpath": frozenset({"dav_svn_module"}),
    "svnparentpath": frozenset({"dav_svn_module"}),
    "svnlistparentpath": frozenset({"dav_svn_module"}),
    "authzsvnaccessfile": frozenset({"authz_svn_module"}),
    "wsgiscriptalias": frozenset({"wsgi_module"}),
    "wsgidaemonprocess": frozenset({"wsgi_module"}),
    "wsgiprocessgroup": frozenset({"wsgi_module"}),
    "wsgiapplicationgroup": frozenset({"wsgi_module"}),
    "wsgipythonpath": frozenset({"wsgi_module"}),
    "wsgipythonhome": frozenset({"wsgi_module"}),
}


# Third-party modules whose every directive is in _THIRD_PARTY: mod_php
# registers exactly php_value, php_flag, php_admin_value and php_admin_flag.
_COMPLETE_THIRD_PARTY = _PHP


@cache
def probed_version() -> tuple[int, ...]:
    """The httpd release the tables were probed on (their header names it)."""
    text = resources.files(__package__).joinpath(_TABLE_FILE).read_text(encoding="utf-8")
    match = re.search(r"Apache/(\d+)\.(\d+)\.(\d+)", text.split("\n", 1)[0])
    return tuple(int(part) for part in match.groups()) if match else (2, 4)


@cache
def known_modules() -> frozenset[str]:
    """Modules whose every directive tcpaudit knows (httpd 2.4's, probed; mod_php).

    When a configuration loads only these, a directive none of them registers
    is one httpd refuses ("Invalid command"); a module outside this set may
    register anything, and such a directive can only be noted.
    """
    text = resources.files(__package__).joinpath(_MODULES_FILE).read_text(encoding="utf-8")
    probed = {line for line in text.splitlines() if line and not line.startswith("#")}
    return frozenset(probed) | _COMPLETE_THIRD_PARTY


@cache
def _table() -> dict[str, tuple[str, frozenset[str], str, str | None]]:
    text = resources.files(__package__).joinpath(_TABLE_FILE).read_text(encoding="utf-8")
    table: dict[str, tuple[str, frozenset[str], str, str | None]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, owners, where, kind = line.split("\t")
        table[name.lower()] = (
            name,
            frozenset(owners.split(",")),
            where,
            None if kind == "-" else kind,
        )
    return table


@cache
def _overrides() -> dict[str, frozenset[str]]:
    text = resources.files(__package__).joinpath(_OVERRIDES_FILE).read_text(encoding="utf-8")
    table: dict[str, frozenset[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, classes = line.split("\t")
            table[name.lower()] = frozenset(classes.split(","))
    return table


def allowed_by_authconfig(key: str) -> bool | None:
    """Whether httpd 2.4 takes directive ``key`` (lower-cased, "<name" for a
    section) where only AllowOverride AuthConfig's directives are (inside a
    Require section: add_authz_section walks it with OR_AUTHCFG); None for a
    name the probed table lacks."""
    classes = _overrides().get(key)
    if classes is None:
        return None
    return "AuthConfig" in classes or "All" in classes


def similar_directive(key: str) -> str | None:
    """The httpd 2.4 directive a lower-cased unknown name is most likely a typo of."""
    import difflib  # only for a name no module registers: kept out of every start

    # A ratio of 0.85 needs the lengths within 2 / 0.85 - 1 (1.36) times each
    # other: a longer name matches nothing, and difflib would index each of
    # its characters (a 30 MB name: 1.3 GB).
    if len(key) > _longest_name() * 2:
        return None
    matches = difflib.get_close_matches(key, list(_table()), n=1, cutoff=0.85)
    return _table()[matches[0]][0] if matches else None


@cache
def _longest_name() -> int:
    return max(map(len, _table()))


def word_count_kind(key: str) -> str | None:
    """How httpd 2.4 counts the words of a lower-cased directive (``TAKE1``,
    ``FLAG``... see arity.py); None when its handler counts them or it is unknown."""
    known = _table().get(key)
    return known[3] if known else None


def canonical_name(key: str) -> str | None:
    """The spelling httpd registers for a lower-cased directive name, or None if unknown."""
    known = _table().get(key)
    return known[0] if known else None


# Directives declared RSRC_CONF|PROXY_CONF (mod_ssl's SSL_CMD_PXY): refused in
# a directory context but allowed in <Proxy> and <ProxyMatch>, whose contents
# httpd reads with OR_ALL|ACCESS_CONF|PROXY_CONF (mod_proxy.c, proxysection).
PROXY_SECTION_DIRECTIVES = frozenset(
    {
        "sslproxycacertificatefile",
        "sslproxycacertificatepath",
        "sslproxycarevocationcheck",
        "sslproxycarevocationfile",
        "sslproxycarevocationpath",
        "sslproxycheckpeercn",
        "sslproxycheckpeerexpire",
        "sslproxycheckpeername",
        "sslproxyciphersuite",
        "sslproxyengine",
        "sslproxymachinecertificatechainfile",
        "sslproxymachinecertificatefile",
        "sslproxymachinecertificatepath",
        "sslproxyprotocol",
        "sslproxyverify",
        "sslproxyverifydepth",
    }
)


def allowed_here(key: str, in_directory: bool) -> bool:
    """invoke_cmd's override test: ``outside`` directives are refused in a
    directory context, ``inside`` ones everywhere else (`apache2 -L` "Allowed in")."""
    known = _table().get(key)
    where = known[2] if known else "anywhere"
    return not ((where == "outside" and in_directory) or (where == "inside" and not in_directory))


def directive_owners(key: str, version: tuple[int, ...]) -> frozenset[str] | None:
    """Module identifiers that register the lower-cased directive ``key``; None if unknown.

    Section directives are keyed with their ``<`` (``<virtualhost``).
    """
    if version < (2, 4):
        if key in _OWNERS_2_2:
            return _OWNERS_2_2[key]
        known = _table().get(key)
        if known is not None and not known[1] & _NEW_IN_2_4:
            return known[1]
        return _THIRD_PARTY.get(key)
    known = _table().get(key)
    if known is not None:
        return known[1]
    return _THIRD_PARTY.get(key)
