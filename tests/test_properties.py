"""Property-based tests over the whole pipeline (hypothesis).

- identifiers: exactly where two statements can get the same readable identifier,
  and that ingest then refuses the second rather than overwrite the first;
- any single corruption of a real archived bag (byte flip, truncation, deletion,
  addition, rename, manifest edit) is reported by verify + ledger (what ``audit``
  runs), naming the file that was damaged;
- hostile statements found while fuzzing (regressions).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from preserve import ledger
from preserve.archive import Status, ingest
from preserve.audit import _ledger_problems, audit
from preserve.metadata import _slug, derive_identifier
from preserve.statement import parse_statement, parse_text
from preserve.verify import verify_bag

from .test_archive import statement_text

# --------------------------------------------------------------------------- identifiers

words = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=120).filter(
    lambda t: _slug(t, 40) != ""
)
no_digit_words = words.filter(lambda t: not any(ch.isdigit() for ch in _slug(t, 40)))
dates = st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)).map(dt.date.isoformat)


def record(org: str, date: str, title: str) -> dict[str, object]:
    return {"title": title, "date_issued": date, "creator": {"name": "X", "organization": org}}


def full_slug(title: str) -> str:
    """A title's whole slug: what is left of it after transliteration, uncut."""
    return _slug(title, len(title) * 8 + 8)


@settings(max_examples=300, deadline=None)
@given(org=words, d1=dates, d2=dates, t1=words, t2=words)
def test_same_organization_identifiers_collide_only_on_date_and_title_slug(
    org: str, d1: str, d2: str, t1: str, t2: str
) -> None:
    """Within one organization, a shared identifier means the same date and the same
    title slug: titles that differ only in case, punctuation, diacritics or script
    (after transliteration). Different dates or different words never collide."""
    if derive_identifier(record(org, d1, t1)) == derive_identifier(record(org, d2, t2)):
        assert d1 == d2 and full_slug(t1) == full_slug(t2)


@settings(max_examples=100, deadline=None)
@given(org=words, date=dates, title=words, suffix=st.sampled_from(["!", "?", " ", "...", "\u00a0"]))
def test_short_titles_equal_after_slugging_do_collide(
    org: str, date: str, title: str, suffix: str
) -> None:
    """The other direction: the collision above is real (so ingest must refuse it)."""
    assume(len(derive_identifier(record(org, date, title + "x"))) < 70)  # not cut
    # Scripts given a digest instead of a reading (kanji, rare ideographs) are named by
    # that digest, which tells the titles apart: no collision to characterise there.
    assume(all(ord(ch) < 0x2E80 for ch in title))
    assert derive_identifier(record(org, date, title)) == derive_identifier(
        record(org, date, title.upper() + suffix)
    ) or full_slug(title) != full_slug(title.upper() + suffix)


@settings(max_examples=300, deadline=None)
@given(o1=no_digit_words, o2=no_digit_words, date=dates, t1=words, t2=words)
def test_different_organizations_never_collide(
    o1: str, o2: str, date: str, t1: str, t2: str
) -> None:
    """Organizations whose slugs differ (and hold no digits) never share an identifier."""
    s1, s2 = (_slug(o, 40, drop_stop_words=True) for o in (o1, o2))
    assume(s1 != s2)
    assert derive_identifier(record(o1, date, t1)) != derive_identifier(record(o2, date, t2))


def test_where_identifiers_can_collide() -> None:
    """The documented collisions of readable identifiers (ingest refuses the second)."""
    day = "2024-03-01"
    assert derive_identifier(record("Ombudsman", day, "Annual Report!")) == derive_identifier(
        record("Ombudsman", day, "annual report")
    )
    # Long titles cut to fit carry a digest of the whole title, so they differ.
    long = "word " * 30
    assert derive_identifier(record("O", day, long + "one")) != derive_identifier(
        record("O", day, long + "two")
    )
    # An organization whose name holds a date can meet a title that holds one.
    assert derive_identifier(record("Xyz 2024-03-01 B", day, "C")) == derive_identifier(
        record("Xyz", day, "B 2024 03 01 C")
    )


def test_colliding_identifiers_are_refused_by_ingest_not_overwritten(tmp_path: Path) -> None:
    archive = tmp_path / "a"
    one, two = tmp_path / "one.txt", tmp_path / "two.txt"
    for path, title, body in ((one, "Annual Report!", "first"), (two, "annual report", "second")):
        text = statement_text(0).replace("Library opening hours extended (notice 0)", title)
        path.write_text(text.replace("Visitors", f"The {body} text. Visitors"), encoding="utf-8")
    first = ingest([one], archive)
    assert first.exit_code == 0
    (bag,) = (archive / "bags").iterdir()
    before = {p: p.read_bytes() for p in bag.rglob("*") if p.is_file()}
    second = ingest([two], archive)
    (result,) = second.results
    assert result.status is Status.failed and second.exit_code == 1
    assert "is taken by a different statement" in result.message
    assert {p: p.read_bytes() for p in bag.rglob("*") if p.is_file()} == before
    assert audit(archive).ok


# --------------------------------------------------------------------------- corruption


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, ledger.LedgerBag]]:
    """One real bag made by ingest, built once; each example corrupts a copy of it."""
    root = tmp_path_factory.mktemp("archived")
    source = root / "statement.txt"
    source.write_text(statement_text(7), encoding="utf-8")
    report = ingest([source], root / "archive")
    assert report.exit_code == 0, report.as_dict()
    (bag,) = (root / "archive" / "bags").iterdir()
    db = ledger.connect(root / "archive", readonly=True)
    recorded = ledger.get_bag(db, bag.name)
    db.close()
    assert recorded is not None
    yield bag, recorded


KINDS = ["flip", "truncate", "delete", "add", "rename", "manifest-edit"]


def _files(bag: Path) -> list[str]:
    return sorted(p.relative_to(bag).as_posix() for p in bag.rglob("*") if p.is_file())


def _reported(bag: Path, recorded: ledger.LedgerBag) -> list[tuple[str, str, str]]:
    """What audit runs on a bag: the verifier with our checks, plus the ledger's digests."""
    from preserve.bag_checks import check_our_bag

    result = verify_bag(bag, extra_checks=(check_our_bag,))
    expected = recorded.tagmanifest_digests
    problems = [*result.errors, *_ledger_problems(bag, expected, recorded.ingested_at)]
    return [(p.code, p.path, p.message) for p in problems]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(kind=st.sampled_from(KINDS), data=st.data())
def test_any_single_corruption_is_reported_naming_the_file(
    archived: tuple[Path, ledger.LedgerBag], kind: str, data: st.DataObject
) -> None:
    original, recorded = archived
    with tempfile.TemporaryDirectory() as tmp:
        bag = Path(tmp) / original.name
        shutil.copytree(original, bag)
        files = _files(bag)
        manifests = [f for f in files if "manifest-" in f]
        target = data.draw(st.sampled_from(manifests if kind == "manifest-edit" else files))
        path = bag / target
        content = path.read_bytes()
        named = {target}
        if kind == "flip":
            at = data.draw(st.integers(0, len(content) - 1))
            bit = data.draw(st.integers(0, 7))
            path.write_bytes(content[:at] + bytes([content[at] ^ (1 << bit)]) + content[at + 1 :])
        elif kind == "truncate":
            path.write_bytes(content[: data.draw(st.integers(0, len(content) - 1))])
        elif kind == "delete":
            path.unlink()
        elif kind == "add":
            folder = data.draw(st.sampled_from(["data", "data/original", "data/pdfa", "data/new"]))
            name = data.draw(
                st.text(
                    st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)),
                    min_size=1,
                    max_size=20,
                )
            )
            assume(name not in (".", "..") and len(name.encode()) < 200)
            added = f"{folder}/{name}"
            assume(added not in files and not any(f.startswith(added + "/") for f in files))
            (bag / folder).mkdir(exist_ok=True)
            (bag / added).write_bytes(data.draw(st.binary(max_size=50)))
            named = {added}
        elif kind == "rename":
            new = target + data.draw(st.sampled_from([".bak", "~", " ", "X"]))
            path.rename(bag / new)
            named = {target, new}
        else:  # manifest-edit: change a digit of a line, drop a line, or point it elsewhere
            lines = content.decode().splitlines(keepends=True)
            i = data.draw(st.integers(0, len(lines) - 1))
            listed = lines[i].split("  ", 1)[1].rstrip("\n")
            how = data.draw(st.sampled_from(["digest", "drop", "path"]))
            if how == "digest":
                d = lines[i][0]
                lines[i] = ("0" if d != "0" else "1") + lines[i][1:]
            elif how == "drop":
                del lines[i]
            else:
                lines[i] = lines[i].replace(listed, listed + "x")
            path.write_bytes("".join(lines).encode())
            named = {target, listed}
        problems = _reported(bag, recorded)
        assert problems, f"{kind} of {target} went unnoticed"
        assert any(p in named or any(n in m for n in named) for _, p, m in problems), (
            kind,
            target,
            problems,
        )


def test_an_untouched_copy_reports_nothing(archived: tuple[Path, ledger.LedgerBag]) -> None:
    """The corruption property is not vacuous: the same check on a clean copy is silent."""
    original, recorded = archived
    with tempfile.TemporaryDirectory() as tmp:
        bag = Path(tmp) / original.name
        shutil.copytree(original, bag)
        assert _reported(bag, recorded) == []


# --------------------------------------------------------------------------- statements


@pytest.mark.parametrize("line", ["²³ March ²⁰²⁴", "12 March ²⁰²⁴", "①② March 2024"])
def test_unicode_digits_that_int_refuses_in_a_date_line(line: str) -> None:
    """Regression: '²'.isdigit() is true but int('²') raises; the parser crashed."""
    statement = parse_text(f"Title\n\nBody text.\n\n{line}\n")
    assert statement.date_issued is None
    assert statement.original.endswith(line.encode() + b"\n")


def test_decimal_digits_of_other_scripts_still_read_as_dates() -> None:
    assert parse_text("T\n\nBody.\n\n١٢ March ٢٠٢٤\n").date_issued == dt.date(2024, 3, 12)


def test_a_statement_of_a_million_short_lines_is_not_quadratic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Regression: walking back over a huge last block for a signature inserted at the
    front of a list for every line (72 s for 2 MiB of 'a\\n'). Only a signature's
    worth of lines may be looked at."""
    from preserve.statement import parsing

    calls = 0
    real = parsing.is_signature_line

    def counting(line: str) -> bool:
        nonlocal calls
        calls += 1
        return real(line)

    monkeypatch.setattr(parsing, "is_signature_line", counting)
    data = b"Jane Doe\n" * 100_000
    statement = parse_statement(data)
    assert statement.original == data
    assert calls <= 20


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["a", "Jane Doe", "1 March 2024", "", "Sincerely,"]), max_size=400))
def test_parse_statement_never_raises_on_line_soup(lines: list[str]) -> None:
    data = "\n".join(lines).encode()
    try:
        statement = parse_statement(data)
    except Exception as exc:  # only the documented refusal of an empty statement
        assert type(exc).__name__ == "InputError" and "empty" in str(exc)
        return
    assert statement.original == data
    json.dumps(statement.paragraphs)
