"""What the diagnose tests share: the fixture trees and a command line to run them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from click.testing import CliRunner

from tcpaudit.apache import load_apache
from tcpaudit.diagnose import listen_ports
from tcpaudit.diagnose.cli import diagnose_command

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CASES = ("slow-handler-drained", "keepalive-drained", "backlog-full", "healthy")


@click.group()
def cli() -> None:
    """The tcpaudit group as it registers the command (one add_command line)."""


cli.add_command(diagnose_command, "diagnose")


def case(name: str) -> Path:
    return FIXTURES / name


def case_port(name: str) -> int:
    """The port the case's server listened on, from its own configuration."""
    config = load_apache(None, case(name))
    assert config is not None
    (port,) = listen_ports(config)
    return port


def case_pids(name: str) -> list[int]:
    return sorted(int(p.name) for p in (case(name) / "proc").iterdir() if p.name.isdigit())


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["diagnose", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def run_json(*args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run(*args, "--format", "json")
    assert code in (0, 1), err
    return code, json.loads(out)
