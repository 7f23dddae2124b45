"""The snapshot document: what the Ansible module collects, validated before use.

``Snapshot`` (``format: tcpaudit-snapshot/1``) holds the raw files tcpaudit's
loaders read, keyed by their absolute path on the host, the world-readable
/proc/sys values, the httpd binaries' evidence and the ``httpd -v`` output.
Every field is bounded and checked here; ``tcpaudit.snapshot`` rebuilds a
private root from a valid one. Nothing here reads or writes a file.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
import re
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from .apache.known_tokens import shown_prefix
from .first_error import FirstErrorModel
from .inputs import DEFAULT_LIMIT_BYTES
from .safetext import printable

__all__ = [
    "MAX_CONTENT_BYTES",
    "MAX_DOCUMENT_BYTES",
    "MAX_ENTRIES",
    "SNAPSHOT_FORMAT",
    "FileEntry",
    "HttpdBinary",
    "Snapshot",
    "parse_apache_version",
]

SNAPSHOT_FORMAT = "tcpaudit-snapshot/1"
# A snapshot holds at most the collector's max_bytes (32 MiB by default) of
# contents, base64 or JSON escapes making it larger on disk.
MAX_DOCUMENT_BYTES = DEFAULT_LIMIT_BYTES
MAX_CONTENT_BYTES = DEFAULT_LIMIT_BYTES
# Entries of files, binaries and /proc together, each a file or directory the
# rebuilt tree holds. The collector's max_files is 10,000 by default; /proc
# adds a few hundred. Where no memory file system has room, the tree is made
# on disk, where a file may take a millisecond to make: the bound keeps the
# rebuild within seconds there too.
MAX_ENTRIES = 30_000
# A path rebuilt below the private tree: NAME_MAX per name, a host's path
# length (below PATH_MAX, 4,096 bytes with its NUL; the tree is rebuilt and
# read one directory at a time, so the temporary directory's own path does
# not count), and a depth the rebuilt tree (and its removal) can hold.
_MAX_NAME_BYTES = 255
_MAX_PATH_BYTES = 4_095
_MAX_PATH_DEPTH = 256
# The only /proc/sys files the loaders read (sysctl/proc.py, sysctl/loader.py),
# and the names in interface directories (IFNAMSIZ: at most 15 bytes), which
# the collector records without values.
_PROC_KEY = re.compile(r"net/(?:ipv4|core)/[A-Za-z0-9_.+-]+|kernel/osrelease")
_INTERFACE_KEY = re.compile(r"net/ipv4/(?:conf|neigh)/[^/\x00]{1,15}/[A-Za-z0-9_]+")
# `httpd -v`: "Server version: Apache/2.4.62 (Debian)" (server/main.c show_version).
_SERVER_VERSION = re.compile(r"^Server version:\s*Apache/(\d+\.\d+(?:\.\d+)?)", re.MULTILINE)


class FileEntry(FirstErrorModel):
    """One path of a snapshot: exactly one of its kinds is set.

    ``present`` means the path exists but its contents were not needed
    (systemd-sysctl, ``/dev/null``); ``special`` that it is a FIFO, a
    socket or a device other than ``/dev/null``, which httpd refuses to read
    ("not a regular file"); ``omitted`` names why contents needed were not
    collected; ``error`` why the file could not be read.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    content: str | None = None
    content_base64: str | None = None
    link: str | None = None
    dir: bool = False
    present: bool = False
    special: bool = False
    omitted: str | None = None
    size: int | None = Field(default=None, ge=0)
    error: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> FileEntry:
        kinds = [
            self.content is not None,
            self.content_base64 is not None,
            self.link is not None,
            self.dir,
            self.present,
            self.special,
            self.omitted is not None,
            self.error is not None,
        ]
        if sum(kinds) != 1:
            raise ValueError(
                "set exactly one of content, content_base64, link, dir, present, special, "
                "omitted, error"
            )
        if self.link is not None and (not self.link or "\x00" in self.link):
            raise ValueError("a link target must be a non-empty path")
        if self.link is not None and not _encodable(self.link):
            raise ValueError("a link target must be text a file system can hold")
        return self

    def data(self) -> bytes:
        """The file's bytes (empty for kinds without contents)."""
        if self.content is not None:
            return self.content.encode("utf-8", "surrogateescape")
        if self.content_base64 is not None:
            try:
                return base64.b64decode(self.content_base64, validate=True)
            except binascii.Error as exc:
                raise ValueError(f"content_base64 is not base64: {exc}") from exc
        return b""


_BINARY_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,60}_module")


class HttpdBinary(FirstErrorModel):
    """What the loader reads from an httpd binary's bytes (``apache/binary.py``).

    The collector reads the binary on the managed host and sends only this;
    the controller writes it back as a file holding exactly these strings,
    which ``read_binary`` reads as it reads the real binary (a test holds
    the two readings equal on this machine's apache2).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(pattern=r"^\d{1,6}\.\d{1,6}\.\d{1,6}$")
    platform: str | None = Field(default=None, min_length=1, max_length=60)
    linked: list[str] | None = Field(default=None, min_length=2, max_length=1000)
    mpm_source: Literal["prefork", "worker", "event"] | None = None

    @field_validator("platform")
    @classmethod
    def _platform(cls, value: str | None) -> str | None:
        if value is not None and (")" in value or "\x00" in value or not value.isprintable()):
            raise ValueError("a platform is printable text without ')'")
        return value

    @field_validator("linked")
    @classmethod
    def _identifiers(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if value[0] != "core_module" or "so_module" not in value:
            raise ValueError("linked modules start with core_module and hold so_module")
        for name in value:
            if not _BINARY_IDENTIFIER.fullmatch(name) or name.startswith("ap_"):
                raise ValueError(f"{name!r} is not a module identifier")
        return value

    def data(self) -> bytes:
        """Bytes that ``read_binary`` reads as this binary: the banner, the table, the MPM."""
        banner = f"Apache/{self.version}" + (f" ({self.platform})" if self.platform else "")
        parts = [b"\0", banner.encode("latin-1", "replace"), b"\0"]
        if self.linked is not None:
            parts += [b"\0".join(name.encode("ascii") for name in self.linked), b"\0"]
        if self.mpm_source is not None:
            parts += [f"{self.mpm_source}.c".encode("ascii"), b"\0"]
        return b"".join(parts)


class Snapshot(FirstErrorModel):
    """The document ``tcpaudit.audit.facts`` returns as ``ansible_facts.tcpaudit``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: str
    host: str = Field(min_length=1, max_length=253)
    root: str | None = None
    apache_conf: str | None = None
    files: dict[str, FileEntry] = Field(default_factory=dict)
    proc: dict[str, str | None] = Field(default_factory=dict)
    binaries: dict[str, HttpdBinary] = Field(default_factory=dict)
    apache_version_output: str | None = None
    apache_compile_output: str | None = None
    notes: list[str] = Field(default_factory=list)

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value != SNAPSHOT_FORMAT:
            raise ValueError(f"unsupported snapshot format {value!r} (expected {SNAPSHOT_FORMAT})")
        return value

    @field_validator("files", "binaries")
    @classmethod
    def _tree_paths(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) > MAX_ENTRIES:
            raise ValueError(f"more than {MAX_ENTRIES} entries")
        for path in value:
            # Each key becomes a path below the private tree: only normalised
            # absolute paths, so none can climb out of it.
            if path == "/":
                continue  # the root, listed for a wildcard below it (a dir only)
            if (
                not path.startswith("/")
                or posixpath.normpath(path) != path
                or path.startswith("//")
                or "\x00" in path
                or not _encodable(path)
            ):
                raise ValueError(f"{path!r} is not a normalised absolute path")
            encoded = path.encode("utf-8", "surrogateescape")
            names = encoded.split(b"/")
            if (
                # A name listed in a directory the host can reach may itself be
                # too long to reach (httpd fails or skips it): the snapshot shows it.
                len(encoded.rpartition(b"/")[0]) > _MAX_PATH_BYTES
                or len(names) > _MAX_PATH_DEPTH
                or max(map(len, names)) > _MAX_NAME_BYTES
            ):
                raise ValueError(
                    f"{printable(shown_prefix(path, 80))}...: longer or deeper than a path of a host "
                    f"(names of at most {_MAX_NAME_BYTES} bytes, {_MAX_PATH_DEPTH} levels, "
                    f"{_MAX_PATH_BYTES} bytes to the last name)"
                )
        return value

    @model_validator(mode="after")
    def _entries_in_all(self) -> Snapshot:
        if len(self.files) + len(self.binaries) + len(self.proc) > MAX_ENTRIES:
            raise ValueError(f"more than {MAX_ENTRIES} entries (files, binaries and proc)")
        return self

    @field_validator("proc")
    @classmethod
    def _proc_keys(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        if len(value) > MAX_ENTRIES:
            raise ValueError(f"more than {MAX_ENTRIES} entries")
        for key, text in value.items():
            if not _encodable(key):
                raise ValueError(f"{key!r}: not text a file system can hold")
            if ".." in key.split("/") or "." in key.split("/"):
                raise ValueError(f"{key!r} is not a net/ipv4, net/core or kernel/osrelease file")
            if _INTERFACE_KEY.fullmatch(key):
                if text is not None:
                    raise ValueError(f"{key!r}: interface files are recorded by name only")
            elif not _PROC_KEY.fullmatch(key):
                raise ValueError(f"{key!r} is not a net/ipv4, net/core or kernel/osrelease file")
        return value

    @field_validator("apache_conf")
    @classmethod
    def _absolute_conf(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError("apache_conf must be an absolute path inside the host's root")
        return value


def _encodable(text: str) -> bool:
    """Whether ``text`` is bytes a path can hold: UTF-8, or bytes JSON carried escaped.

    A lone surrogate other than surrogateescape's U+DC80-U+DCFF names no byte.
    """
    try:
        text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True


def parse_apache_version(output: str | None) -> str | None:
    """The version in ``httpd -v`` output (``"2.4.62"``), or None when absent."""
    if not output:
        return None
    match = _SERVER_VERSION.search(output)
    return match.group(1) if match else None
