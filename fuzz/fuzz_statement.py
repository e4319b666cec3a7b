"""Fuzz the statement parser: any bytes are a Statement (original bytes kept exactly)
or an InputError with a message; nothing else, ever."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import instrumented

with instrumented():
    from preserve.errors import InputError
    from preserve.statement import parse_statement


def check(data: bytes) -> None:
    try:
        statement = parse_statement(data)
    except InputError as error:
        assert error.message
        return
    assert statement.original == data
    assert "\r" not in statement.text


if __name__ == "__main__":
    from _common import run

    run(check)
