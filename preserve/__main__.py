"""``python -m preserve`` and the ``preserve`` console script.

The commonest call, ``preserve verify BAG...`` with bag paths only, runs without
click: importing click is ~15 ms of a ~70 ms process, and there is nothing to parse.
Both routes run one function, :func:`preserve.verify_command.verify_command`; any
other command line (an option, ``--``, a name starting with ``-``, ``--help``, shell
completion) goes to click unchanged.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def plain_verify(args: Sequence[str]) -> bool:
    """True for ``verify BAG...``: at least one bag, and nothing click would read as an
    option (every word starting with ``-`` is one, or ``--``, or an error)."""
    return (
        len(args) > 1
        and args[0] == "verify"
        and not any(arg.startswith("-") for arg in args[1:])
        and not os.environ.get("_PRESERVE_COMPLETE")  # click's shell completion
    )


def main() -> None:
    """Run the command line (click turns the returned exit code into the process status)."""
    from preserve import process

    process.WHOLE_PROCESS = True  # a command may end the process itself (finish_process)
    args = sys.argv[1:]
    if plain_verify(args):
        _verify(args[1:])
    from preserve.cli import cli

    cli(prog_name="preserve")


def _verify(bags: Sequence[str]) -> None:
    """``preserve verify BAG...`` as the click command runs it with no option; an
    error ends the process through the command's own handlers, as it would there."""
    try:
        from preserve.process import configure_logging, finish_process
        from preserve.verify_command import verify_command

        configure_logging()
        finish_process(verify_command(bags))
    except (Exception, KeyboardInterrupt) as error:
        from preserve.cli.options import end_as_command

        end_as_command(error)


if __name__ == "__main__":
    main()
