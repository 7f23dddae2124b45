"""The armour that marks a private key in any text.

PEM (PKCS#1, PKCS#8, SEC1, OpenSSH: ``-----BEGIN ... PRIVATE KEY-----``),
OpenPGP's ``PRIVATE KEY BLOCK``, SSH.com's SSH2 format and PuTTY's key
files (whose private part ends with their ``Private-MAC`` line). The
Ansible module (plugins/modules/facts.py) spells the same patterns, as it
must stand alone; tests/ansible/test_facts_module.py holds them equal.
"""

from __future__ import annotations

import re

__all__ = ["KEY_BEGIN", "KEY_END"]

KEY_BEGIN = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
    r"|---- BEGIN SSH2 [A-Z0-9 ]*PRIVATE KEY ----|PuTTY-User-Key-File-[0-9]+:"
)
KEY_END = re.compile(
    r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
    r"|---- END SSH2 [A-Z0-9 ]*PRIVATE KEY ----|Private-MAC:[ \t]*[0-9A-Fa-f]*"
)
