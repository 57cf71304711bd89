"""The `bopo` command: thin wrappers that parse, call a service and print.

Each module adds its commands to the app in bopo.cli.common when imported;
the order here is the order `bopo --help` lists them in.
"""

from importlib import import_module

from bopo.cli.common import app, run

for _module in ("setup", "orders", "shops", "changes", "emails", "promise", "access", "history"):
    import_module(f"bopo.cli.{_module}")

__all__ = ["app", "main"]


def main() -> None:
    run()
