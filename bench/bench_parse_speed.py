"""Parse speed of statements near the 2 MiB limit, and of date and decoding calls.

Prints seconds per parse for three 2 MiB shapes (ordinary paragraphs, short lines
full of dates and numbers, one-character lines) and microseconds per
``read_date_line`` call, so a change can be compared before and after:

    .venv/bin/python bench/bench_parse_speed.py
"""

from __future__ import annotations

import time
from collections.abc import Callable

from preserve.statement import MAX_STATEMENT_BYTES, parse_statement

PARAGRAPH = (
    "The Office held a seminar for librarians on opening hours, reading rooms and the "
    "lending of books to pupils of village schools in 2023 and 2024.\n\n"
)
DATE_LINES = (
    "23 February 2024\nBaku, 23 fevral 2024-cü il\n05/12/2017\n2016年1月28日\n"
    "Item 12 of 40\nPage 3\n14 رمضان 1445 هـ\nMainz, den 4. Juni 2024\n"
)


def statement(unit: str) -> bytes:
    head = "Library hours extended\n\n"
    tail = "\n\nLeyla Həsənova\nCommissioner\n\n1 June 2024\n"
    room = MAX_STATEMENT_BYTES - len((head + tail).encode())
    body = (unit * (room // len(unit.encode()) + 1)).encode()[:room]
    return (head.encode() + body.decode("utf-8", "ignore").encode() + tail.encode())[
        :MAX_STATEMENT_BYTES
    ]


def best_of(runs: int, call: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    for name, unit in (("paragraphs", PARAGRAPH), ("date lines", DATE_LINES), ("a\\n", "a\n")):
        data = statement(unit)
        seconds = best_of(3, lambda data=data: parse_statement(data))
        print(f"parse 2 MiB of {name:<11} {seconds:6.3f} s  ({len(data):,} bytes)")
    try:
        from preserve.statement.dates import read_date_line
    except ImportError:  # before read_date_line existed
        from preserve.statement.dates import read_date as read_date_line  # type: ignore[assignment]
    lines = [*DATE_LINES.splitlines(), PARAGRAPH.strip()]
    read_date_line(lines[0])
    n = 2000
    seconds = best_of(3, lambda: [read_date_line(line) for _ in range(n) for line in lines])
    print(f"read_date_line: {seconds / (n * len(lines)) * 1e6:6.1f} µs a line")


if __name__ == "__main__":
    main()
