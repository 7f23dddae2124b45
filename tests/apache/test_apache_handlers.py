"""Refusals of httpd's handlers: tcpaudit refuses the same lines, at the same file:line.

Each case is a configuration fragment that goes through the real ``apache2 -t``
and ``load_apache``: both accept it, or both refuse it at the same line, and
where httpd's message names the problem, tcpaudit's says the same. The cases
cover the handlers tcpaudit repeats (handlers.py): unknown directives, Options
mixing and its other rules, AllowOverride, Error, ServerAlias, LogLevel,
Listen (syntax and duplicates), ListenBacklog, LimitRequest*, MaxRanges,
ErrorDocument, ProxyTimeout, mod_headers' Header/RequestHeader and
mod_setenvif's SetEnvIf/BrowserMatch, the keyword lists of values-2.4.tsv, the places
of contexts-2.4.tsv and the argument rules of sections.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from apache_harness import MODULE_DIR, map_tree, run_apache
from test_apache_differential import Tree, load_with_tcpaudit, main_file_both_ways
from test_numbers_as_httpd import _both

from tcpaudit.apache.handlers import _keywords
from tcpaudit.apache.model import ApacheConfig
from tcpaudit.apache.places import _contexts
from tcpaudit.errors import ApacheConfigError

TREE = Tree("/etc/apache2/apache2.conf", "/etc/apache2")
MODULES = ("mpm_event", "alias", "proxy", "authz_core", "authz_host", "access_compat",
           "negotiation", "deflate", "filter", "rewrite", "mime", "headers",
           "setenvif")  # fmt: skip
BASE = [
    *(f"LoadModule {name}_module {MODULE_DIR}/mod_{name}.so" for name in MODULES),
    "ErrorLog /dev/null",
]

_SSL = f"LoadModule ssl_module {MODULE_DIR}/mod_ssl.so"
_MACRO = f"LoadModule macro_module {MODULE_DIR}/mod_macro.so"
_SUBSTITUTE = f"LoadModule substitute_module {MODULE_DIR}/mod_substitute.so"
_DIR = f"LoadModule dir_module {MODULE_DIR}/mod_dir.so"
CASES = {
    # Unknown names, with every loaded module known to tcpaudit.
    "unknown": ["FooBarBaz 1"],
    "stray-text": ["some words left over"],
    "broken-continuation": ["Timeout 5", "50"],
    "unknown-section": ["<Foo bar>", "</Foo>"],
    # Options: +/- mixed with bare words is fatal in 2.4; None/All must come first.
    "options-mixed": ["<Directory /srv>", "Options -Indexes FollowSymLinks", "</Directory>"],
    "options-mixed-2": ["<Directory /srv>", "Options FollowSymLinks -Indexes", "</Directory>"],
    "options-signed": ["<Directory /srv>", "Options -Indexes +FollowSymLinks", "</Directory>"],
    "options-none-then-signed": ["<Directory /srv>", "Options None +Indexes", "</Directory>"],
    "options-none-later": ["<Directory /srv>", "Options Indexes None", "</Directory>"],
    "options-plus-all": ["<Directory /srv>", "Options +All", "</Directory>"],
    "options-illegal": ["<Directory /srv>", "Options Indexes FollowSymlinks Bogus", "</Directory>"],
    "options-case": ["<Directory /srv>", "Options indexes EXECCGI RunScripts", "</Directory>"],
    "options-server": ["Options -Indexes"],
    # AllowOverride
    "override-ok": ["<Directory /srv>", "AllowOverride FileInfo AuthConfig Options=Indexes,X",
                    "</Directory>"],
    "override-bad": ["<Directory /srv>", "AllowOverride FileInfo Bogus", "</Directory>"],
    "override-list-none-first": ["<Directory /srv>", "AllowOverrideList None Redirect",
                                 "</Directory>"],
    "override-list-none-last": ["<Directory /srv>", "AllowOverrideList Redirect none",
                                "</Directory>"],
    "override-list-none-twice": ["<Directory /srv>", "AllowOverrideList None None",
                                 "</Directory>"],
    "override-list-ok": ["<Directory /srv>", "AllowOverrideList Redirect RewriteRule Bogus",
                         "</Directory>", "<Directory /x>", "AllowOverrideList NONE",
                         "</Directory>"],
    # Numbers of core, the MPMs and mod_dir (core_numbers.py).
    "numbers-ok": ["ListenCoresBucketsRatio 8", "LimitInternalRecursion 10 20",
                   "LimitXMLRequestBody 0", "LimitXMLRequestBody 1000000x", "MaxMemFree 2048",
                   "MaxMemFree 12abc", "ThreadStackSize 8388608", "MaxMemFree -0",
                   "AsyncRequestWorkerFactor 2.5", "AsyncRequestWorkerFactor 0x1p1",
                   "AsyncRequestWorkerFactor 1e2", "AsyncRequestWorkerFactor nan",
                   "AsyncRequestWorkerFactor inf", "AsyncRequestWorkerFactor ' 3'",
                   _DIR, "DirectoryIndexRedirect off", "DirectoryIndexRedirect 301",
                   "DirectoryIndexRedirect SeeOther", "DirectoryIndexRedirect 399x"],
    "etag-ok": ["FileETag MTime Size", "FileETag +INode -Digest lmtime LastModified",
                "FileETag None", "FileETag all"],
    "etag-unknown": ["FileETag MTime Foo"],
    "etag-signed-none": ["FileETag -None"],
    "etag-signed-all": ["FileETag +All"],
    "etag-sign-alone": ["FileETag +"],
    "protocol-ok": ["HttpProtocolOptions Strict LenientMethods Allow0.9",
                    "HttpProtocolOptions strict"],
    "protocol-unknown": ["HttpProtocolOptions foo"],
    "protocol-exclusive": ["HttpProtocolOptions Strict Unsafe"],
    "protocol-exclusive-later-line": ["HttpProtocolOptions Require1.0",
                                      "HttpProtocolOptions Allow0.9"],
    "protocol-methods-exclusive": ["HttpProtocolOptions RegisteredMethods LenientMethods"],
    "protocol-vhost-own-bits": ["HttpProtocolOptions Unsafe", "<VirtualHost *:80>",
                                "HttpProtocolOptions Strict", "</VirtualHost>"],
    "protocol-vhost-exclusive": ["<VirtualHost *:80>", "HttpProtocolOptions Strict",
                                 "HttpProtocolOptions Unsafe", "</VirtualHost>"],
    # mod_access_compat's Allow and Deny (allow_cmd, apr_ipsubnet_create).
    "allow-ok": ["<Directory /srv>", "Order deny,allow",
                 "Allow from 10.0.0.0/8 192.168.1 2001:db8::/32 example.org env=X ENV=!Y All",
                 "Deny from 10.1.2.3/255.255.0.0 .example.com 10.", "</Directory>"],
    "allow-bad-octet": ["<Directory /srv>", "Allow from 1.2.3.999", "</Directory>"],
    "allow-bad-mask": ["<Directory /srv>", "Allow from 1.2.3.0/33", "</Directory>"],
    "allow-slash-host": ["<Directory /srv>", "Allow from example.org/24", "</Directory>"],
    "allow-comment": ["<Directory /srv>", "Allow from host#x", "</Directory>"],
    "allow-mapped": ["<Directory /srv>", "Allow from ::ffff:1.2.3.4", "</Directory>"],
    "deny-no-from": ["<Directory /srv>", "Deny foo all", "</Directory>"],
    "deny-from-case": ["<Directory /srv>", "Deny FROM all", "</Directory>"],
    "buffers-ok": ["SendBufferSize 0", "SendBufferSize 512", "ReceiveBufferSize 65536",
                   "SendBufferSize abc"],
    "sendbuffer-small": ["SendBufferSize 100"],
    "receivebuffer-negative": ["ReceiveBufferSize -1"],
    "cbratio-zero": ["ListenCoresBucketsRatio 0"],
    "cbratio-word": ["ListenCoresBucketsRatio abc"],
    "recursion-zero": ["LimitInternalRecursion 0"],
    "recursion-second-negative": ["LimitInternalRecursion 10 -1"],
    "recursion-word": ["LimitInternalRecursion abc"],
    "xml-body-negative": ["LimitXMLRequestBody -1"],
    "xml-body-too-big": ["LimitXMLRequestBody 3074457345618258602"],
    "xml-body-largest": ["LimitXMLRequestBody 3074457345618258601"],
    "xml-body-overflow": ["LimitXMLRequestBody 99999999999999999999"],
    "maxmemfree-negative": ["MaxMemFree -1"],
    "maxmemfree-overflow": ["MaxMemFree 9223372036854775808"],
    "maxmemfree-largest": ["MaxMemFree 9223372036854775807"],
    "threadstacksize-negative": ["ThreadStackSize -1"],
    "worker-factor-zero": ["AsyncRequestWorkerFactor 0"],
    "worker-factor-negative": ["AsyncRequestWorkerFactor -1"],
    "worker-factor-word": ["AsyncRequestWorkerFactor abc"],
    "worker-factor-suffix": ["AsyncRequestWorkerFactor 25x"],
    "worker-factor-trailing-blank": ["AsyncRequestWorkerFactor '3 '"],
    "worker-factor-hex-prefix": ["AsyncRequestWorkerFactor 0x"],
    "worker-factor-nan-open": ["AsyncRequestWorkerFactor nan("],
    "index-redirect-200": [_DIR, "DirectoryIndexRedirect 200"],
    "index-redirect-word": [_DIR, "DirectoryIndexRedirect x"],
    "index-redirect-digit-word": [_DIR, "DirectoryIndexRedirect 3xx4"],
    # mod_log_config's condition clause (add_custom_log).
    "customlog-clauses-ok": ["CustomLog /dev/null combined env=x", "CustomLog /dev/null c ENV=!x",
                             'CustomLog /dev/null "%h" "expr=-n %{HTTP_HOST}"',
                             "GlobalLog /dev/null combined Env=a"],
    "logformat-ok": [
        'LogFormat "%h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\"" combined',
        'LogFormat "%v:%p %h %{%d/%b/%Y}t %D %T %{ms}T %!200,304{X}i %400,501s %^FB %I %S %%" x',
        'LogFormat "%<s %{c}a %{remote}p %L %k %X %R \\%h \\\\%U%q" y',
        'LogFormat "%^ti %^to %{X}n %{X}e %C %{X}C %f %H %m %P %{tid}P %V %B %b %A %u %l"',
        'CustomLog /dev/null "%h %>s"'],
    "logformat-unknown": ['LogFormat "%h %Q" nick'],
    "logformat-unknown-z": ['LogFormat "%Z"'],
    "logformat-condition-unknown": ['LogFormat "%4z"'],
    "logformat-caret-unknown": ['LogFormat "%^xx" x'],
    "logformat-brace-only": ['LogFormat "%{x}" x'],
    # ap_getword(s, '}') skips every '}' right after the argument.
    "logformat-braces-run": ['LogFormat "%h %{X-Forwarded-For}}i %t \\"%r\\" %>s %b" p',
                             'CustomLog /var/log/x.log "%h %{Referer}}i"',
                             'LogFormat "%{}}i %{a}}}}e" q'],
    "logformat-braces-run-end": ['LogFormat "%{X}}" x'],
    "logformat-braces-run-unknown": ['LogFormat "%{X}}}z" x'],
    "logformat-bare-percent": ['LogFormat "abc %" x'],
    "logformat-ssl-without-ssl": ['LogFormat "%{SSL_PROTOCOL}x" x'],
    "logformat-ssl": [_SSL, 'LogFormat "%{SSL_PROTOCOL}x %{version}c" x'],
    "customlog-format-unknown": ['CustomLog /dev/null "%h %Q"'],
    "customlog-bad-clause": ["CustomLog /dev/null combined envx=1"],
    "customlog-empty-env": ["CustomLog /dev/null combined env="],
    "customlog-negated-nothing": ["CustomLog /dev/null combined env=!"],
    "customlog-empty-expr": ["CustomLog /dev/null combined expr="],
    "globallog-bad-clause": ["GlobalLog /dev/null combined if=1"],
    # mod_alias's Redirect family (add_redirect_internal).
    "redirect-ok": ["Redirect /a http://x/", "Redirect permanent /b https://x/b",
                    "Redirect 303 /c /d", "Redirect gone /e", "Redirect 410 /f",
                    "RedirectTemp /g http://x/", "RedirectPermanent /h svn+ssh://x",
                    "RedirectMatch 301 ^/i(.*)$ http://x$1", "RedirectMatch ^/j rel"],
    "redirect-status-no-url": ["Redirect 301 /old"],
    "redirect-no-url": ["Redirect /a"],
    "redirectmatch-no-url": ["RedirectMatch 301 ^/a"],
    "redirect-gone-with-url": ["Redirect gone /a http://x"],
    "redirect-410-with-url": ["Redirect 410 /a http://x"],
    "redirect-200-with-url": ["Redirect 200 /a http://x"],
    "redirect-digit-word": ["Redirect 3xx /a http://x"],
    "redirect-relative": ["Redirect /a relative"],
    "redirect-temp-relative": ["RedirectTemp /a x"],
    "redirect-empty-url": ["Redirect /a ''"],
    "redirect-bad-scheme": ["Redirect /a ht_tp://x"],
    "redirect-colon-first": ["Redirect /a :x"],
    "redirect-unknown-first": ["Redirect foo /a http://x"],
    "redirect-negative-status": ["Redirect -301 /a http://x"],
    "redirectmatch-bad-regex": ["RedirectMatch 301 ^/(a http://x"],
    "redirect-in-location-expression": ["<Location /a>", "Redirect relative", "</Location>",
                                        "<Location /b>", "Redirect 301 whatever", "</Location>",
                                        "<Location /c>", "Redirect gone", "</Location>"],
    "redirect-in-location-three": ["<Location /a>", "Redirect 410 /a http://x", "</Location>"],
    "redirect-in-directory-two": ["<Directory /srv>", "Redirect /a relative", "</Directory>"],
    "override-nonfatal": ["<Directory /srv>", "AllowOverride Nonfatal", "</Directory>"],
    "override-nonfatal-value": ["<Directory /srv>", "AllowOverride Nonfatal=Whatever",
                                "</Directory>"],
    # Error always stops the start; ServerAlias only in a vhost.
    "error": ['<IfModule !mod_ssl.c>', 'Error "mod_ssl is needed"', "</IfModule>"],
    "server-alias-outside": ["ServerAlias www.example"],
    "server-alias-inside": ["<VirtualHost *:80>", "ServerAlias www.example", "</VirtualHost>"],
    # LogLevel: levels, and module:level for loaded modules by any of their names.
    "loglevel-ok": ["LogLevel warn rewrite:trace3 mod_alias.c:info core:debug proxy_module:error"],
    "loglevel-bad-level": ["LogLevel warning"],
    "loglevel-unloaded-module": ["LogLevel info ssl:warn"],
    "loglevel-empty-level": ["LogLevel rewrite:"],
    "loglevel-bad-module-level": ["LogLevel rewrite:loud"],
    # Listen
    "listen-duplicate": ["Listen 80", "Listen 80"],
    "listen-duplicate-star": ["Listen *:8080", "Listen 8080"],
    "listen-duplicate-leading-zero": ["Listen 8081", "Listen 08081"],
    "listen-distinct": ["Listen 80", "Listen 127.0.0.1:80", "Listen [::1]:80 https"],
    "listen-no-port": ["Listen 127.0.0.1"],
    "listen-port-range": ["Listen 99999"],
    "listen-port-zero": ["Listen 0"],
    "listen-empty-address": ["Listen :80"],
    "listen-in-vhost": ["<VirtualHost *:80>", "Listen 81", "</VirtualHost>"],
    # Numbers longer than int() converts (4,300 digits): refused as httpd does.
    "listen-port-5000-digits": ["Listen " + "9" * 5000],
    "listen-address-port-5000-digits": ["Listen 127.0.0.1:" + "9" * 5000],
    "listen-port-leading-zeros": ["Listen " + "0" * 5000 + "8082"],
    "limit-body-5000-digits": ["LimitRequestBody " + "9" * 5000],
    "limit-body-negative-5000-digits": ["LimitRequestBody -" + "9" * 5000],
    "limit-body-negative-zeros": ["LimitRequestBody -" + "0" * 5000],
    # Numbers checked by their handlers.
    "backlog-zero": ["ListenBacklog 0"],
    "backlog-text": ["ListenBacklog many"],
    "limit-line-negative": ["LimitRequestLine -1"],
    "limit-fields-ok": ["LimitRequestFields 0", "LimitRequestFieldSize 8190"],
    "limit-body-text": ["LimitRequestBody lots"],
    "limit-body-suffix": ["LimitRequestBody 10k"],
    "limit-body-negative": ["LimitRequestBody -5"],
    "limit-body-ok": ["LimitRequestBody 102400"],
    "max-ranges": ["MaxRanges unlimited", "MaxRangeOverlaps 5", "MaxRangeReversals 0"],
    "error-document-ok": ["ErrorDocument 404 /404.html", "ErrorDocument 503 \"busy\""],
    "error-document-bad": ["ErrorDocument 499 /x.html"],
    "error-document-text": ["ErrorDocument notfound /x.html"],
    "proxy-timeout-zero": ["ProxyTimeout 0"],
    # Keyword lists (values-2.4.tsv).
    "signature-bad": ["ServerSignature maybe"],
    "tokens-ok": ["ServerTokens ProductOnly", "ServerSignature EMail", "HostnameLookups Double"],
    "tokens-bad": ["ServerTokens Product"],
    "trace-enable-bad": ["TraceEnable yes"],
    "canonical-bad": ["UseCanonicalName yes"],
    "order-bad": ["<Directory /srv>", "Order allow deny", "</Directory>"],
    "order-ok": ["<Directory /srv>", "Order Allow,Deny", "Satisfy Any", "</Directory>"],
    "force-language-each": ["ForceLanguagePriority Prefer sometimes"],
    "proxy-via-bad": ["ProxyVia yes"],
    # Places handlers refuse themselves (contexts-2.4.tsv).
    "alias-in-directory": ["<Directory /srv>", "Alias /a /srv/a", "</Directory>"],
    "alias-one-word-in-location": ["<Location /a>", "Alias /srv/a", "</Location>"],
    "alias-two-words-in-location": ["<Location /a>", "Alias /a /srv/a", "</Location>"],
    "alias-one-word-in-vhost": ["<VirtualHost *:80>", "Alias /srv/a", "</VirtualHost>"],
    "scriptalias-one-word": ["ScriptAlias /srv/cgi"],
    "alias-in-files-in-vhost": ["<VirtualHost *:80>", "<Files x>", "Alias /srv/a", "</Files>",
                                "</VirtualHost>"],
    "proxypass-in-if": ["<If \"true\">", "ProxyPass /a http://127.0.0.1/", "</If>"],
    "workers-in-vhost": ["<VirtualHost *:80>", "MaxRequestWorkers 10", "</VirtualHost>"],
    "tokens-in-vhost": ["<VirtualHost *:80>", "ServerTokens OS", "</VirtualHost>"],
    # Sections' own rules.
    "directory-two-paths": ["<Directory /srv /var>", "</Directory>"],
    "directory-regex": ["<Directory ~ \"^/srv\">", "</Directory>"],
    "directory-regex-extra": ["<Directory ~ ^/srv x>", "</Directory>"],
    "location-two": ["<Location /a /b>", "Bogus", "</Location>"],
    "files-none": ["<Files>", "</Files>"],
    # Argument checks of core's and mod_authn/authz_core's section handlers.
    "limit-none": ["<Directory /x>", "<Limit>", "Bogus", "</Limit>", "</Directory>"],
    "limitexcept-none": ["<Directory /x>", "<LimitExcept>", "</LimitExcept>", "</Directory>"],
    "limit-trace": ["<Directory /x>", "<Limit GET TRACE>", "</Limit>", "</Directory>"],
    "limitexcept-trace": ["<Directory /x>", "<LimitExcept TRACE>", "</LimitExcept>",
                          "</Directory>"],
    "if-none": ["<If>", "Bogus", "</If>"],
    "if-two": ["<If \"true\" \"false\">", "Bogus", "</If>"],
    "elseif-none": ["<If \"true\">", "</If>", "<ElseIf>", "</ElseIf>"],
    "elseif-two": ["<If \"true\">", "</If>", "<ElseIf \"true\" x>", "</ElseIf>"],
    "directorymatch-tilde": ["<DirectoryMatch ~ a>", "</DirectoryMatch>"],
    "locationmatch-tilde": ["<LocationMatch ~ a>", "</LocationMatch>"],
    # Sections httpd refuses in a limited context (<Limit>, a Require section).
    "if-in-limit": ["<Location /a>", "<Limit GET>", "<If \"true\">", "</If>", "</Limit>",
                    "</Location>"],
    "files-in-limit": ["<Directory /a>", "<Limit GET>", "<Files x>", "</Files>", "</Limit>",
                       "</Directory>"],
    "if-in-requireall": ["<Location /a>", "<RequireAll>", "<If \"true\">", "</If>",
                         "</RequireAll>", "</Location>"],
    "files-in-requireany": ["<Directory /a>", "<RequireAny>", "<Files x>", "</Files>",
                            "</RequireAny>", "</Directory>"],
    # ... and allowed in every other directory context.
    "files-in-directory": ["<Directory /var/www>", "<Files x>", "Require all denied", "</Files>",
                           "</Directory>"],
    "if-in-location": ["<Location /x>", "<If \"true\">", "</If>", "<ElseIf \"false\">",
                       "</ElseIf>", "<Else>", "</Else>", "</Location>"],
    "if-in-if": ["<If \"true\">", "<If \"false\">", "</If>", "</If>"],
    "if-in-files-in-directory": ["<Directory /x>", "<Files y>", "<If \"true\">", "</If>",
                                 "</Files>", "</Directory>"],
    "limit-in-requireall": ["<Location /a>", "<RequireAll>", "<Limit GET>", "Require all granted",
                            "</Limit>", "</RequireAll>", "</Location>"],
    # mod_authz_core's sections take no argument (add_authz_section).
    "requireall-argument": ["<Directory /srv>", "<RequireAll x=1>", "Require all granted",
                            "</RequireAll>", "</Directory>"],
    "requireany-argument": ["<Directory /srv>", "<RequireAny a b>", "Bogus", "</RequireAny>",
                            "</Directory>"],
    "requireall-none": ["<Directory /srv>", "<RequireAll>", "Require all granted",
                        "</RequireAll>", "</Directory>"],
    "else-alone": ["<Else>", "</Else>"],
    "else-after-if": ["<If \"true\">", "</If>", "Timeout 5", "<Else>", "</Else>"],
    "else-with-argument": ["<If \"true\">", "</If>", "<Else x>", "</Else>"],
    "elseif-after-else": ["<If \"true\">", "</If>", "<Else>", "</Else>",
                          "<ElseIf \"false\">", "</ElseIf>"],
    "else-other-scope": ["<VirtualHost *:80>", "<If \"true\">", "</If>", "</VirtualHost>",
                         "<Else>", "</Else>"],
    # mod_headers (header_cmd, header_inout_cmd) and mod_setenvif.
    "header-bare": ["Header"],
    "header-no-value": ["RequestHeader set Authorization"],
    "header-always-only": ["Header always"],
    "header-always-set": ["Header always set"],
    "header-action-bad": ["Header bogus X y"],
    "header-action-case": ["Header ALWAYS SET X y"],
    "header-onsuccess": ["Header onsuccess set X y"],
    "requestheader-always": ["RequestHeader always set X y"],
    "requestheader-early-first": ["RequestHeader early set X y"],
    "header-early-last": ["RequestHeader set X y early", "Header set X y EARLY"],
    "header-unset": ["Header unset X", "RequestHeader unset X", "Header unset X env=a"],
    "header-unset-word": ["Header unset X y"],
    "header-unset-three": ["Header unset X env=a b"],
    "requestheader-unset-word": ["RequestHeader unset X y"],
    "header-echo": ["Header echo X", "Header echo", "Header always echo", "Header echo X env=a"],
    "header-echo-word": ["Header echo X y"],
    "requestheader-echo": ["RequestHeader echo X"],
    "header-note": ["Header note X y"],
    "header-note-short": ["Header note X"],
    "requestheader-note": ["RequestHeader note X y"],
    "header-unknown-clause": ["Header set X y z"],
    "header-too-many": ["Header set X y a b"],
    "header-far-too-many": ["Header set X y a b c"],
    "header-edit": ["Header edit X a b", "Header edit* X a b env=c"],
    "header-edit-short": ["Header edit X a"],
    "header-edit-too-many": ["Header edit X a b c d"],
    "header-env-empty": ["Header set X y env=!"],
    "header-env-negated": ["Header set X y env=!a", "Header set X \"\"", "Header set \"\" y"],
    "header-actions": ["Header setifempty X y", "Header merge X y", "Header append X y",
                       "Header add X y", "RequestHeader setifempty X y"],
    # mod_headers' format tags: %D %t %e %s %l %i %b (an argument in braces
    # first), %% and a final % for themselves; an edit's replacement too.
    "header-format-ok": ['Header set X "%D %t %{FOO}e %{BAR}s %l %i %b"', 'Header set X "100%"',
                         'Header set X "%%z"', 'Header edit X ^a "%{b}e"',
                         'Header set X "expr=%{REMOTE_ADDR}"', "Header unset X"],
    "header-format-unknown": ['Header always set X-Served-In "%z"'],
    "header-format-brace": ['Header set X "%{X}"'],
    "header-format-open-brace": ['Header set X "%{"'],
    "requestheader-format": ['RequestHeader set X "%a"'],
    "header-edit-format": ['Header edit X ^a "%z"'],
    "header-format-braces-run": ['Header set X "%{UNIQUE_ID}}e"', 'Header set X "%{}}e"',
                                'RequestHeader set X "%{UNIQUE_ID}}}}e"'],
    "header-format-braces-run-unknown": ['Header set X "%{a}}}z"'],
    # Patterns the handlers compile as they read the line (regex_arguments.py).
    "header-edit-regex": ['Header edit X-Foo "(abc" "x"'],
    "header-edit-star-regex": ['RequestHeader edit* X-Foo "a[b" "x" early'],
    "header-edit-credential-regex": ['Header edit Authorization "(abc" "x"'],
    "header-echo-regex": ['Header echo "(abc"'],
    "header-regex-ok": ['Header edit X-Foo "^(a|b)+$" "x"', 'Header echo "^X-(A|B)"',
                        'Header edit* X-Frame "(?i)deny" "SAMEORIGIN"'],
    "setenvif-regex": ['SetEnvIf User-Agent "(abc" X=1'],
    "setenvif-nocase-regex": ['SetEnvIfNoCase Referer "a[b" X=1'],
    "setenvif-name-regex": ['SetEnvIf "(abc" "x" X=1'],
    "browsermatch-regex": ['BrowserMatch "(abc" X'],
    "browsermatch-nocase-regex": ['BrowserMatchNoCase "*abc" X'],
    "setenvif-plain-escapes": ['SetEnvIf User-Agent "a\\(b" X=1', "SetEnvIf Remote_Addr (x X=1",
                               'SetEnvIf "^X-(A|B)$" "^y" X=1'],
    "aliasmatch-regex": ['AliasMatch "(abc" /var/www'],
    "scriptaliasmatch-regex": ['ScriptAliasMatch "(abc" /usr/lib/cgi-bin/'],
    "aliasmatch-ok": ['AliasMatch "^/(a|b)/(.*)$" /srv/$1/$2'],
    "substitute-regex": [_SUBSTITUTE, "<Location />", 'Substitute "s/(abc/x/"', "</Location>"],
    "substitute-formats": [_SUBSTITUTE, "<Location />", 'Substitute "s/(abc/x/n"',
                           'Substitute "S|a|b|iq"', 'Substitute "s/a/b"', "</Location>"],
    "substitute-not-s": [_SUBSTITUTE, "<Location />", 'Substitute "x/a/b/"', "</Location>"],
    "substitute-incomplete": [_SUBSTITUTE, "<Location />", 'Substitute "s/a"', "</Location>"],
    "substitute-empty-pattern": [_SUBSTITUTE, "<Location />", 'Substitute "s//b/"', "</Location>"],
    "substitute-flag": [_SUBSTITUTE, "<Location />", 'Substitute "s/a/b/g"', "</Location>"],
    # PCRE's POSIX classes inside a class (re ends the class at ":]"), and an
    # extended-mode modifier after a blank: patterns PCRE compiles.
    "posix-classes-ok": ['SetEnvIfNoCase Request_URI "union[[:space:](/*]+select" bad',
                         'SetEnvIfNoCase Query_String "[[:cntrl:]<>()]" bad',
                         'BrowserMatch "compatible[;[:space:](]+MSIE" ie',
                         'AliasMatch "^/[[:alnum:]]+[[:alnum:]?*]$" /var/www',
                         '<FilesMatch "[[:alnum:]?*]$">', "</FilesMatch>",
                         'RedirectMatch "^/[[:digit:]+*]" /x',
                         'SetEnvIf Request_URI "(?x) ^/api/ v[0-9]+ ? /" api',
                         _SUBSTITUTE, "<Location />", 'Substitute "s/[[:digit:]+*]/#/"',
                         "</Location>"],
    "posix-class-unclosed": ['SetEnvIf Request_URI "[[:space:]" bad'],
    # An escaped "[" is no POSIX class's; a "]" inside \Q...\E ends no class.
    "posix-escaped-bracket-ok": ['SetEnvIf Request_URI "[\\[:digit:]-9]" odd',
                                 'RewriteCond %{REQUEST_URI} "[\\[:alpha:]x"',
                                 "RewriteRule ^ - [L]",
                                 '<FilesMatch "^x[\\[:alpha:]">', "</FilesMatch>",
                                 'AliasMatch "^/x[\\[:alpha:]" /var/www',
                                 'SetEnvIf Request_URI "[\\Q]\\E{70000}]" odd'],
    # A scheme's name as a value, a condition after it: no credential stands.
    "header-scheme-word-values": ["Header set X-Key-Type key env=HTTPS",
                                  "Header set X-Mode token early",
                                  "Header set X-Upstream Bearer env=A",
                                  'Header always set X-Hint "Basic" "expr=%{REQUEST_STATUS} == 401"',
                                  'Header edit* X-Kind "Bearer" "Token"'],
    # mod_substitute's delimiter is a byte: "§" is two, the first one counts.
    "substitute-byte-delimiter": [_SUBSTITUTE, "<Location />", 'Substitute "s\u00a7*a\u00a7b"',
                                  "</Location>"],
    "substitute-byte-flags": [_SUBSTITUTE, "<Location />", 'Substitute "s\u00a7a+\u00a7b\u00a7"',
                              "</Location>"],
    # A value hidden as a secret as it was read is judged as written.
    "header-format-hidden-secret": ['RequestHeader set Authorization "Bearer abcdef1234567890abcd%z"'],
    "header-clause-hidden-secret": ['RequestHeader set Authorization "Bearer x" env='],
    "setenvif-bare": ["SetEnvIf"],
    "setenvif-one": ["SetEnvIf A"],
    "setenvif-two": ["SetEnvIfNoCase A b"],
    "setenvif-empty-field": ["SetEnvIf \"\" b c"],
    "setenvif-empty-variable": ["SetEnvIf A b \"\""],
    "setenvif-ok": ["SetEnvIf A b c", "SetEnvIf A b c=d e", "SetEnvIf A b !", "SetEnvIf A b =x"],
    "browsermatch-bare": ["BrowserMatch"],
    "browsermatch-one": ["BrowserMatchNoCase x"],
    "browsermatch-ok": ["BrowserMatch x y", "BrowserMatchNoCase x y"],
    "setenvif-empty-regex": ['SetEnvIf Host "" X=1'],
    "browsermatch-empty-regex": ['BrowserMatch "" X=1'],
    "setenvifexpr-empty": ['SetEnvIfExpr "" a'],
    "setenvifexpr-bare": ["SetEnvIfExpr"],
    "setenvifexpr-no-variable": ['SetEnvIfExpr "true"'],
    "setenvifexpr-empty-variable": ['SetEnvIfExpr "true" ""'],
    "setenvifexpr-ok": ['SetEnvIfExpr "true" a'],
    # mod_ssl's own checks (its module loaded here only).
    "sslengine-bad": [_SSL, "SSLEngine maybe"],
    "sslengine-optional": [_SSL, "<VirtualHost *:80>", "SSLEngine Optional", "</VirtualHost>"],
    "sslengine-two-words": [_SSL, "SSLEngine on off"],
    "ssl-rest-ok": [_SSL, "SSLCipherSuite HIGH:!aNULL", "SSLCipherSuite SSL HIGH",
                    "SSLCipherSuite TLSv1.3 TLS_AES_256_GCM_SHA384", "SSLProxyCipherSuite SSL HIGH",
                    "SSLCARevocationCheck chain no_crl_for_cert_ok", "SSLCARevocationCheck NONE",
                    "SSLProxyCARevocationCheck Leaf", "SSLPassPhraseDialog builtin",
                    "SSLPassPhraseDialog '|/bin/cat'", "SSLRandomSeed startup builtin",
                    "SSLRandomSeed Connect file:/dev/urandom 512",
                    "<Directory /srv>", "SSLOptions +StdEnvVars -exportcertdata StrictRequire",
                    "SSLCipherSuite HIGH", "</Directory>"],
    "ssl-cipher-protocol": [_SSL, "SSLCipherSuite TLSv1.2 HIGH"],
    "ssl-cipher-protocol-case": [_SSL, "SSLCipherSuite ssl HIGH"],
    "ssl-proxy-cipher-protocol": [_SSL, "SSLProxyCipherSuite TLS HIGH"],
    "ssl-cipher-tls13-directory": [_SSL, "<Directory /srv>",
                                   "SSLCipherSuite TLSv1.3 TLS_AES_256_GCM_SHA384", "</Directory>"],
    "ssl-cipher-tls13-vhost": [_SSL, "<VirtualHost *:443>",
                               "SSLCipherSuite TLSv1.3 TLS_AES_256_GCM_SHA384", "</VirtualHost>"],
    "ssl-revocation-bad": [_SSL, "SSLCARevocationCheck all"],
    "ssl-revocation-flag-bad": [_SSL, "SSLCARevocationCheck chain foo"],
    "ssl-revocation-empty": [_SSL, "SSLCARevocationCheck"],
    "ssl-proxy-revocation-bad": [_SSL, "SSLProxyCARevocationCheck yes"],
    "ssl-options-bad": [_SSL, "<Directory /srv>", "SSLOptions +StdEnvVars +Bogus", "</Directory>"],
    "ssl-options-sign-alone": [_SSL, "<Directory /srv>", "SSLOptions +", "</Directory>"],
    "ssl-pass-phrase-bad": [_SSL, "SSLPassPhraseDialog foo"],
    "ssl-pass-phrase-exec-empty": [_SSL, "SSLPassPhraseDialog exec:"],
    "ssl-pass-phrase-pipe-empty": [_SSL, "SSLPassPhraseDialog '|'"],
    "ssl-seed-context": [_SSL, "SSLRandomSeed boot builtin"],
    "ssl-seed-builtin-bytes": [_SSL, "SSLRandomSeed startup builtin 512"],
    "ssl-seed-negative": [_SSL, "SSLRandomSeed startup file:/dev/urandom -1"],
    "ssl-seed-egd": [_SSL, "SSLRandomSeed startup egd:/dev/egd-pool"],
    "sslprotocol-bad": [_SSL, "SSLProtocol foo"],
    "sslprotocol-ok": [_SSL, "SSLProtocol all -SSLv3 -TLSv1 -tlsv1.1 +TLSv1.2 +TLSv1.3"],
    "sslprotocol-sslv3": [_SSL, "SSLProtocol all +SSLv3"],
    "sslprotocol-sslv2": [_SSL, "SSLProtocol SSLv2"],
    "sslprotocol-no-sslv2": [_SSL, "SSLProtocol -SSLv2 TLSv1.2"],
    "sslprotocol-quoted": [_SSL, 'SSLProtocol "all -SSLv3"'],
    "sslprotocol-sign-alone": [_SSL, "SSLProtocol all -"],
    "sslproxyprotocol-bad": [_SSL, "SSLProxyProtocol +TLSv1.4"],
    # mod_ssl's SSLProxy* directives are allowed in <Proxy> (PROXY_CONF), not elsewhere.
    "sslproxy-in-proxy": [_SSL, "<Proxy https://backend/>", "SSLProxyEngine on",
                          "SSLProxyVerify none", "SSLProxyCheckPeerName off",
                          "SSLProxyCipherSuite HIGH", "SSLProxyProtocol -all +TLSv1.3",
                          "</Proxy>"],
    "sslproxy-in-proxymatch": [_SSL, "<ProxyMatch ^https://b>", "SSLProxyEngine on",
                               "</ProxyMatch>"],
    "sslproxy-in-proxy-in-vhost": [_SSL, "<VirtualHost *:80>", "<Proxy https://b/>",
                                   "SSLProxyEngine on", "</Proxy>", "</VirtualHost>"],
    "sslproxy-bad-in-proxy": [_SSL, "<Proxy https://b/>", "SSLProxyProtocol foo", "</Proxy>"],
    "sslproxy-in-location": [_SSL, "<Location /x>", "SSLProxyEngine on", "</Location>"],
    "sslproxy-in-if-in-proxy": [_SSL, "<Proxy https://b/>", "<If \"true\">",
                                "SSLProxyEngine on", "</If>", "</Proxy>"],
    "sslprotocol-in-proxy": [_SSL, "<Proxy https://b/>", "SSLProtocol all", "</Proxy>"],
    "sslverifyclient-bad": [_SSL, "SSLVerifyClient sometimes"],
    "sslverifyclient-in-location": [_SSL, "<Location /x>", "SSLVerifyClient optional_no_ca",
                                    "</Location>"],
    "sslproxyverify-bad-in-proxy": [_SSL, "<Proxy https://b/>", "SSLProxyVerify sometimes",
                                    "</Proxy>"],
    "sslverifydepth-negative": [_SSL, "SSLVerifyDepth -1"],
    "sslverifydepth-word": [_SSL, "SSLVerifyDepth x"],
    "sslproxyverifydepth-negative": [_SSL, "<Proxy https://b/>", "SSLProxyVerifyDepth -1",
                                     "</Proxy>"],
    "sslsessioncachetimeout-negative": [_SSL, "SSLSessionCacheTimeout -5"],
    "sslsessioncachetimeout-ok": [_SSL, "SSLSessionCacheTimeout 300"],
    "sslrenegbuffersize-negative": [_SSL, "<Location /x>", "SSLRenegBufferSize -1",
                                    "</Location>"],
    "sslproxy-in-files-in-proxy": [_SSL, "<Proxy https://b/>", "<Files x>", "SSLProxyEngine on",
                                   "</Files>", "</Proxy>"],
    "sslproxy-in-limit-in-proxy": [_SSL, "<Proxy https://b/>", "<Limit GET>",
                                   "SSLProxyEngine on", "</Limit>", "</Proxy>"],
    "sslproxy-in-files": [_SSL, "<Files x>", "SSLProxyEngine on", "</Files>"],
    # 64 words at most reach a TAKE_ARGV handler; "\\c\\" ends in a control character.
    "override-list-past-64-words": ["<Directory /srv>", "AllowOverrideList " + "Redirect " * 64 + "None",
                                    "</Directory>"],
    "override-list-at-64-words": ["<Directory /srv>", "AllowOverrideList " + "Redirect " * 63 + "None",
                                  "</Directory>"],
    "locationmatch-control-last": ["<LocationMatch ^/a\\c\\>", "</LocationMatch>"],
    "locationmatch-short-mark": ['<LocationMatch "^/app(*:m)/">', "</LocationMatch>"],
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_handler_refusals_as_apache2(case: str, tmp_path: Path) -> None:
    run, loaded = main_file_both_ways(tmp_path, [*BASE, *CASES[case]], TREE)
    if isinstance(loaded, ApacheConfigError):
        httpd_message = run.stderr.strip().splitlines()[-1]
        reason = loaded.reason.split(" (did you mean")[0]
        assert reason in httpd_message, (reason, httpd_message)


@pytest.mark.parametrize(
    "line",
    [
        'RequestHeader set Authorization "Bearer abcdef1234567890%%"',
        'Header set Set-Cookie "a=b%{X}e"',
        'RequestHeader set Authorization "Basic %{CREDS}e"',
        'Header always set Authorization "Bearer 0123456789abcdef%"',
    ],
)
def test_hidden_header_values_apache2_accepts_are_accepted(line: str, tmp_path: Path) -> None:
    # The value is hidden as it is read (so the effective trees differ in
    # it): the verdict is still apache2's, judged on the value as written.
    loaded = _accepted_by_both(tmp_path, [*BASE, line], {})
    assert any(place.line == len(BASE) + 1 for place in loaded.secret_value_lines)


def test_a_file_read_where_apache2_never_walks_it_lends_no_error(tmp_path: Path) -> None:
    # auth.conf is read twice: inside a <Macro> apache2 keeps and never walks
    # (mod_macro loaded after it) with a value it would refuse, then with one
    # it accepts. The error of the first reading is not the second's.
    lines = ["Define TOK abcd%zbcd1234", "<Macro Never>", "Include /etc/apache2/auth.conf",
             "</Macro>", "Define TOK abcd1234abcd1234", "Include /etc/apache2/auth.conf",
             _MACRO]  # fmt: skip
    files = {"etc/apache2/auth.conf": 'RequestHeader set Authorization "Bearer ${TOK}"\n'}
    loaded = _accepted_by_both(tmp_path, [*BASE, *lines], files)
    assert {"file": "etc/apache2/auth.conf", "line": 1} in [
        place.model_dump() for place in loaded.secret_value_lines
    ]


def _accepted_by_both(tmp_path: Path, lines: list[str], files: dict[str, str]) -> ApacheConfig:
    root = tmp_path / "tcpaudit"
    main = root / TREE.main_file.lstrip("/")
    main.parent.mkdir(parents=True)
    main.write_text("\n".join(lines) + "\n")
    for name, content in files.items():
        (root / name).write_text(content)
    apache_root = tmp_path / "apache"
    shutil.copytree(root, apache_root)
    map_tree(apache_root)
    assert run_apache(apache_root, TREE.main_file, TREE.server_root).accepted
    loaded = load_with_tcpaudit(root, TREE)
    assert not isinstance(loaded, ApacheConfigError), loaded
    return loaded


@pytest.mark.parametrize(
    ("lines", "files"),
    [
        # One body line, two Uses: the second's value is refused, after the
        # first vhost's KeepAlive, which apache2 names first.
        (
            [_MACRO, "<Macro Backend $tok>",
             'RequestHeader set Authorization "Bearer $tok"', "</Macro>",
             "<VirtualHost *:80>", "Use Backend abcd1234abcd1234", "KeepAlive maybe",
             "</VirtualHost>", "<VirtualHost *:80>", "Use Backend abcd%zbcd1234",
             "</VirtualHost>"],
            {},
        ),
        # The same file read twice with a value refused the second time.
        (
            ["Define TOK abcd1234abcd1234", "Include /etc/apache2/auth.conf", "KeepAlive maybe",
             "Define TOK abcd%zbcd1234", "Include /etc/apache2/auth.conf"],
            {"etc/apache2/auth.conf": 'RequestHeader set Authorization "Bearer ${TOK}"\n'},
        ),
    ],
)  # fmt: skip
def test_a_hidden_header_value_is_judged_where_it_was_read(
    lines: list[str], files: dict[str, str], tmp_path: Path
) -> None:
    # The error found in a hidden value belongs to the line's reading that
    # held it, not to every reading of that file and line.
    main_file_both_ways(tmp_path, [*BASE, *lines], TREE, files)


def test_the_cases_exercise_refusals_and_acceptances() -> None:
    # Holds the list to its purpose: most cases are refusals, some must pass.
    assert sum(1 for lines in CASES.values() if lines) == len(CASES)
    assert len(CASES) > 70


def test_the_shipped_tables_are_not_empty() -> None:
    # values-2.4.tsv and contexts-2.4.tsv are probed (apache_value_table.py,
    # apache_context_table.py); test_apache_directive_table.py re-probes them.
    assert len(_keywords()) >= 19 and "serversignature" in _keywords()
    assert _contexts()["listen"] == {"*": "V"}
    assert _contexts()["alias"] == {"1": "DFL", "2": "CL"}


_AUTH_MODULES = "".join(
    f"LoadModule {name}_module {MODULE_DIR}/mod_{name}.so\n"
    for name in ("mpm_event", "authn_core", "authn_file", "authz_core", "authz_user")
)


@pytest.mark.parametrize(
    "text",
    [
        "<AuthnProviderAlias>\n</AuthnProviderAlias>",
        "<AuthnProviderAlias file>\n</AuthnProviderAlias>",
        "<AuthnProviderAlias file f>\n</AuthnProviderAlias>",
        "<AuthzProviderAlias>\n</AuthzProviderAlias>",
        "<AuthzProviderAlias user>\n</AuthzProviderAlias>",
        "<AuthzProviderAlias user u a>\n</AuthzProviderAlias>",
        # The contents are read in a directory context (OR_AUTHCFG|ACCESS_CONF).
        "<AuthnProviderAlias file a1>\nAuthUserFile /dev/null\n</AuthnProviderAlias>",
        "<AuthzProviderAlias user u a>\nAuthName x\n</AuthzProviderAlias>",
        "<AuthnProviderAlias file a1>\nServerAdmin a@b\n</AuthnProviderAlias>",
    ],
)
def test_provider_aliases_need_two_words_as_apache2_says(tmp_path: Path, text: str) -> None:
    _both(tmp_path, _AUTH_MODULES + text + "\n")


def test_the_number_cases_accept_what_apache2_accepts(tmp_path: Path) -> None:
    # The refusals beside it would pass as well if apache2 refused every line.
    run, loaded = main_file_both_ways(tmp_path, [*BASE, *CASES["numbers-ok"]], TREE)
    assert run.accepted
    assert not isinstance(loaded, ApacheConfigError)


# A secret-named Define's value is hidden as it is read: httpd judges the value,
# tcpaudit sees the placeholder and must refuse nothing for it.
_HIDDEN_VALUES = {
    "listen": ["Define TOKEN_SERVICE_PORT 9443", "Listen 127.0.0.1:${TOKEN_SERVICE_PORT}"],
    "keepalive": ["Define PROXY_PASS_KA On", "KeepAlive ${PROXY_PASS_KA}"],
    "listenbacklog": ["Define PROXY_PASS_B 100", "ListenBacklog ${PROXY_PASS_B}"],
    "fileetag": ["Define PROXY_PASS_E MTime", "FileETag ${PROXY_PASS_E}"],
    "rewriteoptions": ["Define PROXY_PASS_O Inherit", "RewriteOptions ${PROXY_PASS_O}"],
    "protocol": ["Define PROXY_PASS_P Strict", "HttpProtocolOptions ${PROXY_PASS_P}"],
    "options": ["Define PROXY_PASS_X Indexes", "<Directory /srv>", "Options ${PROXY_PASS_X}",
                "</Directory>"],
    "servertokens": ["Define PROXY_PASS_T Prod", "ServerTokens ${PROXY_PASS_T}"],
    "section-regex": ["Define RE_TOKEN abc", '<LocationMatch "^/[${RE_TOKEN}]+/">',
                      "Require all denied", "</LocationMatch>",
                      '<Directory ~ "^/srv/[a-${RE_TOKEN}]">', "</Directory>"],
    "match-worker": [f"LoadModule proxy_module {MODULE_DIR}/mod_proxy.so",
                     f"LoadModule proxy_http_module {MODULE_DIR}/mod_proxy_http.so",
                     "Define RE_TOKEN abc",
                     "ProxyPassMatch ^/[${RE_TOKEN}](.*) http://127.0.0.1:8080/$1"],
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(_HIDDEN_VALUES))
def test_a_hidden_value_is_never_refused(case: str, tmp_path: Path) -> None:
    main = tmp_path / "tcpaudit/etc/apache2/apache2.conf"
    main.parent.mkdir(parents=True)
    main.write_text("\n".join([*BASE, "ServerName x", *_HIDDEN_VALUES[case]]) + "\n")
    apache_root = tmp_path / "apache"
    shutil.copytree(tmp_path / "tcpaudit", apache_root)
    map_tree(apache_root)
    assert run_apache(apache_root, TREE.main_file, TREE.server_root).accepted
    loaded = load_with_tcpaudit(tmp_path / "tcpaudit", TREE)
    assert not isinstance(loaded, ApacheConfigError), loaded


# invoke_cmd stops an ITERATE handler's words at the first empty one, and drops
# a TAKE_ARGV handler's empty last word.
_EMPTY_WORDS = {
    "rewriteoptions": ['RewriteOptions Inherit "" bogus'],
    "protocol": ['HttpProtocolOptions Strict "" bogus'],
    "protocol-last": ["HttpProtocolOptions Strict ''"],
    "allow": ["<Directory /srv>", 'Allow from "" 1.2.3.999', "</Directory>"],
    "loglevel": ['LogLevel warn "" bogus'],
    "allowoverridelist": ["<Directory /srv>", 'AllowOverrideList None ""', "</Directory>"],
    "allowoverridelist-middle": ["<Directory /srv>", 'AllowOverrideList None "" x',
                                 "</Directory>"],
    "rewriteoptions-first": ['RewriteOptions "" bogus'],
    # TAKE12: an empty second word is NULL (the one-word form), counted so in places too.
    "ciphersuite-empty-second": [_SSL, 'SSLCipherSuite HIGH:!aNULL ""',
                                 "SSLProxyCipherSuite HIGH ''"],
    "ciphersuite-tls13-empty": [_SSL, "<Directory /srv>", 'SSLCipherSuite TLSv1.3 ""',
                                "</Directory>"],
    "alias-empty-second": ["<Location /static>", 'Alias /srv/static ""', "</Location>"],
    "alias-empty-second-server": ['Alias /x ""'],
    # ITERATE2: an empty second word leaves the handler no call (no "from" asked for).
    "deny-empty-second": ["<Directory /srv>", 'Deny x ""', 'Allow bogus "" 1.2.3.4', "</Directory>"],
    "deny-empty-first": ["<Directory /srv>", 'Deny "" x', "</Directory>"],
    "addicon-empty-second": [f"LoadModule autoindex_module {MODULE_DIR}/mod_autoindex.so",
                             'AddIcon (SND/icons/x.gif ""'],
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(_EMPTY_WORDS))
def test_words_after_an_empty_one_as_apache2(case: str, tmp_path: Path) -> None:
    main_file_both_ways(tmp_path, [*BASE, *_EMPTY_WORDS[case]], TREE)


# What httpd acts on while reading, through a secret-named Define: the reader
# hides the value, so tcpaudit follows none of these and says so in a note.
_HIDDEN_AT_READ_TIME = {
    "include": (["Define CREDENTIALS_CONF /etc/apache2/credentials.conf",
                 "Include ${CREDENTIALS_CONF}"], {"etc/apache2/credentials.conf": "Timeout 7\n"}),
    "include-optional": (["Define CREDENTIALS_CONF /etc/apache2/credentials.conf",
                          "IncludeOptional ${CREDENTIALS_CONF}"],
                         {"etc/apache2/credentials.conf": "Timeout 7\n"}),
    "ifversion": (["Define VER_TOKEN 2.4", "<IfVersion >= ${VER_TOKEN}>", "Timeout 7",
                   "</IfVersion>"], {}),
    "ifdefine": (["Define X_TOKEN FOO", "Define FOO", "<IfDefine ${X_TOKEN}>", "Timeout 7",
                  "</IfDefine>"], {}),
    "use": ([f"LoadModule macro_module {MODULE_DIR}/mod_macro.so", "<Macro Site $n>",
             "ServerAdmin admin@$n", "</Macro>", "Define SITE_TOKEN Site",
             "Use ${SITE_TOKEN} a.example"], {}),
    "serverroot": (["Define ROOT_TOKEN /etc/apache2", "ServerRoot ${ROOT_TOKEN}"], {}),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(_HIDDEN_AT_READ_TIME))
def test_a_hidden_value_read_by_httpd_is_noted_not_refused(case: str, tmp_path: Path) -> None:
    lines, files = _HIDDEN_AT_READ_TIME[case]
    loaded = _accepted_by_both(tmp_path, [*BASE, "ServerName x", *lines], files)
    # The line that uses the value (after BASE and "ServerName x").
    used = next(i for i, text in enumerate(lines) if "${" in text and not text.startswith("Define"))
    line = len(BASE) + 2 + used
    notes = [(note.line, note.message) for note in loaded.notes if "secret-named" in note.message]
    assert [number for number, _ in notes] == [line], loaded.notes
