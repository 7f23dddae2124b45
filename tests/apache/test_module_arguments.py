"""ErrorLogFormat, Mutex, mod_expires, mod_autoindex and SSLSessionCache, as apache2 reads them.

Each case goes through the real ``apache2 -t`` and ``load_apache``: both
accept it, or both refuse it at the same line with httpd's message
(module_arguments.py). The generated cases put pieces of the two little
languages (ErrorLogFormat's items, mod_expires' codes) together at random,
with a fixed seed, and hold every one to apache2.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from apache_harness import MODULE_DIR
from test_apache_differential import Tree, main_file_both_ways, refused_as_apache2

from tcpaudit.apache.module_arguments import error_log_format_error, expires_error
from tcpaudit.errors import ApacheConfigError

TREE = Tree("/etc/apache2/apache2.conf", "/etc/apache2")
BASE = [
    *(f"LoadModule {name}_module {MODULE_DIR}/mod_{name}.so"
      for name in ("mpm_event", "authz_core", "expires", "ssl", "socache_shmcb", "autoindex")),
    "ErrorLog /dev/null",
]  # fmt: skip
_MAIN = "main ErrorLogFormat must contain message format string '%M'"
_RAN_OFF = "Ran off end of error log format parsing args to some directive"
_MUTEX = "Invalid Mutex argument"

CASES: dict[str, tuple[list[str], str | None]] = {
    # ErrorLogFormat (core.c): the main format, then per request or connection.
    "elf-ok": (
        [
            'ErrorLogFormat "[%t] [%-m:%l] [pid %P:tid %T] %7F: %E: [client\\ %a] %M% ,\\ referer\\ %{Referer}i"'
        ],
        None,
    ),
    "elf-no-message": (['ErrorLogFormat "[%t]"'], _MAIN),
    "elf-plus-main": (['ErrorLogFormat "%+M"'], "The '+' flag cannot be used"),
    "elf-unknown-letter": (
        ['ErrorLogFormat "%Z %M"'],
        "Unrecognized error log format directive %Z",
    ),
    "elf-open-brace": (['ErrorLogFormat "%{x %M"'], _RAN_OFF),
    "elf-level-16": (['ErrorLogFormat "%16t %M"'], "loglevel modifier is out of range"),
    "elf-level-15": (['ErrorLogFormat "%15t %M"'], None),
    "elf-level-wraps": (['ErrorLogFormat "%4294967297t %M"'], None),
    "elf-request-message": (['ErrorLogFormat request "%M"'], "%M cannot be used"),
    "elf-request-level": (['ErrorLogFormat request "%7t"'], "The loglevel cannot be used"),
    "elf-request-ok": (
        ['ErrorLogFormat request "%+t [%L]"', 'ErrorLogFormat connection "%0t"'],
        None,
    ),
    "elf-connection-empty": (['ErrorLogFormat connection ""'], _MAIN),
    "elf-bad-kind": (['ErrorLogFormat bogus "x"'], "type must be one of request, connection"),
    "elf-trailing-percent": (['ErrorLogFormat "%M%"'], _RAN_OFF),
    "elf-separator": (['ErrorLogFormat "% %M %%"'], None),
    "elf-braces-in-a-row": (['ErrorLogFormat "[%t] %M [referer %{Referer}}i] %{u}}}}}M"'], None),
    "elf-level-unsigned": (
        ['ErrorLogFormat "%2147483648t %M"'],
        "loglevel modifier is out of range",
    ),
    "elf-level-unsigned-2": (['ErrorLogFormat "%3000000000t %M"'], "out of range"),
    "elf-escapes": (['ErrorLogFormat "a\\ b\\%t %M x\\\\"'], None),
    # Mutex (util_mutex.c): the mechanism.
    "mutex-ok": (
        ["Mutex default", "Mutex DEFAULT omitpid", "Mutex sem", "Mutex pthread default"],
        None,
    ),
    "mutex-none": (["Mutex none"], "None is not allowed for mutex type default"),
    "mutex-no-default": (
        ["Mutex NO default omitpid"],
        "None is not allowed for mutex type default",
    ),
    "mutex-bad": (["Mutex bogus"], _MUTEX),
    "mutex-bad-dir": (["Mutex bogus:/var/lock default"], _MUTEX),
    "mutex-empty-mechanism": (["Mutex :/var/lock default"], _MUTEX),
    "mutex-empty": (['Mutex "" default'], "Mutex requires at least a mechanism argument"),
    # mod_expires: check_code.
    "expires-ok": (
        [
            'ExpiresDefault "access plus 1 month"',
            'ExpiresDefault "n p 1 mo 2 y 3 w"',
            "ExpiresByType text/* A1",
            'ExpiresDefault "a3600"',
            'ExpiresByType image/png "M 1 s \\"\\" junk"',
            'ExpiresDefault "nope 5 Seconds"',
        ],
        None,
    ),
    "expires-unit": (['ExpiresDefault "n p 1 m"'], "bad expires code, unrecognised <type>'m'"),
    "expires-number": (['ExpiresDefault "access plus x"'], "numeric value expected <num> 'x'"),
    "expires-missing-unit": (['ExpiresDefault "a 1"'], "bad expires code, missing <type>"),
    "expires-base": (['ExpiresDefault "later plus 1 day"'], "unrecognised <base> 'later'"),
    "expires-mime": (["ExpiresByType text A1"], "Invalid mimetype: should contain a slash"),
    "expires-by-type": (
        ['ExpiresByType text/html "access plus 1 zz"'],
        "'ExpiresByType text/html access plus 1 zz': bad expires code",
    ),
    # mod_autoindex: IndexOptions (built up line by line in a section), the order, icons.
    "index-ok": (
        [
            "<Directory /srv>",
            "IndexOptions FancyIndexing HTMLTable FancyIndexing None",
            "IndexOptions +FoldersFirst -NameWidth NameWidth=* DescriptionWidth=x",
            'IndexOptions Type=text/html Charset=UTF-8 UseOldDateFormat iconwidth iconheight=3 ""',
            "IndexOptions NameWidth=0 IconWidth=-5",
            "</Directory>",
            "<Directory /a>",
            "IndexOptions FancyIndexing",
            "</Directory>",
            "<Location /b>",
            "IndexOptions None",
            "</Location>",
            "IndexOptions FancyIndexing",
            "IndexOrderDefault descending DATE",
            "AddIcon (SND,/icons/sound2.gif) .wav",
            "AddIconByType /icons/text.gif text/*",
        ],
        None,
    ),
    "index-none-then-option": (
        ["<Directory /srv>", "IndexOptions None FancyIndexing", "</Directory>"],
        "Cannot combine other IndexOptions keywords with 'None'",
    ),
    "index-none-a-line-before": (
        [
            "<Location /x>",
            "IndexOptions None",
            "IndexOptions +SuppressIcon",
            "IndexOptions XHTML",
            "</Location>",
        ],
        "Cannot combine other IndexOptions keywords with 'None'",
    ),
    "index-none-in-a-nested-section": (
        [
            "IndexOptions None",
            "<Files x>",
            "IndexOptions XHTML",
            "</Files>",
            "<If true>",
            "IndexOptions None",
            "<Files y>",
            "IndexOptions None",
            "</Files>",
            "IndexOptions +XHTML",
            "IndexOptions Type=x",
            "IndexOptions IgnoreCase",
            "</If>",
        ],
        "Cannot combine other IndexOptions keywords with 'None'",
    ),
    "index-signed-none": (["IndexOptions +None"], "Cannot combine '+' or '-' with 'None' keyword"),
    "index-unknown": (["IndexOptions Fancy"], "Invalid directory indexing option"),
    "index-empty-word": (['IndexOptions "" FancyIndexing'], "Invalid directory indexing option"),
    "index-minus-width": (["IndexOptions -IconHeight=5"], "Cannot combine '-' with IconHeight=n"),
    "index-bare-width": (
        ["IndexOptions NameWidth"],
        "NameWidth with no value may only appear as '-NameWidth'",
    ),
    "index-narrow": (["IndexOptions NameWidth=3"], "NameWidth value must be greater than 5"),
    "index-narrow-description": (
        ["IndexOptions DescriptionWidth=11"],
        "DescriptionWidth value must be greater than 12",
    ),
    "index-order": (
        ["IndexOrderDefault Up Name"],
        "First keyword must be 'Ascending' or 'Descending'",
    ),
    "index-order-key": (["IndexOrderDefault Ascending Bogus"], "Second keyword must be 'Name'"),
    "icon-paren": (
        ["AddIconByEncoding (CMP,/icons/compressed.gif x-gzip"],
        "missing closing paren",
    ),
    # SSLSessionCache: the provider and shmcb's size.
    "sessioncache-ok": (
        [
            "SSLSessionCache none",
            "SSLSessionCache NONE",
            "SSLSessionCache shmcb",
            "SSLSessionCache shmcb:",
            "SSLSessionCache shmcb:/x(512000)",
            "SSLSessionCache default:/x(+9000)",
            'SSLSessionCache "shmcb:/x( 9000)"',
            "SSLSessionCache shmcb:/a(b)/x(9000)",
            "SSLSessionCache nonenotnull",
        ],
        None,
    ),
    # ap_server_root_relative merges the path first ("/x(512000)/.." is "/x/"... "/").
    "sessioncache-merged": (
        [
            "SSLSessionCache shmcb:/tmp/x(512000)/..",
            "SSLSessionCache shmcb:x(512000)/../y(9000)",
            "SSLSessionCache shmcb://x(512000)",
        ],
        None,
    ),
    "sessioncache-trailing-dot": (
        ["SSLSessionCache shmcb:/tmp/x(512000)/."],
        "no closing parenthesis",
    ),
    # invoke_cmd passes a TAKE_ARGV handler 64 words at most.
    "index-past-64-words": (["IndexOptions " + "FancyIndexing " * 64 + "Bogus"], None),
    "index-at-64-words": (
        ["IndexOptions " + "FancyIndexing " * 63 + "Bogus"],
        "Invalid directory indexing option",
    ),
    "index-width-two-signs": (
        [
            "IndexOptions FancyIndexing NameWidth=+-3 DescriptionWidth=-+5",
            "IndexOptions NameWidth=--3",
        ],
        None,
    ),
    "sessioncache-small": (["SSLSessionCache shmcb:/x(100)"], "size has to be >= 8192 bytes"),
    "sessioncache-empty-size": (["SSLSessionCache shmcb:/x()"], "size has to be >= 8192 bytes"),
    "sessioncache-negative": (
        ["SSLSessionCache shmcb:/x(-1)"],
        "size has to be < 4294967295 bytes",
    ),
    "sessioncache-huge": (["SSLSessionCache shmcb:/x(99999999999)"], "size has to be < 4294967295"),
    "sessioncache-hex": (["SSLSessionCache shmcb:/x(0x3000)"], "cache size not numerical"),
    "sessioncache-no-close": (["SSLSessionCache shmcb:/x(512000"], "no closing parenthesis"),
    "sessioncache-no-open": (["SSLSessionCache shmcb:/x512000)"], "no opening parenthesis"),
    "sessioncache-provider": (
        ["SSLSessionCache dbm:/x"],
        "SSLSessionCache: 'dbm' session cache not supported (known names: ",
    ),
    "sessioncache-memcache": (
        [
            f"LoadModule socache_memcache_module {MODULE_DIR}/mod_socache_memcache.so",
            "SSLSessionCache memcache",
        ],
        "SSLSessionCache: List of server names required to create memcache socache.",
    ),
    "sessioncache-redis": (
        [
            f"LoadModule socache_redis_module {MODULE_DIR}/mod_socache_redis.so",
            "SSLSessionCache redis:",
        ],
        "List of server names required to create redis socache.",
    ),
    "sessioncache-memcache-ok": (
        [
            f"LoadModule socache_memcache_module {MODULE_DIR}/mod_socache_memcache.so",
            "SSLSessionCache memcache:127.0.0.1:11211",
        ],
        None,
    ),
    "staplingcache-ok": (["SSLStaplingCache shmcb:/x(128000)"], None),
    "staplingcache-provider": (
        ["SSLStaplingCache bogus"],
        "SSLStaplingCache: 'bogus' stapling cache not supported (known names: ",
    ),
    "staplingcache-none": (["SSLStaplingCache none"], "'none' stapling cache not supported"),
    "staplingcache-size": (
        ["SSLStaplingCache shmcb:/x(10)"],
        "SSLStaplingCache: Invalid argument: size has to be >= 8192 bytes",
    ),
    "sessioncache-case": (["SSLSessionCache Shmcb:/x"], "'Shmcb' session cache not supported"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_module_arguments_as_apache2(case: str, tmp_path: Path) -> None:
    lines, message = CASES[case]
    refused_as_apache2(tmp_path, [*BASE, *lines], TREE, message)


def test_session_cache_without_its_module_as_apache2(tmp_path: Path) -> None:
    lines = [line for line in BASE if "socache_shmcb" not in line]
    message = "'shmcb' session cache not supported (known names: )"
    refused_as_apache2(tmp_path, [*lines, "SSLSessionCache shmcb:/x(512000)"], TREE, message)


_ELF_PIECES = ("%", "%M", "%t", "%+t", "%-m", "%{x}i", "%{", "}", "%7", "%16", "% ", " ", "\\",
               "\\ ", "%%", "a", "[", "%Z", "%0", "%l", "%E", "%", "M")  # fmt: skip
_EXPIRES_PIECES = ("access", "a", "now", "m", "modification", "plus", "p", "1", "30", "x",
                   "mo", "mi", "m", "s", "y", "w", "d", "h", "days", "3w", '\\"\\"', "A1",
                   "M", "later")  # fmt: skip


def _generated(seed: int, count: int) -> list[str]:
    chooser = random.Random(seed)
    lines = []
    for _ in range(count):
        if chooser.random() < 0.5:
            text = "".join(chooser.choice(_ELF_PIECES) for _ in range(chooser.randint(1, 6)))
            kind = chooser.choice(("", "", "request ", "connection "))
            lines.append(f'ErrorLogFormat {kind}"{text}"')
        else:
            code = " ".join(chooser.choice(_EXPIRES_PIECES) for _ in range(chooser.randint(1, 6)))
            lines.append(f'ExpiresDefault "{code}"')
    return lines


@pytest.mark.parametrize("seed", range(4))
def test_generated_formats_and_codes_as_apache2(seed: int, tmp_path: Path) -> None:
    # One line a run: every line is held to apache2's verdict on it alone.
    for index, line in enumerate(_generated(seed, 12)):
        run, loaded = main_file_both_ways(tmp_path / str(index), [*BASE, line], TREE)
        if isinstance(loaded, ApacheConfigError):
            assert loaded.reason in run.stderr, (line, loaded.reason, run.stderr)


def test_the_generated_lines_hold_both_verdicts() -> None:
    lines = [line for seed in range(4) for line in _generated(seed, 12)]
    verdicts = [
        error_log_format_error(tuple(_words(line)[1:]))
        if line.startswith("ErrorLogFormat")
        else expires_error("expiresdefault", tuple(_words(line)[1:]))
        for line in lines
    ]
    assert sum(v is None for v in verdicts) >= 5
    assert sum(v is not None for v in verdicts) >= 5


def _words(line: str) -> list[str]:
    from tcpaudit.apache.lexer import split_words

    return split_words(line)


_PROXY = [
    *(f"LoadModule {name}_module {MODULE_DIR}/mod_{name}.so"
      for name in ("mpm_event", "authz_core", "proxy", "proxy_http")),
    "ErrorLog /dev/null",
]  # fmt: skip
_NEEDS_PATH = "ProxyPassReverse needs a path when not defined in a location"
_HAS_PATH = "ProxyPassReverse can not have a path when defined in a location"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["ProxyPassReverse /a http://h/", "ProxyPassReverse /b http://h/ Interpolate",
          "<Location /x>", "ProxyPassReverse http://h/", "ProxyPassReverse http://h/ INTERPOLATE",
          "</Location>", "<LocationMatch ^/y>", "ProxyPassReverse http://h/", "</LocationMatch>",
          "<VirtualHost *:1>", "<Location /x>", "ProxyPassReverse http://h/ interpolate",
          "</Location>", "ProxyPassReverse /y http://h/", "</VirtualHost>"], None),
        (["ProxyPassReverse http://h/"], _NEEDS_PATH),
        (["ProxyPassReverse http://h/ interpolate"], _NEEDS_PATH),
        (["<VirtualHost *:1>", "ProxyPassReverse http://h/", "</VirtualHost>"], _NEEDS_PATH),
        (["<Location /x>", 'ProxyPassReverse http://h/ ""', "</Location>"], _HAS_PATH),
        (["<Location /x>", "ProxyPassReverse /a http://h/", "</Location>"], _HAS_PATH),
        (["<Proxy http://b/>", "ProxyPassReverse /a http://h/", "</Proxy>"], _HAS_PATH),
        (['<If "true">', "ProxyPassReverse /a http://h/", "</If>"], "cannot occur within <If>"),
    ],
)  # fmt: skip
def test_proxy_pass_reverse_paths_as_apache2(
    lines: list[str], message: str | None, tmp_path: Path
) -> None:
    refused_as_apache2(tmp_path, [*_PROXY, *lines], TREE, message)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        # mod_filter reads TAKE_ARGV words: an empty first one counts, an empty last one does not.
        (['AddOutputFilterByType "" text/html', "AddOutputFilterByType DEFLATE text/html text/css"],
         None),
        (['AddOutputFilterByType DEFLATE ""'], "AddOutputFilterByType requires at least two arguments"),
        (["AddOutputFilterByType DEFLATE"], "AddOutputFilterByType requires at least two arguments"),
    ],
)  # fmt: skip
def test_output_filter_by_type_counts_as_apache2(
    lines: list[str], message: str | None, tmp_path: Path
) -> None:
    modules = [
        f"LoadModule {name}_module {MODULE_DIR}/mod_{name}.so" for name in ("filter", "deflate")
    ]
    refused_as_apache2(tmp_path, [*BASE, *modules, *lines], TREE, message)


@pytest.mark.parametrize(
    "section",
    [
        "Location /app",
        "Directory /srv",
        "Files x",
        'If "true"',
        "Proxy http://b/",
        "VirtualHost *:1",
    ],
)
def test_lua_authz_provider_is_run_as_it_is_read_in_any_section(
    section: str, tmp_path: Path
) -> None:
    # mod_lua runs it while reading (EXEC_ON_READ): no section refuses it.
    lua = f"LoadModule lua_module {MODULE_DIR}/mod_lua.so"
    proxy = f"LoadModule proxy_module {MODULE_DIR}/mod_proxy.so"
    lines = [lua, proxy, f"<{section}>", "LuaAuthzProvider foo /etc/apache2/authz.lua check",
             f"</{section.split()[0]}>", "<Location /x>", "Require foo", "</Location>"]  # fmt: skip
    refused_as_apache2(tmp_path, [*BASE, *lines], TREE, None)


def test_lua_authz_provider_counts_its_words_as_it_is_read(tmp_path: Path) -> None:
    lua = f"LoadModule lua_module {MODULE_DIR}/mod_lua.so"
    lines = [lua, "<Location /app>", "LuaAuthzProvider foo /etc/apache2/authz.lua", "</Location>"]
    refused_as_apache2(tmp_path, [*BASE, *lines], TREE, "LuaAuthzProvider takes three arguments")


_MUTEX_BASE = [
    f"LoadModule mpm_event_module {MODULE_DIR}/mod_mpm_event.so",
    "ErrorLog /dev/null",
]
_NOT_VALID = "Mutex type {} is not valid"


@pytest.mark.parametrize(
    ("modules", "lines", "message"),
    [
        # Each type with the module that registers it (watchdog is linked into Debian's httpd).
        ([], ["Mutex default default watchdog-callback"], None),
        (["rewrite"], ["Mutex file:/tmp rewrite-map omitpid"], None),
        (["proxy"], ["Mutex default proxy"], None),
        (["proxy", "proxy_balancer"], ["Mutex sem proxy-balancer-shm proxy"], None),
        (["socache_shmcb", "ssl"], ["Mutex default ssl-cache ssl-stapling ssl-stapling-refresh"],
         None),
        (["auth_digest"], ["Mutex default authdigest-client"], None),
        (["authn_socache"], ["Mutex default authn-socache"], None),
        (["cache", "cache_socache"], ["Mutex default cache-socache"], None),
        (["ldap"], ["Mutex default ldap-cache"], None),
        (["lua"], ["Mutex default lua-ivm-shm"], None),
        # Not registered: its module is not loaded, the event MPM has no
        # accept mutex, names are case-sensitive; the last type is judged first.
        ([], ["Mutex default rewrite-map"], _NOT_VALID.format("rewrite-map")),
        ([], ["Mutex default mpm-accept"], _NOT_VALID.format("mpm-accept")),
        ([], ["Mutex default Default"], _NOT_VALID.format("Default")),
        ([], ["Mutex default bogus1 bogus2"], _NOT_VALID.format("bogus2")),
        (["rewrite"], ["Mutex none bogus rewrite-map"], "None is not allowed for mutex type rewrite-map"),
        (["rewrite"], ["Mutex no rewrite-map bogus"], _NOT_VALID.format("bogus")),
        (["proxy"], ["Mutex none proxy"], "None is not allowed for mutex type proxy"),
    ],
)  # fmt: skip
def test_mutex_types_as_apache2(
    modules: list[str], lines: list[str], message: str | None, tmp_path: Path
) -> None:
    loaded = [f"LoadModule {name}_module {MODULE_DIR}/mod_{name}.so" for name in modules]
    refused_as_apache2(tmp_path, [*_MUTEX_BASE, *loaded, *lines], TREE, message)


@pytest.mark.parametrize("mpm", ["prefork", "worker"])
def test_the_accept_mutex_of_prefork_and_worker_as_apache2(mpm: str, tmp_path: Path) -> None:
    lines = [f"LoadModule mpm_{mpm}_module {MODULE_DIR}/mod_mpm_{mpm}.so", "ErrorLog /dev/null"]
    refused_as_apache2(tmp_path, [*lines, "Mutex default mpm-accept"], TREE, None)


_UNKNOWN_FILTER = "Unknown filter provider {}"


@pytest.mark.parametrize(
    ("modules", "line", "message"),
    [
        # Each module's filters (logio is linked into Debian's httpd); names fold case.
        ([], "AddOutputFilterByType CONTENT_LENGTH;core;BYTERANGE;LOGIO_TTFB_OUT text/html", None),
        (["deflate"], "AddOutputFilterByType deflate;INFLATE text/html", None),
        (["cache"], "AddOutputFilterByType CACHE_SAVE;CACHE_INVALIDATE text/html", None),
        (["sed", "substitute"], "AddOutputFilterByType SED;Substitute text/html", None),
        (["include", "buffer", "ratelimit", "data"],
         "AddOutputFilterByType INCLUDES;BUFFER;RATE_LIMIT;DATA text/html", None),
        (["xml2enc", "proxy_html"], "AddOutputFilterByType proxy-html;xml2enc text/html", None),
        (["socache_shmcb", "ssl"], 'AddOutputFilterByType "SSL/TLS Filter" text/html', None),
        (["headers", "expires", "reqtimeout"],
         "AddOutputFilterByType FIXUP_HEADERS_OUT;MOD_EXPIRES;reqtimeout text/html", None),
        (["proxy", "proxy_ftp", "brotli", "charset_lite", "dumpio", "session", "bucketeer"],
         "AddOutputFilterByType PROXY_SEND_DIR;BROTLI_COMPRESS;XLATEOUT;DUMPIO_OUT;"
         "MOD_SESSION_OUT;BUCKETEER text/html", None),
        (["http2"], "AddOutputFilterByType H2_C2_NET_OUT text/html", None),
        # A module's filter without the module; a typo; the first unknown of a list.
        ([], "AddOutputFilterByType DEFLATE text/html", _UNKNOWN_FILTER.format("DEFLATE")),
        (["deflate"], "AddOutputFilterByType DEFALTE text/html", _UNKNOWN_FILTER.format("DEFALTE")),
        (["deflate"], "AddOutputFilterByType DEFLATE;;BOGUS;OTHER text/css",
         _UNKNOWN_FILTER.format("BOGUS")),
        # An empty first word names none; only ASCII letters fold (a Kelvin sign is no K).
        ([], 'AddOutputFilterByType "" text/html', None),
        (["bucketeer"], "AddOutputFilterByType BUC\u212aETEER text/html",
         _UNKNOWN_FILTER.format("BUC")),  # apache2 writes the sign's bytes escaped
    ],
)  # fmt: skip
def test_output_filter_names_as_apache2(
    modules: list[str], line: str, message: str | None, tmp_path: Path
) -> None:
    loaded = [f"LoadModule {name}_module {MODULE_DIR}/mod_{name}.so" for name in modules]
    lines = [*_MUTEX_BASE, f"LoadModule filter_module {MODULE_DIR}/mod_filter.so", *loaded]
    refused_as_apache2(tmp_path, [*lines, line], TREE, message)


def test_an_output_filter_defined_by_a_line_is_accepted_after_it(tmp_path: Path) -> None:
    # ExtFilterDefine registers its filter when its line is walked (names
    # are not judged with mod_ext_filter loaded: a line holding a secret may
    # not be judged).
    lines = [*_MUTEX_BASE, *(f"LoadModule {name}_module {MODULE_DIR}/mod_{name}.so"
                             for name in ("filter", "ext_filter"))]  # fmt: skip
    defined = [
        "ExtFilterDefine upper mode=output cmd=/bin/cat",
        "AddOutputFilterByType UPPER text/html",
    ]
    refused_as_apache2(tmp_path, [*lines, *defined], TREE, None)


_INTERNAL_MAP = "RewriteMap: internal map not found:{}"
_DBD = "RewriteMap types dbd and fastdbd require mod_dbd!"


@pytest.mark.parametrize(
    ("modules", "source", "message"),
    [
        # mod_rewrite's internal maps, named exactly; the type in any case.
        ([], "int:toupper", None),
        ([], "INT:tolower", None),
        ([], "int:escape", None),
        ([], "int:unescape", None),
        ([], "int:ToUpper", _INTERNAL_MAP.format("ToUpper")),
        ([], "int:", _INTERNAL_MAP.format("")),
        ([], "int:md5", _INTERNAL_MAP.format("md5")),
        # dbd maps need mod_dbd (loaded anywhere).
        ([], "dbd:SELECT 1", _DBD),
        ([], "FastDbd:SELECT 1", _DBD),
        (["dbd"], "dbd:SELECT 1", None),
        # A dbm map names its file after ':' or after '=type:'.
        ([], "dbm", "RewriteMap: bad map:dbm"),
        ([], "dbm=db", "RewriteMap: bad map:dbm=db"),
        ([], "DBMx:map", "RewriteMap: bad map:DBMx:map"),
        # Its type one APR-util knows, in any case (db and gdbm are in this build).
        ([], "dbm=foo:map", "RewriteMap: dbm type foo is invalid"),
        ([], "dbm=:map", "RewriteMap: dbm type  is invalid"),
        # Programs are not judged (nor, on the host, whether a map's file exists).
        ([], "prg:/bin/cat", None),
    ],
)
def test_rewrite_maps_as_apache2(
    modules: list[str], source: str, message: str | None, tmp_path: Path
) -> None:
    loaded = [
        f"LoadModule {name}_module {MODULE_DIR}/mod_{name}.so" for name in ["rewrite", *modules]
    ]
    refused_as_apache2(
        tmp_path, [*BASE, "Listen 80", *loaded, f'RewriteMap m "{source}"'], TREE, message
    )


_LUA = f"LoadModule lua_module {MODULE_DIR}/mod_lua.so"
_PROVIDER = "LuaAuthzProvider Foo /etc/apache2/authz.lua check"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        # Registered as it is read, under its exact name: a Require before it
        # finds it, one in another case does not.
        ([_LUA, "<Location /x>", "Require Foo", "</Location>", _PROVIDER], None),
        ([_LUA, _PROVIDER, "<Location /x>", "Require foo", "</Location>"],
         "Unknown Authz provider: foo"),
        ([_LUA, _PROVIDER, "<Location /x>", "Require bar", "</Location>"],
         "Unknown Authz provider: bar"),
        # mod_lua loaded after the line: it registers nothing.
        ([_PROVIDER, _LUA, "<Location /x>", "Require Foo", "</Location>"],
         "Unknown Authz provider: Foo"),
        (["<Location /x>", "Require Foo", "</Location>", _PROVIDER, _LUA],
         "Unknown Authz provider: Foo"),
    ],
)  # fmt: skip
def test_lua_authz_provider_names_as_apache2(
    lines: list[str], message: str | None, tmp_path: Path
) -> None:
    refused_as_apache2(tmp_path, [*BASE, "Listen 80", *lines], TREE, message)
