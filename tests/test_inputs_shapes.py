"""Statements in the shapes institutions send them: fixtures/inputs/, read as an archivist would.

Each file of ``fixtures/inputs/`` (see ``make_inputs.py`` there) has what a
careful reader finds in it in ``expected.json``: title (or blank), every signer
with their role, the date of issue, the language, the page furniture or page
chrome left out, and the codes of the notes. The PDFs' text is read as the PDF
reader reads it (the conversion to PDF/A is tested in ``test_inputs_pdf.py``);
the last test ingests them all through the command and verifies the bags.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
from pathlib import Path
from typing import Any

import docx
import pytest
from click.testing import CliRunner

from preserve.cli import cli
from preserve.inputs import module_for
from preserve.inputs import pdf as pdf_input
from preserve.statement import Statement

REPO = Path(__file__).resolve().parent.parent
FOLDER = REPO / "fixtures" / "inputs"
EXPECTED: dict[str, dict[str, Any]] = json.loads((FOLDER / "expected.json").read_text("utf-8"))


def read_as_received(path: Path) -> tuple[Statement, tuple[str, ...]]:
    """The statement the tool derives from the file, and what it left out of the text."""
    if path.suffix == ".pdf":
        data = path.read_bytes()
        found = pdf_input.read_pdf_text(data, path)
        return pdf_input.with_layout(pdf_input.statement_from(found.text, data, path), found), (
            found.left_out
        )
    received = module_for(path).read(path)
    return received.statement, received.left_out


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_shape_gives_what_an_archivist_reads(name: str) -> None:
    expected = EXPECTED[name]
    statement, left_out = read_as_received(FOLDER / name)
    assert statement.title == expected["title"]
    assert [[s.name, s.role] for s in statement.signers] == expected["signers"]
    first = expected["signers"][0] if expected["signers"] else [None, None]
    assert (statement.signer_name, statement.signer_role) == tuple(first)
    assert statement.date_issued == dt.date.fromisoformat(expected["date_issued"])
    assert statement.language == expected["language"]
    assert list(left_out) == expected["left_out"]
    assert sorted({note.code for note in statement.notes}) == sorted(expected["notes"])
    # Nothing the file says is lost: every left-out line is named, the rest is the text.
    for line in left_out:
        assert line not in statement.text
    if name.endswith((".pdf", ".docx")):  # named in the record's left_out, not only here
        assert set(left_out) <= set(statement.leftovers)


def test_the_generator_reproduces_the_fixtures(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_inputs", FOLDER / "make_inputs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for made in module.make(tmp_path):
        kept = FOLDER / made.name
        if made.suffix == ".docx":  # zip timestamps differ: the documents must not
            assert _docx_text(made.read_bytes()) == _docx_text(kept.read_bytes())
        else:
            assert made.read_bytes() == kept.read_bytes(), made.name
    assert {p.name for p in tmp_path.iterdir()} | {p.name for p in FOLDER.glob("*.html")} == set(
        EXPECTED
    )


def _docx_text(data: bytes) -> list[str]:
    document = docx.Document(io.BytesIO(data))
    return [p.text for p in document.paragraphs] + [
        cell.text for table in document.tables for row in table.rows for cell in row.cells
    ]


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr not installed")
def test_a_new_user_ingests_them_all_and_the_bags_verify(tmp_path: Path) -> None:
    folder = tmp_path / "received"
    shutil.copytree(FOLDER, folder, ignore=shutil.ignore_patterns("*.py", "*.json", "*.md"))
    # What a person would add where the statement is silent: a sidecar for each blank field.
    (folder / "en-hospital-press-release-ends.json").write_text(
        json.dumps({"creator": {"name": "Office of the Health Ombudsman"}}), "utf-8"
    )
    (folder / "en-forests-letterhead-one-page.json").write_text(
        json.dumps({"title": "Woodland paths reopen after the storm"}), "utf-8"
    )
    archive = tmp_path / "archive"
    files = sorted(str(p) for p in folder.iterdir() if p.suffix != ".json")
    runner = CliRunner()
    result = runner.invoke(cli, ["ingest", "--workers", "1", "-a", str(archive), *files])
    assert result.exit_code == 0, result.output
    bags = sorted((archive / "bags").iterdir())
    assert len(bags) == len(EXPECTED)
    verified = runner.invoke(cli, ["verify", *map(str, bags)])
    assert verified.exit_code == 0, verified.output
    for bag in bags:
        originals = list((bag / "data" / "original").iterdir())
        assert len(originals) == 1
        assert originals[0].read_bytes() == (FOLDER / originals[0].name).read_bytes()
