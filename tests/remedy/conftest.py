"""The apply-and-audit-again proof reuses the real-apache2 harness of tests/apache."""

from __future__ import annotations

import sys
from pathlib import Path

_APACHE_TESTS = str(Path(__file__).resolve().parent.parent / "apache")
if _APACHE_TESTS not in sys.path:
    sys.path.insert(0, _APACHE_TESTS)
