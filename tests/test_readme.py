"""The README is the front door: it must stay true about configuration and commands."""

from __future__ import annotations

import re
from pathlib import Path

from service.cli import build_parser
from service.settings import VARIABLES

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_every_setting_is_in_the_configuration_table() -> None:
    missing = [name for name in VARIABLES if f"`{name}`" not in README]
    assert missing == []


def test_every_cli_command_is_in_the_reference() -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    missing = [name for name in commands if f"`ticker-service {name}" not in README]
    assert missing == []


def test_the_test_command_is_the_one_ci_runs() -> None:
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    command = re.search(r"TEST_COMMAND=\((.+)\)", ci)
    assert command is not None
    assert f"`{command.group(1)}`" in README
