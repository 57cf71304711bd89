"""The `bopo` command: thin wrappers that parse, call a service and print.

Each module adds its commands to the app in bopo.cli.common when imported;
the order here is the order `bopo --help` lists them in. `bopo version` needs
none of them, so `main` loads them only for the other commands: the version
answers without loading the database or web stack.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any

from bopo.cli import common

__all__ = ["app", "load_commands", "main"]

COMMAND_MODULES = (
    "setup",
    "orders",
    "shops",
    "changes",
    "emails",
    "promise",
    "access",
    "history",
    "ops",
)
_LIGHT = frozenset({"version"})  # commands defined in bopo.cli.common itself
_OPTIONS_WITH_VALUE = frozenset({"--config", "-c"})


def load_commands() -> None:
    for module in COMMAND_MODULES:
        import_module(f"bopo.cli.{module}")


def __getattr__(name: str) -> Any:
    if name == "app":  # `from bopo.cli import app`: the app with every command
        load_commands()
        return common.app
    raise AttributeError(name)


def _command(args: list[str]) -> str | None:
    """The sub-command named on the command line, past the global options."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _OPTIONS_WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def main() -> None:
    if _command(sys.argv[1:]) not in _LIGHT:
        load_commands()
    common.run()
