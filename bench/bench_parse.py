"""Score table: the parser on every fixture against what an archivist read in it.

    PYTHONPATH=$PWD python bench/bench_parse.py [--json] [--only-shapes] [--quiet]

Parses every statement in ``fixtures/`` and ``fixtures/shapes/`` with whatever
``preserve`` is first on the path, compares each field with ``fixtures/expected/``
and prints, per field, how many were right, wrong or left blank:

* **right**: the parse equals the expectation (a blank where the statement does not
  say counts as right);
* **blank**: nothing parsed where the statement says something;
* **wrong**: a value that is not the expected one, including a value invented where
  the statement says nothing. A wrong value is worse than none: the goal is
  wrong <= 2 % and right-where-a-value-exists >= 95 % for every field.

"right where a value exists" is right / (fixtures whose expectation is not blank).
Under the table, one line per wrong (and blank) field names the fixture and shows
what was got against what was expected, so parser work can start from it. A
statement the parser refuses (an InputError) counts as blank in every field and is
listed. ``creators`` counts as blank while ``Statement`` has no ``creators``.
Exit status 0 always: this measures, the tests judge.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from preserve.errors import InputError
from preserve.statement import Statement, read_statement

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FIELDS = ("title", "signer_name", "signer_role", "date_issued", "language", "creators", "leftovers")
GOAL_WRONG = 2.0
GOAL_RIGHT = 95.0


def _creators(s: Statement) -> list[dict[str, Any]] | None:
    found = getattr(s, "creators", None)
    if found is None:
        return None
    return [
        {"name": c["name"], "role": c.get("role")}
        if isinstance(c, dict)
        else {"name": c.name, "role": c.role}
        for c in found
    ]


GETTERS: dict[str, Callable[[Statement], Any]] = {
    "title": lambda s: s.title,
    "signer_name": lambda s: s.signer_name,
    "signer_role": lambda s: s.signer_role,
    "date_issued": lambda s: s.date_issued.isoformat() if s.date_issued else None,
    "language": lambda s: s.language,
    "creators": _creators,
    "leftovers": lambda s: list(s.leftovers),
}


def _blank(value: Any) -> bool:
    return value is None or value == [] or value == ""


@dataclass
class Score:
    """One field's tally over the fixtures, with the misses spelled out."""

    right: int = 0
    wrong: int = 0
    blank: int = 0
    exists: int = 0
    right_where_exists: int = 0
    misses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.right + self.wrong + self.blank

    def percent(self, n: int, of: int) -> float:
        return 100.0 * n / of if of else 100.0

    def row(self, name: str) -> dict[str, Any]:
        right_pct = self.percent(self.right_where_exists, self.exists)
        wrong_pct = self.percent(self.wrong, self.total) if self.total else 0.0
        return {
            "field": name,
            "right": self.right,
            "wrong": self.wrong,
            "blank": self.blank,
            "right_where_value_exists_pct": round(right_pct, 1),
            "wrong_pct": round(wrong_pct, 1),
            "meets_goal": right_pct >= GOAL_RIGHT and wrong_pct <= GOAL_WRONG,
        }


def fixtures(only_shapes: bool) -> list[Path]:
    shaped = sorted((FIXTURES / "shapes").glob("*.txt"))
    return shaped if only_shapes else sorted(FIXTURES.glob("*.txt")) + shaped


def score(paths: list[Path]) -> tuple[dict[str, Score], list[dict[str, str]]]:
    """Tally every field over ``paths``; also return the statements that were refused."""
    scores = {name: Score() for name in FIELDS}
    refused: list[dict[str, str]] = []
    for path in paths:
        expected = json.loads((FIXTURES / "expected" / f"{path.stem}.json").read_text("utf-8"))
        try:
            statement: Statement | None = read_statement(path)
        except InputError as exc:
            statement = None
            refused.append({"fixture": path.stem, "error": str(exc)})
        for name in FIELDS:
            if name not in expected:
                continue  # the first fixtures have no "creators"
            want = expected[name]
            got = GETTERS[name](statement) if statement is not None else None
            tally = scores[name]
            if not _blank(want):
                tally.exists += 1
            if got == want or (_blank(got) and _blank(want)):
                tally.right += 1
                tally.right_where_exists += not _blank(want)
                continue
            kind = "blank" if _blank(got) else "wrong"
            setattr(tally, kind, getattr(tally, kind) + 1)
            tally.misses.append({"fixture": path.stem, "kind": kind, "got": got, "expected": want})
    return scores, refused


def print_table(scores: dict[str, Score], refused: list[dict[str, str]], quiet: bool) -> None:
    head = (
        f"{'field':<12} {'right':>5} {'wrong':>5} {'blank':>5}  "
        f"{'right where a value exists':>26}  {'wrong':>6}  goal"
    )
    print(head)
    print("-" * len(head))
    for name, tally in scores.items():
        row = tally.row(name)
        print(
            f"{name:<12} {row['right']:>5} {row['wrong']:>5} {row['blank']:>5}  "
            f"{row['right_where_value_exists_pct']:>25.1f}%  {row['wrong_pct']:>5.1f}%  "
            f"{'met' if row['meets_goal'] else 'not met'}"
        )
    print(f"goal: right where a value exists >= {GOAL_RIGHT:.0f}%, wrong <= {GOAL_WRONG:.0f}%")
    if refused:
        print(f"\nrefused ({len(refused)}): every field counted blank")
        for r in refused:
            print(f"  {r['fixture']}: {r['error']}")
    if quiet:
        return
    for kind in ("wrong", "blank"):
        lines = [(n, m) for n, t in scores.items() for m in t.misses if m["kind"] == kind]
        if lines:
            print(f"\n{kind} ({len(lines)}):")
        for name, miss in lines:
            if miss["fixture"] in {r["fixture"] for r in refused}:
                continue
            got = json.dumps(miss["got"], ensure_ascii=False)
            want = json.dumps(miss["expected"], ensure_ascii=False)
            print(f"  {kind} {name} {miss['fixture']}: got {got}, expected {want}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--only-shapes", action="store_true", help="fixtures/shapes/ only")
    parser.add_argument("--quiet", action="store_true", help="the table only, no miss lines")
    args = parser.parse_args(argv)
    paths = fixtures(args.only_shapes)
    scores, refused = score(paths)
    if args.json:
        json.dump(
            {
                "fixtures": len(paths),
                "goal": {"right_where_value_exists_pct": GOAL_RIGHT, "wrong_pct": GOAL_WRONG},
                "fields": [t.row(n) | {"misses": t.misses} for n, t in scores.items()],
                "refused": refused,
            },
            sys.stdout,
            ensure_ascii=False,
            indent=2,
        )
        print()
    else:
        print(f"{len(paths)} fixtures, parser: {sys.modules['preserve'].__file__}\n")
        print_table(scores, refused, args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
