"""Every fixture statement parses to what an archivist reads in it (fixtures/expected/).

The expectations were written by reading each statement, so a failure here means
the parser, not the expectation, has to move (see fixtures/README.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from preserve.cli import cli
from preserve.metadata import prepare_file
from preserve.statement import Statement, read_statement

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
BAD = FIXTURES / "bad"
SHARED = Path(__file__).resolve().parents[2] / "shared"
SEED = SHARED / "seeds" / "ombudsman-statement-2024-02-23.txt"

GOOD = sorted(FIXTURES.glob("*.txt"))
EXPECTED = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in FIXTURES.glob("expected/*")}
BAD_EXPECTED: dict[str, dict[str, Any]] = json.loads((BAD / "expected.json").read_text())


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def test_fixture_set_is_complete() -> None:
    """Each good statement has an expectation and vice versa; the brief asks for >= 14."""
    assert len(GOOD) >= 14
    assert {p.stem for p in GOOD} == set(EXPECTED)
    assert {p.stem for p in BAD.glob("*.txt")} == set(BAD_EXPECTED)


@pytest.mark.parametrize("path", GOOD, ids=_ids(GOOD))
def test_parse_matches_expectation(path: Path) -> None:
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
    if expected["notes"]:
        for fragment in expected["notes"]:
            assert any(fragment in note for note in s.notes), (fragment, s.notes)
    else:
        assert s.notes == ()


@pytest.mark.parametrize("path", GOOD, ids=_ids(GOOD))
def test_original_bytes_kept_and_derived_text_clean(path: Path) -> None:
    s = read_statement(path)
    assert s.original == path.read_bytes()
    assert s.source_path == path
    assert "\r" not in s.text and "\u00a0" not in s.text and "\ufeff" not in s.text
    for leftover in s.leftovers:
        # Leftovers are whole lines at the ends: gone from the derived text's ends.
        assert not s.text.startswith(leftover) and not s.text.endswith(leftover)
    # Nothing the signature block or leftovers hold is repeated as a body paragraph.
    for field in (s.signer_name, s.signer_role, s.title):
        assert field is None or field not in s.paragraphs


@pytest.mark.parametrize("path", GOOD, ids=_ids(GOOD))
def test_fixture_validates(path: Path) -> None:
    prepared = prepare_file(path)
    assert prepared.problems == ()
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0, result.output


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


def test_long_fixture_is_long() -> None:
    s = read_statement(FIXTURES / "en-annual-report-long.txt")
    assert len(s.paragraphs) >= 40
    assert sum(len(p.split()) for p in s.paragraphs) >= 2500  # about five printed pages


@pytest.mark.parametrize(
    ("script", "directory"), [("make_fixtures.py", FIXTURES), ("make_bad.py", BAD)]
)
def test_generated_fixtures_are_reproducible(script: str, directory: Path, tmp_path: Path) -> None:
    """The committed bytes are what the generator writes (so they can be re-made)."""
    import subprocess

    subprocess.run([sys.executable, str(FIXTURES / script), str(tmp_path)], check=True)
    generated = sorted(tmp_path.iterdir())
    assert generated
    for path in generated:
        assert path.read_bytes() == (directory / path.name).read_bytes(), path.name


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
