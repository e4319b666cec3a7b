"""``python -m preserve`` and the ``preserve`` console script."""

from __future__ import annotations

from preserve.cli import cli


def main() -> None:
    """Run the CLI (click turns the returned exit code into the process status)."""
    from preserve.cli import options

    options.WHOLE_PROCESS = True  # a command may end the process itself (finish_process)
    cli(prog_name="preserve")


if __name__ == "__main__":
    main()
