#!/usr/bin/python
# Copyright: tcpaudit developers
# SPDX-License-Identifier: Apache-2.0
#
# Licensed under the Apache License, Version 2.0 (the "License"); you may not
# use this file except in compliance with the License. You may obtain a copy of
# the License at http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.

"""Collect the raw inputs tcpaudit needs from a target: the ``tcpaudit.audit.facts`` module.

This file runs on the managed host, so it uses the Python standard library
only (plus AnsibleModule) and stays compatible with Python 3.8. It gathers and
judges nothing: it copies the files tcpaudit's loaders would read (the Apache
configuration and every file its Include lines reach, the envvars/sysconfig
files, the persistent sysctl files) and the world-readable net.ipv4/net.core
values of /proc/sys, and the evidence of httpd's build and of the service's
invocation the loader reads, into a "snapshot" document. The controller rebuilds a
root tree from it and runs the same loaders (``tcpaudit.snapshot``).
"""

from __future__ import annotations

import base64
import errno
import os
import posixpath
import re
import socket
import stat
import subprocess

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
---
module: facts
short_description: Collect the Apache and TCP sysctl inputs of a tcpaudit audit
version_added: "0.1.0"
description:
  - Copies, without judging them, the inputs tcpaudit's loaders read on a host
    into the fact C(ansible_facts.tcpaudit), a snapshot document
    (C(format=tcpaudit-snapshot/1)).
  - "Apache: the main configuration (found by distribution layout: Debian, RHEL,
    Gentoo, upstream, FreeBSD, or O(apache_conf)), every file reachable through
    C(Include)/C(IncludeOptional) (globs and directories resolved, C(${VAR}) from
    envvars and C(Define); an unknown variable stays literal, as httpd reads it),
    the output of C(apache2 -v)/C(httpd -v) and C(-V) when O(root) is C(/) and
    the binary exists."
  - "How the service starts httpd and which httpd it is, as the loader works
    them out: the C(apache2.service)/C(httpd.service) units and their
    drop-ins, their C(EnvironmentFile=) files, Debian's envvars and the files
    it sources, C(/etc/sysconfig/httpd), C(/etc/sysconfig/apache2),
    C(/etc/conf.d/apache2), the main file the service names with C(-f) (below
    its C(-d)), os-release, the stanzas of Apache's packages in dpkg's status
    (not the rest of it), Portage's C(www-servers/apache-*) records, whether
    the module directories and openSUSE's C(sysconfig.d/loadmodule.conf)
    exist, and from each httpd binary only its version banner and the
    identifiers of its linked-in modules (C(binaries)), read from its bytes."
  - "Sysctl: the world-readable files directly in C(/proc/sys/net/ipv4) and
    C(/proc/sys/net/core), the names of the interface directories under C(conf)
    and C(neigh), C(/proc/sys/kernel/osrelease), and the sysctl files the boot
    tool applies (systemd-sysctl's or procps' choice of C(sysctl.d) names, masks
    resolved, C(/etc/sysctl.conf) for procps), in boot order and within
    tcpaudit's own limits (1,000 files, 16 MiB, none over 1 MiB), so the controller
    reads the values a local audit would. A file that is not world-readable, and any key
    named like a secret (C(tcp_fastopen_key)), is recorded by name only, never
    opened. Nothing below C(/proc/sys) is followed if it is a symbolic link."
  - "Secrets are removed before anything leaves the host: the value of a
    sysctl line that sets a secret key, directly or through a glob
    (C(net.ipv4.tcp_fastopen_ke? = ...)), the body of a PEM private key in any
    collected file, and variables named like secrets (C(DB_PASSWORD)) or
    holding a value shaped like a credential (C(Bearer ...), C(Basic ...), a
    blank then 16 token characters with a digit) in envvars, sysconfig and
    environment files and in units' C(Environment=),
    and in Apache files the secrets of directives (a password in a URL,
    AJP's C(secret=), C(AuthLDAPBindPassword), a credential header such as
    C(RequestHeader set Authorization) however its name is written, any
    header set to C(Basic ...) or C(Bearer ...), a secret-named variable or
    parameter), replaced by C(tcpaudit-redacted). Lines are kept, so line
    numbers stay right; a fix is never planned for a file holding a redacted
    value."
  - "A value standing in a secret's place through another name is redacted
    where it is written: a C(Define) or C(SetEnv) (names of any case, as httpd
    reads them), a variable set by C(SetEnvIf) or C(RewriteRule [E=]) (with
    what its C(RewriteCond)s read), a request header a credential header
    reads, a C(Use) argument. Lines holding C(${NAME}) or a macro's
    parameters are tried as httpd reads them (Includes in place, Defines in
    order, each C(Use)); a line the bounds stop (64 combinations, 8 values of
    a name, 64 KiB, 16 MiB of expansion) that may hold a secret has those
    words replaced, and the collection fails, naming the file and line,
    rather than send more than 10,000 such lines, a directive name it cannot
    expand, or a configuration needing more than 2,000,000 lines read."
  - Symbolic links are recorded as links, so the controller resolves them as the
    host would; a link is never followed out of O(root), and a FIFO, device or
    socket is never opened. Collection is bounded by O(max_files), O(max_bytes)
    and O(max_file_bytes), /proc/sys values included; C(${VAR}) expansion stops
    at 4096 characters. What is left out is named in C(notes).
  - The grading runs on the controller with M(tcpaudit.audit.check), which needs
    the C(tcpaudit) Python package there. The target needs nothing but Python.
options:
  root:
    description:
      - The directory that stands for the host's C(/), for images, chroots and
        tests. Absolute paths and absolute symbolic links resolve inside it.
    type: path
    default: /
  apache_conf:
    description:
      - The main Apache configuration file, as an absolute path inside O(root).
        By default the first file of the known layouts that exists.
    type: str
  probe_apache:
    description:
      - Run the Apache binary with C(-v) and C(-V) (fixed arguments, 10 second
        timeout) so the controller knows the exact version. Only when O(root)
        is C(/).
    type: bool
    default: true
  max_files:
    description: At most this many files (and directories, links) are recorded.
    type: int
    default: 10000
  max_bytes:
    description: At most this many bytes of file contents are recorded in total.
    type: int
    default: 33554432
  max_file_bytes:
    description:
      - An Apache configuration file larger than this is recorded without its
        contents (named in C(notes)). Sysctl files are cut at 1 MiB, as the
        boot tools and tcpaudit read them.
    type: int
    default: 4194304
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  facts:
    support: full
notes:
  - Writes nothing and never changes anything; C(changed) is always false.
  - Read with C(become=true) when the Apache configuration is not readable by
    the remote user.
author:
  - tcpaudit developers
"""

EXAMPLES = r"""
- name: Collect tcpaudit's inputs
  tcpaudit.audit.facts:

- name: Collect from a mounted image instead of the running system
  tcpaudit.audit.facts:
    root: /mnt/image
    probe_apache: false

- name: Grade them on the controller
  tcpaudit.audit.check:
    fail_on: high
    report_dir: reports
"""

RETURN = r"""
ansible_facts:
  description: Facts added to the host.
  returned: always
  type: dict
  contains:
    tcpaudit:
      description:
        - The snapshot document, read by C(tcpaudit.snapshot) on the controller
          and by C(tcpaudit audit --facts FILE).
      returned: always
      type: dict
      contains:
        format:
          description: Document format and version.
          type: str
          sample: tcpaudit-snapshot/1
        host:
          description: The host name (O(root)'s C(etc/hostname) when O(root) is not C(/)).
          type: str
          sample: web1
        apache_conf:
          description: O(apache_conf) as given, or null.
          type: str
        files:
          description:
            - Absolute paths inside O(root), each mapped to one of
              C({content}), C({content_base64}) (not UTF-8), C({link}) (a
              symbolic link's target), C({dir}), C({present}) (exists, contents
              not needed), C({omitted, size}) (over a limit) or C({error}).
          type: dict
          sample: {"/etc/httpd/conf/httpd.conf": {"content": "Timeout 300\n"}}
        proc:
          description:
            - Paths below C(/proc/sys) mapped to the file's text, or null for a
              file recorded by name only (not world-readable, or a secret).
          type: dict
          sample: {"net/ipv4/tcp_keepalive_time": "7200\n", "net/ipv4/tcp_fastopen_key": null}
        binaries:
          description:
            - Each httpd binary found (its path inside O(root), links resolved)
              mapped to what its bytes tell, C(version), C(platform) (the
              banner's C((Debian))), C(linked) (the linked-in module
              identifiers, in C(httpd -l) order; null for 2.2) and
              C(mpm_source) (2.2's linked MPM). The binary itself is not sent.
          type: dict
          sample: {"/usr/sbin/apache2": {"version": "2.4.62", "platform": "Debian",
                   "linked": ["core_module", "so_module", "http_module"], "mpm_source": null}}
        apache_version_output:
          description: Standard output of C(apache2 -v) or C(httpd -v), or null.
          type: str
          sample: "Server version: Apache/2.4.62 (Debian)\n"
        apache_compile_output:
          description: Standard output of C(-V), or null.
          type: str
        notes:
          description: What was left out, and why.
          type: list
          elements: str
"""

FORMAT = "tcpaudit-snapshot/1"

# The layouts tcpaudit knows (src/tcpaudit/apache/locate.py), in its order:
# (main file, compiled-in ServerRoot, the binary that layout installs).
LAYOUTS = (
    ("/etc/apache2/apache2.conf", "/etc/apache2", "/usr/sbin/apache2"),
    ("/etc/httpd/conf/httpd.conf", "/etc/httpd", "/usr/sbin/httpd"),
    ("/etc/apache2/httpd.conf", "/usr/lib64/apache2", "/usr/sbin/apache2"),
    ("/usr/local/apache2/conf/httpd.conf", "/usr/local/apache2", "/usr/local/apache2/bin/httpd"),
    ("/usr/local/etc/apache24/httpd.conf", "/usr/local", "/usr/local/sbin/httpd"),
)
# Debian's envvars, RHEL's and openSUSE's sysconfig, Gentoo's conf.d: shell
# fragments httpd is started with (src/tcpaudit/apache/invocation.py).
STARTUP_FILES = (
    "/etc/apache2/envvars",
    "/etc/sysconfig/httpd",
    "/etc/conf.d/apache2",
    "/etc/sysconfig/apache2",
)
# What the loader reads to work out httpd's build and the service's invocation
# (src/tcpaudit/apache/build.py, evidence.py, invocation.py, units.py); a test
# keeps these lists equal to the loader's.
UNIT_DIRECTORIES = (
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
)
UNIT_NAMES = ("apache2.service", "httpd.service")
MAX_DROP_INS = 256
OS_RELEASE_FILES = ("/etc/os-release", "/usr/lib/os-release")
DPKG_STATUS = "/var/lib/dpkg/status"
# The loader reads os-release and dpkg's status only up to this size (evidence.py).
EVIDENCE_TEXT_BYTES = 8 * 1024 * 1024
# The stanzas of dpkg's status the loader reads: httpd's version, 2.2's MPM package.
_DPKG_PACKAGE = re.compile(
    r"^Package: (?:apache2-bin|apache2\.2-bin|apache2\.2-common|apache2-common|apache2-mpm-\S+)$",
    re.M,
)
PORTAGE_SERVERS = "/var/db/pkg/www-servers"
_PORTAGE_ENTRY = re.compile(r"apache-\d+\.\d+\.\d+(?:-r\d+)?")
SUSE_LOADMODULE = "/etc/apache2/sysconfig.d/loadmodule.conf"
MODULE_DIRECTORIES = (
    "/usr/lib/apache2/modules",
    "/usr/lib64/httpd/modules",
    "/usr/lib/httpd/modules",
    "/usr/lib64/apache2-prefork",
    "/usr/lib64/apache2-worker",
    "/usr/lib64/apache2-event",
    "/usr/lib64/apache2/modules",
    "/usr/local/apache2/modules",
)
HTTPD_BINARIES = (
    "/usr/sbin/apache2",
    "/usr/sbin/httpd",
    "/usr/sbin/httpd.worker",
    "/usr/sbin/httpd.event",
    "/usr/sbin/httpd-prefork",
    "/usr/sbin/httpd-worker",
    "/usr/sbin/httpd-event",
    "/usr/sbin/httpd2",
    "/usr/local/apache2/bin/httpd",
    "/usr/local/sbin/httpd",
)
# httpd binaries are a few MiB; the loader reads none larger (binary.py).
BINARY_BYTES = 64 * 1024 * 1024
_BINARY_VERSION = re.compile(rb"Apache/(\d+\.\d+\.\d+)( \([^)\x00]{1,60}\))?")
_BINARY_IDENTIFIER = re.compile(rb"[a-z][a-z0-9_]{0,60}_module")
_MPM_SOURCES = ((b"prefork.c", "prefork"), (b"worker.c", "worker"), (b"event.c", "event"))
# Shell fragments sourced from start-up files, followed at most this deep and this many.
MAX_SOURCE_DEPTH = 8
MAX_SOURCED_FILES = 64
SYSCTL_DIRECTORIES = (
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
)
SYSCTL_CONF = "/etc/sysctl.conf"
# Whose precedence applies depends on whether systemd-sysctl exists.
SYSTEMD_SYSCTL = ("/usr/lib/systemd/systemd-sysctl", "/lib/systemd/systemd-sysctl")
PROC_DIRECTORIES = ("net/ipv4", "net/core")
OSRELEASE = "kernel/osrelease"
# tcpaudit reads no sysctl file larger than this (its values are then unknown): none is sent.
SYSCTL_FILE_BYTES = 1024 * 1024
# tcpaudit's loader applies at most this many sysctl files, and stops once it
# has read this many bytes (sysctl/persistent.py); the module collects as much.
SYSCTL_MAX_FILES = 1000
SYSCTL_MAX_TOTAL_BYTES = 16 * 1024 * 1024
# A /proc/sys value is a few bytes; tcpaudit reads at most this much.
PROC_VALUE_BYTES = 4096
# Linux gives up after 40 links in one lookup (ELOOP).
MAX_SYMLINKS = 40
# httpd's AP_MAX_FNMATCH_DIR_DEPTH.
MAX_DIRECTORY_DEPTH = 128
# The kernel refuses a path name of this many bytes or more (its NUL included):
# httpd cannot stat or open an Include path that long.
PATH_MAX = 4096
PROBE_TIMEOUT_SECONDS = 10
PROBE_OUTPUT_BYTES = 65536
# Keys whose values are secrets: never opened (ip-sysctl.rst: tcp_fastopen_key is 0600).
SECRET_NAMES = frozenset({"tcp_fastopen_key", "netdev_rss_key"})
SECRET_SUFFIXES = ("_key", "_secret")

# A path longer than PATH_MAX names no file: an expansion beyond it is not followed.
MAX_EXPANSION_CHARACTERS = 4096
# Interface directories under /proc/sys/net/ipv4/conf and neigh that are listed.
MAX_INTERFACES = 4096
REDACTED = "<redacted by tcpaudit.audit.facts>"
# Secret keys of every kernel (below /proc/sys), for sysctl lines naming them by a glob.
SECRET_PATHS = (
    "net/ipv4/tcp_fastopen_key",
    "net/core/netdev_rss_key",
    "net/ipv6/conf/all/stable_secret",
    "net/ipv6/conf/default/stable_secret",
)
# A name saying it holds a secret (tcpaudit/apache/shellwords.py: the same).
_SECRET_VARIABLE = re.compile(
    r"(?i)password|passwd|passphrase|secret|token|credential|api[_-]?key|private[_-]?key"
    r"|(?:master|signing|encryption|access|auth|session|shared|client|app)[_-]?key(?:$|[_-]?[0-9]+$)"
    r"|(?:^|[_-]|db|ldap|smtp|mysql|mariadb|pg|postgres|redis|admin|root|user|bind|mail|ftp|sql)"
    r"(?:pass|pwd|pw)(?:$|[_-]|[0-9])|(?:^|[_-])key(?:$|[_-]?[0-9]+$)"
)
# A text that may assign one (a cheap first test, never a false "no").
_SECRET_HINT = re.compile(r"(?i)pass|secret|token|credential|key|private|pw")
# The armour of private keys: PEM (PKCS#1, PKCS#8, OpenSSH...), OpenPGP's
# "PRIVATE KEY BLOCK", SSH.com's SSH2, and PuTTY's files, whose private part
# ends with their MAC (or v1's hash) line (src/tcpaudit/private_keys.py).
_KEY_BEGIN = re.compile(
    r"-----BEGIN (?P<pem>(?:[A-Za-z0-9 ]|-(?!-)){0,64}"
    r"(?:PRIVATE KEY(?: BLOCK)?|SECRET KEY BLOCK|Static key V[0-9]+"
    r"|tls-crypt-v2 (?:server|client) key))-----"
    r"|---- BEGIN SSH2 (?P<ssh2>[A-Z0-9 ]{0,64}PRIVATE KEY) ----"
    r"|PuTTY-User-Key-File-[0-9]+:"
)
_PUTTY_LAST_LINE = re.compile(r"Private-(?:MAC|Hash):")
# What a key's line keeps in front of the placeholder: its indent and a comment's '#'.
_KEY_LINE_PREFIX = re.compile(r"[ \t]*(?:#[ \t]*)?")
_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def _variable_names(text):
    """The names of ``text``'s ``${NAME}``s (a name runs to the next '}'), searched
    only up to the last '}': from each '${' after it the pattern scanned to
    the end in vain (a line of 40,000 '${': a minute)."""
    return _VARIABLE.findall(text, 0, text.rfind("}") + 1)


# Unrolled (runs of plain characters, then one escape): an alternation
# tried per character read quoted words at a few MB/s. As ap_getword_conf,
# a backslash escapes the quote in either kind ('x\'y' is one word).
# A quote never closed runs to the line's end (one word, as httpd reads it);
# words end only at the blanks httpd's apr_isspace knows (not U+00A0, U+2003).
_APACHE_BLANKS = " \t\n\v\f\r"
_BLANK_RUN = re.compile(r"[ \t\n\v\f\r]*")
_BARE_WORD = re.compile(r"[^ \t\n\v\f\r]+")
# A quote or a newline: the characters a quoted word's reading stops at.
_QUOTED_WORD_STOP = {'"': re.compile('["\\n]'), "'": re.compile("['\\n]")}


class _WordMatch:
    """One word of an Apache line, read as httpd's ap_getword_conf reads it:
    ``groups()`` is (double-quoted text, single-quoted text, bare word), one
    of them set; ``start()``, ``end()`` and ``group(index)`` as a match's."""

    __slots__ = ("_end", "_groups", "_line", "_start")

    def __init__(self, line, start, end, groups):
        self._line = line
        self._start = start
        self._end = end
        self._groups = groups

    def start(self):
        return self._start

    def end(self):
        return self._end

    def group(self, index=0):
        return self._line[self._start : self._end] if index == 0 else self._groups[index - 1]

    def groups(self):
        return self._groups


def _escaped(text, floor, index):
    """Whether the character at ``index`` follows an odd run of backslashes
    (none of them before ``floor``, a position no escape spans)."""
    run = text[floor:index]
    return (len(run) - len(run.rstrip("\\"))) % 2 == 1


def _quoted_word_ends(line, start, endpos):
    """(end of the text, end of the word) of the quoted word opening at
    ``start``, or None when it is no quoted word (an escaped newline before
    the text's end). A backslash escapes the next character, the quote
    included; a word never closed runs to the end, a last lone backslash
    left out of its text.

    Read by finding quotes and counting the backslashes before each, not by
    a pattern repeating a group: Python's engine (3.8 to 3.10 have no
    possessive repeats) keeps a frame for each escape it passes, about
    300 MB for a 4 MiB word of them."""
    stop = _QUOTED_WORD_STOP[line[start]]
    floor = start + 1
    while True:
        found = stop.search(line, floor, endpos)
        if found is None:
            if _escaped(line, floor, endpos):
                return endpos - 1, endpos
            return endpos, endpos
        index = found.start()
        if not _escaped(line, floor, index):
            if line[index] != "\n":
                return index, index + 1
        elif line[index] == "\n":
            # No escape takes a newline: the text ends at the backslash when
            # the newline ends the line, else this is no quoted word.
            return (index - 1, index) if index + 1 == endpos else None
        floor = index + 1


def _word_matches(line, pos=0, endpos=None):
    """Each word of ``line`` (between ``pos`` and ``endpos``), as _WordMatch."""
    endpos = len(line) if endpos is None else min(endpos, len(line))
    index = pos
    while index < endpos:
        index = _BLANK_RUN.match(line, index, endpos).end()
        if index >= endpos:
            return
        if line[index] in "\"'":
            ends = _quoted_word_ends(line, index, endpos)
            if ends is not None:
                text = line[index + 1 : ends[0]]
                groups = (text, None, None) if line[index] == '"' else (None, text, None)
                yield _WordMatch(line, index, ends[1], groups)
                index = ends[1]
                continue
        end = _BARE_WORD.match(line, index, endpos).end()
        yield _WordMatch(line, index, end, (None, None, line[index:end]))
        index = end


def _first_word(line):
    """The first word of ``line`` (a _WordMatch), or None."""
    return next(_word_matches(line), None)


_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
_BARE_VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)


def read_regular(path, limit, dir_fd=None):
    """Up to ``limit`` bytes of a regular file; OSError for anything else.

    ``path`` is one already resolved inside the root (or a name inside the
    open directory ``dir_fd``): its last component is never followed if it
    is a symbolic link. lstat first, then O_NONBLOCK and the fstat check
    keep a FIFO or device planted in a tree from being opened, blocking or
    feeding the read forever.
    """
    if not stat.S_ISREG(os.stat(path, dir_fd=dir_fd, follow_symlinks=False).st_mode):
        raise OSError(errno.EINVAL, "not a regular file", path)
    descriptor = os.open(path, _READ_FLAGS | os.O_NOFOLLOW, dir_fd=dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        chunks = []
        remaining = limit
        while remaining > 0:
            chunk = os.read(descriptor, min(remaining, 1024 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(descriptor)


_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)


def _content_bytes(entry):
    """Bytes a recorded entry holds once written out on the controller."""
    if "content" in entry:
        return len(entry["content"].encode("utf-8", "surrogateescape"))
    if "content_base64" in entry:
        return len(base64.b64decode(entry["content_base64"]))
    return 0


def open_below(base, parts):
    """A descriptor of ``parts`` below the open directory ``base``, no link followed."""
    descriptor = base
    try:
        for part in parts:
            inner = os.open(part, _DIRECTORY_FLAGS | os.O_NOFOLLOW, dir_fd=descriptor)
            if descriptor != base:
                os.close(descriptor)
            descriptor = inner
    except OSError:
        if descriptor != base:
            os.close(descriptor)
        raise
    return descriptor if descriptor != base else os.dup(base)


def is_secret(name):
    """True for /proc/sys file names whose contents must never be read."""
    return name in SECRET_NAMES or name.endswith(SECRET_SUFFIXES)


def _too_long(tree):
    """Whether httpd's path ``tree`` is too long for the kernel (ENAMETOOLONG)."""
    return len(tree) >= PATH_MAX // 4 and len(tree.encode("utf-8", "surrogateescape")) >= PATH_MAX


def _directory_only(argument):
    """Whether an Include argument names directories only: apr_filepath_merge
    keeps its trailing '/' when it ends in an empty, '.' or '..' component."""
    return argument.rpartition("/")[2] in ("", ".", "..")


def has_wildcard(pattern):
    """``apr_fnmatch_test``: ``*``/``?`` anywhere, or ``[`` with a later ``]``;
    a backslash hides the character after it (``a\\*b`` is a file's name)."""
    nesting = 0
    index, length = 0, len(pattern)
    while index < length:
        char = pattern[index]
        if char in "?*":
            return True
        if char == "\\":
            index += 1
            if index >= length:
                return False
        elif char == "[":
            nesting += 1
        elif char == "]" and nesting:
            return True
        index += 1
    return False


# Include wildcards, matched as httpd's apr_fnmatch(pattern, name,
# APR_FNM_PERIOD) matches them (tcpaudit.apache.wildcards, written again: a
# module is one file): bytes, not characters; escapes inside brackets too;
# ranges compare signed chars (x86); a leading '.' needs '.' or '\\.'; each
# '*' takes the first place its run of fixed items matches, and the run after
# the last '*' matches the end. Each run is a regular expression, so a pattern
# of many stars costs what it costs httpd.
_ALL_BYTES = (1 << 256) - 1
MAX_DIRECTORY_ENTRIES = 500000  # the loader's bound on a directory's names
_WILDCARD_CACHE = {}


def _apr_signed_range(low, high):
    """Bytes ``low`` to ``high`` as a mask, compared as x86's signed char."""
    first, last = (low - 256 if low > 127 else low), (high - 256 if high > 127 else high)
    mask = 0
    for start, end in ((max(first, 0), min(last, 127)), (max(first, -128), min(last, -1))):
        if start <= end:
            mask |= ((1 << (end % 256 + 1)) - 1) ^ ((1 << (start % 256)) - 1)
    return mask


def _apr_bracket(pattern, start):
    """The bracket at ``pattern[start]`` as (byte mask, index after it), or None."""
    length = len(pattern)

    def at(index):
        return pattern[index] if index < length else 0

    index = start + 1
    negated = at(index) in b"!^"
    if negated:
        index += 1
    mask, first = 0, True
    while index < length:
        char = pattern[index]
        if char == 0x5D and not first:  # ']'
            return (mask ^ _ALL_BYTES if negated else mask), index + 1
        if char == 0x5C:  # '\\'
            index += 1
            if index >= length:
                return None
            char = pattern[index]
        first = False
        if at(index + 1) == 0x2D and at(index + 2) != 0x5D:  # 'x-y', y not ']'
            low = char
            index += 3 if at(index + 2) == 0x5C else 2
            if index >= length:
                return None
            mask |= _apr_signed_range(low, pattern[index])
            index += 1
            continue
        mask |= 1 << char
        index += 1
    return None


_MASK_REGEX_CACHE = {}


def _apr_mask_regex(mask):
    if mask not in _MASK_REGEX_CACHE:
        if len(_MASK_REGEX_CACHE) > 1024:
            _MASK_REGEX_CACHE.clear()
        _MASK_REGEX_CACHE[mask] = _apr_mask_regex_uncached(mask)
    return _MASK_REGEX_CACHE[mask]


def _apr_mask_regex_uncached(mask):
    if mask == _ALL_BYTES:
        return rb"[\x00-\xff]"
    if not mask:
        return rb"(?!)"
    return b"[" + b"".join(b"\\x%02x" % byte for byte in range(256) if mask >> byte & 1) + b"]"


def _apr_run(items):
    parts, index = [], 0
    while index < len(items):
        item, end = items[index], index + 1
        if item.startswith((b"[", b"(")):
            while end < len(items) and items[end] == item:
                end += 1
        parts.append(item if end == index + 1 else b"(?:%s){%d}" % (item, end - index))
        index = end
    source = b"".join(parts)
    return re.compile(source), len(items), source


def _apr_compile(pattern):
    runs, items, starred = [], [], False
    index, length = 0, len(pattern)
    while index < length:
        char = pattern[index]
        if char == 0x2A:  # '*'
            runs.append(_apr_run(items))
            items, starred = [], True
            while index < length and pattern[index] == 0x2A:
                index += 1
            continue
        if char == 0x3F:  # '?'
            items.append(rb"[\x00-\xff]")
            index += 1
            continue
        if char == 0x5B:  # '['
            bracket = _apr_bracket(pattern, index)
            if bracket is not None:
                mask, index = bracket
                items.append(_apr_mask_regex(mask))
                continue
        elif char == 0x5C and index + 1 < length:
            index += 1
            char = pattern[index]
        items.append(re.escape(bytes((char,))))
        index += 1
    runs.append(_apr_run(items))
    # The runs between stars as one expression: "(?=(?P<rN>.*?RUN))(?P=rN)"
    # takes the first place a run matches and never gives it back (an atomic
    # group, in the regular expressions of Python 3.8), so a name is one call
    # into the regex engine, not one per run.
    middle = None
    if len(runs) > 2:
        middle = re.compile(
            b"".join(
                b"(?=(?P<r%d>.*?%s))(?P=r%d)" % (number, run[2], number)
                for number, run in enumerate(runs[1:-1])
            ),
            re.DOTALL,
        )
    return runs, starred, middle, sum(run[1] for run in runs)


def wildcard_matches(pattern, name):
    """Whether directory entry ``name`` matches Include component ``pattern``."""
    pattern, name = os.fsencode(pattern), os.fsencode(name)
    if name.startswith(b"."):
        if pattern.startswith(b"."):
            pattern, name = pattern[1:], name[1:]
        elif pattern.startswith(b"\\."):
            pattern, name = pattern[2:], name[1:]
        else:
            return False
    if pattern not in _WILDCARD_CACHE:
        if len(_WILDCARD_CACHE) > 512:
            _WILDCARD_CACHE.clear()
        _WILDCARD_CACHE[pattern] = _apr_compile(pattern)
    runs, starred, middle, width = _WILDCARD_CACHE[pattern]
    if not starred:
        regex, width, _ = runs[0]
        return len(name) == width and regex.fullmatch(name) is not None
    (head, head_width, _), (tail, tail_width, _) = runs[0], runs[-1]
    tail_start = len(name) - tail_width
    if len(name) < width or head.match(name) is None or tail.fullmatch(name, tail_start) is None:
        return False
    return middle is None or middle.match(name, head_width, tail_start) is not None


def directive_lines(text, wanted=None):
    """Yield (lower-cased name, arguments) of each directive line, continuations joined
    (only those whose name is in ``wanted``, when given: the others are not split)."""
    pending = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        line = (pending + line).strip()
        pending = ""
        if not line or line.startswith("#"):
            continue
        if wanted is not None and line.split(None, 1)[0].lower() not in wanted:
            continue
        words = [
            next(group for group in match.groups() if group is not None)
            for match in _word_matches(line)
        ]
        if words:
            yield words[0].lower(), words[1:]


def expand(value, variables, missing=None):
    """``${VAR}`` replaced from ``variables``.

    An unknown variable stays literal, as httpd leaves it (``missing`` None),
    or becomes ``missing`` (the shell's empty string). Returns None when the
    result would pass MAX_EXPANSION_CHARACTERS: no path that long names a
    file, and definitions that double each other grow without end.
    """
    if "${" not in value:
        return value if len(value) <= MAX_EXPANSION_CHARACTERS else None

    def value_of(match):
        known = variables.get(match.group(1))
        if known is None:
            return match.group(0) if missing is None else missing
        return known

    return _bounded_substitution(value, _VARIABLE, value_of)


def _bounded_substitution(value, pattern, value_of, limit=MAX_EXPANSION_CHARACTERS):
    """``pattern``'s matches in ``value`` replaced by ``value_of(match)``.

    None when the result would pass ``limit`` characters, checked while it
    is built: a line of ``$A$A$A...`` would otherwise multiply its length by
    that of A before any check.
    """
    pieces = []
    size = 0
    last = 0
    for match in _matches(pattern, value):
        known = value_of(match)
        pieces.append(value[last : match.start()])
        pieces.append(known)
        size += match.start() - last + len(known)
        if size > limit:
            return None
        last = match.end()
    pieces.append(value[last:])
    result = "".join(pieces)
    return None if len(result) > limit else result


def _matches(pattern, value):
    """``pattern.finditer(value)``, in linear time for the patterns that need a
    closing '}' (``${NAME}``): they are searched up to the last '}' only."""
    if pattern is not _VARIABLE and pattern is not _SHELL_VARIABLE:
        return pattern.finditer(value)
    end = value.rfind("}") + 1
    found = list(pattern.finditer(value, 0, end))
    if pattern is _SHELL_VARIABLE:  # its bare $NAME may follow
        found.extend(_BARE_VARIABLE.finditer(value, end))
    return found


def shell_assignments(text, known=None, overflowed=None):
    """Plain ``NAME=value`` lines of a shell fragment (Debian's envvars), over ``known``.

    ``$NAME`` and ``${NAME}`` take earlier values; an unset one is empty, as in the shell.
    A value whose expansion passes MAX_EXPANSION_CHARACTERS is left unset (its
    name added to the list ``overflowed``).
    """
    values = dict(known or {})
    for line in text.splitlines():
        match = _ASSIGNMENT.match(line)
        if match:
            value = match.group(2).split("#", 1)[0].strip().strip("\"'")
            value = expand_bare(value, values)
            expanded = expand(value, values, missing="") if value is not None else None
            if expanded is not None:
                values[match.group(1)] = expanded
            elif overflowed is not None:
                overflowed.append(match.group(1))
    return values


def expand_bare(value, variables, pattern=None):
    """``$NAME`` (or ``pattern``'s matches) replaced from ``variables``, unset ones empty.

    None when the result would pass MAX_EXPANSION_CHARACTERS (checked as it is built).
    """

    def value_of(match):
        name = next((group for group in match.groups() if group), "")
        return variables.get(name, "")

    return _bounded_substitution(value, pattern or _BARE_VARIABLE, value_of)


def sysctl_path(key):
    """The path below /proc/sys a sysctl.d key names (systemd's and procps' rule)."""
    key = key.strip().lstrip("/")
    first = next((char for char in key if char in "./"), None)
    if first == ".":
        key = key.replace(".", "\0").replace("/", ".").replace("\0", "/")
    return "/".join(part for part in key.split("/") if part)


def names_secret(key, secret_paths):
    """True when a sysctl.d key (a glob too) may write a secret key's file."""
    path = sysctl_path(key)
    parts = path.split("/")
    if parts and is_secret(parts[-1]):
        return True
    # A brace a boot tool may expand (GLOB_BRACE): taken to name one.
    start = key.find("{")
    if start >= 0 and key.find("}", start) > start:
        return True
    for secret in secret_paths:
        secret_parts = secret.split("/")
        if len(secret_parts) == len(parts) and all(
            _glob_component_matches(name, wanted)
            for name, wanted in zip(secret_parts, parts)  # noqa: B905 (3.8: no strict=)
        ):
            return True
    return False


# POSIX character classes in the C locale (glibc's fnmatch, which the boot
# tools' glob(3) uses: [^k] negates, [[:alpha:]] is a class, '\\' escapes).
_GLOB_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z",
    "lower": "a-z", "space": " \\t\\n\\r\\f\\v", "blank": " \\t", "xdigit": "0-9A-Fa-f",
    "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"), "cntrl": "\\x00-\\x1f\\x7f",
    "print": "\\x20-\\x7e", "graph": "\\x21-\\x7e",
}  # fmt: skip
_GLOB_CACHE = {}


_GLOB_STAR, _GLOB_ANY = object(), object()


def _glob_component_matches(name, pattern):
    """Whether one path component matches ``pattern`` as fnmatch(3) has it."""
    if pattern not in _GLOB_CACHE:
        if len(_GLOB_CACHE) > 1024:
            _GLOB_CACHE.clear()
        _GLOB_CACHE[pattern] = _glob_tokens(pattern)
    tokens = _GLOB_CACHE[pattern]
    if tokens is None:
        return False
    # The greedy-star walk, O(len(name) * len(tokens)): a regular expression of
    # several '.*' backtracked for minutes on a short line.
    token_index = name_index = 0
    star, resume = -1, 0
    while name_index < len(name):
        if token_index < len(tokens) and tokens[token_index] is _GLOB_STAR:
            star, resume = token_index, name_index
            token_index += 1
        elif token_index < len(tokens) and _glob_one(tokens[token_index], name[name_index]):
            token_index += 1
            name_index += 1
        elif star >= 0:
            resume += 1
            token_index, name_index = star + 1, resume
        else:
            return False
    while token_index < len(tokens) and tokens[token_index] is _GLOB_STAR:
        token_index += 1
    return token_index == len(tokens)


def _glob_one(token, char):
    if token is _GLOB_ANY:
        return True
    if isinstance(token, str):
        return token == char
    return token.fullmatch(char) is not None


def _glob_tokens(pattern):
    out = []
    index, length = 0, len(pattern)
    while index < length:
        char = pattern[index]
        if char == "\\":
            if index + 1 == length:
                return None
            out.append(pattern[index + 1])
            index += 2
        elif char == "*":
            if not out or out[-1] is not _GLOB_STAR:
                out.append(_GLOB_STAR)
            index += 1
        elif char == "?":
            out.append(_GLOB_ANY)
            index += 1
        elif char == "[":
            bracket = _glob_bracket(pattern, index + 1)
            if bracket is None:
                out.append(char)
                index += 1
            else:
                members, index = bracket
                if members is None:
                    return None
                out.append(re.compile(members, re.DOTALL))
        else:
            out.append(char)
            index += 1
    return out


def _glob_bracket(pattern, index):
    length = len(pattern)
    negate = index < length and pattern[index] in "!^"
    if negate:
        index += 1
    members = []
    first = True
    while index < length and (pattern[index] != "]" or first):
        first = False
        end = None
        if pattern.startswith("[:", index):
            # glibc reads a class name only of letters 'a' to 'y', else '[' is a member.
            end = index + 2
            while end < length and "a" <= pattern[end] < "z":
                end += 1
            end = end if pattern.startswith(":]", end) else None
        if end is not None:
            ranges = _GLOB_CLASSES.get(pattern[index + 2 : end])
            if ranges is None:
                return None, end + 2
            members.append(ranges)
            index = end + 2
            continue
        low, index = _glob_bracket_char(pattern, index)
        if index + 1 < length and pattern[index] == "-" and pattern[index + 1] != "]":
            high, index = _glob_bracket_char(pattern, index + 1)
            if low <= high:
                members.append(re.escape(low) + "-" + re.escape(high))
            continue
        members.append(re.escape(low))
    if index >= length:
        return None
    if not members:
        return ("." if negate else "(?!)"), index + 1
    return "[" + ("^" if negate else "") + "".join(members) + "]", index + 1


def _glob_bracket_char(pattern, index):
    if pattern[index] == "\\" and index + 1 < len(pattern):
        return pattern[index + 1], index + 2
    return pattern[index], index + 1


def redact_sysctl(text, secret_paths):
    """The text with the value of every line that may set a secret key replaced."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;" or "=" not in stripped:
            continue
        key, _, _ = stripped.partition("=")
        if names_secret(key.lstrip("-").strip(), secret_paths):
            lines[index] = key.rstrip() + " = " + REDACTED
    return "\n".join(lines)


def _key_end(begin):
    """The end of the key ``begin`` starts: its own armour's end marker (another
    kind's, in an OpenPGP comment, ends nothing), and whether the line holding
    it is the key's last, all of it hidden (PuTTY's MAC)."""
    if begin.group("pem") is not None:
        return re.compile(re.escape("-----END " + begin.group("pem") + "-----")), False
    if begin.group("ssh2") is not None:
        return re.compile(re.escape("---- END SSH2 " + begin.group("ssh2") + " ----")), False
    return _PUTTY_LAST_LINE, True


def redact_private_keys(text):
    """The text with the material of each private key replaced, line for line.

    The armour stays, so a line keeps its meaning (a comment stays one): a
    body line becomes its indent and ``#`` then the placeholder, and a key
    written on one line keeps its markers around the placeholder.
    """
    if _KEY_BEGIN.search(text) is None:
        return text
    lines = text.split("\n")
    end_pattern = None  # inside a key: the end it waits for
    last_line = False
    for index, line in enumerate(lines):
        kept = []
        position = 0
        while True:
            if end_pattern is None:
                begin = _KEY_BEGIN.search(line, position)
                if begin is None:
                    kept.append(line[position:])
                    break
                kept.append(line[position : begin.end()])
                position = material_from = begin.end()
                end_pattern, last_line = _key_end(begin)
            else:
                material_from = _KEY_LINE_PREFIX.match(line, position).end()
                kept.append(line[position:material_from])
            end = end_pattern.search(line, material_from)
            stop = len(line) if end is None or last_line else end.start()
            if line[material_from:stop].strip():
                kept.append((" " if kept and kept[-1][-1:] not in ("", " ") else "") + REDACTED)
                if end is not None and not last_line:
                    kept.append(" ")
            if end is None:
                break
            end_pattern = None
            if last_line:
                break
            kept.append(end.group())
            position = end.end()
        lines[index] = "".join(kept)
    return "\n".join(lines)


# Secrets written in Apache directives (tcpaudit/apache/secret_words.py holds
# the same rules, which the controller's loaders apply; tests compare the two).
APACHE_REDACTED = "tcpaudit-redacted"  # one word: it stands for a directive's word
_SECRET_FROM = {
    "authldapbindpassword": 0,
    "sessioncryptopassphrase": 0,
    "sslsrpunknownuserseed": 0,
    "authbasicfake": 1,
    "ldaptrustedglobalcert": 2,
    "ldaptrustedclientcert": 2,
    "dbdparams": 0,
    "mdexternalaccountbinding": 0,
}
_SECRET_NAME_IN_DIRECTIVE = re.compile(
    "password|passwd|passphrase|secret|token|credential|apikey|api_key|hmac"
)
_NOT_SECRET_DIRECTIVES = frozenset(
    ["servertokens", "sslpassphrasedialog", "authformpassword", "sessioncryptopassphrasefile"]
)
_NAMING = frozenset(["define", "setenv", "header", "requestheader", "proxyfcgisetenvif"])
# Those whose words name a header only inside %{...} or req(...).
_EXPRESSIONS = frozenset(
    [
        "rewritecond", "if", "elseif", "setenvifexpr", "require", "sslrequire",
        "filterprovider", "logmessage",
    ]
)  # fmt: skip
_COMPARING = frozenset(["setenvif", "setenvifnocase", *_EXPRESSIONS])
_PARAMETERS = frozenset(
    [
        "proxypass", "proxypassmatch", "proxypassreverse", "balancermember", "proxyset",
        "proxyremote", "proxyremotematch", "proxyhctemplate", "proxy", "proxymatch",
        "location", "locationmatch", "rewriterule", "redirect", "redirectmatch",
        "redirectpermanent", "redirecttemp", "errordocument", "setenvif", "action",
        "alias", "aliasmatch", "scriptalias", "scriptaliasmatch",
        "setenvifnocase", "setenvifexpr", "browsermatch", "browsermatchnocase",
    ]
)  # fmt: skip
# Directives whose words may be a program's command line: a secret given to
# it (--password=..., a token) takes the whole word.
_PIPES = frozenset(["customlog", "transferlog", "errorlog", "globallog", "forensiclog"])
# mod_md's commands and mod_authnz_external's: every word after the first.
_COMMANDS = frozenset(
    [
        "mdchallengedns01", "mdmessagecmd", "mdnotifycmd", "defineexternalauth",
        "defineexternalgroup", "addexternalauth", "addexternalgroup",
    ]
)  # fmt: skip
_PROGRAMS = frozenset([*_PIPES, *_COMMANDS, "rewritemap", "sslpassphrasedialog", "extfilterdefine"])
_SECRET_DIRECTIVES = frozenset([*_SECRET_FROM, *_NAMING, *_PARAMETERS, *_COMPARING, *_PROGRAMS])
_SCHEME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_AUTHORITY_END = re.compile("[/?#]")
_SHELL_WORD_END = re.compile(r"[\s\"'<>]")  # where a URL in a shell's text ends
_WORD_END = re.compile(r"[ \t\n\v\f\r]")  # and in an Apache word (quotes are its own)
_ENVIRONMENT_REFERENCE = re.compile(
    r"(?i)%\{([^}:{%$]+)\}e|%\{(?:la-[uf]:)?(?:reqenv|env|osenv):([^}{%$]+)\}"
)
# A function's quoted argument; the name is found by walking back from the
# '(' over blanks (ap_expr's lexer skips any) and the name's characters.
# A call's '(' and its argument when that is one quoted literal and nothing else.
_CALL_ARGUMENT = re.compile(r"\(\s*(?:(['\"])([^'\"]*)\1\s*\))?")
_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _function_calls(text):
    """(lower-cased name, argument) of each call ``name ('argument')`` in ``text``;
    the argument is "*" (any) when it is not one quoted literal."""
    calls = []
    if "(" not in text:
        return calls
    for match in _CALL_ARGUMENT.finditer(text):
        end = match.start()
        while end > 0 and text[end - 1] in " \t\r\n\f\v":
            end -= 1
        start = end
        while start > 0 and text[start - 1] in _NAME_CHARACTERS:
            start -= 1
        if start < end:
            argument = match.group(2)
            calls.append((text[start:end].lower(), "*" if argument is None else argument))
    return calls


def _environment_names(text):
    """The environment variables ``text`` reads, lower-cased: httpd keeps them
    in a case-insensitive table (``%{XV}e`` reads ``SetEnv xv``)."""
    names = set()
    if "%{" in text:
        names.update(
            name.lower() for match in _ENVIRONMENT_REFERENCE.findall(text) for name in match if name
        )
    names.update(
        argument.lower()
        for name, argument in _function_calls(text)
        if name in ("reqenv", "env", "osenv")
    )
    return names


# A header read by a value: ap_expr's %{req:H}, %{http:H}, req('H'),
# http('H'), resp('H'), %{HTTP_H}; mod_headers' %{H}i; mod_rewrite's %{HTTP:H}.
_READ_HEADER = re.compile(
    r"(?i)%\{(?:la-[uf]:)?(?:req|req_novary|http|resp):\s*([A-Za-z0-9_-]+)"
    r"|%\{(?:la-[uf]:)?http_([A-Za-z0-9_]+)\}|%\{([A-Za-z0-9_-]+)\}i"
)
_HEADER_FUNCTIONS = frozenset(["req", "req_novary", "http", "resp"])


def _read_headers(text):
    """The request headers ``text`` reads (``_header_name`` form)."""
    names = set()
    if "%{" in text:
        names.update(
            _header_name(name) for match in _READ_HEADER.findall(text) for name in match if name
        )
    names.update(
        _header_name(argument)
        for name, argument in _function_calls(text)
        if name in _HEADER_FUNCTIONS
    )
    return names


_HEADER_REFERENCE = re.compile(
    r"(?i)%\{(?:la-[uf]:)?(?:http[:_]|(?:req|req_novary|resp):\s*)([A-Za-z0-9_-]+)"
)
# SetEnvIf's attribute is a regular expression of header names unless it is
# made of these characters only (mod_setenvif's is_header_regex).
_PLAIN_ATTRIBUTE = re.compile(r"[-A-Za-z0-9_]*")
# Any character that is not a name's may come before one ("(^|&)token=",
# "#token="), group closes or indexes follow it ("(token)=",
# "auth[password]="); names inside another's value are looked at too.
# Names, closes and values are read by runs of single characters, not by
# patterns repeating a group: Python's engine (3.8 to 3.10 have no
# possessive repeats) keeps a frame for each repetition, hundreds of MB for
# a value of a few MiB.
_PARAMETER_NAME = re.compile(r"(?<![A-Za-z0-9_.\-])[A-Za-z0-9_.\-]+(?=[)\[=])")
_CLOSE_RUN = re.compile(r"\)+")
_INDEX_CLOSE = re.compile(r"\[[^\][=]*\]")


def _parameter_names(text):
    """(start, end, name, closes) of each ``name=`` in ``text``, ``end``
    after the '='; ``closes`` the group closes and indexes between."""
    found = _PARAMETER_NAME.search(text)
    while found is not None:
        index = found.end()
        while True:
            run = _CLOSE_RUN.match(text, index) or _INDEX_CLOSE.match(text, index)
            if run is None:
                break
            index = run.end()
        if text.startswith("=", index):
            yield found.start(), index + 1, found.group(), text[found.end() : index]
            index += 1
        found = _PARAMETER_NAME.search(text, index)


# In a start-up file's or a unit's value, a query parameter's value runs to
# the next '&', ';' or ',' outside quotes, quoted runs and the text after
# them included ("?token='ab'cd"), and over the shell's blanks unless an
# option follows ("?token=a b" is all of it; "?token=a -DX" stops before
# "-DX"); an option's ("--token=a,b;c") to the next blank outside quotes.
# In one Apache word a value runs to the next '&', ';' or ',' outside
# quotes: a blank is the value's ('x?token=a b'), and so is what follows a
# quoted run. A quote never closed is a character like any other.
_PARAMETER_VALUE = "&;, \t\n"
_OPTION_VALUE = " \t\n"
_WORD_PARAMETER_VALUE = "&;,"
_PLAIN_RUN = {
    stops: re.compile("[^'\"" + re.escape(stops) + "]+")
    for stops in (_PARAMETER_VALUE, _OPTION_VALUE, _WORD_PARAMETER_VALUE)
}
_SHELL_BLANK_RUN = re.compile("[ \t\n]+")


def _parameter_value_end(text, start, stops, limit=None):
    """Where a value read from ``start`` ends (before ``limit``): quoted
    runs, characters not in ``stops`` and, for a query parameter's value in
    a shell's text (_PARAMETER_VALUE), blanks not followed by an option."""
    if limit is None:
        limit = len(text)
    plain = _PLAIN_RUN[stops]
    index = start
    while index < limit:
        run = plain.match(text, index, limit)
        if run is not None:
            index = run.end()
            continue
        char = text[index]
        if char in "'\"":
            close = text.find(char, index + 1, limit)
            index = close + 1 if close >= 0 else index + 1
            continue
        if stops == _PARAMETER_VALUE and char in " \t\n":
            after = _SHELL_BLANK_RUN.match(text, index, limit).end()
            if after < limit and text[after] not in " \t\n&;,-":
                index = after
                continue
        break
    return index


def _is_option(text, start):
    """Whether the parameter named at ``start`` begins a word of ``text`` (after
    its dashes): an option ("--token=", "token=" after a blank or '='), whose
    value its program takes whole, not a URL query's."""
    index = start
    while index and text[index - 1] == "-":
        index -= 1
    return not index or text[index - 1] in " \t\n='\""


_INDEX = re.compile(r"\[([^\]=]*)\]")


def _without_secret_parameters(word, value_stops=_PARAMETER_VALUE):
    """``word`` with the value of each secret-named parameter replaced."""
    pieces = []
    position = 0
    for start, name_end, name, closers in _parameter_names(word):
        if start < position:
            continue
        if not (
            _SECRET_VARIABLE.search(name)
            or any(_SECRET_VARIABLE.search(index) for index in _INDEX.findall(closers))
        ):
            continue
        if value_stops == _WORD_PARAMETER_VALUE and start == 0:
            # A word that is a parameter (mod_proxy's "secret=a;b&c'd'"):
            # httpd's value is the rest of the word, whatever it holds.
            end = len(word)
        elif value_stops == _PARAMETER_VALUE and _is_option(word, start):
            end = _parameter_value_end(word, name_end, _OPTION_VALUE)
        else:
            end = _parameter_value_end(word, name_end, value_stops)
        value = word[name_end:end]
        if not value or value == APACHE_REDACTED:
            continue
        pieces += [word[position:name_end], APACHE_REDACTED]
        position = end
    return "".join(pieces) + word[position:] if pieces else word


_ENV_FLAG = re.compile(r"(?i)(?<![^\[,])((?:e|env)=!?)([A-Za-z0-9_.\-]+):([^,\]]*)")
_SECRET_NAME_PARTS = (
    "pass", "secret", "token", "key", "pw", "credential", "private", "auth", "cookie",
    "session", "bearer", "basic", "digest", "negotiate", "aws4",
)  # fmt: skip
_CREDENTIAL_HEADERS = frozenset(
    ["authorization", "proxy-authorization", "cookie", "set-cookie", "www-authenticate"]
)


def _is_secret_directive(key):
    return key in _SECRET_DIRECTIVES or (
        key not in _NOT_SECRET_DIRECTIVES and _SECRET_NAME_IN_DIRECTIVE.search(key) is not None
    )


def _may_hold_secret(key, text):
    if "@" in text and "://" in text:
        return True
    if key not in _SECRET_DIRECTIVES:
        return _is_secret_directive(key)
    if key in _SECRET_FROM or key in ("requestheader", "setenvif", "setenvifnocase"):
        # Header values of any scheme; SetEnvIf attributes that are regular expressions.
        return True
    if key == "header":
        lowered = text.lower()
        return (
            "expr=" in lowered
            or any(part in lowered for part in _SECRET_NAME_PARTS)
            or _credential_shape(text, lowered)
        )
    lowered = text.lower()
    if key in _EXPRESSIONS:
        # A header read (its name may be known only at request time), or a
        # secret-named parameter in a compared literal.
        return _reads_request(lowered) or (
            "=" in text and any(part in lowered for part in _SECRET_NAME_PARTS)
        )
    if key in _PROGRAMS and key not in _COMMANDS:
        # Or a secret-named parameter in its arguments (a piped log's "?token=").
        return _program_hint(lowered) or (
            "=" in text and any(part in lowered for part in _SECRET_NAME_PARTS)
        )
    if key in _NAMING or key in _COMPARING or key in _COMMANDS or "=" in text:
        # A name like a secret's, or a value shaped like a credential ("NTLM ...").
        return any(part in lowered for part in _SECRET_NAME_PARTS) or _credential_shape(
            text, lowered
        )
    return False


def _program_hint(lowered):
    """Whether a lowered line may give a program a secret on its command line."""
    return (
        "|" in lowered or "prg:" in lowered or "exec:" in lowered or "cmd=" in lowered
    ) and _command_hint(lowered)


# A command line's words and options: a path's parts name no secret.
_COMMAND_TOKEN = re.compile(r"[^\s=:'\"]+")


def _command_hint(lowered):
    """Whether a lowered command line names a secret or a credential scheme,
    outside its paths."""
    return _SCHEME_WORD.search(lowered) is not None or any(
        "/" not in token and any(part in token for part in _SECRET_NAME_PARTS)
        for token in _COMMAND_TOKEN.findall(lowered)
    )


def _reads_request(lowered):
    """Whether a lowered line may read a header or a variable."""
    return (
        "%{http:" in lowered
        or "%{http_" in lowered
        or "%{req:" in lowered
        or "%{req_novary:" in lowered
        or "%{resp:" in lowered
        or "%{la-" in lowered
        or "%{env" in lowered
        or "%{reqenv:" in lowered
        or "%{osenv:" in lowered
        or "(" in lowered
    )


def _authority_end(text, authority):
    """Where a URL's authority ends: a path, a query, a fragment, the line's
    end, or a blank outside quotes (a later word's '@' is no password's end:
    "x='http://a' y='b@c'"; a quoted password may hold blanks)."""
    found = _AUTHORITY_END.search(text, authority)
    limit = found.start() if found is not None else len(text)
    newline = text.find("\n", authority, limit)
    limit = newline if newline >= 0 else limit
    if " " not in text[authority:limit] and "\t" not in text[authority:limit]:
        return limit
    quote = _quote_at(text, text.rfind("\n", 0, authority) + 1, authority)
    index = authority
    while index < limit:
        char = text[index]
        if char == "\\" and quote != "'":
            index += 2
            continue
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in " \t":
            return index
        index += 1
    return limit


def redact_userinfo(text, shell=True):
    """``text`` with the password of each URL's userinfo (or a lone user)
    replaced; in a shell's text (``shell``) the quotes it held stay."""
    pieces = []
    position = 0
    start = text.find("://")
    while start >= 0:
        scheme = start
        while scheme > 0 and start - scheme < 32 and text[scheme - 1] in _SCHEME_CHARACTERS:
            scheme -= 1
        while scheme < start and not text[scheme].isalpha():
            scheme += 1
        authority = start + 3
        if shell:
            end = _authority_end(text, authority)
        else:
            # One Apache word: a blank in it is a character of the password.
            found = _AUTHORITY_END.search(text, authority)
            end = found.start() if found is not None else len(text)
        at = text.rfind("@", authority, end)
        past = False
        if end < len(text) and text[end] in "/?#":
            # A user:password whose password holds '/', '?' or '#' (what
            # follows the authority's last '@' is no port, nor IPv6).
            host = text[authority:end].rpartition("@")[2]
            name, colon, rest = host.partition(":")
            if colon and name and rest and not rest.isdigit() and not host.startswith("["):
                stop = (_SHELL_WORD_END if shell else _WORD_END).search(text, end)
                beyond = text.rfind("@", end, stop.start() if stop is not None else len(text))
                if beyond >= 0:
                    at, past = beyond, True
        if scheme < start and at >= 0 and authority > position:
            user, colon, password = text[authority:at].partition(":")
            shown = user + ":" + APACHE_REDACTED if colon else APACHE_REDACTED
            if past:
                # Its first '/', '?' or '#' kept: the URL stays one httpd cannot parse.
                user = text[authority:end].partition(":")[0]
                shown = user + ":" + APACHE_REDACTED + text[end] + APACHE_REDACTED
            # The shell's quotes in what goes stay ('"pw"'"'@..."' stays a word).
            quotes = "".join(char for char in (password if colon else user) if char in "'\"")
            quotes = quotes if shell else ""
            pieces += [text[position:authority], shown + quotes]
            position = at
        start = text.find("://", start + 3)
    return "".join(pieces) + text[position:] if pieces else text


def _redact_url_and_parameters(word):
    if "@" in word and "://" in word:
        word = redact_userinfo(word, shell=False)  # an Apache word: quotes are its own
    if "=" in word:

        def without_flag(match):
            # [E=NAME:Bearer\ token]: mod_rewrite's flags escape their blanks.
            value = match.group(3)
            if not value or not (
                _SECRET_VARIABLE.search(match.group(2))
                or _is_credential_value(value.replace("\\", ""))
            ):
                return match.group()
            return match.group(1) + match.group(2) + ":" + APACHE_REDACTED

        word = _ENV_FLAG.sub(without_flag, _without_secret_parameters(word, _WORD_PARAMETER_VALUE))
    return word


def _header_name(name):
    """A header's name as mod_headers and HTTP compare it: one trailing ':' dropped
    (mod_headers strips it), lower-cased, '_' read as '-'."""
    name = name[:-1] if name.endswith(":") else name
    return name.lower().replace("_", "-")


def _is_credential_header(name):
    folded = _header_name(name)
    return (
        folded == "*"  # named only at request time: req(tolower('X'))
        or folded in _CREDENTIAL_HEADERS
        or "auth" in folded
        or "session" in folded
        or "cookie" in folded
        or _SECRET_VARIABLE.search(folded.replace("-", "_")) is not None
    )


_CREDENTIAL_SCHEME = re.compile(
    r"(?i)\s*(?:basic|bearer|digest|negotiate|ntlm|kerberos|gssapi|token|apikey"
    r"|api-key|key|aws|aws4-hmac-sha256|ssws|hoba|mutual|scram-sha-1|scram-sha-256|vapid"
    r"|splunk|signature|dpop|oauth|mac|hawk|sharedkey|sharedkeylite|sharedaccesssignature"
    r"|privatetoken|concealed|otp|jwt|sso-key|client-id|googlelogin|gsessionid)\s"
)
# Credential schemes _has_secret_name does not find (a program's command
# line is tested for these alone: its paths hold digits).
_SCHEME_WORD = re.compile(
    r"\b(?:ntlm|kerberos|gssapi|aws|ssws|hoba|mutual|scram-sha-1|scram-sha-256|vapid"
    r"|splunk|signature|dpop|oauth|mac|hawk|sharedkey|sharedaccesssignature|concealed|otp"
    r"|jwt|sso-key|client-id|googlelogin|gsessionid)[\s\\]"
)
# What a Header line may hold for its value to be one of these (a first test):
# a scheme _SECRET_NAME_PARTS do not find, or a blank and 16 token characters,
# a digit among them.
_OPAQUE_SHAPE = re.compile(r"[ \t](?=[A-Za-z._~+/-]*[0-9])[A-Za-z0-9._~+/-]{16}")


def _credential_shape(text, lowered):
    """A scheme word (``lowered``: lower-cased) or a blank and an opaque token."""
    return _SCHEME_WORD.search(lowered) is not None or _OPAQUE_SHAPE.search(text) is not None


# Or of a scheme not listed: one word, then an opaque token of 16 characters
# or more holding a digit, and nothing else.
_OPAQUE_CREDENTIAL = re.compile(
    r"\s*[A-Za-z][A-Za-z0-9!#$%&*+.^_`|~-]*[ \t]+"
    r"(?=[A-Za-z._~+/-]*[0-9])[A-Za-z0-9._~+/-]{16,}=*\s*"
)


def _is_credential_value(word):
    """A header value (quotes stripped) carrying a credential: "Basic ...", "NTLM ..."."""
    word = word.strip("\"'")
    return (
        _CREDENTIAL_SCHEME.match(word) is not None or _OPAQUE_CREDENTIAL.fullmatch(word) is not None
    )


def _names_credential(text):
    if "%{" in text and any(
        _is_credential_header(name) for name in _HEADER_REFERENCE.findall(text)
    ):
        return True
    return any(
        name in _HEADER_FUNCTIONS and _is_credential_header(argument)
        for name, argument in _function_calls(text)
    )


def _redact_comparison(key, words, names_credential=_names_credential):
    """Replace the literal a credential (``names_credential`` of a word) is compared with."""
    if key == "rewritecond":
        # RewriteCond TestString CondPattern, or RewriteCond expr "..."
        if len(words) > 1 and (
            names_credential(words[0])
            or (words[0].lower() == "expr" and names_credential(words[1]))
        ):
            words[1] = APACHE_REDACTED
    elif key in ("setenvif", "setenvifnocase"):
        # An attribute that is a regular expression of header names may match a credential's.
        if len(words) > 1 and (
            _is_credential_header(words[0]) or _PLAIN_ATTRIBUTE.fullmatch(words[0]) is None
        ):
            words[1] = APACHE_REDACTED
    elif key in ("setenvifexpr", "if", "elseif"):
        # SetEnvIfExpr expr [!]name[=value] ..., <If expr>: the expression is one word.
        if words and names_credential(words[0]):
            words[0] = APACHE_REDACTED
    elif any(names_credential(word) for word in words):
        # Require's and SSLRequire's expressions run over several words: all go,
        # but Require's own keywords.
        for index, word in enumerate(words):
            if key != "require" or word.lower() not in ("expr", "not"):
                words[index] = APACHE_REDACTED


# How many values a mod_headers action takes (one for the others).
_HEADER_VALUES = {"edit": 2, "edit*": 2, "unset": 0, "echo": 0}


def _with_next(words, index):
    """Word ``index`` and the next, unless that one is written as a condition."""
    following = words[index + 1 : index + 2]
    if following and not _is_header_clause(following[0]):
        return words[index] + " " + following[0]
    return words[index]


def _is_header_clause(word):
    """Whether a Header line's word past its values is written as a condition."""
    lowered = word[:5].lower()
    return (lowered == "early" and len(word) == 5) or lowered[:4] == "env=" or lowered == "expr="


def _redact_header_conditions(words, start, names_credential=_names_credential):
    """Replace an expr= condition (from ``start``) of a Header line comparing a
    credential, kept a condition; a value's expr= only reads one."""
    for index in range(start, len(words)):
        word = words[index]
        if word[:5].lower() == "expr=" and names_credential(word):
            words[index] = word[:5] + APACHE_REDACTED


def _is_program(key, index, word):
    """Whether word ``index`` of directive ``key`` (one of _PROGRAMS) is (part of)
    a command line."""
    if key in _PIPES:
        return word.startswith("|")
    if key == "rewritemap":
        return word[:4].lower() == "prg:"
    if key == "sslpassphrasedialog":
        return word[:5].lower() == "exec:"
    if key == "extfilterdefine":
        return word[:4].lower() == "cmd="
    return index >= 1


def redact_directive_words(key, words):
    """The words after directive ``key`` (lower-cased) with every secret replaced."""
    words = list(words)
    if not _may_hold_secret(key, " ".join(words)):
        return words
    first = _SECRET_FROM.get(key)
    if first is None and key not in _SECRET_DIRECTIVES and _is_secret_directive(key):
        first = 0
    if first is not None and len(words) > first:
        words[first:] = [APACHE_REDACTED] * (len(words) - first)
    elif key in ("define", "setenv"):
        # A secret-named variable, or "Bearer ..." kept in a variable of any name.
        if len(words) > 1 and (
            _SECRET_VARIABLE.search(words[0])
            or any(_is_credential_value(word) for word in words[1:])
        ):
            words[1:] = [APACHE_REDACTED] * (len(words) - 1)
    elif key in ("header", "requestheader"):
        start = 1 if words and words[0].lower() in ("always", "onsuccess") else 0
        if len(words) >= start + 3:
            action, name = words[start].lower(), words[start + 1]
            last = min(start + 2 + _HEADER_VALUES.get(action, 1), len(words))
            # A scheme and its token may be two words ("Bearer" <token>), or stand
            # past the value (an edit's replacement, a condition's place).
            if _is_credential_header(name) or any(
                _is_credential_value(words[index])
                # Joined from the last value on: an edit's pattern and
                # replacement are two values, not a scheme and its token.
                or (index >= last - 1 and _is_credential_value(_with_next(words, index)))
                for index in range(start + 2, len(words))
            ):
                for index in range(start + 2, last):
                    words[index] = APACHE_REDACTED
                # Words past the values (an unquoted "Bearer <token>"): httpd reads
                # the next as a condition and quotes it when refusing it.
                for index in range(last, len(words)):
                    if not _is_header_clause(words[index]):
                        words[index] = APACHE_REDACTED
            _redact_header_conditions(words, last)
    elif key == "proxyfcgisetenvif":
        if len(words) > 2 and (_SECRET_VARIABLE.search(words[1]) or _is_credential_value(words[2])):
            words[2:] = [APACHE_REDACTED] * (len(words) - 2)
    elif key in _COMPARING:
        _redact_comparison(key, words)
    elif key in _PROGRAMS:
        # A command line split over words (mod_md's) loses every word from the hint on.
        hinted = False
        for index, word in enumerate(words):
            if not _is_program(key, index, word):
                continue
            hinted = hinted or _command_hint(word.lower())
            if hinted:
                words[index] = APACHE_REDACTED
            if key not in _COMMANDS:
                hinted = False
    if key in _ENVIRONMENT_SETTERS and key != "rewriterule":
        # SetEnvIf ... "NAME=Bearer ...": a credential set in a variable of any name.
        for index in range(1, len(words)):
            name, equals, value = words[index].partition("=")
            if equals and value != APACHE_REDACTED and _is_credential_value(value):
                words[index] = name + "=" + APACHE_REDACTED
    return [word if word == APACHE_REDACTED else _redact_url_and_parameters(word) for word in words]


def _name_and_rest(line):
    """A directive's name as httpd's ap_getword_conf reads it (a quoted name
    ends at its closing quote: ``"ProxyPass"/a`` is ProxyPass, then ``/a``)
    and the text after it; ("", line) for a line with no word."""
    first = _first_word(line)
    if first is None:
        return "", line
    return next(group for group in first.groups() if group is not None), line[first.end() :]


def _without_ignored_tail(line):
    """A section opener or closer with the text httpd drops after it (an
    opener's arguments end at the line's last '>', a closer is its first
    word) replaced by one placeholder word: never read, that text may hold
    anything, a secret included (a placeholder, not nothing: <IfVersion>
    reads its words apart and refuses "2.4>x", and must still). An opener
    whose arguments hold no '>' (``<Else> x``, ``<Directory /srv``) is
    refused whatever its words: each is replaced by one placeholder word."""
    first = _first_word(line)
    if first is None:
        return line
    name = next(group for group in first.groups() if group is not None)
    if name.startswith("</"):
        return _tail_hidden(line, first.end())
    if not name.startswith("<"):
        return line
    arguments = line[first.end() :]
    if ">" not in arguments:
        return _as_placeholders(line, list(_word_matches(line, first.end())))
    return _tail_hidden(line, line.rindex(">") + 1)


def _as_placeholders(line, words):
    """``line`` with each of ``words`` (from _word_matches, in order)
    replaced by one placeholder word."""
    if not words:
        return line
    return (
        line[: words[0].start()]
        + " ".join([APACHE_REDACTED] * len(words))
        + line[words[-1].end() :]
    )


def _tail_hidden(line, end):
    """``line`` with its text from ``end`` on, if any, one placeholder word."""
    tail = line[end:]
    if not tail.strip():
        return line
    kept = len(tail) - len(tail.lstrip())
    trailing = tail[len(tail.rstrip()) :]
    return line[: end + kept] + APACHE_REDACTED + trailing


# Sections whose opener httpd reads a few words of (a path, or '~' and a
# regular expression; a module or a name; none): IfModule, IfDefine and the
# provider aliases never read the others, Directory, Files, Location and
# the Require sections refuse them whatever they say ("Multiple <Directory>
# arguments not (yet) supported", "doesn't take additional arguments").
_WORDS_READ = {
    "directory": 1, "directorymatch": 1, "files": 1, "filesmatch": 1, "location": 1,
    "locationmatch": 1, "ifmodule": 1, "ifdefine": 1, "ifdirective": 1, "ifsection": 1,
    "ifversion": 2, "else": 0, "requireall": 0, "requireany": 0, "requirenone": 0,
    "authnprovideralias": 2, "authzprovideralias": 3,
}  # fmt: skip
# Of those, the ones whose handler takes a '~' and a regular expression.
_TILDE_SECTIONS = frozenset(["directory", "directorymatch", "files", "location"])


def _unread_words_hidden(line):
    """A section opener with each word httpd does not read replaced by one
    placeholder word (same verdict: such words may hold anything)."""
    close = line.rfind(">")
    if close < 0:
        return line
    matches = list(_word_matches(line, 0, close))
    if len(matches) < 2:
        return line
    name = next(group for group in matches[0].groups() if group is not None)
    key = name.lstrip("<").rstrip(">").lower()
    read = _WORDS_READ.get(key)
    if read is None:
        return line
    if key in _TILDE_SECTIONS and matches[1].group() == "~":
        read = 2
    return _as_placeholders(line, matches[1 + read :])


def _rewrite_apache_line(line, rewrite):
    """One logical Apache line with its words rewritten by ``rewrite(key, values)``
    (which returns the new values, the name's included), quoting kept."""
    stripped = line.strip(_APACHE_BLANKS)
    if not stripped or stripped.startswith("#"):
        return line
    key = _name_and_rest(stripped)[0].lower()
    section = key.startswith("<")
    key = key[1:] if section else key
    key = key[:-1] if key.endswith(">") else key
    limit = len(line)
    if section:
        line = _without_ignored_tail(line)
        end = line.rfind(">") + 1
        if end and not key.startswith("/") and line[end:].strip():
            # The opener's words up to its '>' are rewritten; the tail is a placeholder.
            return _rewrite_apache_line(line[:end], rewrite) + line[end:]
        # httpd cuts an opener's arguments at its last '>' before reading
        # words: a quote never closed ends there, and the '>' stays.
        limit = end - 1 if end and not key.startswith("/") else len(line)
    matches = list(_word_matches(line, 0, limit))
    if not matches:
        return line
    values = [next(group for group in match.groups() if group is not None) for match in matches]
    # An opener without '>' (refused whatever its words): its last word's
    # '>'-less value is judged, and the '>' kept.
    closing = section and values[-1].endswith(">") and matches[-1].group(3) is not None
    if closing:
        values[-1] = values[-1][:-1]
    redacted = rewrite(key, values)
    if redacted is None:
        return line
    if closing:
        values[-1] += ">"
        redacted = [*redacted[:-1], redacted[-1] + ">"]
    pieces = []
    position = 0
    for match, value, new in zip(matches, values, redacted):  # noqa: B905 (3.8: no strict=)
        if new == value:
            continue
        text = match.group()
        quote = text[0] if text[0] in "\"'" and match.group(3) is None else ""
        # A quote never closed stays so (the word still runs to the opener's end).
        closed = quote if len(text) > 1 and text[-1] == quote else ""
        pieces.append(line[position : match.start()])
        pieces.append(quote + new + closed)
        position = match.end()
    return "".join(pieces) + line[position:] if pieces else line


def _unruled_parameters(key, text):
    """Whether ``text``, the words of directive ``key`` that no rule here
    knows (a misspelt ProxyPass, a third-party module's directive), may
    carry a secret-named parameter ("secret=...")."""
    return key not in _SECRET_DIRECTIVES and "=" in text and _SECRET_HINT.search(text) is not None


def _secrets_of_line(uses, macro):
    """The rewrite of ``redact_apache``: the secrets of a directive's words, and
    in ``uses`` the ${NAME}s and the macro parameters found in them."""

    def rewrite(key, values):
        joined = " ".join(values)
        unruled = _unruled_parameters(key, joined)
        if "@" not in joined and not _is_secret_directive(key) and not unruled:
            return None
        # A stray line (a broken continuation) may be a URL: its name goes too.
        redacted = [_redact_url_and_parameters(values[0]), *redact_directive_words(key, values[1:])]
        if unruled:
            redacted = [redacted[0], *map(_redact_url_and_parameters, redacted[1:])]
        if uses is not None:
            # ProxyPass ... interpolate reads an unexpanded ${NAME} from the
            # request's environment (ProxyPassInterpolateEnv).
            interpolated = key.startswith("proxypass") and any(
                value.lower() == "interpolate" for value in values[2:]
            )
            headers = key in ("header", "requestheader")
            for value, new in zip(values, redacted):  # noqa: B905 (3.8: no strict=)
                if new != value:
                    _note_secret_word(uses, value, new, macro, interpolated, headers)
        return redacted

    return rewrite


def _note_secret_word(uses, value, new, macro=None, interpolated=False, headers=False):
    """Record in ``uses`` what stood in the secret's place in ``value`` (now ``new``):
    the ${NAME}s (Define names fold case, as httpd's table does), the
    environment variables and request headers it reads, the macro parameters."""
    names = {name.lower() for name in _variable_names(value)}
    names -= {name.lower() for name in _variable_names(new)}
    uses["variables"].update(names)
    if interpolated:
        uses.setdefault("environment", set()).update(names)
    # "Basic %{CREDENTIALS}e", http://u:%{ENV:PW}@host/: that variable's value
    # is the secret; "expr=%{req:X-Tmp}": that header's.
    uses.setdefault("environment", set()).update(_environment_names(value))
    if headers:  # a credential header's value read from another request header
        uses.setdefault("headers", set()).update(_read_headers(value))
    for index, parameter in enumerate(macro[1] if macro else ()):
        if parameter in value and parameter not in new:
            uses["macros"].add((macro[0], index))


def redact_apache(text, uses=None):
    """An Apache file's text with the secrets of its directives replaced, line for line.

    A continued line whose words change is written whole on its last
    physical line, the lines before it left empty: every line keeps its number.
    ``uses`` (``{"variables": set(), "macros": set()}``) collects the names of
    the variables and the macro parameters whose values stood in a secret's
    place, for ``redact_secret_uses``.
    """
    text = redact_private_keys(text)
    lines = text.split("\n")
    macro = None
    outer_macros = []  # the macros whose bodies define the one being read
    secret_keys = {}  # directive name -> _is_secret_directive (one test a name)
    for start, end, joined in _line_groups(lines):
        index = end - 1
        # httpd skips the blanks apr_isspace knows, then a '#' makes a comment
        # ("\u00a0# x" is a directive named "\u00a0#", which httpd refuses).
        body = joined.lstrip(_APACHE_BLANKS)
        if not body:
            continue
        if body.startswith("#"):
            if any(map(_comment_may_hold_secret, [joined, *lines[start : index + 1]])):
                # A comment (all its continued lines) carries nothing httpd reads.
                lines[start : index + 1] = [""] * (index + 1 - start)
            continue
        # httpd strips the quotes of a quoted name ("ProxyPass" is ProxyPass).
        name, arguments = _name_and_rest(joined)
        word = name.lower()
        if word.startswith("<"):
            cut = _unread_words_hidden(_without_ignored_tail(joined))
            if cut != joined:
                lines[start : index + 1] = [""] * (index - start) + [cut]
                joined = cut
        if word == "<macro":
            # Its words as httpd reads them (quotes removed); a name made of
            # a ${NAME} is known only as httpd reads the line: any macro's.
            outer_macros.append(macro)
            macro = _macro_header(joined)
        key = word.lstrip("<").rstrip(">")
        current = joined  # the line as it will be sent
        secret = secret_keys.get(key)
        if secret is None:
            secret = secret_keys[key] = _is_secret_directive(key)
        # _may_hold_secret on the raw words: a hint within a word is there either way.
        if (
            "@" in joined
            or (secret and _may_hold_secret(key, arguments.strip().lower()))
            or _unruled_parameters(key, arguments)
        ):
            redacted = _rewrite_apache_line(joined, _secrets_of_line(uses, macro))
            if redacted != joined:
                lines[start : index + 1] = [""] * (index - start) + [redacted]
                current = redacted
        if _KNOWN_TOKEN.search(current):
            # A token of a known kind (ghp_..., AKIA...) whatever the directive
            # (``joined`` stays as read: what copies a credential is found in it).
            lines[start : index + 1] = [""] * (index - start) + [
                _KNOWN_TOKEN.sub(APACHE_REDACTED, current)
            ]
        if word.startswith("</macro"):
            # A macro defined in another's body ends: back in that body.
            macro = outer_macros.pop() if outer_macros else None
        if uses is not None and key in _COPYING and _copies_credential(key, joined):
            # A variable or a capture made of a credential: what compares it,
            # in any file, is found by follow_secret_uses.
            uses.setdefault("credential_reads", set()).add(key)
    return "\n".join(lines)


# Directives whose lines may copy a header's value into a variable, another
# header or a RewriteCond's capture.
_COPYING = frozenset(
    [
        "setenvif",
        "setenvifnocase",
        "setenvifexpr",
        "rewritecond",
        "rewriterule",
        "requestheader",
        "header",
    ]
)


def _copies_credential(key, line):
    """Whether a line of ``key`` (one of _COPYING) reads a credential header."""
    if any(_is_credential_header(name) for name in _read_headers(line)):
        return True
    if key in ("setenvif", "setenvifnocase"):
        words = _words(line)
        return len(words) > 1 and (
            _is_credential_header(words[1]) or _PLAIN_ATTRIBUTE.fullmatch(words[1]) is None
        )
    return False


# What the pass expanding ${NAME}s and macros may build and do: the values a
# name may hold at one point, the combinations tried on one line, the
# characters of one line and of all of them, the lines walked in all, and
# httpd's own limit on nested Includes.
MAX_NAME_VALUES = 8
MAX_COMBINATIONS = 64
MAX_EXPANDED_LINE = 65536
MAX_EXPANDED_TOTAL = 16 * 1024 * 1024
MAX_WALKED_LINES = 2000000
# Of which lines read again: a macro's body at each Use, a file included again.
MAX_REPEATED_LINES = 500000
MAX_SUBSTITUTED_TOTAL = 256 * 1024 * 1024
EXPANSION_CHECK_COST = 1024
# Past this many lines replaced for want of a check, the snapshot is refused.
MAX_CLOSED_LINES = 10000
MAX_INCLUDE_DEPTH = 128

# Sections that may leave out what they hold: a Define inside one adds a
# value its name may hold, rather than replacing the one it had.
_CONDITION_SECTIONS = frozenset(
    ["<ifdefine", "<ifmodule", "<iffile", "<ifversion", "<ifsection", "<ifdirective",
     "<if", "<elseif", "<else"]
)  # fmt: skip
_CONDITION_ENDS = frozenset("</" + name[1:] for name in _CONDITION_SECTIONS)
# Lines that change what a later ${NAME} or Use reads.
_EFFECTS = frozenset(["define", "undefine", "include", "includeoptional", "use"])
_WALKED = _EFFECTS | _CONDITION_SECTIONS | _CONDITION_ENDS


class _JoinedLine:
    """ap_cfg_getline's rule on the text joined so far (tcpaudit's
    apache/continuation.py): a final backslash goes and the line goes on,
    whatever the physical line (an empty one after "x\\\\" too). A piece's
    end moves back instead of the piece being copied."""

    __slots__ = ("ends", "pieces")

    def __init__(self, start=""):
        self.pieces = [start] if start else []
        self.ends = [len(start)] if start else []

    def add(self, text):
        """Join ``text`` (without its line feed and the carriage return before
        it); True when the line goes on."""
        if text:
            self.pieces.append(text)
            self.ends.append(len(text))
        while self.ends and not self.ends[-1]:
            self.pieces.pop()
            self.ends.pop()
        if self.ends and self.pieces[-1][self.ends[-1] - 1] == "\\":
            self.ends[-1] -= 1
            return True
        return False

    def text(self):
        return "".join(piece[:end] for piece, end in zip(self.pieces, self.ends))  # noqa: B905


def _joined(group):
    """A logical line's physical lines (``_line_groups``) joined as httpd joins
    them; the last one keeps its carriage return."""
    if len(group) == 1:
        return group[0]
    joined = _JoinedLine()
    for part in group[:-1]:
        joined.add(part[:-1] if part.endswith("\r") else part)
    return joined.text() + group[-1]


def _line_groups(lines):
    """(first index, index after the last, joined text) of each logical line of
    a file's physical ``lines``, joined as httpd joins them: a line goes on while
    the text joined so far ends in a backslash (an empty line included); the
    file's last line has no line feed and goes on to nothing."""
    last = len(lines) - 1
    start = 0
    joined = None
    for index, raw in enumerate(lines):
        if index < last:
            body = raw[:-1] if raw.endswith("\r") else raw
            if joined is None:
                if not body.endswith("\\"):
                    yield index, index + 1, raw
                    start = index + 1
                    continue
                joined = _JoinedLine()
            if joined.add(body):
                continue
            text = joined.text() + ("\r" if raw.endswith("\r") else "")
        elif joined is None:
            text = raw
        else:
            text = joined.text() + raw
        yield start, index + 1, text
        joined = None
        start = index + 1


def _logical_lines(text):
    """(first line index, end index, the line with its continuations joined)."""
    yield from _line_groups(text.split("\n"))


def _line_key(line):
    """A line's directive name, lower-cased ('<ifdefine', '</ifdefine'), or ''."""
    stripped = line.lstrip()
    if not stripped or stripped[0] == "#":
        return ""
    return stripped.split(None, 1)[0].lower().rstrip(">")


def _words(line):
    return [
        next(group for group in match.groups() if group is not None)
        for match in _word_matches(line)
    ]


def _walk_entries(text):
    """The lines of an Apache file the expansion pass reads, in order: ("line",
    first, end, line) and ("macro", name, parameters, body lines)."""
    lowered = text.lower()
    if "${" not in text and not any(
        word in lowered for word in ("define", "include", "use", "macro")
    ):
        return []
    entries = []
    body = None
    macro = ("", [])
    keys = {}  # one string per directive name, not one per line
    for first, end, line in _logical_lines(text):
        key = _line_key(line)
        key = keys.setdefault(key, key)
        if not key:
            continue
        if body is not None:
            if key == "</macro":
                entries.append(("macro", macro[0], macro[1], body))
                body = None
            else:
                body.append((first, end, line))
        elif key == "<macro":
            header = _macro_header(line)
            if header is not None:
                macro = header
                body = []
        elif key in _WALKED or "${" in line:
            entries.append(("line", first, end, line, key))
    return entries


class _Frame:
    """A file or a macro's body being read: where, how deep, under which conditions."""

    __slots__ = (
        "chain", "conditional", "conditions", "items", "macro", "path", "position", "repeat"
    )  # fmt: skip

    def __init__(self, path, items, conditional, macro, chain, repeat=False):
        self.path = path
        self.items = items
        self.position = 0
        self.conditions = 0
        self.conditional = conditional
        self.macro = macro  # (name, parameters, arguments, pattern) in a macro's body
        self.chain = chain  # the files and macros it is read from
        self.repeat = repeat  # read again: a macro's body, a file included before


class _ExpansionWalk:
    """Reads the Apache files as httpd does (Includes where they stand, Defines
    in order, a macro's body where it is used) and tries each line holding a
    ${NAME} or a macro parameter with the values it may have there.

    What it finds: ``words`` (the words of a line, or of a macro's body, that
    make a secret once expanded), ``closed`` (lines a bound stopped from being tried
    that may hold a secret: their ${NAME} words go), and in ``uses`` the
    names and parameters whose values stood in a secret's place.
    """

    def __init__(self, texts, environment, includes):
        self.texts = texts
        self.environment = environment  # the start-up exports: getenv, case kept
        self.includes = includes  # an Include's argument -> the files it names
        self.entries = {}
        self.defined = {}  # folded name -> the values it may hold (None: not Define'd), or None
        self.every_value = {}  # folded name -> every value it was given, or None
        self.holding_at = set()  # folded names that may hold '@' (or unknown values)
        self.secret_keys = {}  # directive name -> _is_secret_directive
        self.environment_at = any("@" in value for value in environment.values())
        self.closed_lines = 0
        self.macros = {}
        self.every_macro = None
        self.budget = MAX_EXPANDED_TOTAL
        self.substituted = MAX_SUBSTITUTED_TOTAL
        self.walked = 0
        self.repeated = 0
        self.visited = set()
        self.words = {}
        self.closed = {}
        self.uses = {"variables": set(), "macros": set()}

    def entries_of(self, path):
        if path not in self.entries:
            self.entries[path] = _walk_entries(self.texts[path])
        return self.entries[path]

    def run(self, mains):
        for main in mains:
            if main in self.texts and main not in self.visited:
                self.walk(main, False)
        # A file no Include of the walk reached (its Include named it with
        # other values): tried with every value each name was given.
        for path in self.texts:
            if path not in self.visited:
                self.defined = {}
                self.holding_at = set()
                for folded, values in self.every_value.items():
                    self.set_values(folded, values)
                self.walk(path, True)

    def walk(self, main, conditional):
        self.visited.add(main)
        stack = [_Frame(main, self.entries_of(main), conditional, None, (main,))]
        while stack:
            frame = stack[-1]
            if frame.items is None:  # read when its turn comes, not when it is named
                frame.items = self.entries_of(frame.path)
            if frame.position >= len(frame.items):
                stack.pop()
                continue
            entry = frame.items[frame.position]
            frame.position += 1
            self.walked += 1
            self.repeated += frame.repeat
            if self.walked > MAX_WALKED_LINES or self.repeated > MAX_REPEATED_LINES:
                raise ValueError(
                    f"{frame.path}:{entry[1] + 1}: the Apache configuration needs more than "
                    f"{MAX_WALKED_LINES} lines read ({MAX_REPEATED_LINES} of them again, for "
                    "Includes and macros) to check it for secrets: not collected"
                )
            if entry[0] == "macro":
                self.macros[entry[1]] = (entry[2], entry[3], frame.path)
                continue
            pushed = self.step(frame, entry[1], entry[2], entry[3], entry[4])
            if pushed:
                stack.extend(reversed(pushed))

    # -- one line ------------------------------------------------------------------

    def step(self, frame, first, end, template, key):
        source = (frame.path, first, end)
        macro = frame.macro
        line = template
        if macro is not None and macro[3] is not None:
            key = _line_key(template)
            if (
                not macro[4]
                and key not in _WALKED
                and "$" not in key
                and not self.may_hold(key, template)
            ):
                return []  # no argument holds '@' and the directive holds no secret
            key = None
            line = _bounded_substitution(
                template,
                macro[3],
                lambda m: macro[2][macro[1].index(m.group())],
                MAX_EXPANDED_LINE,
            )
            if line is None or len(line) > self.substituted:
                self.close(source, template, macro)
                return []
            self.substituted -= len(line)
        if key is None:
            key = _line_key(line)
        if key in _CONDITION_ENDS:
            frame.conditions = max(0, frame.conditions - 1)
        if "${" not in line:
            if macro is not None and not self.check(source, template, line, macro):
                self.close(source, template, macro)
            return self.effects(frame, key, [line], source)
        effect = key in _EFFECTS or "$" in key
        holds = self.may_hold(key, line)
        if not effect and not holds:
            expansions = None  # cannot hold a secret once expanded: not tried
        else:
            expansions = self.expand(line)
            if expansions is None:
                if holds:
                    self.close(source, template, macro)
                self.unknown_effect(key, line, source)
                if key in _CONDITION_SECTIONS:
                    frame.conditions += 1
                return []
            for expanded in expansions:
                if not self.check(source, template, expanded, macro):
                    self.close(source, template, macro)
                    break
        if key in _CONDITION_SECTIONS:
            frame.conditions += 1
            return []
        return self.effects(frame, key, expansions or [line], source)

    def may_hold(self, key, line):
        """Whether ``line`` may hold a secret once its ${NAME}s are expanded (no false "no")."""
        if "$" in key or "@" in line:
            return True
        secret = self.secret_keys.get(key)
        if secret is None:
            secret = self.secret_keys[key] = _is_secret_directive(key.lstrip("<"))
        if secret:
            return True
        if not self.holding_at and not self.environment_at:
            return False  # no value of any name holds '@'
        for name in set(_variable_names(line)):
            folded = name.lower()
            if folded in self.holding_at:
                return True
            values = self.defined.get(folded, (None,))
            if None in values and "@" in self.environment.get(name, ""):
                return True
        return False

    def values(self, name):
        """The values ${name} may have here (None: as written), or None when unknown."""
        folded = name.lower()
        if folded not in self.defined:
            return [self.environment.get(name)]
        values = self.defined[folded]
        if values is None:
            return None
        return list(dict.fromkeys(self.environment.get(name) if v is None else v for v in values))

    def expand(self, line):
        """Every expansion of ``line``, or None when a bound stops it (checked
        before substituting)."""
        if self.budget <= 0:
            return None  # spent: nothing more is tried
        names = list(dict.fromkeys(_variable_names(line)))
        choices = [[{}, 0]]
        for name in names:
            values = self.values(name)
            if values is None or len(choices) * len(values) > MAX_COMBINATIONS:
                return None
            written = line.count("${" + name + "}")
            choices = [
                [{**chosen, name: value}, size + written * (len(value) - len(name) - 3)]
                for chosen, size in choices
                for value in values
                if value is not None
            ] + [[chosen, size] for chosen, size in choices if None in values]
        expansions = []
        for chosen, growth in choices:
            size = len(line) + growth
            if size > MAX_EXPANDED_LINE or size > self.budget:
                return None
            self.budget -= size
            end = line.rfind("}") + 1  # as _variable_names
            expansions.append(
                _VARIABLE.sub(
                    lambda m, chosen=chosen: chosen.get(m.group(1), m.group(0)), line[:end]
                )
                + line[end:]
                if chosen
                else line
            )
        return expansions

    def check(self, source, template, expanded, macro):
        """Note what of ``template`` makes a secret once it reads as ``expanded``;
        False when the budget is spent before it could be checked."""
        parts = expanded.split(None, 1)
        key = parts[0].lower().rstrip(">") if parts else ""
        rest = parts[1] if len(parts) > 1 else ""
        if not _may_hold_secret(key[1:] if key.startswith("<") else key, rest):
            return True
        # A check costs this much whatever the line's size.
        if self.budget < EXPANSION_CHECK_COST:
            self.budget = 0  # spent: nothing more is tried
            return False
        self.budget -= EXPANSION_CHECK_COST
        redacted = _rewrite_apache_line(expanded, _secrets_of_line(None, None))
        if redacted == expanded:
            return True
        before, after, replaced = _words(template), _words(expanded), _words(redacted)
        if len(before) == len(after) == len(replaced):
            changed = [i for i, (a, r) in enumerate(zip(after, replaced)) if a != r]  # noqa: B905
        else:
            changed = list(range(1, len(before)))
        for index in changed:
            if index < len(before):
                self.note(before[index], macro)
        # The words of the line as written go whole: an expansion would carry
        # the values of every name in them (and in the words beside them).
        marked = self.words.setdefault(source[0], {}).setdefault(source[1], (source[2], set()))
        marked[1].update(changed)
        return True

    def note(self, word, macro):
        """The names and parameters in ``word`` stood where a secret is."""
        self.uses["variables"].update(name.lower() for name in _variable_names(word))
        for index, parameter in enumerate(macro[1] if macro else ()):
            if parameter and parameter in word:
                self.uses["macros"].add((macro[0], index))

    def close(self, source, template, macro):
        """A bound stopped ``template`` from being tried: its ${NAME} (and parameter)
        words go, and the values of those names and parameters are secrets."""
        self.closed_lines += 1
        if self.closed_lines > MAX_CLOSED_LINES:
            raise ValueError(
                f"{source[0]}:{source[1] + 1}: more than {MAX_CLOSED_LINES} lines could not be checked for secrets within the "
                "bounds of ${NAME} and macro expansion: not collected"
            )
        self.closed.setdefault(source[0], {})[source[1]] = (
            source[2],
            tuple(macro[1]) if macro else (),
        )
        self.note(template, macro)

    # -- what a line changes ------------------------------------------------------

    def effects(self, frame, key, lines, source=None):
        conditional = frame.conditional or frame.conditions > 0 or len(lines) > 1
        if key in _CONDITION_SECTIONS:
            frame.conditions += 1
            return []
        if key not in _EFFECTS and "$" not in key:
            return []
        pushed = []
        defines = {}
        for line in lines:
            words = _words(line)
            name = words[0].lower() if words else ""
            # An empty value is none: httpd leaves ${NAME} as it was (`*w2 ? w2 : NULL`).
            if name == "define" and len(words) > 2 and words[2]:
                defines.setdefault(words[1].lower(), []).append(words[2])
            elif name == "undefine" and len(words) > 1:
                folded = words[1].lower()
                if conditional:
                    known = self.defined.get(folded, [None])
                    self.set_values(folded, None if known is None else list({*known, None}))
                else:
                    self.defined.pop(folded, None)
                    self.holding_at.discard(folded)
            elif name in ("include", "includeoptional") and len(words) > 1:
                pushed.extend(self.include(frame, words[1], conditional))
            elif name == "use" and len(words) > 1:
                pushed.extend(
                    self.use(
                        frame, words[1].translate(_ASCII_LOWER), words[2:], conditional, source
                    )
                )
        for folded, values in defines.items():
            self.define(folded, values, conditional)
        return pushed

    def set_values(self, folded, values, holding_at=True):
        """``values`` (None: unknown, then ``holding_at`` says whether one may hold '@')."""
        self.defined[folded] = values
        if values is not None:
            holding_at = any(value is not None and "@" in value for value in values)
        if holding_at:
            self.holding_at.add(folded)
        else:
            self.holding_at.discard(folded)

    def define(self, folded, values, conditional):
        known = self.defined.get(folded, [None]) if conditional else []
        merged = None if known is None else list(dict.fromkeys([*known, *values]))
        # Past the bound the values are unknown, but whether one holds '@' is not.
        holding_at = (conditional and folded in self.holding_at) or any("@" in v for v in values)
        bounded = merged if merged and len(merged) <= MAX_NAME_VALUES else None
        self.set_values(folded, bounded, holding_at)
        every = self.every_value.get(folded, [])
        every = None if every is None else list(dict.fromkeys([*every, *values]))
        self.every_value[folded] = every if every and len(every) <= MAX_NAME_VALUES else None

    def unknown_effect(self, key, line, source):
        """A line whose expansion a bound stopped: what it would change is unknown."""
        if key not in _EFFECTS and "$" not in key:
            return
        words = _words(line)
        if key in ("define", "undefine"):
            if len(words) < 2 or "$" in words[1]:
                raise ValueError(
                    f"{source[0]}:{source[1] + 1}: a Define whose name is a ${{NAME}} too costly to expand: "
                    "not collected"
                )
            self.set_values(words[1].lower(), None)
            self.every_value[words[1].lower()] = None
        elif key == "use" and len(words) > 1:
            macro = self.macros.get(words[1].translate(_ASCII_LOWER))
            if macro is None:
                return
            parameters, body, path = macro
            for first, end, line in body:
                if any(parameter in line for parameter in parameters):
                    self.closed.setdefault(path, {})[first] = (end, tuple(parameters))
            name = words[1].lower()
            self.uses["macros"].update((name, index) for index in range(len(parameters)))
        elif "$" in key:
            raise ValueError(
                f"{source[0]}:{source[1] + 1}: a directive name that is a ${{NAME}} too costly to expand: "
                "not collected"
            )

    def macro_anywhere(self, name):
        """A macro defined in no file read before its Use (httpd refuses that
        Use, but its arguments would still be sent): the first one of that name."""
        if self.every_macro is None:
            self.every_macro = {}
            for path, text in self.texts.items():
                if "acro" not in text:
                    continue
                for entry in self.entries_of(path):
                    if entry[0] == "macro":
                        self.every_macro.setdefault(entry[1], (entry[2], entry[3], path))
        return self.every_macro.get(name)

    def include(self, frame, argument, conditional):
        pushed = []
        if len(frame.chain) > MAX_INCLUDE_DEPTH:
            return pushed
        for path in self.includes(argument):
            if path in self.texts and path not in frame.chain:
                chain = (*frame.chain, path)
                repeat = path in self.visited
                self.visited.add(path)
                pushed.append(_Frame(path, None, conditional, None, chain, repeat))
        return pushed

    def use(self, frame, name, arguments, conditional, source=None):
        macro = self.macros.get(name) or self.macro_anywhere(name)
        if macro is None or ("macro", name) in frame.chain or len(frame.chain) > 100000:
            return []
        parameters, body, path = macro
        if len(arguments) != len(parameters):
            return []  # mod_macro refuses it
        if any(argument.endswith("\\") for argument in arguments) and source is not None:
            # A value ending in a backslash continues the line it ends on the
            # next body line, or on the file's next line: a secret may be made
            # of pieces no line shows whole, which this walk does not join.
            raise ValueError(
                f"{source[0]}:{source[1] + 1}: a Use argument ending in a backslash continues "
                "a line onto the next, which is not followed to check it for secrets: not collected"
            )
        pattern = None
        if parameters:
            ordered = sorted((p for p in parameters if p), key=len, reverse=True)
            pattern = re.compile("|".join(re.escape(p) for p in ordered)) if ordered else None
        items = [("line", first, end, line, None) for first, end, line in body]
        holding_at = any("@" in argument for argument in arguments)
        context = (name, list(parameters), list(arguments), pattern, holding_at)
        chain = (*frame.chain, ("macro", name))
        return [_Frame(path, items, conditional, context, chain, True)]


_WORD_HOLDING_VARIABLE = re.compile(r"(?<!\S)\S*\$\{")


def _redact_marked_line(line, words, markers, path, number):
    """``line`` with the words at ``words`` replaced, and (``markers`` not None)
    every word from the first holding '${' or one of ``markers`` on."""
    if not words and markers == () and '"' not in line and "'" not in line:
        # Unquoted words: cut at the first word holding '${' (most closed lines).
        found = _WORD_HOLDING_VARIABLE.search(line)
        if found is None:
            return line
        if not line[: found.start()].strip():
            raise ValueError(
                f"{path}:{number}: a directive name too costly to expand to check it for "
                "secrets: not collected"
            )
        count = len(line[found.start() :].split())
        trailing = line[len(line.rstrip()) :]  # a CR stays
        return line[: found.start()].rstrip() + (" " + APACHE_REDACTED) * count + trailing

    def rewrite(key, values):
        values = list(values)
        for index in words:
            if index < len(values):
                values[index] = APACHE_REDACTED
        if markers is not None:
            holding = [
                index
                for index, value in enumerate(values)
                if "${" in value or any(marker and marker in value for marker in markers)
            ]
            if holding and holding[0] == 0:
                raise ValueError(
                    f"{path}:{number}: a directive name too costly to expand to check it for "
                    "secrets: not collected"
                )
            if holding:
                values[holding[0] :] = [APACHE_REDACTED] * (len(values) - holding[0])
        return values

    return _rewrite_apache_line(line, rewrite)


def redact_expanded_secrets(texts, variables=None, mains=(), includes=None, uses=None):
    """The texts (by path) whose lines hold a secret only once their ``${NAME}``s
    or a macro's parameters are expanded (``Define H http://u:`` then
    ``ProxyPass /h ${H}PASSWORD@host/``; ``Use Px http:// u:PASSWORD@h/``).

    The files are read in httpd's order from ``mains`` (``includes`` names
    the files an Include argument reaches), so each name has the value it
    has at each line, and every inclusion of a file and every use of a macro
    is tried. The words of a line (or of a macro's body) that make a secret
    once expanded are replaced as written (an expansion would carry the
    values of every name in them), and in ``uses`` the Defines and Use
    arguments feeding them are noted.
    Bounded: 8 values a name (a Define under <IfDefine> adds one), 64 combinations a
    line, 64 KiB a line, 16 MiB of expansion in all (256 MiB of macro bodies),
    2,000,000 lines read (500,000 of them again: macro bodies, repeated Includes);
    a line a bound stops that may hold a secret has its ${NAME} words
    replaced (or the snapshot is refused, naming the line).
    """
    walk = _ExpansionWalk(texts, dict(variables or {}), includes or (lambda argument: []))
    walk.run([main for main in mains if main in texts])
    if uses is not None:
        uses["variables"].update(walk.uses["variables"])
        uses["macros"].update(walk.uses["macros"])
    changed = {}
    for path in {*walk.words, *walk.closed}:
        lines = texts[path].split("\n")
        closed = walk.closed.get(path, {})
        words = walk.words.get(path, {})
        for first in sorted({*closed, *words}):
            end, markers = closed.get(first, (None, None))
            if end is None:
                end, marked = words[first]
            else:
                marked = words.get(first, (None, ()))[1]
            joined = _joined(lines[first:end])
            new = _redact_marked_line(joined, sorted(marked), markers, path, first + 1)
            if end - first > 1:
                lines[first:end] = [""] * (end - first - 1) + [new]
            else:
                lines[first] = new
        changed[path] = "\n".join(lines)
    return changed


# The directives that decide which files collect_apache reads.
_COLLECTION_DIRECTIVES = frozenset(
    ["define", "serverroot", "include", "includeoptional", "<iffile"]
)


class _Variables:
    """What a ${NAME} reads in httpd: the Define'd values (a case-insensitive
    table: ``Define pw X`` gives ``${PW}``), then the environment, exactly."""

    def __init__(self, environment=None):
        self.environment = dict(environment or {})
        self.defined = {}

    def define(self, name, value):
        self.defined[name.lower()] = value

    def get(self, name, default=None):
        found = self.defined.get(name.lower())
        return found if found is not None else self.environment.get(name, default)


def _close_over(names, edges):
    """Add to the set ``names`` every name ``edges`` leads to from one of them."""
    pending = list(names)
    while pending:
        for used in edges.get(pending.pop(), ()):
            if used not in names:
                names.add(used)
                pending.append(used)


def _sources(text, macro=None):
    """The nodes whose values ``text`` is made of: ("variable", name) for a
    ${NAME}, ("environment", name), ("header", name) it reads, ("macro",
    macro, index) for a parameter of the macro it is written in."""
    found = {("variable", name.lower()) for name in _variable_names(text)}
    found.update(("environment", name) for name in _environment_names(text))
    found.update(("header", name) for name in _read_headers(text))
    if macro is not None:
        found.update(
            ("macro", macro[0], index)
            for index, parameter in enumerate(macro[1])
            if parameter and parameter in text
        )
    return found


_HEADER_SETTING_ACTIONS = frozenset(
    ["set", "add", "append", "merge", "setifempty", "edit", "edit*"]
)
# A RewriteRule's %1..%9 are what the RewriteConds just before it captured.
_CONDITION_BACKREFERENCE = re.compile(r"%[0-9]")


# Sections whose contents may not apply (as directive_lines names their lines).
_CONDITIONAL_SECTIONS = frozenset(
    name
    for section in ("ifdefine", "ifmodule", "iffile", "ifdirective", "ifsection", "ifversion",
                    "if", "elseif", "else")
    for name in ("<" + section, "<" + section + ">", "</" + section + ">", "</" + section)
)  # fmt: skip
_FOLLOWED = frozenset(
    ["define", "setenv", "requestheader", "header", "rewritecond", "rewriterule", "use", "<macro",
     "<macro>", "</macro>", "</macro", "setenvif", "setenvifnocase", "setenvifexpr",
     "browsermatch", "browsermatchnocase"]
)  # fmt: skip


# Lines of macro bodies naming what they set by a parameter, times the Uses of
# their macro, that are followed by name; past it, their values are secrets.
MAX_FOLLOWED_CALLS = 1000000


def _use_arguments(arguments, macro, defined_values, count, union):
    """What each parameter of a Use's macro reads, by position: the arguments'
    sources, an argument holding a ${NAME} counted as the words its value
    makes (``defined_values``: the names given a value once, outside macros
    and conditionals, unquoted). When a name is not among them, or that does
    not give the macro's ``count`` parameters, each parameter from the first
    such argument on may hold what any argument from there on reads: the
    node ``union``, which stands for all of that (one node, not a copy of it
    per parameter)."""
    read = [_sources(argument, macro) for argument in arguments]
    if count is None or count == len(arguments) or not any("${" in a for a in arguments):
        return read, None
    by_position = []
    known = [True]

    def value_of(match):
        value = defined_values.get(match.group(1).lower())
        if value is None:
            known[0] = False  # a start-up variable, a name defined twice...
            return match.group(0)
        return value

    for argument, sources in zip(arguments, read):  # noqa: B905 (Python 3.8)
        if "${" not in argument:
            by_position.append(sources)
            continue
        value = _bounded_substitution(argument, _VARIABLE, value_of)
        if value is None or not known[0]:
            break  # too long to count its words, or not known: any position
        by_position.extend([sources] * len(value.split()))
    else:
        if len(by_position) == count:
            return by_position, None
    first = next(index for index, a in enumerate(arguments) if "${" in a)
    rest = set()
    for sources in read[first:]:
        rest.update(sources)
    return read[:first] + [{union}] * (count - first), rest


def follow_secret_uses(texts, uses):
    """Add to ``uses`` what feeds a secret through another name: ``Define A ${B}``
    with A's value in a secret's place makes B's a secret too; so does an
    environment variable or a request header set from another one (SetEnvIf,
    RewriteRule [E=] with what its RewriteConds read, RequestHeader set), or a
    macro parameter (``Define UPW $v``, ``Use Inner $q``). Define and
    environment names fold case, as httpd's tables do."""
    edges = {}  # node -> the nodes its value is made of
    # Lines of a macro's body naming what they set by a parameter (Define $n $v),
    # and the arguments each Use gives: the names they set once expanded.
    named_by_parameter = {}
    calls = {}
    defined_macros = {}  # name -> how many parameters
    named_uses = []  # (args, macro) of each Use whose macro is a ${NAME}
    # name -> the value of its one Define, outside macros and conditionals
    # (None: defined more than once, or where it may not apply).
    defined_values = {}
    tested = set()  # what RewriteConds read (a later one may compare its capture)

    def feed(node, sources):
        edges.setdefault(node, set()).update(sources)

    for text in texts:
        macro = None
        outer_macros = []  # the macros whose bodies define the one being read
        conditions = set()  # what the RewriteConds since the last RewriteRule read
        conditional = 0  # sections deep in <IfDefine>, <IfModule>, <If>...
        for name, args in directive_lines(text, _FOLLOWED | _CONDITIONAL_SECTIONS):
            if name in _CONDITIONAL_SECTIONS:
                conditional = max(0, conditional + (-1 if name[1] == "/" else 1))
                continue
            if name == "header" and args and args[0].lower() in ("always", "onsuccess"):
                args = args[1:]  # Header [condition] action name value: as RequestHeader
            named = (
                args[1]
                if name in ("requestheader", "header") and len(args) > 1
                else args[0]
                if args
                else ""
            )
            if macro is not None and any(p and p in named for p in macro[1]):
                named_by_parameter.setdefault(macro[0], []).append((name, args, macro))
            if name in ("define", "setenv") and len(args) > 1:
                kind = "variable" if name == "define" else "environment"
                feed((kind, args[0].lower()), _sources(" ".join(args[1:]), macro))
                if name == "define":
                    defined = args[0].lower()
                    defined_values[defined] = (
                        args[1] if macro is None and not conditional and defined not in
                        defined_values else None
                    )  # fmt: skip
            elif name in ("requestheader", "header") and len(args) > 2:
                # A request header, or a response header resp('X') reads.
                if args[0].lower() in _HEADER_SETTING_ACTIONS:
                    feed(("header", _header_name(args[1])), _sources(" ".join(args[2:]), macro))
            elif name == "rewritecond" and args:
                conditions.update(_condition_sources(args, macro))
                tested.update(conditions)
            if name in _ENVIRONMENT_SETTERS and args:
                read = _sources(" ".join(args), macro)
                if name in ("setenvif", "setenvifnocase"):
                    # The attribute: a request header, or else an environment variable;
                    # a regular expression of header names may match a credential's.
                    read.add(("environment", args[0].lower()))
                    read.add(("header", _header_name(args[0])))
                    if _PLAIN_ATTRIBUTE.fullmatch(args[0]) is None:
                        read.add(_ANY_CREDENTIAL)
                for word in args[1:]:
                    for flag, set_name, separator, value in _SETTING.findall(word):
                        if (flag and separator == ":") or (not flag and separator == "="):
                            extra = conditions if _CONDITION_BACKREFERENCE.search(value) else ()
                            feed(("environment", set_name.lower()), read | set(extra))
            if name == "rewriterule":
                conditions = set()
            elif name in ("<macro", "<macro>"):
                words = [word.rstrip(">") for word in args]
                outer_macros.append(macro)
                macro = (_macro_name(words[0]), words[1:]) if words and words[0] else None
            elif name.startswith("</macro"):
                macro = outer_macros.pop() if outer_macros else None
            elif name == "use" and args:
                if "$" in args[0]:
                    # Use ${NAME} ...: the macro is named when the line is read;
                    # its arguments go to every macro of that many parameters.
                    named_uses.append((args, macro))
                    continue
                used = args[0].translate(_ASCII_LOWER)
                # A parameter of the macro used is made of what its argument holds;
                # a ${NAME} of several words (or of none) moves the ones after it.
                union = ("use", len(edges))
                by_position, rest = _use_arguments(
                    args[1:], macro, defined_values, defined_macros.get(used), union
                )
                if rest is not None:
                    feed(union, rest)
                for index, read in enumerate(by_position):
                    feed(("macro", used, index), read)
                calls.setdefault(args[0].lower(), []).append(args[1:])
            if name in ("<macro", "<macro>") and macro is not None:
                defined_macros.setdefault(macro[0], len(macro[1]))
    budget = MAX_FOLLOWED_CALLS
    forced = set()  # past the budget: what such a line sets is taken for a secret
    for args, macro in named_uses:
        for macro_name, count in defined_macros.items():
            if count != len(args) - 1:
                continue
            budget -= 1
            if budget < 0:
                forced.update(node for argument in args[1:] for node in _sources(argument, macro))
                break
            for index, argument in enumerate(args[1:]):
                feed(("macro", macro_name, index), _sources(argument, macro))
            calls.setdefault(macro_name, []).append(args[1:])
    for macro_name, lines in named_by_parameter.items():
        for arguments in calls.get(macro_name, ()):
            for name, args, macro in lines:
                parameters = macro[1]
                budget -= 1
                if budget < 0:
                    value = " ".join(args[2:] if name in ("requestheader", "header") else args[1:])
                    forced.update(_sources(value, macro))
                    continue
                if len(arguments) != len(parameters):
                    continue
                # The name the line sets with this Use's arguments (longest parameter first).
                named = args[1] if name in ("requestheader", "header") else args[0]
                for parameter in sorted(parameters, key=len, reverse=True):
                    if parameter:
                        named = named.replace(parameter, arguments[parameters.index(parameter)])
                if name in ("requestheader", "header") and len(args) > 2:
                    node = ("header", _header_name(named))
                    feed(node, _sources(" ".join(args[2:]), macro))
                elif name in ("define", "setenv") and len(args) > 1:
                    node = ("variable" if name == "define" else "environment", named.lower())
                    feed(node, _sources(" ".join(args[1:]), macro))
    if uses.get("credential_reads"):
        compared = _made_of_credentials(edges)
        compared.update(node for node in tested if _is_credential_node(node))
        uses["compared"] = compared
        # A RewriteCond's %1 may compare a capture made in another file.
        uses["captures_credential"] = not compared.isdisjoint(tested)
    found = {("variable", name.lower()) for name in uses["variables"]}
    found.update(("environment", name.lower()) for name in uses.get("environment", ()))
    found.update(("header", name) for name in uses.get("headers", ()))
    found.update(("macro", name, index) for name, index in uses["macros"])
    found.update(forced)
    _close_over(found, edges)
    uses["variables"] = {node[1] for node in found if node[0] == "variable"}
    uses["environment"] = {node[1] for node in found if node[0] == "environment"}
    uses["headers"] = {node[1] for node in found if node[0] == "header"}
    uses["macros"] = {(node[1], node[2]) for node in found if node[0] == "macro"}


# What a SetEnvIf attribute written as a regular expression of header names reads.
_ANY_CREDENTIAL = ("header", "authorization")


def _condition_sources(args, macro=None):
    """What a RewriteCond's test string (or its expr) reads."""
    tested = args[1] if args[0].lower() == "expr" and len(args) > 1 else args[0]
    return _sources(tested, macro)


def _is_credential_node(node):
    return node[0] == "header" and _is_credential_header(node[1])


def _made_of_credentials(edges):
    """The nodes whose values are made of a credential header's, however far,
    and the credential headers read."""
    used_by = {}
    for node, sources in edges.items():
        for source in sources:
            used_by.setdefault(source, set()).add(node)
    found = {node for node in used_by if _is_credential_node(node)}
    _close_over(found, used_by)
    return found


_ENVIRONMENT_SETTERS = frozenset(
    [
        "setenvif",
        "setenvifnocase",
        "setenvifexpr",
        "browsermatch",
        "browsermatchnocase",
        "rewriterule",
    ]
)
_SETTING = re.compile(r"(?i)(?<![^\[,\s])((?:e|env)=!?|)([A-Za-z0-9_.\-]+)([=:])([^,\]\s]*)")


def _without_environment_values(word, names):
    """``word`` with the value it gives a variable of ``names`` replaced."""

    def replace(match):
        flag, name, separator, value = match.groups()
        if (
            name.lower() not in names
            or not value
            or (flag and separator != ":")
            or (not flag and separator != "=")
        ):
            return match.group()
        return flag + name + separator + APACHE_REDACTED

    return _SETTING.sub(replace, word)


_USES_REWRITTEN = frozenset(["define", "setenv", "requestheader", "use", *_ENVIRONMENT_SETTERS])
# Lines comparing a value with a literal (section names as _line_key gives them).
_COMPARED = frozenset([*_COMPARING, "<if", "<elseif", "header"])


# A Use argument holding a secret argument's text is hidden too when that
# text is this long (shorter ones, "on" or "80", are any word's).
MIN_SECRET_ARGUMENT = 4


# The name of a macro whose <Macro> line names it by a ${NAME}: any macro.
ANY_MACRO = "*"


def _macro_header(line):
    """A <Macro> line's name (as _macro_name keeps it) and its parameters as
    mod_macro reads them: the text up to the line's last '>', the flags before
    the parameters taken out (_without_macro_flags); None without a name."""
    text = line.strip()
    end = text.rfind(">")
    if end >= 0:
        text = text[:end]
    rest = _name_and_rest(text)[1]
    name, rest = _name_and_rest(rest)
    if not name:
        return None
    return _macro_name(name), _words(_without_macro_flags(rest.lstrip(" \t\n\r\f\v")))


_MACRO_FLAGS = ("/ignoreemptyargs", "/ignorebadnesting")


def _without_macro_flags(rest):
    """The text after a <Macro>'s name without the flags httpd 2.4.71 takes
    out of it (/IgnoreEmptyArgs, /IgnoreBadNesting, any ASCII case; an unknown
    one up to a space, or one character). A parameter read as a flag would
    shift every parameter after it, and a secret argument with them."""
    position = 0
    while position < len(rest) and rest[position] == "/":
        for flag in _MACRO_FLAGS:
            piece = rest[position : position + len(flag)]
            if all(ord(c) < 128 for c in piece) and piece.lower() == flag:
                position += len(flag)
                if position >= len(rest):
                    return ""
        if rest[position] != " ":
            space = rest.find(" ", position)
            if space >= 0:
                position = space
        position += 1
    return rest[position:]


def _macro_name(word):
    """A <Macro>'s name as the tables keep it (ASCII letters lower-cased, as
    httpd's ap_str_tolower: "Été" and "été" are two macros; ANY_MACRO for a ${NAME})."""
    return ANY_MACRO if "$" in word else word.translate(_ASCII_LOWER)


_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}


def redact_secret_uses(text, uses):
    """An Apache file with the values of the ``Define``s and ``Use`` arguments that
    ``redact_apache`` found standing in a secret's place (``uses``) replaced."""
    variables, macros = uses["variables"], uses["macros"]
    environment = uses.get("environment", ())
    headers = uses.get("headers", ())
    compared = uses.get("compared", ())
    if not variables and not macros and not environment and not headers and not compared:
        return text
    conditions = set()  # what the RewriteConds since the last RewriteRule read
    # Whether those may include RewriteConds of another file (before this one's
    # first RewriteRule, or after an Include): their captures are unknown here.
    # (``rewrite`` reads the binding current when it runs.)
    elsewhere = True

    copies = any(node[0] == "environment" for node in compared)

    def names_credential(word):
        sources = _sources(word)
        # reqenv(tolower('X')) may read any variable, a copy of a credential too.
        return not compared.isdisjoint(sources) or (copies and ("environment", "*") in sources)

    def rewrite(key, values):
        values = list(values)
        if compared and key in _COMPARING:
            # A literal compared with a value made of a credential header's.
            words = values[1:]
            if key == "rewritecond" and words:
                read = _condition_sources(words)
                tainted = False
                if _CONDITION_BACKREFERENCE.search(words[0]):
                    read |= conditions  # %1: what the RewriteConds before it captured
                    tainted = elsewhere and uses.get("captures_credential")
                conditions.update(read)
                if len(words) > 1 and (tainted or not compared.isdisjoint(read)):
                    words[1] = APACHE_REDACTED
            elif key in ("setenvif", "setenvifnocase") and len(words) > 1:
                attribute = words[0].lower()
                if ("environment", attribute) in compared or (
                    "header",
                    _header_name(attribute),
                ) in compared:
                    words[1] = APACHE_REDACTED
            else:
                _redact_comparison(key, words, names_credential)
            values[1:] = words
        elif compared and key in ("header", "requestheader"):
            words = values[1:]
            start = 1 if words and words[0].lower() in ("always", "onsuccess") else 0
            if len(words) > start:
                action = words[start].lower()
                first = start + 2 + _HEADER_VALUES.get(action, 1)
                _redact_header_conditions(words, first, names_credential)
            values[1:] = words
        named = variables if key == "define" else environment if key == "setenv" else ()
        if len(values) > 2 and values[1].lower() in named:
            values[2:] = [APACHE_REDACTED] * (len(values) - 2)
        elif key == "requestheader" and len(values) > 3 and headers:
            action = values[1].lower()
            if action in _HEADER_SETTING_ACTIONS and _header_name(values[2]) in headers:
                last = 5 if action in ("edit", "edit*") else 4
                values[3:last] = [APACHE_REDACTED] * len(values[3:last])
        elif environment and key in _ENVIRONMENT_SETTERS:
            # SetEnvIf attribute regex NAME=value, RewriteRule ... [E=NAME:value]
            values = [_without_environment_values(value, environment) for value in values]
        elif key == "use" and len(values) > 2:
            name = values[1].translate(_ASCII_LOWER)
            secrets = set()
            for index in range(len(values) - 2):
                # Use ${NAME}: any macro whose parameter there is a secret's;
                # any Use, where a macro named by a ${NAME} has one.
                if (
                    (name, index) in macros
                    or (ANY_MACRO, index) in macros
                    or ("$" in name and any(used[1] == index for used in macros))
                ):
                    secrets.add(values[index + 2])
                    values[index + 2] = APACHE_REDACTED
            # The same text given to another parameter (an @parameter puts it
            # quoted where a name is) goes too: the controller would show it.
            secrets = [secret for secret in secrets if len(secret) >= MIN_SECRET_ARGUMENT]
            for index in range(2, len(values)):
                if any(secret in values[index] for secret in secrets):
                    values[index] = APACHE_REDACTED
        return values

    lines = text.split("\n")
    rewritten = _USES_REWRITTEN | _COMPARED if compared else _USES_REWRITTEN
    for first, end, joined in _logical_lines(text):
        key = _line_key(joined)
        if key == "rewriterule":
            conditions = set()
            elsewhere = False
        elif key in ("include", "includeoptional"):
            elsewhere = True
        if key not in rewritten:
            continue
        redacted = _rewrite_apache_line(joined, rewrite)
        if redacted != joined:
            lines[first:end] = [""] * (end - first - 1) + [redacted]
    return "\n".join(lines)


# Variables whose values tcpaudit's loader turns into httpd's command line or
# environment choice (invocation.py): kept even in a file only its owner may read.
INVOCATION_VARIABLES = frozenset(
    {
        "OPTIONS",
        "HTTPD",
        "HTTPD_LANG",
        "APACHE_ARGUMENTS",
        "APACHE_HTTPD",
        "APACHE_CONFDIR",
        "APACHE_ENVVARS",
        "APACHE2_OPTS",
        "SERVERROOT",
        "CONFIGFILE",
        "APACHE_SERVER_FLAGS",
        "APACHE_MPM",
    }
)


# NAME= or NAME+= (spaces around "=" as environment files allow), anywhere a
# word starts: `export A=1 DB_PASS=x`, `readonly API_TOKEN=x`, `declare -x K=x`.
_ANY_ASSIGNMENT = re.compile(r"(?<![A-Za-z0-9_$\\])([A-Za-z_][A-Za-z0-9_]*)([ \t]*\+?=[ \t]*)")


def _inner_value_end(text, value_start, match, limit, quote):
    """Where the value of a ``key=`` inside another variable's quoted value ends
    (before ``limit``, that value's closing quote): an option's runs to the
    shell's next blank (a backslash-newline inside double quotes joins the
    lines; U+00A0 is no blank), or to the quote a ``-c '...'`` argument
    opened before it; a URL query's to the next '&', ';' or ','."""
    inner = _quote_at(text, value_start + 1, match.start()) if quote == '"' else ""
    if not _is_option(text, match.start()):
        return _parameter_value_end(text, match.end(), _PARAMETER_VALUE, limit)
    index = match.end()
    while index < limit:
        char = text[index]
        if char == "\\" and quote == '"':
            index += 2  # an escape, or a line joined to the next
            continue
        if char in " \t\n" or (inner and char == inner):
            break
        index += 1
    return min(index, limit)


def _quote_at(text, start, position):
    """The quote (' or ") open at ``position`` of a shell value starting at
    ``start``, or ""."""
    quote, index = "", start
    while index < position:
        char = text[index]
        if char == "\\" and quote != "'":
            index += 2
            continue
        if quote and char == quote:
            quote = ""
        elif not quote and char in "'\"":
            quote = char
        index += 1
    return quote


def _value_end(text, start):
    """Where the shell word starting at ``start`` ends: quotes, $'...' and escapes
    (an escaped newline too) are part of it."""
    index = start
    length = len(text)
    while index < length:
        char = text[index]
        if char in " \t\n;&|":
            return index
        if char == "\\":
            index += 2
        elif char == "'":
            close = text.find("'", index + 1)
            index = length if close < 0 else close + 1
        elif char == "$" and text.startswith("$'", index):
            index += 2
            while index < length and text[index] != "'":
                index += 2 if text[index] == "\\" else 1
            index += 1
        elif char == '"':
            index += 1
            while index < length and text[index] != '"':
                index += 2 if text[index] == "\\" else 1
            index += 1
        else:
            index += 1
    return min(index, length)


# A value shaped like a credential, wherever it stands in a start-up value:
# a scheme word then a token, or a blank then 16 token characters holding a digit.
# (Tested on the value as the shell gives it: _shell_unquoted.) The schemes
# are _CREDENTIAL_SCHEME's, the Apache side's.
_SHELL_CREDENTIAL = re.compile(
    # A scheme starting the value (or after "=", ":" or ${X:-), then a token
    # that is no option ("-D mac -DSSL" is no credential).
    r"(?i)(?:(?:^|[=:{+-])[ \t]*(?:basic|bearer|digest|negotiate|ntlm|kerberos|gssapi|token"
    r"|apikey|api-key|key|aws|aws4-hmac-sha256|ssws|hoba|mutual|scram-sha-1|scram-sha-256"
    r"|vapid|splunk|signature|dpop|oauth|mac|hawk|sharedkey|sharedkeylite"
    r"|sharedaccesssignature|privatetoken|concealed|otp|jwt|sso-key|client-id|googlelogin"
    r"|gsessionid)[ \t\n]+[A-Za-z0-9._~+/=,][A-Za-z0-9._~+/=,-]{3,})"
    # Anywhere, a scheme then a long token holding a digit (a loop's word).
    r"|(?<![A-Za-z0-9_-])(?:basic|bearer|digest|negotiate|ntlm|token|apikey|oauth|dpop|jwt)"
    r"[ \t]+(?=[A-Za-z._~+/=-]*[0-9])[A-Za-z0-9._~+/=-]{12,}"
    # A header holding one, written in the value: "X-Api-Key: ..." (a blank
    # after the colon: "keycloak:8080" is a host and port).
    r"|(?<![A-Za-z0-9_.-])[A-Za-z0-9_-]*(?:auth|key|token|secret|session|cookie|signature)"
    r"[A-Za-z0-9_-]*:[ \t]+[A-Za-z0-9._~+/=-]{8,}",
    re.M,
)
# Or of a scheme not listed, as the Apache side's _OPAQUE_CREDENTIAL: the
# whole value one word, a blank and an opaque token of 16 characters or more
# holding a digit (a path with a digit after a word is no such value whole).
_SHELL_OPAQUE_VALUE = re.compile(
    r"\s*[A-Za-z][A-Za-z0-9!#$%&*+.^_`|~-]*[ \t]+(?=[A-Za-z._~+/-]*[0-9])[A-Za-z0-9._~+/-]{16,}=*\s*"
)
# Where either may stand (a first, cheap test of a whole file).
_MAY_HOLD_CREDENTIAL = re.compile(
    r"(?:[ \t\n:]|\\(?:x20|x09|040|011|t|s|u0020))[A-Za-z0-9._~+/=,-]{4}"
)


# Tokens whose prefix names their kind (src/tcpaudit/apache/shell_redirections.py).
_KNOWN_TOKEN = re.compile(
    # A first character from a set, before anything else: the regex engine then skips
    # to the next such character in C (three times faster on a 8 MB report than a
    # look-behind first); then no word character before it, and its kind's shape.
    r"[AGSdeghnprswxy](?<![A-Za-z0-9_.-].)(?:"
    r"(?<=g)(?:h[pousr]_[A-Za-z0-9]{16,}|ithub_pat_[A-Za-z0-9_]{20,}"
    r"|l(?:pat|rt|dt|ptt|oas|cbt|imt)-[A-Za-z0-9_-]{16,})"
    r"|(?<=x)(?:ox[abpers]-[A-Za-z0-9-]{10,}|app-[A-Za-z0-9-]{10,})"
    r"|(?<=A)(?:KIA[0-9A-Z]{16}|SIA[0-9A-Z]{16}|Iza[0-9A-Za-z_-]{35})"
    r"|(?<=s)(?:k_(?:live|test)_[A-Za-z0-9]{16,}|k-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}"
    r"|hp(?:at|ss|ca|pa)_[A-Fa-f0-9]{32})"
    r"|(?<=r)k_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|(?<=h)(?:f_[A-Za-z0-9]{20,}|v[sb]\.[A-Za-z0-9_-]{20,})"
    r"|(?<=p)ypi-[A-Za-z0-9_-]{20,}"
    r"|(?<=S)(?:G\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}|K[0-9a-fA-F]{32})"
    r"|(?<=y)a29\.[A-Za-z0-9_-]{20,}"
    r"|(?<=G)OCSPX-[A-Za-z0-9_-]{20,}"
    r"|(?<=w)hsec_[A-Za-z0-9+/=]{20,}"
    r"|(?<=d)op_v1_[a-f0-9]{64}"
    r"|(?<=n)pm_[A-Za-z0-9]{36}"
    r"|(?<=e)yJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*)"
)


_URL_PASSWORD = re.compile(r"://[^/\s:@]+:[^/\s@]+@")


# httpd's -c/-C and the directive after it, in a value as the shell gives it.
_DIRECTIVE_OPTION = re.compile(r"(?:^|\s)-[hlLtTSMvVX]*[cC]\s*(\S.*?)(?=\s-[A-Za-z]|$)", re.M)


def _directive_secret(value):
    """Whether a value, as the shell gives it, hands httpd a -c/-C directive
    (alone or in a cluster: -TC, -Xc) holding a secret."""
    return ("c" in value or "C" in value) and any(
        redact_apache(match.group(1)) != match.group(1)
        for match in _DIRECTIVE_OPTION.finditer(value)
    )


def _shell_credential(value):
    """Whether a start-up value, as the shell gives it, is shaped like a credential."""
    return (
        _KNOWN_TOKEN.search(value) is not None
        or _URL_PASSWORD.search(value) is not None
        or _SHELL_CREDENTIAL.search(value) is not None
        or _SHELL_OPAQUE_VALUE.fullmatch(value) is not None
    )


# C escapes of a blank ($'\x20', systemd's Environment="A=\x20"), then any
# other escape, then quotes: what the shell or systemd make of a value.
_ESCAPED_BLANK = re.compile(r"\\(?:x20|x09|040|011|t|s|u0020)")
_ESCAPE = re.compile(r"\\(.)", re.S)


def _shell_unquoted(raw):
    """``raw`` roughly as the shell or systemd give it: continuations joined,
    escapes and quotes removed (a blank written ``\\x20`` is one)."""
    raw = _ansi_c_decoded(raw)
    text = _ESCAPED_BLANK.sub(" ", raw.replace("\\\n", ""))
    return _ESCAPE.sub(r"\1", text).replace("'", "").replace('"', "").replace("$", "")


# bash's $'...' (ANSI-C quoting): its escapes decoded before shapes are tested.
def _ansi_c_decoded(raw):
    """``raw`` with each ``$'...'`` replaced by its text, escapes decoded.
    The closing quote is the first with an even run of backslashes before
    it (a search per quote, not a pattern repeating a group: see
    _quoted_word_ends)."""
    pieces = []
    last = 0
    opening = raw.find("$'")
    while opening >= 0:
        floor = opening + 2
        close = raw.find("'", floor)
        while close >= 0 and _escaped(raw, floor, close):
            floor = close + 1
            close = raw.find("'", floor)
        if close < 0:
            break  # no later "$'" closes either: its quote would close this one
        pieces += [raw[last:opening], _ansi_c(raw[opening + 2 : close])]
        last = close + 1
        opening = raw.find("$'", last)
    return "".join(pieces) + raw[last:]


_ANSI_C_ESCAPE = re.compile(
    r"\\(x[0-9A-Fa-f]{1,2}|u[0-9A-Fa-f]{1,4}|U[0-9A-Fa-f]{1,8}|[0-7]{1,3}|.)", re.S
)
_ANSI_C_SIMPLE = {"a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n",
                  "r": "\r", "t": "\t", "v": "\v"}  # fmt: skip


def _ansi_c(body):
    def one(match):
        escape = match.group(1)
        if escape[0] in "xuU" and len(escape) > 1:
            return chr(min(int(escape[1:], 16), 0x10FFFF))
        if escape[0] in "01234567":
            return chr(int(escape, 8) & 0xFF)
        return _ANSI_C_SIMPLE.get(escape, escape)

    return "'" + _ANSI_C_ESCAPE.sub(one, body).replace("'", "") + "'"


_NAMED_VALUE = re.compile(r"([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*[=:][ \t]*[^\s=:]")


_COMMENT_START = re.compile(r"^[\s#;]+")


def _comment_may_hold_secret(text):
    """Whether a comment holds what would be a secret if it were read: a
    directive whose secret would be redacted, a secret-named NAME=value or
    NAME: value, a credential's shape or a token of a known kind."""
    # Every blank str.split() takes (U+001F too), and every '#': what is left
    # never starts a comment, so redact_apache below never comes back here.
    body = _COMMENT_START.sub("", text)
    if _KNOWN_TOKEN.search(body) or _SHELL_CREDENTIAL.search(_shell_unquoted(body)):
        return True
    if any(_SECRET_VARIABLE.search(match.group(1)) for match in _NAMED_VALUE.finditer(body)):
        return True
    body = body.rstrip("\\ \t\r")
    return bool(body) and not body.startswith("#") and redact_apache(body) != body


def _blank_credential_lines(text):
    """``text`` with each logical line (continuations joined) that still holds
    a value shaped like a credential emptied, its line count kept: the last
    net under the assignments' redaction (a name split by a continuation, a
    credential in a loop's words, a here-document or a command's arguments)."""
    unquoted = _shell_unquoted(text)
    if not (
        _SHELL_CREDENTIAL.search(unquoted)
        or _KNOWN_TOKEN.search(text)
        or _URL_PASSWORD.search(unquoted)
    ):
        return text
    lines = text.split("\n")
    for index, end in _logical_spans(lines):
        logical = " " + "\n".join(lines[index:end])
        unquoted = _shell_unquoted(logical)
        # A line already redacted (either placeholder) keeps what is left.
        if (
            REDACTED not in logical
            and APACHE_REDACTED not in logical
            and (
                _SHELL_CREDENTIAL.search(unquoted)
                or _KNOWN_TOKEN.search(logical)
                or _URL_PASSWORD.search(unquoted)
            )
        ):
            lines[index:end] = [""] * (end - index)
    return "\n".join(lines)


def _logical_spans(lines):
    """(first, end) of each logical line of ``lines``: physical lines joined by
    a trailing backslash. Read as it goes: a caller may empty lines ahead."""
    index = 0
    while index < len(lines):
        end = index + 1
        while lines[end - 1].endswith("\\") and end < len(lines):
            end += 1
        yield index, end
        index = end


def redact_secret_assignments(text, names=frozenset()):
    """``text`` with the value of every assignment to a secret-named variable, or
    of a value shaped like a credential, replaced.

    Wherever the assignment is on its line, whichever builtin precedes it,
    with ``+=``, continued over lines by a backslash or a quote: the value
    becomes one quoted placeholder followed by as many empty lines as it
    spanned, so line numbers stay right.
    """
    if (
        not names
        and not _SECRET_HINT.search(text)
        and not _MAY_HOLD_CREDENTIAL.search(text)
        and not _KNOWN_TOKEN.search(text)
        and "$'" not in text  # bash's escapes may spell any of these
    ):
        return text
    out = []
    position = 0
    shaped_until = 0  # values already tested for a credential's shape
    value_start = 0  # where that value starts
    for match in _ANY_ASSIGNMENT.finditer(text):
        if match.start() < position:
            continue
        secret = _is_secret_name(match.group(1), names)
        if secret and match.start() < shaped_until:
            # "key=..." inside another assignment's value ('--key=/x'): only
            # its own word goes, inside the value's quotes.
            quote = _quote_at(text, value_start, match.start())
            limit = shaped_until
            if quote and text[limit - 1 : limit] == quote and limit - 1 >= match.end():
                limit -= 1  # the value's closing quote stays
            end = _inner_value_end(text, value_start, match, limit, quote) if quote else limit
            out.append(text[position : match.end()])
            out.append(REDACTED if quote else "'" + REDACTED + "'")
            position = end
            continue
        if not secret and match.start() >= shaped_until:
            # A credential kept under any name ("Bearer ...", "Authorization:
            # Basic ..."); an assignment inside a value tested is not tested
            # again (its value is part of that one): linear.
            value_start, shaped_until = match.end(), _value_end(text, match.end())
            raw = text[match.end() : shaped_until]
            unquoted = _shell_unquoted(raw)
            # A -c directive quoted plainly is redacted in place (its -D and -f
            # stay); escaped or $'...' quoting hides it, so the value goes.
            secret = _shell_credential(unquoted) or (
                _directive_secret(unquoted)
                and _directive_secret(_shell_unquoted(_redact_directive_options(raw)))
            )
        if not secret:
            continue
        end = _value_end(text, match.end())
        out.append(text[position : match.end()])
        out.append("'" + REDACTED + "'" + "\n" * text.count("\n", match.end(), end))
        position = end
    out.append(text[position:])
    return "".join(out)


def redact_shell(text, private=False, names=frozenset()):
    """The text with the value of each variable named like a secret replaced.

    The value becomes one single-quoted word, which the shell and systemd's
    environment files both read as plain text; the lines of a quoted value
    that goes on over several lines are emptied (kept, for line numbers).
    A ``private`` file (not world-readable: where secrets are kept) keeps only
    the values of INVOCATION_VARIABLES; its other values are replaced and
    its lines that assign nothing are emptied.
    """
    lines = redact_secret_assignments(text, names).split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        match = _ASSIGNMENT.match(line)
        index += 1
        if match is None:
            if private:
                lines[index - 1] = ""
            continue
        name = match.group(1)
        secret = _is_secret_name(name, names)
        if not secret and (not private or name in INVOCATION_VARIABLES):
            continue
        value = match.group(2).strip()
        lines[index - 1] = line[: match.start(2)] + "'" + REDACTED + "'"
        quote = value[:1]
        if quote in ("'", '"') and not _closes(value[1:], quote):
            while index < len(lines):
                closed = _closes(lines[index], quote)
                lines[index] = ""
                index += 1
                if closed:
                    break
    redacted = redact_expansion_words("\n".join(lines), names)
    redacted = _blank_hidden_secret_assignments(redacted, names)
    return _blank_credential_lines(redact_userinfo(redact_private_keys(redacted)))


# What a name looks like once the shell has read it: quotes, escapes and
# empty command substitutions gone (DB_PASS""WORD, 'DB_PASSWORD', DB_PASS$(:)WORD).
# (DB_PASS${E}WORD, with E empty, is taken as DB_PASSWORD too.)
_NAME_NOISE = re.compile(r"[\\'\"]|\$\([^()]*\)|`[^`]*`|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?")
# NAME=, NAME+=, NAME[i]=, and arithmetic's NAME |= and the like (not ==).
_ASSIGNED_NAME = re.compile(
    r"(?<![A-Za-z0-9_$])([A-Za-z_][A-Za-z0-9_]*)(?:\[[^\]\n]{0,64}\])?[ \t]*"
    r"(?:[-+*/%&|^]|<<|>>)?=(?!=)"
)
# X=DB_PASSWORD: X holds a secret's name, for "$X=..." or printf -v "$X".
_NAME_IN_VALUE = re.compile(
    r"(?<![A-Za-z0-9_$])([A-Za-z_][A-Za-z0-9_]*)=[\"']?([A-Za-z_][A-Za-z0-9_]*)[\"']?(?=[\s;&|)]|$)",
    re.M,
)
# Builtins that set the variables they name: read, mapfile/readarray, for,
# printf -v; the words after them.
_SETTING_BUILTIN = re.compile(
    r"(?:^|[\s;&|(!{])(read|mapfile|readarray|for|printf|getopts)\s([^;&|\n]*)"
)
_HEREDOC = re.compile(r"<<-?[ \t]*['\"]?([A-Za-z0-9_]+)")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VARIABLE_USE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def _blank_hidden_secret_assignments(text, names=frozenset()):
    """``text`` with each logical line that still sets a secret-named variable
    emptied (its line count kept): a name the shell reads only once quotes,
    escapes or a continuation are taken away, and the names ``read``,
    ``mapfile``, ``for`` and ``printf -v`` set, with a here-document they
    read. The assignments redacted before hold a placeholder and are kept."""
    if not names and not _SECRET_HINT.search(text):
        return text
    unquoted = _NAME_NOISE.sub("", text.replace("\\\n", ""))
    holders = {
        match.group(1)
        for match in _NAME_IN_VALUE.finditer(unquoted)
        if _is_secret_name(match.group(2), names)
    } | _namerefs(unquoted, names)
    names = frozenset(names) | {name.lower() for name in holders}
    lines = text.split("\n")
    for index, end in _logical_spans(lines):
        logical = "\n".join(lines[index:end])
        if REDACTED not in logical and APACHE_REDACTED not in logical:
            view = _NAME_NOISE.sub("", logical.replace("\\\n", ""))
            # A use of a variable holding a secret's name may assign it ("$X=...").
            if _sets_secret_name(view, names) or (
                holders and any(use in holders for use in _VARIABLE_USE.findall(logical))
            ):
                lines[index:end] = [""] * (end - index)
                heredoc = _HEREDOC.search(view)
                if heredoc is not None:
                    # Its body, up to its delimiter, would be read as commands.
                    for body in range(end, len(lines)):
                        closing = lines[body].lstrip("\t") == heredoc.group(1)
                        lines[body] = ""
                        if closing:
                            break
    return "\n".join(lines)


def _namerefs(text, names):
    """The names ``declare -n REF=NAME`` (``typeset``, ``local``) makes refer to
    a secret-named NAME: assigning REF assigns NAME (bash). Words, not a
    regex: a run of option letters must cost its length, once."""
    found = set()
    for line in text.split("\n"):
        words = line.split()
        if not words or words[0] not in ("declare", "typeset", "local"):
            continue
        if not any(word[:1] == "-" and "n" in word[1:] for word in words[1:]):
            continue
        for word in words[1:]:
            name, equals, target = word.partition("=")
            if equals and _IDENTIFIER.fullmatch(name) and _is_secret_name(target, names):
                found.add(name)
    return found


def _sets_secret_name(view, names):
    for match in _ASSIGNED_NAME.finditer(view):
        if _is_secret_name(match.group(1), names):
            return True
    for match in _SETTING_BUILTIN.finditer(view):
        words = match.group(2).split()
        if match.group(1) == "for":
            words = words[:1]
        elif match.group(1) == "printf":
            words = [word[2:] or (words[at + 1] if at + 1 < len(words) else "")
                     for at, word in enumerate(words) if word.startswith("-v")]  # fmt: skip
        if any(_is_secret_name(word, names) for word in words if word[:1] != "-"):
            return True
    return False


# ${NAME:=word}, ${NAME=word}, ${NAME:-word}, ${NAME-word}: the word becomes (or
# stands for) NAME's value; and Define NAME value given with -C in a variable.
_DEFINE_IN_SHELL = re.compile(r"(?i)(\bDefine[ \t]+)([A-Za-z_][A-Za-z0-9_]*)([ \t]+)([^\s,\"']+)")


# httpd's -c/-C given a quoted directive inside a start-up value.
_DIRECTIVE_OPTION_IN_SHELL = re.compile(r"(-[hlLtTSMvVX]*[cC][ \t]*)(['\"])([^'\"]+)(\2)")

# httpd reads a -C/-c directive of this many bytes or more into a buffer it
# fills, then glues the next directive on (src/tcpaudit/apache/command_line.py).
_GLUING_DIRECTIVE_BYTES = 206
# A -C/-c directive hidden whole: a comment, which the controller reads as
# httpd would read a comment there (not as a directive it would refuse).
_HIDDEN_DIRECTIVE = "# " + APACHE_REDACTED


def _goes_on_into_next(directive):
    """Whether httpd may read the next -C/-c directive into this one's line."""
    return directive.endswith(("\\\n", "\\\r\n")) or (
        len(directive) * 4 >= _GLUING_DIRECTIVE_BYTES
        and len(directive.encode("utf-8", "surrogateescape")) >= _GLUING_DIRECTIVE_BYTES
    )


def joined_secret_directives(directives):
    """The indexes of -C (or -c) directives, in httpd's order, that httpd may
    read into one line whose text holds a secret, though none alone may
    (``RequestHeader set Authorization \\`` and a line feed, then the token):
    each is sent hidden whole."""
    hidden = set()
    start = 0
    while start < len(directives):
        end = start
        while end + 1 < len(directives) and _goes_on_into_next(directives[end]):
            end += 1
        if end > start:
            joined = "".join(
                re.sub(r"\\\r?\n\Z", "", directive) for directive in directives[start : end + 1]
            ).replace("\n", " ")
            if redact_apache(joined) != joined:
                hidden.update(range(start, end + 1))
        start = end + 1
    return hidden


def _redact_directive_options(text):
    """``text`` with the secrets of each -c/-C directive quoted in it replaced
    (``OPTIONS="-c 'SetEnv DB_PASSWORD x'"``), and those httpd reads into one
    line with a secret hidden whole."""
    if "c" not in text and "C" not in text:
        return text
    matches = list(_DIRECTIVE_OPTION_IN_SHELL.finditer(text))
    whole = set()
    for letter in "cC":
        mine = [match for match in matches if match.group(1).rstrip(" \t")[-1] == letter]
        whole.update(
            mine[index].start() for index in joined_secret_directives([m.group(3) for m in mine])
        )
    return _DIRECTIVE_OPTION_IN_SHELL.sub(
        lambda match: (
            match.group(1)
            + match.group(2)
            + (
                # A comment, on as many lines: the file keeps its line numbers.
                _HIDDEN_DIRECTIVE + "\n" * match.group(3).count("\n")
                if match.start() in whole
                else redact_apache(match.group(3))
            )
            + match.group(4)
        ),
        text,
    )


def redact_expansion_words(text, names=frozenset()):
    """``text`` with the word of each expansion of a secret-named variable and
    the value of each ``Define`` of one replaced (``${DB_PASSWORD:=x}``,
    ``APACHE_ARGUMENTS="-C 'Define API_TOKEN x'"``)."""
    if "${" not in text and "efine" not in text and "c" not in text and "C" not in text:
        return text

    def define(match):
        if not _is_secret_name(match.group(2), names):
            return match.group(0)
        # httpd's word, blank-free: the directive keeps its two arguments.
        return match.group(1) + match.group(2) + match.group(3) + APACHE_REDACTED

    # Directives first: those httpd joins are judged as written.
    return _DEFINE_IN_SHELL.sub(define, _redact_expansions(_redact_directive_options(text), names))


_EXPANSION_START = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?[-=+?]")


def _redact_expansions(text, names):
    """``text`` with the word of each ``${NAME:=word}`` (and ``:-``, ``+``, ``?``)
    of a secret-named NAME replaced, in one pass: a word ends at its first
    ``}`` outside quotes. A ``${`` never closed makes the rest of the file
    part of it (the shell refuses the file there): that rest is emptied,
    its line count kept, when it names a secret."""
    out = []
    position = search_from = 0
    while True:
        match = _EXPANSION_START.search(text, search_from)
        if match is None:
            break
        end = _expansion_end(text, match.end())
        if end is None:
            rest = text[match.start() :]
            if names or _SECRET_HINT.search(rest):
                out.append(text[position : match.start()])
                out.append("\n" * rest.count("\n"))
                position = len(text)
            break
        if _is_secret_name(match.group(1), names):
            out.append(text[position : match.end()])
            out.append(REDACTED + "}")
            position = end + 1
        search_from = end + 1
    out.append(text[position:])
    return "".join(out)


def _expansion_end(text, index):
    """The index of the ``}`` that ends an expansion's word, quotes and
    escapes skipped; None when nothing ends it."""
    length = len(text)
    while index < length:
        char = text[index]
        if char == "}":
            return index
        if char == "\\":
            index += 2
        elif char in "\"'":
            close = text.find(char, index + 1)
            if close < 0:
                return None
            index = close + 1
        else:
            index += 1
    return None


def redact_private_shell(text, names=frozenset()):
    """``redact_shell`` for a file only its owner may read."""
    return redact_shell(text, private=True, names=names)


def _is_secret_name(name, names):
    """A variable named like a secret, or one whose value stands in a secret's place
    (``names``, lower-cased: httpd reads ${pw} and %{PW}e from its own tables
    whatever their case, so a start-up variable of any case goes)."""
    return name.lower() in names or _SECRET_VARIABLE.search(name) is not None


def _closes(text, quote):
    """Whether ``text`` holds the quote that ends a value (unescaped, for double quotes)."""
    position = 0
    while True:
        position = text.find(quote, position)
        if position < 0:
            return False
        if quote == "'" or not (position and text[position - 1] == "\\"):
            return True
        position += 1


def _unquote(word):
    if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"'":
        return word[1:-1]
    return word


_ENVIRONMENT_LINE = re.compile(r"Environment[ \t]*=")


def redact_unit(text, names=frozenset()):
    """A systemd unit with each ``Environment=`` value secret-named or shaped
    like a credential replaced, its words read as systemd reads them (C
    escapes, quotes anywhere, continued lines, comments inside them)."""
    lines = _unit_physical_lines(text)
    for index, line in enumerate(lines):
        if line.lstrip(" \t")[:1] in ("#", ";") and _comment_may_hold_secret(line):
            lines[index] = ""  # a unit's comment never continues, nor is read
    names = frozenset(names) | _unit_exec_uses(lines, names)
    for first, last, line in _unit_line_spans(lines):
        key, equals, value = line.strip(" \t").partition("=")
        key = key.strip(" \t")
        if equals and key not in ("Environment", "EnvironmentFile"):
            _redact_unit_command(lines, first, last, key, value.strip(" \t"), names)
            continue
        if equals and key == "EnvironmentFile":
            # A path holding NAME_PASSWORD=value or a token: its file is not
            # there to read either way, and the name is shown in notes.
            path = value.strip(" \t")
            hidden = _KNOWN_TOKEN.sub(APACHE_REDACTED, _without_secret_parameters(path))
            if hidden != path:
                lines[first] = "EnvironmentFile=" + hidden
                for index in range(first + 1, last + 1):
                    lines[index] = ""
            continue
        if not equals or key != "Environment":
            continue
        words, complete = systemd_words(value.strip(" \t"))
        secret = [
            sep and (_unit_secret_name(name, names) or _shell_credential(assigned))
            for name, sep, assigned in (word.partition("=") for word in words)
        ]
        # A value's own secret-named parameters and options ("URL=...?token=x",
        # "OPTS=--password x") go, the rest of it stays.
        inner = [
            word if hidden else redact_userinfo(_without_secret_options(word))
            for word, hidden in zip(words, secret, strict=True)
        ]
        if inner != words:
            secret = [
                hidden or new != old for hidden, new, old in zip(secret, inner, words, strict=True)
            ]
        if not any(secret) and (complete or not _SECRET_HINT.search(value)):
            continue
        # Rewritten on its first line, the words systemd ignores dropped: the
        # same assignments, line numbers kept.
        kept = [
            _systemd_quoted(
                word
                if word != original
                else (word.partition("=")[0] + "=" + REDACTED if hidden else word)
            )
            for word, original, hidden in zip(inner, words, secret, strict=True)
        ]
        # An empty Environment= resets the list: a line systemd ignored whole
        # (a quote left open before any word) stays one it ignores.
        lines[first] = "Environment=" + (" ".join(kept) if kept or complete else '"')
        for index in range(first + 1, last + 1):
            lines[index] = ""
    # ExecStart's -C "Define API_TOKEN x" and URL passwords, as in envvars.
    redacted = redact_expansion_words("\n".join(lines), names)
    return _blank_credential_lines(redact_userinfo(redact_private_keys(redacted)))


def unit_secret_names(text):
    """The variables a unit's Exec lines put where a secret stands in an httpd
    directive (``-c "SetEnv DB_PASSWORD ${PW}"``: systemd expands them), so
    their values, in this unit or its drop-ins, are secrets too."""
    return _unit_exec_uses(_unit_physical_lines(text), frozenset())


def _unit_exec_uses(lines, names):
    uses = {"variables": set(), "macros": set()}
    for first, last, line in _unit_line_spans(lines):
        key, equals, value = line.strip(" \t").partition("=")
        if equals and key.strip(" \t").startswith("Exec"):
            _redact_unit_command(list(lines), first, last, key.strip(" \t"),
                                 value.strip(" \t"), names, uses)  # fmt: skip
    return frozenset(uses["variables"])


def _unit_physical_lines(text):
    """A unit's lines as systemd's read_line ends them (\\n, \\r\\n, \\r, NUL),
    the byte-order mark of the first line holding one dropped."""
    lines = re.split(r"\r\n|\r|\n|\x00", text)
    for index, line in enumerate(lines):
        if line.startswith("\ufeff"):
            lines[index] = line[1:]
            break
    return lines


_SECRET_OPTION_VALUE = re.compile(r"(?<![^\s=])(-{1,2}[A-Za-z0-9_.-]+)([ \t]+)([^\s-][^\s]*)")


def _without_secret_options(word):
    """A value with its secret-named parameters (``?token=x``, ``--key=x``) and
    the arguments of its secret-named options (``--password x``) replaced."""
    word = _without_secret_parameters(word)

    def argument(match):
        if not _SECRET_VARIABLE.search(match.group(1)):
            return match.group(0)
        return match.group(1) + match.group(2) + REDACTED

    return _SECRET_OPTION_VALUE.sub(argument, word) if " " in word or "\t" in word else word


# httpd's -c/-C, alone or after its flags in one word (-TC, -Xc), with the
# directive glued (-C"...") or not.
_HTTPD_DIRECTIVE_CLUSTER = re.compile(r"(-[hlLtTSMvVX]*[cC])(.*)", re.S)


def _unit_secret_name(name, names):
    """A unit's variable name like a secret's, its specifiers resolved or
    dropped (``PASS%iWORD`` is ``PASSWORD`` to systemd)."""
    return _is_secret_name(name, names) or (
        "%" in name and _is_secret_name(re.sub(r"%.?", "", name), names)
    )


def _redact_unit_command(lines, first, last, key, value, names, uses=None):
    """A unit setting other than Environment= with its secrets replaced: the
    value of SetCredential=, httpd's -C/-c directives, NAME=VALUE words and
    parameters of a secret-named variable (``--password=x``, ``?token=x``),
    the word after a secret-named option (``--password x``) and words shaped
    like a credential. A changed line is rewritten on its first line, its
    words quoted only where needed. ``uses`` collects the variables its
    httpd directives put where a secret stands (``redact_apache``)."""
    if key.startswith("SetCredential"):
        identifier, colon, _ = value.partition(":")
        if colon:
            lines[first] = f"{key}={identifier}:{REDACTED}"
            for index in range(first + 1, last + 1):
                lines[index] = ""
        return
    words, _ = systemd_words(value, keep_unknown_escapes=True)
    hidden_whole = _joined_unit_directives(words)
    kept, changed, index = [], False, 0
    while index < len(words):
        word = words[index]
        cluster = _HTTPD_DIRECTIVE_CLUSTER.fullmatch(word)
        if index + 1 in hidden_whole and cluster is not None and not cluster.group(2):
            kept += [word, _HIDDEN_DIRECTIVE]
            changed = True
            index += 2
            continue
        if index in hidden_whole and cluster is not None:
            kept.append(cluster.group(1) + _HIDDEN_DIRECTIVE)
            changed = True
            index += 1
            continue
        if cluster is not None and not cluster.group(2) and index + 1 < len(words):
            # httpd's directive, or a shell's command line (sh -c "..."): both,
            # specifiers dropped where they hide a secret's name (DB_PASS%iWORD).
            written = words[index + 1]
            plain = (
                re.sub(r"%(.?)", lambda match: "%" if match.group(1) == "%" else "", written)
                if "%" in written
                else written
            )
            directive = redact_apache(written, uses)
            if directive == written and redact_apache(plain) != plain:
                directive = redact_apache(plain, uses)
            directive = redact_userinfo(
                _without_secret_options(redact_shell(directive, names=names))
            )
            changed |= directive != words[index + 1]
            kept += [word, directive]
            index += 2
            continue
        name, sep, assigned = word.partition("=")
        if cluster is not None and cluster.group(2):
            replaced = cluster.group(1) + redact_apache(cluster.group(2), uses)
        elif sep and (_unit_secret_name(name.lstrip("-"), names) or _shell_credential(assigned)):
            replaced = name + "=" + REDACTED
        elif _shell_credential(word):
            replaced = REDACTED
        else:
            replaced = redact_userinfo(_without_secret_options(word))
        changed |= replaced != word
        kept.append(replaced)
        index += 1
        if (
            not sep
            and word.startswith("-")
            and _SECRET_VARIABLE.search(word)
            and index < len(words)
            and not words[index].startswith("-")
        ):
            # "--password VALUE": the option's argument.
            kept.append(REDACTED)
            changed = True
            index += 1
    if not changed:
        return
    lines[first] = key + "=" + " ".join(_systemd_quoted(word, only_if_needed=True) for word in kept)
    for index in range(first + 1, last + 1):
        lines[index] = ""


def _joined_unit_directives(words):
    """The indexes of a command's words holding -C (or -c) directives that
    httpd reads into one line holding a secret (joined_secret_directives)."""
    found = {"c": [], "C": []}
    index = 0
    while index < len(words):
        cluster = _HTTPD_DIRECTIVE_CLUSTER.fullmatch(words[index])
        if cluster is not None and cluster.group(2):
            found[cluster.group(1)[-1]].append((index, cluster.group(2)))
        elif cluster is not None and index + 1 < len(words):
            found[cluster.group(1)[-1]].append((index + 1, words[index + 1]))
            index += 1
        index += 1
    hidden = set()
    for directives in found.values():
        for position in joined_secret_directives([directive for _, directive in directives]):
            hidden.add(directives[position][0])
    return hidden


def _unit_line_spans(lines):
    """(first, last, text) of each logical line (src/tcpaudit/apache/unit_syntax.py)."""
    pending, first = [], 0
    for index, raw in enumerate(lines):
        if raw.lstrip(" \t")[:1] in ("#", ";"):
            continue
        if not pending:
            first = index
        escaped = False
        for char in raw:
            escaped = not escaped and char == "\\"
        if escaped:
            pending.append(raw[:-1] + " ")
            continue
        yield first, index, "".join(pending) + raw
        pending = []
    if pending:
        yield first, len(lines) - 1, "".join(pending)


_SYSTEMD_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
                    "v": "\v", "\\": "\\", '"': '"', "'": "'", "s": " "}  # fmt: skip


def systemd_words(text, keep_unknown_escapes=False):
    """systemd's extract_first_word with C escapes and quotes removed:
    (words, complete), complete False when it stopped at an unknown escape
    or unbalanced quotes (systemd ignores the rest)."""
    words, index, length = [], 0, len(text)
    while True:
        while index < length and text[index] in " \t\n\r":
            index += 1
        if index >= length:
            return words, True
        word, quote = [], ""
        while index < length:
            char = text[index]
            if char == "\\":
                if index + 1 >= length:
                    if keep_unknown_escapes and not quote:
                        word.append("\\")
                        index += 1
                        break
                    return words, False
                decoded, used = _systemd_escape(text, index + 1)
                if decoded is None:
                    if not keep_unknown_escapes:
                        return words, False
                    decoded, used = "\\" + text[index + 1], 1
                word.append(decoded)
                index += 1 + used
            elif quote:
                quote = "" if char == quote else quote
                if quote:
                    word.append(char)
                index += 1
            elif char in "'\"":
                quote = char
                index += 1
            elif char in " \t\n\r":
                break
            else:
                word.append(char)
                index += 1
        if quote:
            return words, False
        words.append(_from_escaped_bytes("".join(word)))


_ESCAPED_BYTE = 0xF0000


def _systemd_escape(text, start):
    first = text[start]
    if first in _SYSTEMD_ESCAPES:
        return _SYSTEMD_ESCAPES[first], 1
    hexdigits = "0123456789abcdefABCDEF"
    if first == "x":
        digits = text[start + 1 : start + 3]
        if len(digits) == 2 and all(d in hexdigits for d in digits) and int(digits, 16):
            return chr(_ESCAPED_BYTE + int(digits, 16)), 3
        return None, 0
    if first in "uU":
        size = 4 if first == "u" else 8
        digits = text[start + 1 : start + 1 + size]
        if len(digits) != size or not all(d in hexdigits for d in digits):
            return None, 0
        code = int(digits, 16)
        if code == 0 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
            return None, 0
        if first == "U" and (0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE):
            return None, 0
        return chr(code), 1 + size
    if first in "01234567":
        digits = text[start : start + 3]
        if len(digits) == 3 and all(d in "01234567" for d in digits) and 0 < int(digits, 8) <= 255:
            return chr(_ESCAPED_BYTE + int(digits, 8)), 3
    return None, 0


def _from_escaped_bytes(word):
    if not any(ord(char) >= _ESCAPED_BYTE for char in word):
        return word
    data = bytearray()
    for char in word:
        code = ord(char)
        if _ESCAPED_BYTE <= code <= _ESCAPED_BYTE + 0xFF:
            data.append(code - _ESCAPED_BYTE)
        else:
            data.extend(char.encode("utf-8", "surrogateescape"))
    return data.decode("utf-8", "surrogateescape")


def _systemd_quoted(word, only_if_needed=False):
    """A word written so that systemd reads it back as it is."""
    if only_if_needed and word and re.fullmatch(r"[^\s\"'\\\x00-\x1f\x7f]+", word):
        return word
    out = []
    for char in word:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 32 or ord(char) == 127:
            out.append(f"\\x{ord(char):02x}")
        elif 0xDC80 <= ord(char) <= 0xDCFF:
            out.append(f"\\x{ord(char) - 0xDC00:02x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def unit_drop_in_directories(name):
    """A unit's drop-in directories in one unit directory, most specific first
    (src/tcpaudit/apache/units.py drop_in_directories)."""
    stem, _, kind = name.rpartition(".")
    found = [f"{name}.d"]
    template, at, _ = stem.partition("@")
    if at:
        found.append(f"{template}@.{kind}.d")
    dashes = [index for index, char in enumerate(template) if char == "-"]
    found += [f"{template[: index + 1]}.{kind}.d" for index in reversed(dashes)]
    found.append(f"{kind}.d")
    return found


def unit_settings(text, unit_name="", fragment=""):
    """(Environment= assignments, EnvironmentFile= paths, ExecStart= words) of a
    unit's [Service], read as systemd reads them (specifiers that do not
    depend on the running host resolved; a word holding another is dropped)."""
    environment, files, command = {}, [], []
    section = ""
    for _, _, raw in _unit_line_spans(_unit_physical_lines(text)):
        line = raw.strip(" \t")
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section != "Service" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key, value = key.strip(" \t"), value.strip(" \t")
        if key == "Environment":
            for word in systemd_words(value)[0]:
                name, sep, assigned = (unit_specifiers(word, unit_name, fragment) or "").partition(
                    "="
                )
                if sep:
                    environment[name] = assigned
        elif key == "EnvironmentFile" and value:
            files.append(value)
        elif key == "ExecStart":
            words = systemd_words(value, keep_unknown_escapes=True)[0]
            command = [unit_specifiers(word, unit_name, fragment) or "" for word in words]
    return environment, files, command


# Specifiers of systemd's system manager that do not depend on the running host.
_UNIT_SPECIFIERS = {"E": "/etc", "C": "/var/cache", "L": "/var/log", "S": "/var/lib",
                    "t": "/run", "T": "/tmp", "V": "/var/tmp", "h": "/root", "u": "root",
                    "U": "0", "g": "root", "G": "0", "s": "/bin/sh", "%": "%"}  # fmt: skip


def _unescape_unit_name(text):
    text = text.replace("-", "/")
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda match: chr(int(match.group(1), 16)), text)


def unit_specifiers(text, unit_name, fragment=""):
    """``text`` with its specifiers resolved (src/tcpaudit/apache/unit_syntax.py);
    None when one depends on the running host or is none."""
    if "%" not in text:
        return text
    stem = unit_name.rpartition(".")[0]
    prefix, _, instance = stem.partition("@")
    last = prefix.rpartition("-")[2]
    known = dict(
        _UNIT_SPECIFIERS, n=unit_name, N=stem, p=prefix, P=_unescape_unit_name(prefix),
        i=instance, I=_unescape_unit_name(instance), j=last, J=_unescape_unit_name(last),
        f="/" + _unescape_unit_name(instance or prefix).lstrip("/"), y=fragment,
        Y=fragment.rpartition("/")[0] or "/",
    )  # fmt: skip
    out, index = [], 0
    while index < len(text):
        if text[index] != "%":
            out.append(text[index])
            index += 1
            continue
        letter = text[index + 1 : index + 2]
        if letter not in known:
            return None
        out.append(known[letter])
        index += 2
    return "".join(out)


def unit_path(value, unit_name, fragment=""):
    """An EnvironmentFile= value as systemd takes it: specifiers resolved, the
    "-" dropped, the path simplified; None when it is not known or ignored."""
    path = unit_specifiers(value, unit_name, fragment)
    if path is None:
        return None
    path = path[1:] if path.startswith("-") else path
    parts = path.split("/")
    if not path.startswith("/") or ".." in parts:
        return None
    return "/" + "/".join(part for part in parts if part not in ("", "."))


# `. FILE` / `source FILE` and `[ -f FILE ]` / `test -f FILE` in a shell fragment.
_SOURCED = re.compile(
    r"(?:^|[;&|(]|\bthen\b|\bdo\b|\belse\b)[ \t]*(?:\.|source)[ \t]+(\"[^\"]*\"|'[^']*'|[^\s;&|)]+)",
    re.M,
)
_TESTED = re.compile(r"(?:\[|\btest)\s+(?:!\s+)?-[a-zA-Z]\s+(\"[^\"]*\"|'[^']*'|[^\s;&|\]]+)")
# httpd's -f and -d (and Gentoo's CONFIGFILE/SERVERROOT) in start-up files and ExecStart.
_OPTION_PATH = re.compile(r"(?:^|[\s\"'=])-([fd])\s*(\"[^\"]*\"|'[^']*'|[^\s\"';]+)")
_GENTOO_PATH = re.compile(r"^[ \t]*(CONFIGFILE|SERVERROOT)=(\"[^\"]*\"|'[^']*'|\S+)", re.M)
_SHELL_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))")


def _node_entry(tree):
    """The entry of a path that is neither a directory nor a regular file."""
    return {"present": True} if tree == "/dev/null" else {"special": True}


def shell_path(word, variables):
    """A path word of a shell fragment with ``$VAR``/``${VAR}`` from known assignments.

    Empty when the expansion would pass MAX_EXPANSION_CHARACTERS (no such path exists).
    """
    return expand_bare(_unquote(word), variables, _SHELL_VARIABLE) or ""


def binary_evidence(data):
    """What the loader reads from an httpd binary's bytes (src/tcpaudit/apache/binary.py).

    The version banner, the identifiers of the modules linked in
    (``ap_prelinked_module_symbols``, in ``httpd -l`` order) or, without that
    table (httpd 2.2), the MPM's source name. None when the file holds no
    ``Apache/X.Y.Z``: the loader would not take it for httpd.
    """
    # The matches are not kept: a file repeating the string has millions.
    first = found = None
    for match in _BINARY_VERSION.finditer(data):
        first = first or match
        if match.group(2):
            found = match
            break
    found = found or first
    if found is None:
        return None
    linked = _prelinked(data)
    mpm_source = None
    if linked is None:
        mpm_source = next(
            (name for source, name in _MPM_SOURCES if b"\0" + source + b"\0" in data), None
        )
    return {
        "version": found.group(1).decode("ascii"),
        "platform": found.group(2).decode("latin-1")[2:-1] if found.group(2) else None,
        "linked": linked,
        "mpm_source": mpm_source,
    }


def _prelinked(data):
    best = None
    start = data.find(b"\0core_module\0")
    while start >= 0:
        names = []
        position = start + 1
        while True:
            match = _BINARY_IDENTIFIER.match(data, position)
            if match is None or data[match.end() : match.end() + 1] != b"\0":
                break
            name = match.group().decode("ascii")
            if name.startswith("ap_"):
                break
            names.append(name)
            position = match.end()
            while position < len(data) and data[position] == 0 and position - match.end() < 16:
                position += 1
        if names[:1] == ["core_module"] and (best is None or len(names) > len(best)):
            best = names
        # A run starting inside this one is a part of it: search past its end.
        start = data.find(b"\0core_module\0", max(start + 1, position))
    if best is None or len(best) < 2 or "so_module" not in best:
        return None
    return best


class Collector:
    """Copies files below a root into a snapshot, resolving links as the host would.

    Args:
        root: the directory that stands for ``/``.
        max_files: at most this many file entries.
        max_bytes: at most this many bytes of contents in total.
        max_file_bytes: Apache files larger than this are recorded without contents.
    """

    def __init__(
        self, root="/", max_files=10000, max_bytes=32 * 1024 * 1024, max_file_bytes=4 * 1024 * 1024
    ):
        self.root = os.path.abspath(root)
        self.max_files = max_files
        self.max_bytes = max_bytes
        self.max_file_bytes = max_file_bytes
        self.files = {}
        self.proc = {}
        self.binaries = {}
        self.notes = []
        self.bytes_used = 0
        self._budget_noted = False
        self._expansion_noted = False
        self._wildcards_seen = set()
        self._wildcard_bytes = 0
        self._names_matched = 0
        self._wildcards_noted = False
        self._sourced = 0
        # How each collected text was redacted, and what redact_apache found
        # standing in a secret's place (redact_secret_uses, at the end).
        self._redactions = {}
        self._apache_originals = {}  # never sent: only follow_secret_uses reads them
        self.unit_secret_names = set()  # from every unit file's Exec lines
        self.secret_uses = {
            "variables": set(),
            "macros": set(),
            "environment": set(),
            "headers": set(),
        }
        self.startup_variables = {}
        # The main files read, in order, each with its server roots, and the
        # files each Include argument named (the expansion pass reads them again).
        self._mains = []
        self._roots = {}
        self._included = {}

    # -- paths -------------------------------------------------------------------

    def real(self, tree):
        """The path on this machine of an absolute path inside the root."""
        return os.path.join(self.root, tree.lstrip("/")) if tree != "/" else self.root

    def resolve(self, tree, record=True):
        """Resolve a path inside the root, component by component, recording each link met.

        Absolute link targets and ``..`` stay inside the root, as in a chroot.
        A component that does not exist ends the walk. Returns None for a path
        that cannot be resolved (more than 40 links, an unreadable link), so no
        caller ever hands the operating system a path with a link left in it.
        """
        if "\x00" in tree:
            return None  # no file has such a name (the system call refuses it)
        # "" and "." stay while walking: after a name they say it must be a
        # directory ("a.conf/" or "a.conf/." of a file fails with ENOTDIR).
        parts = tree.split("/")
        resolved = []
        links = 0
        while parts:
            name = parts.pop(0)
            if name in ("", "."):
                continue
            if name == "..":
                if resolved:
                    resolved.pop()
                continue
            current = "/" + "/".join([*resolved, name])
            try:
                mode = os.lstat(self.real(current)).st_mode
                if parts and not stat.S_ISLNK(mode) and not stat.S_ISDIR(mode):
                    raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
            except OSError:
                # The rest stays as written ("a.conf/.", "missing/.."): the
                # system refuses such a path, as it refuses it to httpd.
                resolved.append(name)
                resolved.extend(part if part else "." for part in parts)
                break
            if stat.S_ISLNK(mode):
                links += 1
                try:
                    target = os.readlink(self.real(current))
                except OSError:
                    return None
                if record:
                    self._record(current, {"link": target})
                if links > MAX_SYMLINKS:
                    return None
                if target.startswith("/"):
                    resolved = []
                parts = target.split("/") + parts
                continue
            resolved.append(name)
        return "/" + "/".join(resolved)

    # -- recording ---------------------------------------------------------------

    def _record(self, tree, entry):
        if tree == "/":
            return True  # the root is the controller's tree itself
        if tree in self.files:
            return True
        if len(self.files) >= self.max_files:
            self._note_budget()
            return False
        self.files[tree] = entry
        return True

    def _note_budget(self):
        if not self._budget_noted:
            self._budget_noted = True
            self.notes.append(
                f"collection limit reached (max_files={self.max_files}, max_bytes={self.max_bytes}): later files are "
                "listed without contents or left out"
            )

    def collect(self, tree, limit=None, redact=redact_private_keys):
        """Record what a path names; return (resolved path, kind, text or None).

        ``kind`` is "file", "dir", "other" or "missing". ``limit`` bounds the
        bytes read (default ``max_file_bytes``); a larger file is recorded as
        omitted. ``redact``
        removes secrets from the text before it is recorded.
        """
        resolved = self.resolve(tree)
        if resolved is None:
            return tree, "missing", None
        real = self.real(resolved)
        try:
            # resolve() leaves no link in the path: a link here was swapped in since.
            info = os.stat(real, follow_symlinks=False)
        except OSError:
            return resolved, "missing", None
        if stat.S_ISDIR(info.st_mode):
            self._record(resolved, {"dir": True})
            return resolved, "dir", None
        if not stat.S_ISREG(info.st_mode):
            # /dev/null (a masked sysctl file, `Include /dev/null`) is read as
            # empty; httpd refuses any other FIFO, socket or device.
            self._record(resolved, _node_entry(resolved))
            return resolved, "other", None
        existing = self.files.get(resolved)
        if existing is not None and not existing.get("present"):
            return resolved, "file", existing.get("content")
        if existing is not None:
            del self.files[resolved]  # named by a test first, read now: its contents count
        if resolved.startswith(("/proc/", "/sys/", "/dev/")):
            # No configuration lives there, and /proc/sys holds secrets: an
            # `Include /` reaches them, but they never leave the host.
            self._record(resolved, {"omitted": "below /proc, /sys or /dev: not read"})
            return resolved, "file", None
        limit = self.max_file_bytes if limit is None else limit
        if info.st_size > limit:
            self._record(resolved, {"omitted": f"larger than {limit} bytes", "size": info.st_size})
            return resolved, "file", None
        if (
            self.bytes_used + min(info.st_size, limit) > self.max_bytes
            or len(self.files) >= self.max_files
        ):
            self._note_budget()
            self._record(resolved, {"omitted": "collection limit reached", "size": info.st_size})
            return resolved, "file", None
        try:
            data = read_regular(real, limit + 1)
        except OSError as exc:
            self._record(resolved, {"error": exc.strerror or str(exc)})
            return resolved, "file", None
        if len(data) > limit:
            self._record(resolved, {"omitted": f"larger than {limit} bytes", "size": len(data)})
            return resolved, "file", None
        self.bytes_used += len(data)
        decoded = data.decode("utf-8", "surrogateescape")
        text = redact(decoded)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            data = text.encode("utf-8", "surrogateescape")
            self._record(resolved, {"content_base64": base64.b64encode(data).decode("ascii")})
            return resolved, "file", data.decode("latin-1")
        self._record(resolved, {"content": text})
        self._redactions[resolved] = redact
        if redact is redact_unit:
            # A drop-in's -c may name a variable the unit itself sets.
            self.unit_secret_names |= unit_secret_names(decoded)
        if redact == self._redact_apache:
            # What follow_secret_uses reads: redaction may have replaced the very
            # word naming a copy's source (SetEnvIfExpr "req('Authorization') ...").
            self._apache_originals[resolved] = decoded
        return resolved, "file", text

    def present(self, tree):
        """Record that a path exists without reading it (systemd-sysctl, <IfFile>)."""
        resolved = self.resolve(tree)
        if resolved is None:
            return False
        try:
            info = os.stat(self.real(resolved), follow_symlinks=False)
        except OSError:
            return False
        if stat.S_ISDIR(info.st_mode):
            self._record(resolved, {"dir": True})
        elif stat.S_ISREG(info.st_mode):
            self._record(resolved, {"present": True})
        else:
            self._record(resolved, _node_entry(resolved))
        return True

    def listdir(self, tree):
        """Names in a directory inside the root (sorted by bytes, as httpd and sysctl do)."""
        resolved = self.resolve(tree)
        if resolved is None:
            return tree, None
        try:
            names = []
            with os.scandir(self.real(resolved)) as entries:
                for entry in entries:
                    names.append(entry.name)
                    if len(names) > MAX_DIRECTORY_ENTRIES:
                        # Held and sorted whole, as the loader does: bounded too.
                        self.notes.append(
                            f"{resolved}: more than {MAX_DIRECTORY_ENTRIES} entries; not listed"
                        )
                        return resolved, None
        except OSError:
            return resolved, None
        self._record(resolved, {"dir": True})
        return resolved, sorted(names, key=lambda name: name.encode("utf-8", "surrogateescape"))

    # -- sysctl ------------------------------------------------------------------

    def collect_proc(self):
        """The world-readable top-level files of net/ipv4 and net/core, kernel/osrelease,
        and the interface directories under net/ipv4/conf and neigh (names only).

        Nothing below /proc/sys is followed if it is a link (the kernel's tree
        has none); each value counts toward max_files and max_bytes.
        """
        # The snapshot keys these by their place below /proc/sys, so links on
        # the way there are followed (inside the root), not recorded.
        proc_sys = self.resolve("/proc/sys", record=False)
        if proc_sys is None:
            return
        try:
            base = os.open(self.real(proc_sys), _DIRECTORY_FLAGS)
        except OSError:
            return
        try:
            for directory in PROC_DIRECTORIES:
                self._collect_proc_directory(base, directory)
            for branch in ("conf", "neigh"):
                self._collect_interfaces(base, branch)
            self._collect_proc_value(base, "kernel", "osrelease")
        finally:
            os.close(base)

    def _collect_proc_directory(self, base, directory):
        try:
            descriptor = open_below(base, directory.split("/"))
        except OSError:
            return
        try:
            for name in sorted(os.listdir(descriptor)):
                self._collect_proc_value(descriptor, directory, name, opened=True)
        finally:
            os.close(descriptor)

    def _collect_proc_value(self, base, directory, name, opened=False):
        key = directory + "/" + name
        descriptor = base
        try:
            if not opened:
                descriptor = open_below(base, directory.split("/"))
        except OSError:
            return
        try:
            try:
                mode = os.stat(name, dir_fd=descriptor, follow_symlinks=False).st_mode
            except OSError:
                return
            if stat.S_ISDIR(mode):
                return  # conf/, neigh/, route/: listed by _collect_interfaces
            # Named but never opened: secrets, links, FIFOs and devices, and
            # whatever is not world-readable.
            if is_secret(name) or not stat.S_ISREG(mode) or not mode & stat.S_IROTH:
                self.proc[key] = None
                return
            if len(self.files) + len(self.proc) >= self.max_files or (
                self.bytes_used + PROC_VALUE_BYTES > self.max_bytes
            ):
                self._note_budget()
                return
            try:
                data = read_regular(name, PROC_VALUE_BYTES + 1, dir_fd=descriptor)
            except OSError as exc:
                self.proc[key] = None
                self.notes.append(f"cannot read /proc/sys/{key}: {exc.strerror or exc}")
                return
            if len(data) > PROC_VALUE_BYTES:
                # tcpaudit's loader believes no longer value (no kernel prints one): unknown.
                self.proc[key] = None
                self.notes.append(
                    f"cannot read /proc/sys/{key}: larger than {PROC_VALUE_BYTES} bytes"
                )
                return
            self.bytes_used += len(data)
            self.proc[key] = data.decode("utf-8", "replace")
        finally:
            if descriptor != base:
                os.close(descriptor)

    def _collect_interfaces(self, base, branch):
        """The files of each interface directory of net/ipv4/<branch>, by name only.

        The controller expands glob lines (``net.ipv4.conf.*.rp_filter``) over
        them as the boot tool does over the host's interfaces.
        """
        try:
            descriptor = open_below(base, ["net", "ipv4", branch])
        except OSError:
            return
        try:
            for interface in sorted(os.listdir(descriptor))[:MAX_INTERFACES]:
                try:
                    inner = open_below(descriptor, [interface])
                except OSError:
                    continue  # a link or a file: not an interface directory
                try:
                    names = sorted(os.listdir(inner))
                finally:
                    os.close(inner)
                if len(self.files) + len(self.proc) + len(names) > self.max_files:
                    self._note_budget()
                    return
                for name in names:
                    self.proc[f"net/ipv4/{branch}/{interface}/{name}"] = None
        finally:
            os.close(descriptor)

    def collect_sysctl_files(self):
        """The sysctl files the boot tool applies, in its order, within tcpaudit's limits.

        systemd-sysctl (when present) or procps decides which names take part
        and whether /etc/sysctl.conf is applied; a name met in an earlier
        directory masks the same name in later ones. Collection stops where
        tcpaudit's own loader stops reading (SYSCTL_MAX_FILES files, or once
        SYSCTL_MAX_TOTAL_BYTES are read), so the controller reaches the same
        values as a local audit of this host.
        """
        # Both paths are recorded: the controller decides from them as the loader does.
        present = [path for path in SYSTEMD_SYSCTL if self.present(path)]
        systemd = any(self._is_regular(path) for path in present)
        chosen = {}
        for directory in SYSCTL_DIRECTORIES:
            resolved, names = self.listdir(directory)
            for name in names or ():
                # procps takes every name ending in ".conf"; systemd skips hidden ones.
                if name in chosen or not name.endswith(".conf"):
                    continue
                if systemd and name.startswith("."):
                    continue
                chosen[name] = posixpath.join(resolved, name)
        ordered = [
            chosen[name]
            for name in sorted(chosen, key=lambda name: name.encode("utf-8", "surrogateescape"))
        ]
        if not systemd:
            ordered.append(SYSCTL_CONF)
        total = 0
        for index, path in enumerate(ordered):
            if index >= SYSCTL_MAX_FILES or total > SYSCTL_MAX_TOTAL_BYTES:
                self.notes.append(
                    f"{len(ordered) - index} more sysctl files not collected: tcpaudit reads at "
                    f"most {SYSCTL_MAX_FILES} files and {SYSCTL_MAX_TOTAL_BYTES // (1024 * 1024)} MiB"
                )
                break
            resolved, _, _ = self.collect(path, limit=SYSCTL_FILE_BYTES, redact=self._redact_sysctl)
            total += _content_bytes(self.files.get(resolved, {}))

    def _is_regular(self, tree):
        resolved = self.resolve(tree, record=False)
        try:
            return resolved is not None and stat.S_ISREG(os.stat(self.real(resolved)).st_mode)
        except OSError:
            return False

    def _redact_sysctl(self, text):
        # The secret keys this host has (recorded by name) and those of every kernel.
        secrets = set(SECRET_PATHS)
        secrets.update(key for key in self.proc if is_secret(key.rsplit("/", 1)[-1]))
        return redact_private_keys(redact_sysctl(text, sorted(secrets)))

    # -- Apache ------------------------------------------------------------------

    def find_apache(self, override=None):
        """Return (main file, server root, binary) of the configuration, or None."""
        if override:
            if not override.startswith("/"):
                raise ValueError("apache_conf must be an absolute path inside root")
            parent = posixpath.dirname(override)
            server_root = (
                posixpath.dirname(parent) if posixpath.basename(parent) == "conf" else parent
            )
            for main, layout_root, binary in LAYOUTS:
                if main == override:
                    return main, layout_root, binary
            return override, server_root, None
        for main, server_root, binary in LAYOUTS:
            resolved = self.resolve(main)
            if resolved is not None and os.path.isfile(self.real(resolved)):
                return main, server_root, binary
        return None

    # -- how the service starts httpd, and which httpd -----------------------------

    def collect_startup(self):
        """The service's units, environment files and shell fragments, as the loader reads them.

        Returns (variables, main files, server roots): the union of the
        assignments found (for ``${VAR}`` in Include lines) and the ``-f`` and
        ``-d`` values the start-up names, so the configuration they choose is
        collected too. Values of variables named like secrets are redacted.
        """
        variables = {}
        texts = []
        for directory in UNIT_DIRECTORIES:
            self.present(directory)
        unit_texts = []
        for name in UNIT_NAMES:
            # As systemd reads them: the unit of the first directory holding
            # it, then drop-ins by file name, a name's first directory winning.
            fragment, main_text, drop_ins = "", None, {}
            for directory in UNIT_DIRECTORIES:
                _, kind, text = self.collect(directory + "/" + name, redact=redact_unit)
                if kind == "file" and text is not None:
                    texts.append(("unit", text))
                    if not fragment:
                        fragment, main_text = directory + "/" + name, text
                for drop_in_directory in unit_drop_in_directories(name):
                    resolved, names = self.listdir(directory + "/" + drop_in_directory)
                    for entry in [entry for entry in names or () if entry.endswith(".conf")][
                        :MAX_DROP_INS
                    ]:
                        _, kind, text = self.collect(
                            posixpath.join(resolved, entry), redact=redact_unit
                        )
                        if kind == "file" and text is not None:
                            texts.append(("unit", text))
                            drop_ins.setdefault(entry, text)
            if main_text is not None:
                unit_texts.append((name, fragment, main_text))
                unit_texts += [(name, fragment, drop_ins[entry]) for entry in sorted(drop_ins)]
        shells = list(STARTUP_FILES)
        for unit_name, fragment, text in unit_texts:
            environment, files, command = unit_settings(text, unit_name, fragment)
            variables.update(environment)
            for value in files:
                for path in self._environment_files(unit_path(value, unit_name, fragment)):
                    _, kind, loaded = self.collect(path, redact=self._shell_redaction(path))
                    if kind == "file" and loaded is not None:
                        texts.append(("environment", loaded))
                        variables.update(self._shell_assignments(loaded, variables))
            texts.append(("command", " ".join(command)))
            # Debian's apache2@.service: APACHE_CONFDIR picks another envvars.
            for name in ("APACHE_ENVVARS", "APACHE_CONFDIR"):
                value = environment.get(name)
                if value and value.startswith("/"):
                    shells.append(value if name == "APACHE_ENVVARS" else value + "/envvars")
        # apachectl sets APACHE_CONFDIR before it sources envvars (invocation.py too).
        variables.setdefault("APACHE_CONFDIR", "/etc/apache2")
        for path in shells:
            self._collect_shell(path, variables, texts, 0)
        self.present(SUSE_LOADMODULE)
        configs, roots = [], []
        for _, text in texts:
            for option, word in _OPTION_PATH.findall(text):
                (configs if option == "f" else roots).append(shell_path(word, variables))
            for name, word in _GENTOO_PATH.findall(text):
                (configs if name == "CONFIGFILE" else roots).append(shell_path(word, variables))
        return variables, [path for path in configs if path], [path for path in roots if path]

    def _environment_files(self, path):
        """The files an EnvironmentFile= path names: systemd globs it (a
        pattern in its last component is matched here; elsewhere, not)."""
        if path is None:
            return []
        directory, _, pattern = path.rpartition("/")
        if not any(char in pattern for char in "*?["):
            return [path]
        if any(char in directory for char in "*?["):
            return []
        _, names = self.listdir(directory or "/")
        return [
            f"{directory}/{name}"
            for name in names or ()
            if (pattern.startswith(".") or not name.startswith("."))
            and _glob_component_matches(name, pattern)
        ]

    def _collect_shell(self, path, variables, texts, depth):
        """A shell fragment, the files it sources, and the paths it tests (present or not)."""
        if depth > MAX_SOURCE_DEPTH or self._sourced >= MAX_SOURCED_FILES:
            return
        _, kind, text = self.collect(path, redact=self._shell_redaction(path))
        if kind != "file" or text is None:
            return
        self._sourced += 1
        texts.append(("shell", text))
        variables.update(self._shell_assignments(text, variables))
        for word in _TESTED.findall(text):
            tested = shell_path(word, variables)
            if tested.startswith("/"):
                self.present(tested)
        for word in _SOURCED.findall(text):
            sourced = shell_path(word, variables)
            if sourced.startswith("/"):
                self._collect_shell(sourced, variables, texts, depth + 1)

    def _redact_apache(self, text):
        return redact_apache(text, self.secret_uses)

    def redact_secret_uses(self):
        """Replace, in every collected text, the values of the variables and macro
        arguments that stood in a secret's place in an Apache file (a
        ``Define PW ...`` used as ``http://user:${PW}@backend/``)."""
        texts = {
            path: self.files[path]["content"]
            for path, redact in self._redactions.items()
            if redact == self._redact_apache and self.files.get(path, {}).get("content")
        }
        before = set(self.files)
        try:
            expanded = redact_expanded_secrets(
                texts, self.startup_variables, self._mains, self._walk_include, self.secret_uses
            )
        finally:
            # Resolving Includes again records nothing new in the snapshot.
            for path in set(self.files) - before:
                del self.files[path]
        for path, text in expanded.items():
            self.files[path]["content"] = text
        unit_names = frozenset(self.unit_secret_names)
        if unit_names:
            for path, redact in self._redactions.items():
                entry = self.files.get(path)
                if redact is redact_unit and entry and entry.get("content"):
                    entry["content"] = redact_unit(entry["content"], names=unit_names)
        if not any(self.secret_uses.values()):
            return
        follow_secret_uses(
            [
                self._apache_originals.get(path) or self.files[path].get("content") or ""
                for path, redact in self._redactions.items()
                if redact == self._redact_apache and path in self.files
            ],
            self.secret_uses,
        )
        # A start-up export a credential header reads (PassEnv) counts too.
        names = frozenset(self.secret_uses["variables"] | self.secret_uses["environment"])
        for path, redact in self._redactions.items():
            entry = self.files.get(path)
            text = entry.get("content") if entry else None
            if text is None:
                continue
            if redact == self._redact_apache:
                entry["content"] = redact_secret_uses(text, self.secret_uses)
            elif redact is redact_unit and (names or unit_names):
                entry["content"] = redact(text, names=names | unit_names)
            elif redact in (redact_shell, redact_private_shell) and names:
                entry["content"] = redact(text, names=names)

    def _shell_redaction(self, tree):
        """How a start-up file is redacted: ``redact_private_shell`` unless world-readable."""
        resolved = self.resolve(tree, record=False)
        try:
            mode = os.stat(self.real(resolved), follow_symlinks=False).st_mode if resolved else 0
        except OSError:
            mode = 0
        return redact_shell if mode & stat.S_IROTH else redact_private_shell

    def collect_build_evidence(self):
        """os-release, dpkg's and Portage's records of httpd, the module directories, the binaries."""
        for path in OS_RELEASE_FILES:
            self.collect(path, limit=EVIDENCE_TEXT_BYTES)
        self._collect_dpkg_status()
        resolved, names = self.listdir(PORTAGE_SERVERS)
        for name in names or ():
            if _PORTAGE_ENTRY.fullmatch(name):
                entry = posixpath.join(resolved, name)
                self.present(entry)
                self.collect(entry + "/USE", limit=EVIDENCE_TEXT_BYTES)
        for path in MODULE_DIRECTORIES:
            self.present(path)
        for path in HTTPD_BINARIES:
            self._collect_binary(path)

    def _collect_dpkg_status(self):
        """The stanzas of httpd's packages in dpkg's status (the rest of the file is not sent)."""
        resolved = self.resolve(DPKG_STATUS)
        if resolved is None or resolved in self.files:
            return
        try:
            data = read_regular(self.real(resolved), EVIDENCE_TEXT_BYTES + 1)
        except OSError:
            return
        if len(data) > EVIDENCE_TEXT_BYTES:
            return  # the loader reads no larger file either
        text = data.decode("utf-8", "replace")
        kept = [stanza for stanza in text.split("\n\n") if _DPKG_PACKAGE.search(stanza)]
        excerpt = "\n\n".join(kept) + "\n" if kept else ""
        if self.bytes_used + len(excerpt) > self.max_bytes:
            self._note_budget()
            return
        self.bytes_used += len(excerpt)
        self._record(resolved, {"content": excerpt})

    def _collect_binary(self, tree):
        """What the loader reads from an httpd binary, as ``binaries[resolved path]``."""
        resolved = self.resolve(tree)
        if resolved is None or resolved in self.binaries:
            return
        try:
            data = read_regular(self.real(resolved), BINARY_BYTES + 1)
        except OSError:
            return
        if len(data) > BINARY_BYTES:
            return
        evidence = binary_evidence(data)
        if evidence is not None and len(self.binaries) < len(HTTPD_BINARIES) + 2:
            self.binaries[resolved] = evidence

    # -- Apache configuration --------------------------------------------------------

    def collect_apache(self, main, server_root, variables=None, server_roots=()):
        """The main file and every file its Include lines reach, followed lightly.

        Conditions (<IfModule>, <IfDefine>) are not evaluated: every Include is
        followed, so the snapshot holds a superset of what httpd reads. A
        relative path is taken below ``server_root`` and each of
        ``server_roots`` (the service's ``-d``).
        """
        variables = _Variables(variables)
        roots = [server_root, *[root for root in server_roots if root != server_root]]
        resolved_main = self.resolve(main, record=False)
        if resolved_main is not None and resolved_main not in self._roots:
            self._mains.append(resolved_main)
            self._roots[resolved_main] = roots
        queue = [main]
        seen = set()
        visited_dirs = set()
        while queue:
            tree = queue.pop(0)
            resolved, kind, text = self.collect(tree, redact=self._redact_apache)
            if kind != "file" or text is None or resolved in seen:
                continue
            seen.add(resolved)
            for name, args in directive_lines(text, _COLLECTION_DIRECTIVES):
                if not args:
                    continue
                argument = self._expand(args[0], variables)
                if argument is None:
                    continue
                if name == "define":
                    value = self._expand(args[1], variables) if len(args) > 1 else ""
                    if value is not None:
                        variables.define(args[0], value)
                elif name == "serverroot":
                    # httpd takes a relative ServerRoot from its working directory, /.
                    argument = posixpath.normpath(posixpath.join("/", argument))
                    if argument not in roots:
                        roots.append(argument)
                    self.present(argument)
                elif name in ("include", "includeoptional"):
                    for base in roots if not argument.startswith("/") else ["/"]:
                        path = posixpath.join(base, argument)
                        queue.extend(
                            self._include(
                                posixpath.normpath(path), visited_dirs, _directory_only(argument)
                            )
                        )
                elif name == "<iffile":
                    target = argument.rstrip(">").lstrip("!")
                    for base in roots if target and not target.startswith("/") else ["/"]:
                        if target:
                            self.present(posixpath.join(base, target))
                if len(self.files) >= self.max_files:
                    self._note_budget()
                    return

    def _shell_assignments(self, text, variables):
        overflowed = []
        assignments = shell_assignments(text, variables, overflowed)
        if overflowed:
            self._note_expansion()
        return assignments

    def _note_expansion(self):
        if not self._expansion_noted:
            self._expansion_noted = True
            self.notes.append(
                f"a ${{VAR}} expansion passed {MAX_EXPANSION_CHARACTERS} characters: not followed"
            )

    def _expand(self, value, variables):
        # An unknown ${VAR} stays literal, as httpd reads it: `IncludeOptional
        # ${SITE_EXTRA}` names a file called "${SITE_EXTRA}", not every file.
        expanded = expand(value, variables)
        if expanded is None:
            self._note_expansion()
        return expanded

    def _walk_include(self, argument):
        """The files an Include argument names, for the expansion pass (each main's roots)."""
        if argument not in self._included:
            roots = [root for roots in self._roots.values() for root in roots]
            files = []
            for base in list(dict.fromkeys(roots)) if not argument.startswith("/") else ["/"]:
                path = posixpath.normpath(posixpath.join(base, argument))
                files.extend(self._include(path, set(), _directory_only(argument)))
            self._included[argument] = list(dict.fromkeys(files))
        return self._included[argument]

    def _include(self, pattern, visited_dirs, directory_only=False):
        """Files an Include pattern names: wildcards expanded, directories read recursively.

        ``directory_only``: the argument ended in '/' (or '/.', '/..'), so httpd
        takes only directories by the names matched.
        """
        candidates = ["/"]
        parts = [part for part in pattern.split("/") if part]
        # A wildcard before a '/' keeps only entries that are directories.
        last = len(parts) - 1 if not directory_only else len(parts)
        for index, part in enumerate(parts):
            if has_wildcard(part):
                matched = []
                for base in candidates:
                    resolved, names = self.listdir(base)
                    if not self._take_matching(part, len(names or ())):
                        names = ()
                    for name in names or ():
                        if not wildcard_matches(part, name):
                            continue
                        path = posixpath.join(resolved, name)
                        if _too_long(path):
                            # httpd keeps it, then cannot open it: the snapshot
                            # shows the name for the loader to fail or skip.
                            self._record_too_long(path)
                            continue
                        # httpd keeps, for a wildcard before the last component,
                        # only entries that are directories themselves (d_type):
                        # a link to a directory is not followed there.
                        if index < last and not self._is_real_directory(path):
                            continue
                        matched.append(path)
                candidates = matched
            else:
                candidates = [posixpath.join(base, part) for base in candidates]
            if len(candidates) > self.max_files:
                self._note_budget()
                candidates = candidates[: self.max_files]
        files = []
        for candidate in candidates:
            files.extend(self._walk(candidate, visited_dirs, 0, directory_only))
        return files

    def _take_matching(self, pattern, names):
        """Count a wildcard matched against ``names`` entries; False once past the
        bounds on distinct wildcard text (1 MiB) and entries matched (1,000,000)
        in one snapshot (a note says so, and the rest is left out)."""
        if pattern not in self._wildcards_seen:
            self._wildcards_seen.add(pattern)
            self._wildcard_bytes += len(pattern)
        # An entry counts once more per 16 bytes of the wildcard (the loader's).
        self._names_matched += names * (1 + len(pattern) // 16)
        if self._wildcard_bytes > 1024 * 1024 or self._names_matched > 1000000:
            if not self._wildcards_noted:
                self._wildcards_noted = True
                self.notes.append(
                    "Include wildcards past the matching bounds (1 MiB of distinct wildcards, "
                    "1000000 entries matched): later wildcards are left unexpanded"
                )
            return False
        return True

    def _record_too_long(self, tree):
        """Record a listed name whose path is PATH_MAX bytes or longer (httpd's
        stat and open of it fail), as a directory or a file, without reading it."""
        parent, _, name = tree.rpartition("/")
        try:
            descriptor = os.open(self.real(parent or "/"), _DIRECTORY_FLAGS)
        except (OSError, ValueError):  # ValueError: a NUL byte, a name no file has
            return
        try:
            mode = os.stat(name, dir_fd=descriptor, follow_symlinks=False).st_mode
        except (OSError, ValueError):
            return
        finally:
            os.close(descriptor)
        self._record(tree, {"dir": True} if stat.S_ISDIR(mode) else {"present": True})

    def _is_real_directory(self, tree):
        try:
            return stat.S_ISDIR(os.lstat(self.real(tree)).st_mode)
        except OSError:
            return False

    def _walk(self, tree, visited_dirs, depth, directory_only=False):
        if _too_long(tree):
            self._record_too_long(tree)
            return []
        resolved = self.resolve(tree)
        if resolved is None:
            return []
        try:
            is_dir = stat.S_ISDIR(os.stat(self.real(resolved)).st_mode)
        except OSError:
            return []
        if not is_dir and directory_only:
            # "file/": httpd cannot open it (Include) or skips it; the loader
            # sees the file and says the same.
            self._record(resolved, {"present": True})
            return []
        if not is_dir:
            return [resolved]
        if resolved in visited_dirs or depth > MAX_DIRECTORY_DEPTH:
            return []
        visited_dirs.add(resolved)
        _, names = self.listdir(resolved)
        files = []
        for name in names or ():
            files.extend(self._walk(posixpath.join(resolved, name), visited_dirs, depth + 1))
            if len(files) > self.max_files:
                break
        return files

    # -- host --------------------------------------------------------------------

    def host_name(self):
        """The host name: the running system's, or the tree's etc/hostname, or the tree's name."""
        if self.root == "/":
            return socket.gethostname()
        try:
            resolved = self.resolve("/etc/hostname", record=False)
            data = read_regular(self.real(resolved), 4096) if resolved else b""
            lines = data.decode("utf-8").strip().splitlines()
        except (OSError, UnicodeDecodeError):
            lines = []
        name = lines[0].strip() if lines else ""
        # Only text a host name can be: one printable line of at most 253 characters.
        if not name or len(name) > 253 or not name.isprintable():
            name = os.path.basename(self.root.rstrip("/"))[:253]
        return name if name.isprintable() and name else "localhost"


def probe_apache(binary, runner=subprocess.run):
    """Return the standard output of ``binary -v`` and ``binary -V`` (None when it fails)."""
    outputs = []
    for flag in ("-v", "-V"):
        try:
            completed = runner(
                [binary, flag],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                timeout=PROBE_TIMEOUT_SECONDS,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C", "LC_ALL": "C"},
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            outputs.append(None)
            continue
        output = completed.stdout[:PROBE_OUTPUT_BYTES].decode("utf-8", "replace")
        # Debian's apache2 -V also parses the configuration and exits 1 without
        # envvars, after printing the compile settings: keep any output that
        # starts as httpd's does.
        outputs.append(output if output.startswith("Server version:") else None)
    return outputs[0], outputs[1]


def binaries_beside(main):
    """``bin/httpd``, then ``bin/httpd.bin`` (which Bitnami's ``bin/httpd`` script
    runs), of the directory above a main file's: a self-built httpd's, which the
    loader reads before those of the family os-release names."""
    top = posixpath.dirname(posixpath.dirname(posixpath.normpath(main)))
    if top in ("", "/"):
        return ()
    return (posixpath.join(top, "bin", "httpd"), posixpath.join(top, "bin", "httpd.bin"))


def snapshot(
    root="/",
    apache_conf=None,
    probe=True,
    max_files=10000,
    max_bytes=32 * 1024 * 1024,
    max_file_bytes=4 * 1024 * 1024,
    runner=subprocess.run,
):
    """Collect a host's (or a tree's) inputs into a snapshot document."""
    collector = Collector(
        root, max_files=max_files, max_bytes=max_bytes, max_file_bytes=max_file_bytes
    )
    collector.collect_proc()
    collector.collect_sysctl_files()
    version_output = compile_output = None
    variables, configs, server_roots = collector.collect_startup()
    collector.startup_variables = variables
    collector.collect_build_evidence()
    found = collector.find_apache(apache_conf)
    # openSUSE keeps Gentoo's main file with ServerRoot /srv/www (locate.py).
    layout_roots = [*(layout[1] for layout in LAYOUTS), "/srv/www"]
    if found is not None:
        main, server_root, binary = found
        for beside in binaries_beside(main):
            collector._collect_binary(beside)
        extra = [*server_roots, *(["/srv/www"] if main == "/etc/apache2/httpd.conf" else [])]
        collector.collect_apache(main, server_root, variables, extra)
    # A main file the service names (-f), below its -d or else each layout's ServerRoot.
    bases = server_roots or layout_roots
    for config in configs if not apache_conf else ():
        if config.startswith("/"):
            mains = [posixpath.normpath(config)]
        else:
            mains = [posixpath.normpath(posixpath.join(base, config)) for base in bases]
        for main in mains:
            collector.collect_apache(main, bases[0], variables, bases)
    collector.redact_secret_uses()
    if found is not None and probe and collector.root == "/":
        candidates = [binary] if binary else []
        candidates.extend(layout[2] for layout in LAYOUTS if layout[2] not in candidates)
        for candidate in candidates:
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                version_output, compile_output = probe_apache(candidate, runner)
                break
    return {
        "format": FORMAT,
        "host": collector.host_name(),
        "root": collector.root,
        "apache_conf": apache_conf,
        "files": collector.files,
        "proc": collector.proc,
        "binaries": collector.binaries,
        "apache_version_output": version_output,
        "apache_compile_output": compile_output,
        "notes": collector.notes,
    }


def main():
    module = AnsibleModule(
        argument_spec={
            "root": {"type": "path", "default": "/"},
            "apache_conf": {"type": "str"},
            "probe_apache": {"type": "bool", "default": True},
            "max_files": {"type": "int", "default": 10000},
            "max_bytes": {"type": "int", "default": 32 * 1024 * 1024},
            "max_file_bytes": {"type": "int", "default": 4 * 1024 * 1024},
        },
        supports_check_mode=True,
    )
    params = module.params
    if not os.path.isdir(params["root"]):
        module.fail_json(msg="root {} is not a directory".format(params["root"]))
    try:
        document = snapshot(
            root=params["root"],
            apache_conf=params["apache_conf"],
            probe=params["probe_apache"],
            max_files=params["max_files"],
            max_bytes=params["max_bytes"],
            max_file_bytes=params["max_file_bytes"],
        )
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, ansible_facts={"tcpaudit": document})


if __name__ == "__main__":
    main()
