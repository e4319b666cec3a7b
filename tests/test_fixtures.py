"""Every fixture statement parses to what an archivist reads in it (fixtures/expected/).

The expectations were written by reading each statement, so a failure here means
the parser, not the expectation, has to move (see fixtures/README.md).

Two sets: the first sixteen fixtures in ``fixtures/`` (the parser meets them), and
the statements in ``fixtures/shapes/`` that copy the shapes real published ones come
in (14 languages, legacy encodings, site chrome, labels, joint signers...). Those the
current parser does not yet read right are listed in ``KNOWN_FAILURES`` and run as
strict expected failures: when a fixture starts passing, pytest says so (XPASS is an
error under ``strict``) and its line must be deleted. ``bench/bench_parse.py`` gives
the same comparison field by field, with what was got against what was expected.

What the expectations ask of the Statement beyond today's fields (the parser
engineers implement them): ``creators`` (every signer in order, each with ``name``
and ``role``), ``type`` (``"press-release"`` and so on when a label says so, else
None or ``"statement"``), ``encoding`` (the Python codec a non-UTF-8 file was
decoded with, None for UTF-8) and notes with a ``code`` (``parse.no-date``...).
"""

from __future__ import annotations

import codecs
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from preserve.cli import cli
from preserve.metadata import prepare_file
from preserve.statement import Statement, read_statement

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
SHAPES = FIXTURES / "shapes"
BAD = FIXTURES / "bad"
SHARED = Path(__file__).resolve().parents[2] / "shared"
SEED = SHARED / "seeds" / "ombudsman-statement-2024-02-23.txt"

FIRST = sorted(FIXTURES.glob("*.txt"))
SHAPED = sorted(SHAPES.glob("*.txt"))
GOOD = FIRST + SHAPED
EXPECTED = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in FIXTURES.glob("expected/*")}
BAD_EXPECTED: dict[str, dict[str, Any]] = json.loads((BAD / "expected.json").read_text())

#: The languages real statements came in when the parser was tried on them; each
#: must have at least three shaped fixtures.
LANGUAGES = ("en", "zh", "es", "hy", "az", "fr", "ru", "ar", "ka", "fa", "tr", "uk", "he", "de")

#: Fixtures the current parser does not yet read as the archivist did, and why.
#: Delete a line when its fixture passes (strict: an unexpected pass fails the run).
#: Every shaped fixture is here at first because no Statement has ``creators`` yet.
KNOWN_FAILURES: dict[str, str] = {}

#: The record fields a blank parse leaves for the sidecar to give (their problem paths).
_REQUIRED = {"title": "title", "signer_name": "creator", "date_issued": "date_issued"}


def _params(paths: list[Path]) -> list[Any]:
    return [
        pytest.param(
            p,
            id=p.stem,
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[p.stem])]
            if p.stem in KNOWN_FAILURES
            else [],
        )
        for p in paths
    ]


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def _note_text(note: object) -> str:
    """A note as text, whether a plain string (today) or a coded record (code, message)."""
    if isinstance(note, str):
        return note
    return f"{getattr(note, 'code', '')} {getattr(note, 'message', note)}"


def _creators(s: Statement) -> list[dict[str, str | None]]:
    """``Statement.creators`` as plain name/role pairs (records or mappings)."""
    out: list[dict[str, str | None]] = []
    for c in s.creators:  # AttributeError while the parser has none
        if isinstance(c, dict):
            out.append({"name": c["name"], "role": c.get("role")})
        else:
            out.append({"name": c.name, "role": c.role})
    return out


def _codec(name: str | None) -> str | None:
    return None if name is None else codecs.lookup(name).name


def test_fixture_set_is_complete() -> None:
    """Each statement has an expectation and vice versa; >= 60 shaped ones, >= 3 per language."""
    assert len(FIRST) >= 14
    assert len(SHAPED) >= 60
    assert {p.stem for p in GOOD} == set(EXPECTED)
    assert len({p.stem for p in GOOD}) == len(GOOD)
    assert {p.stem for p in BAD.glob("*.txt")} == set(BAD_EXPECTED)
    per_language = Counter(EXPECTED[p.stem]["language"].split("-")[0] for p in SHAPED)
    assert {lang: per_language[lang] for lang in LANGUAGES if per_language[lang] < 3} == {}
    # Every shaped fixture is named LANG-topic-shape.txt after its language.
    for p in SHAPED:
        assert p.stem.split("-")[0] == EXPECTED[p.stem]["language"].split("-")[0], p.name
    assert set(KNOWN_FAILURES) <= set(EXPECTED), set(KNOWN_FAILURES) - set(EXPECTED)


@pytest.mark.parametrize("path", _params(GOOD))
def test_parse_matches_expectation(path: Path) -> None:
    """Field by field what the archivist read; the bytes kept; the record valid (or blank)."""
    expected = EXPECTED[path.stem]
    s = read_statement(path)
    assert s.title == expected["title"]
    assert s.signer_name == expected["signer_name"]
    assert s.signer_role == expected["signer_role"]
    assert (s.date_issued and s.date_issued.isoformat()) == expected["date_issued"]
    assert s.language == expected["language"]
    assert len(s.paragraphs) == expected["paragraph_count"], s.paragraphs
    if s.paragraphs:
        assert s.paragraphs[0].startswith(expected["first_paragraph_starts"])
        assert s.paragraphs[-1].startswith(expected["last_paragraph_starts"])
    else:
        assert expected["first_paragraph_starts"] is None
    assert list(s.leftovers) == expected["leftovers"]
    if "creators" in expected:
        assert _creators(s) == expected["creators"]
    assert getattr(s, "type", None) in (
        (expected["type"],) if "type" in expected else (None, "statement")
    )
    got_codec = _codec(getattr(s, "encoding", None))
    if "encoding" in expected:
        # The right codec, or one that reads these bytes as the same text.
        assert got_codec is not None
        data = path.read_bytes()
        same = [data.decode(c).removeprefix("\ufeff") for c in (got_codec, expected["encoding"])]
        assert same[0] == same[1]
    else:
        assert got_codec in (None, "utf-8", "utf-8-sig")
    for field in expected.get("expect_blank", []):
        assert getattr(s, field) is None, field
    codes = [e for e in expected["notes"] if e.startswith("parse.")]
    if codes:
        # Coded notes: exactly these codes, no more (a needless note hides a real one).
        assert sorted({getattr(n, "code", None) for n in s.notes}, key=str) == sorted(set(codes))
    elif expected["notes"]:
        for fragment in expected["notes"]:
            assert any(fragment in _note_text(note) for note in s.notes), (fragment, s.notes)
    else:
        assert s.notes == ()
    _check_bytes_and_text(path, s)
    _check_record(path, expected)


def _check_bytes_and_text(path: Path, s: Statement) -> None:
    assert s.original == path.read_bytes()
    assert s.source_path == path
    assert "\r" not in s.text and "\u00a0" not in s.text and "\ufeff" not in s.text
    for leftover in s.leftovers:
        # Leftovers are whole lines of site text: gone from the derived text's ends.
        assert not s.text.startswith(leftover) and not s.text.endswith(leftover)
    # Nothing the signature block or leftovers hold is repeated as a body paragraph.
    for field in (s.signer_name, s.signer_role, s.title):
        assert field is None or field not in s.paragraphs


def _check_record(path: Path, expected: dict[str, Any]) -> None:
    """Valid when the text says everything; else exactly the blank fields are reported."""
    blank = {_REQUIRED[f] for f in expected.get("expect_blank", []) if f in _REQUIRED}
    prepared = prepare_file(path)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    if path.with_suffix(".json").is_file() or not blank:
        assert prepared.problems == ()
        assert result.exit_code == 0, result.output
    else:
        assert {p.field for p in prepared.problems} == blank, prepared.problems
        assert result.exit_code == 1, result.output


SIDECARS = [p for p in GOOD if p.with_suffix(".json").is_file()]


@pytest.mark.parametrize("path", SIDECARS, ids=_ids(SIDECARS))
def test_merged_record(path: Path) -> None:
    """The sidecar completes or overrides the parse: the record holds both, field by field."""
    expected = EXPECTED[path.stem]["record"]
    record = prepare_file(path).record
    for key, value in expected.items():
        assert record[key] == value, key
    assert set(record) - set(expected) <= {"identifier"}


def test_sidecar_corrects_signer_but_parse_keeps_the_text() -> None:
    path = FIXTURES / "en-signer-override.txt"
    assert read_statement(path).signer_name == "Leyla Hasanova"
    assert prepare_file(path).record["creator"]["name"] == "Leyla Həsənova"


def test_web_fixtures_really_hold_the_web_bytes() -> None:
    """An editor's save would silently drop these; the tests rely on them being there."""
    web = (FIXTURES / "en-disability-day-web.txt").read_bytes()
    assert web.startswith(b"\xef\xbb\xbf") and b"\r\n" in web and "\u00a0".encode() in web
    ru = (FIXTURES / "ru-school-visit.txt").read_bytes()
    assert ru.startswith(b"\xef\xbb\xbf") and ru.count(b"\r\n") == ru.count(b"\n")
    az = (FIXTURES / "az-hotline.txt").read_bytes()
    assert "Həsənova\u00a0\n".encode() in az
    cookie = (SHAPES / "en-library-cookie-footer-crlf-nbsp.txt").read_bytes()
    assert cookie.count(b"\r\n") == cookie.count(b"\n") and "\u00a0".encode() in cookie
    uk = (SHAPES / "uk-konkurs-gov-page-crlf-nbsp.txt").read_bytes()
    assert uk.startswith(b"\xef\xbb\xbf") and b"\r\n" in uk and "\u00a0".encode() in uk


@pytest.mark.parametrize(
    "path",
    [p for p in SHAPED if "encoding" in EXPECTED[p.stem]],
    ids=lambda p: p.stem,
)
def test_legacy_fixtures_really_are_in_their_encoding(path: Path) -> None:
    """Not UTF-8, and they read as the language they claim in their own codec."""
    data = path.read_bytes()
    expected = EXPECTED[path.stem]
    if expected["encoding"] == "utf_16":
        assert data.startswith(codecs.BOM_UTF16_LE)
    else:
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
    text = data.decode(expected["encoding"]).lstrip("\ufeff").replace("\r\n", "\n")
    assert expected["title"] in text
    assert expected["last_paragraph_starts"] in text


def test_score_table_agrees_with_the_tests() -> None:
    """bench/bench_parse.py counts every fixture once per field, and every fixture it
    finds a miss in is a known failure here (else this file's own test would fail)."""
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_parse.py"), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(done.stdout)
    assert report["fixtures"] == len(GOOD)
    for row in report["fields"]:
        having = sum(1 for p in GOOD if row["field"] in EXPECTED[p.stem])
        assert row["right"] + row["wrong"] + row["blank"] == having, row["field"]
        assert len(row["misses"]) == row["wrong"] + row["blank"]
        assert {m["fixture"] for m in row["misses"]} <= set(KNOWN_FAILURES), row["field"]
    assert {r["fixture"] for r in report["refused"]} <= set(KNOWN_FAILURES)


def test_long_fixture_is_long() -> None:
    s = read_statement(FIXTURES / "en-annual-report-long.txt")
    assert len(s.paragraphs) >= 40
    assert sum(len(p.split()) for p in s.paragraphs) >= 2500  # about five printed pages


@pytest.mark.parametrize(
    ("script", "directory"), [("make_fixtures.py", FIXTURES), ("make_bad.py", BAD)]
)
def test_generated_fixtures_are_reproducible(script: str, directory: Path, tmp_path: Path) -> None:
    """The committed bytes are what the generator writes (so they can be re-made)."""
    subprocess.run([sys.executable, str(FIXTURES / script), str(tmp_path)], check=True)
    generated = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert generated
    for path in generated:
        relative = path.relative_to(tmp_path)
        assert path.read_bytes() == (directory / relative).read_bytes(), relative


# --------------------------------------------------------------------------- bad inputs

BAD_CASES = sorted(BAD_EXPECTED)


@pytest.mark.parametrize("stem", BAD_CASES)
def test_bad_input_is_refused(stem: str) -> None:
    expected = BAD_EXPECTED[stem]
    path = BAD / f"{stem}.txt"
    result = CliRunner().invoke(cli, ["validate", "--json", str(path)])
    assert result.exit_code == expected["exit_code"], result.output
    report = json.loads(result.stdout)
    (file_result,) = report["files"]
    assert file_result["valid"] is False
    if "error" in expected:
        assert expected["error"] in file_result["error"]
        assert file_result["problems"] == []
    else:
        assert file_result["error"] is None
        fields = [p["field"] for p in file_result["problems"]]
        assert set(fields) == set(expected["fields"]), file_result["problems"]
        assert any(expected["message"] in p["message"] for p in file_result["problems"])


def test_unreadable_paths_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["validate", str(tmp_path / "missing.txt")]).exit_code == 2
    assert runner.invoke(cli, ["validate", str(tmp_path)]).exit_code == 2


def test_one_bad_file_does_not_hide_a_good_one() -> None:
    good, bad = FIXTURES / "en-annual-report.txt", BAD / "date-30-february.txt"
    result = CliRunner().invoke(cli, ["validate", "--json", str(good), str(bad)])
    assert result.exit_code == 1
    assert [f["valid"] for f in json.loads(result.stdout)["files"]] == [True, False]


# --------------------------------------------------------------------------- the real seed


@pytest.fixture
def seed() -> Statement:
    if not SEED.is_file():
        pytest.skip(f"the real seed statement {SEED} is absent (../shared/ is not checked out)")
    return read_statement(SEED)


def test_real_seed(seed: Statement) -> None:
    assert seed.title == (
        "The Ombudsman's reaction in connection with the discovery of another mass grave "
        "in Khojaly city"
    )
    assert seed.signer_name == "Sabina Aliyeva"
    assert seed.signer_role == "The Commissioner for Human Rights of the Republic of Azerbaijan"
    assert seed.date_issued is not None and seed.date_issued.isoformat() == "2024-02-23"
    assert seed.language == "en"
    assert seed.leftovers == ("Search in archive",)
    assert "Search in archive" not in seed.text
    assert not any("Search in archive" in p for p in seed.paragraphs)
    assert len(seed.paragraphs) == 5
    assert seed.paragraphs[0].startswith("Mass graves that are consistently found")
    assert seed.paragraphs[-1].startswith("Considering the aforementioned")
    assert seed.original == SEED.read_bytes()
    assert seed.notes == ()
