"""Where a rolling slice that records no checkpoint takes up: a read-only replica.

A slice with write access keeps its place in the chain: the checkpoint it records
says where the sweep's window stopped, and the queue moves because each verified
bag's time is written. A slice that cannot write (a mounted copy, a cron job under
a user who may not write the archive, a ledger locked by an ingest) records
neither, so without this it would sweep the same window and verify the same bags
on every run, and never reach tampering elsewhere. Its place comes from elsewhere,
moving without writing to the archive:

- a **state file** the user names (``audit --state FILE``, outside the archive):
  where the last such slice stopped (its queue, its window of rows, its stretch of
  events). Each slice goes on from there and writes it back, so the slices go round
  the archive exactly as recording slices do: every bag verified, and every row and
  old event swept, within one cycle;
- **the clock**, without one: the rows and the old events are cut into ``n``
  windows (``n`` prime, at least :data:`MIN_WINDOWS`, as many as the slice's sweep
  needs), and the slice sweeps window ``hour mod n``, hour counted since the epoch,
  and verifies bags from that window's first row on. Runs every ``m`` hours (any
  ``m`` not a multiple of ``n``: hourly, every 6 h, daily, weekly) visit every
  window within ``n`` runs, as ``n`` is prime; two runs within one hour sweep the
  same window.

The state file holds positions only, never a verdict: editing it can make a
replica's slices sweep in another order, not hide a problem from a slice that
reaches it. A file that is not such a state file (or a symbolic link, a FIFO, a
folder) is refused, one line and exit 2, and never overwritten.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from preserve import ledger, ledger_check
from preserve.errors import PreserveError
from preserve.fsio import RefusedFile, atomic_write, read_limited

#: The state file's format, its first key.
STATE_FORMAT = "preserve-audit-position/1"
#: A state file is a few hundred bytes; anything over this is not one.
MAX_STATE_BYTES = 64 * 1024
#: The clock's windows: at least this many (a prime), so that a schedule of whole
#: hours (daily: 24, weekly: 168 = 2^3·3·7) shares no factor with their number.
MIN_WINDOWS = 11
#: The clock's step: one window an hour.
HOUR = 3600


def clock_hour() -> int:
    """Hours since the epoch: the clock's window number before ``mod n`` (tests set it)."""
    return int(time.time() // HOUR)


@dataclass(frozen=True)
class Position:
    """Where the last slice that records no checkpoint stopped (from a state file)."""

    #: The hash of the chain's first event: the archive the positions belong to.
    chain: str
    #: The last bag its queue verified (identifier order; the next goes on after it).
    queue_after: str
    #: The sweep's window of rows: the next compares rows after this identifier.
    bags_swept_to: str
    #: The sweep's stretch of old events: the next replays from this id (0: the first).
    swept_to: int
    #: Slices that kept their place in this file so far.
    runs: int = 0
    #: Bags the last one checked (a slice with a budget and no limit sweeps that share).
    checked: int = 0

    def as_doc(self, archive: Path) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "archive": str(archive),
            "chain": self.chain,
            "queue_after": self.queue_after,
            "bags_swept_to": self.bags_swept_to,
            "swept_to": self.swept_to,
            "runs": self.runs,
            "checked": self.checked,
            "at": ledger.now(),
        }


def load(path: Path) -> Position | None:
    """The state file's position; None if there is no file yet (the first slice).

    Raises :class:`~preserve.errors.PreserveError` (exit 2, nothing read or written)
    for a file that is not a state file (never overwritten: it may be something
    else), or one that could not be written back (its folder missing or read-only),
    before the slice begins rather than after.
    """
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise PreserveError(
            "the audit state cannot be kept there: its folder is missing or not writable", path
        )
    try:
        data = read_limited(path, MAX_STATE_BYTES)
    except FileNotFoundError:
        return None
    except RefusedFile as exc:
        raise PreserveError(f"not an audit state file: {exc.reason}", path) from None
    except OSError as exc:
        raise PreserveError(f"cannot read the audit state: {exc.strerror or exc}", path) from None
    try:
        doc = json.loads(data)
        if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
            raise ValueError(f"its format is not {STATE_FORMAT}")
        position = Position(
            _text(doc, "chain"),
            _text(doc, "queue_after"),
            _text(doc, "bags_swept_to"),
            _count(doc, "swept_to"),
            _count(doc, "runs"),
            _count(doc, "checked") if "checked" in doc else 0,
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise PreserveError(
            f"not an audit state file ({exc}); not used, not overwritten", path
        ) from None
    return position


def _text(doc: dict[str, Any], key: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key!r} is not a string")
    return value


def _count(doc: dict[str, Any], key: str) -> int:
    value = doc.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key!r} is not a count")
    return value


def save(path: Path, archive: Path, position: Position) -> None:
    """Write the state file atomically (a symlink, FIFO or folder there is refused)."""
    text = json.dumps(position.as_doc(archive), ensure_ascii=False, indent=2) + "\n"
    try:
        atomic_write(path, text.encode("utf-8"))
    except RefusedFile as exc:
        raise PreserveError(f"audit state not written: {exc.reason}", path) from None
    except OSError as exc:
        raise PreserveError(f"audit state not written: {exc.strerror or exc}", path) from None


def chain_id(db: sqlite3.Connection) -> str:
    """The hash of the chain's first event ('' for a ledger without events)."""
    row = db.execute("SELECT hash FROM events ORDER BY id LIMIT 1").fetchone()
    return str(row[0]) if row is not None and row[0] is not None else ""


@dataclass(frozen=True)
class Plan:
    """A slice's place when it records no checkpoint: its sweep's cursor, where its
    queue starts, and the words the report says it in."""

    cursor: ledger_check.Cursor
    queue_after: str
    source: str
    #: The hash of the chain's first event (kept in the state file).
    chain: str = ""


def plan(
    db: sqlite3.Connection, position: Position | None, state: Path | None, *, share: int
) -> Plan:
    """The place of this slice (in the plan's read snapshot): the state file's
    position (``position``; the chain's checkpoint for a new file), or the clock's
    window (no ``state``). ``share``: the bags the slice expects to take (0: unknown)."""
    latest = ledger_check.latest_checkpoint(db) if ledger.strict(db) else None
    if state is not None:
        here = chain_id(db)
        if position is not None and position.chain == here:
            return Plan(
                ledger_check.Cursor(position.bags_swept_to, position.swept_to),
                position.queue_after,
                f"the state file {state} (slice {position.runs + 1})",
                here,
            )
        start = latest[1] if latest is not None else None
        why = "a new state file" if position is None else "a state file of another archive"
        return Plan(
            ledger_check.Cursor(start.bags_swept_to, start.swept_to)
            if start is not None
            else ledger_check.Cursor("", 0),
            "",
            f"{why}, {state}: from "
            + ("the chain's checkpoint on" if start is not None else "the start"),
            here,
        )
    rows = int(db.execute("SELECT count(*) FROM bags").fetchone()[0])
    size = max(ledger_check.SWEEP_MIN_BAGS, share)
    count = windows(-(-rows // size))
    k = clock_hour() % count
    first = k * rows // count
    length = max(1, (k + 1) * rows // count - first)
    after = ""
    if first > 0:
        found = db.execute(
            "SELECT identifier FROM bags ORDER BY identifier LIMIT 1 OFFSET ?", (first - 1,)
        ).fetchone()
        after = str(found[0]) if found is not None else ""
    through = latest[1].through_id if latest is not None else 0
    events_from = 1 + k * through // count
    events = max(1, (k + 1) * through // count - (events_from - 1))
    return Plan(
        ledger_check.Cursor(after, events_from, rows=length, events=events),
        after,
        f"the clock: window {k + 1} of {count}, one an hour (give --state FILE to go on "
        "exactly where the last slice stopped)",
    )


def windows(needed: int) -> int:
    """The smallest prime at least ``needed`` and :data:`MIN_WINDOWS`."""
    candidate = max(MIN_WINDOWS, needed)
    while any(candidate % d == 0 for d in range(2, int(candidate**0.5) + 1)):
        candidate += 1
    return candidate
