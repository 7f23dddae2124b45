"""Paths as APR merges them (apr_filepath_merge, for ap_server_root_relative)."""

from __future__ import annotations

import posixpath
from pathlib import PurePosixPath

__all__ = ["merged_path", "names_directory"]


def merged_path(base: str, value: str) -> PurePosixPath:
    """apr_filepath_merge with APR_FILEPATH_TRUENAME: ``value`` relative to
    ``base``, '.' and '..' folded, symlinks kept."""
    return PurePosixPath(posixpath.normpath(posixpath.join(base, value)).replace("//", "/", 1))


def names_directory(value: str) -> bool:
    """Whether a path httpd makes absolute names a directory only.

    apr_filepath_merge keeps a trailing '/' when the path ends in an empty,
    '.' or '..' component ("x/", "x//", "x/.", "x/y/.."), and the stat or open
    of "file/" fails ("Not a directory").
    """
    return value.rpartition("/")[2] in ("", ".", "..")
