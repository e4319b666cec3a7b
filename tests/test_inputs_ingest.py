"""An institution's PDF and a DOCX statement go from input to a verified bag.

The PDF is already PDF/A: it is kept as issued and is also the copy (no re-render);
the DOCX is kept as received and its copy is rendered from its text.
"""

from __future__ import annotations

import json
from pathlib import Path

import docx as python_docx

from preserve.metadata import prepare_file
from preserve.render import render_statement

from .conftest import ingest_one as _ingest

STATEMENT = (
    "Reading rooms open on Saturdays\n\n"
    "From the first of April the reading rooms of the city library open on Saturdays "
    "from ten in the morning until six in the evening.\n\n"
    "The change follows a survey of readers held in the winter.\n\n"
    "Anna Example\nHead of the City Library\n\n12 March 2024\n"
)


def test_an_institutions_pdfa_is_kept_and_is_the_copy(tmp_path: Path) -> None:
    text = tmp_path / "statement.txt"
    text.write_text(STATEMENT, encoding="utf-8")
    prepared = prepare_file(text)
    pdf = render_statement(prepared.statement, prepared.metadata()).pdf  # type: ignore[arg-type]
    issued = tmp_path / "in" / "reading-rooms.pdf"
    issued.parent.mkdir()
    issued.write_bytes(pdf)
    bag = _ingest(tmp_path, issued)
    assert (bag / "data/original/reading-rooms.pdf").read_bytes() == pdf
    (copy,) = (bag / "data/pdfa").iterdir()
    assert copy.read_bytes() == pdf  # already PDF/A: kept, not converted again
    record = json.loads((bag / "data/metadata/statement.json").read_text(encoding="utf-8"))
    assert record["identifier"] == bag.name


def test_a_docx_statement_is_kept_and_rendered(tmp_path: Path) -> None:
    document = python_docx.Document()
    for block in STATEMENT.strip().split("\n\n"):
        document.add_paragraph(block.replace("\n", " ") if "Anna" not in block else block)
    path = tmp_path / "in" / "reading-rooms.docx"
    path.parent.mkdir()
    document.save(str(path))
    bag = _ingest(tmp_path, path)
    assert (bag / "data/original/reading-rooms.docx").read_bytes() == path.read_bytes()
    premis = (bag / "premis.xml").read_text(encoding="utf-8")
    assert "fmt/412" in premis and "read back with PDFium" in premis
