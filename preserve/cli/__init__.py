"""The ``preserve`` command line: a thin layer over the Python API.

Each command parses its options, calls one library function and presents the
result: text for people, one JSON document with ``--json`` for machines. Library
errors carry their exit code (:mod:`preserve.errors`); :func:`options.handles_errors`
maps them and nowhere else. Exit status: 0 good, 1 checked and found bad, 2 could
not run.

The commands live in one module per group (:data:`COMMANDS` says which) and are
imported only when run or listed: ``preserve verify --help`` imports the verify
command alone, not the options of every other one.
"""

from __future__ import annotations

import importlib

import click

from preserve import __version__
from preserve.process import configure_logging

#: Command name → ``module:attribute`` of the click command (or group) that runs it.
#: A new command: add its line here, in the module of its group.
COMMANDS: dict[str, str] = {
    "validate": "preserve.cli.statements:validate",
    "render": "preserve.cli.statements:render",
    "ingest": "preserve.cli.statements:ingest",
    "capture": "preserve.cli.statements:capture",
    "keys": "preserve.cli.trust:keys",
    "sign": "preserve.cli.trust:sign",
    "ledger": "preserve.cli.trust:ledger_group",
    "verify": "preserve.cli.checking:verify",
    "audit": "preserve.cli.checking:audit",
    "export": "preserve.cli.export:export",
    "profiles": "preserve.cli.export:profiles_command",
    "search": "preserve.cli.archive:search",
    "settings": "preserve.cli.archive:settings_command",
    "serve": "preserve.cli.archive:serve_command",
    "replicate": "preserve.cli.archive:replicate",
    "withdraw": "preserve.cli.archive:withdraw",
}


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command is asked for
    (the pattern of click's documentation, "Lazily Loading Subcommands")."""

    def __init__(self, *args: object, lazy: dict[str, str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module, _, attribute = self.lazy[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy[cmd_name]} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="preserve")
@click.option("-v", "--verbose", count=True, help="More log messages on stderr (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
def cli(verbose: int, quiet: bool) -> None:
    """Keep public statements safe for the long run.

    Parse a statement as received, validate its metadata, render a PDF/A
    preservation copy, package everything as a BagIt bag in an archive, and
    verify and audit that archive.

    Exit status: 0 good, 1 checked and found bad, 2 could not run.
    """
    configure_logging(verbose, quiet)
