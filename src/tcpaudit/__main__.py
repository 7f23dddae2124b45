"""``python -m tcpaudit``: the same as the ``tcpaudit`` command."""

from tcpaudit.cli import main

main()
