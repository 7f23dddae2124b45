"""The armour that marks a private key in any text.

PEM (PKCS#1, PKCS#8, SEC1, OpenSSH: ``-----BEGIN ... PRIVATE KEY-----``),
OpenPGP's ``PRIVATE KEY BLOCK`` (PGP 2's ``SECRET KEY BLOCK``), OpenVPN's
``Static key V1`` and ``tls-crypt-v2`` server and client keys (shared
secrets), SSH.com's SSH2 format and PuTTY's key
files. The Ansible module (plugins/modules/facts.py), which must stand
alone, spells the same pattern and also finds where each key ends;
tests/ansible/test_facts_module.py holds the two equal.
"""

from __future__ import annotations

import re

__all__ = ["KEY_BEGIN"]

KEY_BEGIN = re.compile(
    r"-----BEGIN (?P<pem>(?:[A-Za-z0-9 ]|-(?!-)){0,64}"
    r"(?:PRIVATE KEY(?: BLOCK)?|SECRET KEY BLOCK|Static key V[0-9]+"
    r"|tls-crypt-v2 (?:server|client) key))-----"
    r"|---- BEGIN SSH2 (?P<ssh2>[A-Z0-9 ]{0,64}PRIVATE KEY) ----"
    r"|PuTTY-User-Key-File-[0-9]+:"
)
