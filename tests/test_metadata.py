"""Metadata: merging, identifiers, schema problems with field paths, Dublin Core."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from preserve.cli import cli
from preserve.errors import ValidationFailed
from preserve.metadata import (
    WINDOWS_RESERVED,
    check_record,
    derive_identifier,
    dublin_core,
    load_schema,
    merge,
    prepare,
    prepare_file,
    validate_record,
)
from preserve.statement import parse_text

GOOD: dict[str, Any] = {
    "identifier": "office-of-the-ombudsman-2024-03-01-annual-report",
    "title": "Annual report published",
    "creator": {"name": "Jane Doe", "role": "Ombudsman", "organization": "Office of the Ombudsman"},
    "publisher": "Office of the Ombudsman",
    "date_issued": "2024-03-01",
    "language": "en",
    "subjects": ["annual report"],
    "places": ["Springfield"],
    "source": {"url": "https://example.org/news/1", "retrieved": "2024-03-02T10:00:00Z"},
    "rights": "Public statement",
    "type": "press-release",
}


def fields(record: dict[str, Any]) -> set[str]:
    return {p.field for p in check_record(record)}


def with_(**changes: Any) -> dict[str, Any]:
    record = json.loads(json.dumps(GOOD))
    for key, value in changes.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    return record


def test_good_record_validates() -> None:
    metadata = validate_record(GOOD)
    assert metadata.identifier == GOOD["identifier"]
    assert metadata.date_issued.isoformat() == "2024-03-01"
    assert metadata.organization == "Office of the Ombudsman"
    assert json.loads(metadata.to_json()) == GOOD


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"date_issued": "2024-02-30"}, "date_issued"),
        ({"date_issued": "23 February 2024"}, "date_issued"),
        ({"identifier": "a/b"}, "identifier"),
        ({"identifier": "../etc"}, "identifier"),
        ({"identifier": "a..b"}, "identifier"),
        ({"identifier": "bad\x07name"}, "identifier"),
        ({"identifier": "con"}, "identifier"),
        ({"identifier": "lpt1.txt"}, "identifier"),
        ({"identifier": "Upper-Case"}, "identifier"),
        ({"title": "   "}, "title"),
        ({"title": None}, "title"),
        ({"language": "not a language"}, "language"),
        ({"language": "xx-Yyyyyyyyy-123456789"}, "language"),
        ({"type": "rumour"}, "type"),
        ({"source": {"url": "ftp://example.org/x"}}, "source.url"),
        ({"source": {"url": "https://exa mple.org/x"}}, "source.url"),
        ({"source": {"url": "https://example.org", "retrieved": "yesterday"}}, "source.retrieved"),
        ({"subjects": ["a", "a"]}, "subjects"),
        ({"creator": {"role": "Ombudsman"}}, "creator.name"),
        ({"creator": {"name": "X", "title": "Dr"}}, "creator"),
        ({"favourite_colour": "blue"}, ""),
    ],
)
def test_schema_rejects_with_field_path(changes: dict[str, Any], field: str) -> None:
    assert field in fields(with_(**changes))
    with pytest.raises(ValidationFailed) as info:
        validate_record(with_(**changes))
    assert any(p.field == field for p in info.value.problems)


def test_every_problem_is_reported_not_only_the_first() -> None:
    record = with_(date_issued="2024-02-30", identifier="a/b", language=None)
    assert {"date_issued", "identifier", "language"} <= fields(record)


def test_messages_say_what_to_do() -> None:
    statement = parse_text("A title only")
    prepared = prepare(statement)
    by_field = {p.field: p.message for p in prepared.problems}
    assert "creator" in by_field
    assert "signature block has no name line" in by_field["creator"]
    assert "sidecar JSON" in by_field["creator"]
    unknown = {p.field: p.message for p in check_record(with_(colour="red"))}
    assert "unknown field 'colour'" in unknown[""]


def test_merge_overrides_and_completes_without_mutating_inputs() -> None:
    draft = {"title": "Parsed", "creator": {"name": "Parsed Name", "role": "Role"}}
    sidecar = {"creator": {"name": "Right Name", "organization": "Org"}, "subjects": ["x"]}
    before = json.dumps([draft, sidecar])
    merged = merge(draft, sidecar)
    assert merged["creator"] == {"name": "Right Name", "role": "Role", "organization": "Org"}
    assert merged["title"] == "Parsed" and merged["subjects"] == ["x"]
    assert json.dumps([draft, sidecar]) == before
    merged["creator"]["name"] = "changed"
    assert sidecar["creator"]["name"] == "Right Name"


def test_identifier_is_derived_readable_and_stable() -> None:
    record = with_(identifier=None)
    ident = derive_identifier(record)
    assert ident == "office-ombudsman-2024-03-01-annual-report-published"
    assert derive_identifier(record) == ident
    assert not fields({**record, "identifier": ident})


def test_identifier_for_non_latin_title_is_transliterated_or_hashed() -> None:
    armenian = derive_identifier({"title": "Մարդու իրավունքներ", "date_issued": "2024-01-02"})
    assert re.fullmatch(r"[a-z0-9]+([._-][a-z0-9]+)*", armenian)
    emoji_a = derive_identifier({"title": "🙂", "date_issued": "2024-01-02"})
    emoji_b = derive_identifier({"title": "🙃", "date_issued": "2024-01-02"})
    assert emoji_a != emoji_b


@settings(max_examples=200, deadline=None)
@given(
    title=st.text(min_size=1, max_size=300),
    who=st.text(max_size=100),
    date=st.dates().map(lambda d: d.isoformat()),
)
def test_derived_identifiers_are_always_safe(title: str, who: str, date: str) -> None:
    ident = derive_identifier({"title": title, "creator": {"name": who}, "date_issued": date})
    assert re.fullmatch(r"[a-z0-9]+([._-][a-z0-9]+)*", ident), ident
    assert 3 <= len(ident) <= 120
    assert ident.split(".")[0] not in WINDOWS_RESERVED
    assert not {p.field for p in check_record({**GOOD, "identifier": ident})}


def test_dublin_core_crosswalk() -> None:
    pairs = dublin_core(validate_record(GOOD))
    assert ("dc.title", "Annual report published") in pairs
    assert ("dc.creator", "Jane Doe (Ombudsman)") in pairs
    assert ("dcterms.issued", "2024-03-01") in pairs
    assert ("dc.language", "en") in pairs
    assert ("dc.subject", "annual report") in pairs
    assert ("dcterms.spatial", "Springfield") in pairs
    assert ("dc.source", "https://example.org/news/1") in pairs
    assert ("dc.rights", "Public statement") in pairs
    assert ("dc.type", "press-release") in pairs
    assert ("dc.identifier", GOOD["identifier"]) in pairs
    assert ("dc.publisher", "Office of the Ombudsman") in pairs


def test_missing_field_hint_names_the_sidecar_to_write(tmp_path: Path) -> None:
    text = tmp_path / "press-note.txt"
    text.write_text("Library hours extended\n\nThe library opens on Sundays.\n", encoding="utf-8")
    by_field = {p.field: p.message for p in prepare_file(text).problems}
    assert by_field["creator"].endswith("add it to press-note.json")
    assert by_field["date_issued"].startswith("missing — the text has no line with a date")


def test_sidecar_beside_statement_completes_it(tmp_path: Path) -> None:
    text = tmp_path / "note.txt"
    text.write_text(
        "Library hours extended\n\nThe library will open on Sundays.\n", encoding="utf-8"
    )
    (tmp_path / "note.json").write_text(
        json.dumps({"creator": {"name": "Ann Lee"}, "date_issued": "2024-05-06"}), encoding="utf-8"
    )
    prepared = prepare_file(text)
    assert prepared.valid, prepared.problems
    assert prepared.record["creator"]["name"] == "Ann Lee"
    assert prepared.record["identifier"] == "ann-lee-2024-05-06-library-hours-extended"


# --------------------------------------------------------------------------- CLI


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def test_cli_validate_ok_and_json_report_matches_schema(tmp_path: Path) -> None:
    meta = tmp_path / "m.json"
    meta.write_text(json.dumps(GOOD), encoding="utf-8")
    result = run("validate", str(meta))
    assert result.exit_code == 0, result.output
    assert "valid" in result.output
    result = run("validate", "--json", str(meta))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    jsonschema.validate(report, load_schema("validate-report.schema.json"))
    assert report["files"][0]["record"] == GOOD


def test_cli_validate_invalid_exits_1_with_field_paths(tmp_path: Path) -> None:
    meta = tmp_path / "m.json"
    meta.write_text(json.dumps(with_(date_issued="2024-02-30")), encoding="utf-8")
    result = run("validate", str(meta))
    assert result.exit_code == 1
    assert f"{meta}: date_issued: '2024-02-30' is not a real calendar date" in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b"\xff\xfe{}", "not valid UTF-8"),
    ],
)
def test_cli_bad_sidecar_is_one_line_naming_the_file(
    tmp_path: Path, content: bytes, message: str
) -> None:
    meta = tmp_path / "bad.json"
    meta.write_bytes(content)
    result = run("validate", str(meta))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(str(meta)) and message in lines[0]


def test_cli_unreadable_path_exits_2(tmp_path: Path) -> None:
    result = run("validate", str(tmp_path / "missing.txt"))
    assert result.exit_code == 2
    assert "missing.txt" in result.output


def test_cli_validate_writes_nothing(tmp_path: Path) -> None:
    text = tmp_path / "s.txt"
    text.write_bytes(
        b"Title\n\nThe library will open on Sundays from next month, for readers who work "
        b"during the week.\n\nJane Doe\nOmbudsman\n\n1 March 2024\n"
    )
    before = sorted(p.name for p in tmp_path.iterdir())
    assert run("validate", str(text)).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_cli_validate_json_gives_notes_as_code_message_field(tmp_path: Path) -> None:
    text = tmp_path / "s.txt"
    text.write_text(
        "Library hours extended\n\nThe library will open on Sundays from next month, for "
        "readers who work during the week.\n\nNewsportal\n\n1 March 2024\n30 February 2024\n"
        "Share\n",
        encoding="utf-8",
    )
    result = run("validate", "--json", str(text))
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    jsonschema.Draft202012Validator(load_schema("validate-report.schema.json")).validate(report)
    notes = report["files"][0]["notes"]
    assert {(n["code"], n["field"]) for n in notes} >= {
        ("parse.signer-unsure", "creator.name"),
        ("parse.date-invalid", "date_issued"),
    }
    problems = {p["field"]: p["message"] for p in report["files"][0]["problems"]}
    # The hint for the blank field is the parse's own reason, found by its code.
    assert "'Newsportal' may be the signer" in problems["creator"]
    assert report["files"][0]["record"]["left_out"] == ["Share"]
    text_out = run("validate", str(text)).output
    assert "note: parse.signer-unsure: 'Newsportal'" in text_out


def test_too_short_a_text_leaves_the_language_blank(tmp_path: Path) -> None:
    text = tmp_path / "s.txt"
    text.write_text("Hotline opened\n\nJane Doe\nOmbudsman\n\n1 March 2024\n", encoding="utf-8")
    prepared = prepare_file(text)
    assert "language" not in prepared.record
    assert [n.code for n in prepared.statement.notes if n.field == "language"] == [
        "parse.language-unsure"
    ]
    (problem,) = [p for p in prepared.problems if p.field == "language"]
    assert "could not be identified with confidence" in problem.message


def test_schema_is_valid_2020_12() -> None:
    schema = load_schema()
    assert schema["$schema"].endswith("2020-12/schema")
    jsonschema.Draft202012Validator.check_schema(schema)


def test_azerbaijani_schwa_is_transliterated_not_dropped() -> None:
    record = {
        "title": "Qan donorlarına müraciət",
        "creator": {"name": "Leyla Həsənova"},
        "date_issued": "2024-06-14",
    }
    assert derive_identifier(record) == "leyla-hesenova-2024-06-14-qan-donorlarina-muraciet"


def test_long_titles_that_share_their_start_get_different_identifiers() -> None:
    base = {"creator": {"name": "Jane Doe"}, "date_issued": "2024-03-01"}
    stem = "Hospital water rights teachers families safety report on access to public services"
    first = derive_identifier({**base, "title": f"{stem} 874"})
    second = derive_identifier({**base, "title": f"{stem} 875"})
    assert first != second
    assert first.startswith("jane-doe-2024-03-01-hospital-water-rights")
    assert len(first) <= 80 and len(second) <= 80
    short = derive_identifier({**base, "title": "Library hours"})
    assert short == "jane-doe-2024-03-01-library-hours"  # no digest when nothing was cut
