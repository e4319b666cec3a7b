"""Nothing a form leaves out of its text or notes is lost on the way into the bag.

Every form returns a :class:`~preserve.inputs.Received` whose ``left_out`` (page
chrome, page furniture, a letterhead) and ``notes`` (``scan.no-dpi: …``) the archive
carries into the record, for every form (:func:`preserve.inputs.recorded`): each
left-out line is in the bag's ``data/metadata/statement.json`` ``left_out`` and each
line and note is named in the PREMIS ingest event of ``premis.xml``. Each form is
ingested into a real archive through the command and its bag opened; a stub form
that copies nothing itself shows the archive, not the form, is what keeps them.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import sys
import types
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from odf.opendocument import OpenDocumentText
from odf.style import Footer, Header, MasterPage, PageLayout
from odf.text import H, P
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

import preserve.inputs
from preserve.cli import cli
from preserve.inputs import (
    FORM_NOTE,
    LEFT_OUT,
    Form,
    OriginalFile,
    Received,
    coded_note,
    module_for,
    recorded,
)
from preserve.metadata import LEFT_OUT_LIMIT, fit_left_out, prepare_file
from preserve.statement import read_statement
from preserve.verify import verify_bag

from .conftest import ingest_one as ingest

REPO = Path(__file__).resolve().parent.parent
INPUTS = REPO / "fixtures" / "inputs"
EXPECTED: dict[str, dict[str, Any]] = json.loads((INPUTS / "expected.json").read_text("utf-8"))
PREMIS = "{http://www.loc.gov/premis/v3}"
COOKIES = INPUTS / "en-museums-cookie-banner.html"


def ingest_event(bag: Path) -> list[str]:
    """The lines of the bag's PREMIS ingest event (the one staging wrote)."""
    root = ET.parse(bag / "premis.xml").getroot()
    details = [
        event.findtext(f"{PREMIS}eventDetailInformation/{PREMIS}eventDetail") or ""
        for event in root.iter(f"{PREMIS}event")
        if event.findtext(f"{PREMIS}eventType") == "ingestion"
    ]
    (detail,) = [d for d in details if d.startswith("bag staged for the archive")]
    return detail.split("\n")


def in_order(wanted: Sequence[str], held: Sequence[str]) -> bool:
    """Whether ``wanted`` are in ``held`` in the same order (others may come between)."""
    rest = iter(held)
    return all(any(line == h for h in rest) for line in wanted)


def assert_in_bag(bag: Path, received: Received) -> None:
    """Every line the form left out and every note it made are in the bag."""
    record = json.loads((bag / "data/metadata/statement.json").read_text("utf-8"))
    assert in_order(received.left_out, record.get("left_out", [])), record.get("left_out")
    event = ingest_event(bag)
    assert in_order([f"left out: {line}" for line in received.left_out], event), event
    for text in received.notes:
        note = coded_note(text)
        assert f"note: {note.code}: {' '.join(note.message.split())}" in event, event


# --------------------------------------------------------------------------- every form


def test_text_leftovers_and_notes_are_in_the_bag(tmp_path: Path) -> None:
    path = REPO / "fixtures" / "shapes" / "ru-vodoprovod-cp1251-spisok.txt"
    statement = read_statement(path)
    assert statement.leftovers and statement.notes  # the shape has site text and notes
    bag = ingest(tmp_path, path)
    record = json.loads((bag / "data/metadata/statement.json").read_text("utf-8"))
    assert record["left_out"] == list(statement.leftovers)
    event = ingest_event(bag)
    assert [line for line in event if line.startswith("left out: ")] == [
        f"left out: {line}" for line in statement.leftovers
    ]
    for note in statement.notes:
        assert f"note: {note.code}: {' '.join(note.message.split())}" in event


@pytest.mark.parametrize("name", ["en-museums-cookie-banner.html", "en-parks-telegram-post.html"])
def test_a_saved_pages_chrome_is_in_the_record_not_only_its_history(
    tmp_path: Path, name: str
) -> None:
    path = INPUTS / name
    received = module_for(path).read(path)
    assert list(received.left_out) == EXPECTED[name]["left_out"]
    # The page reader names them only in its extraction event: the record is the archive's.
    assert not set(received.left_out) & set(received.statement.leftovers)
    bag = ingest(tmp_path, path)
    assert_in_bag(bag, received)
    event = ingest_event(bag)
    assert any(line.startswith(f"note: {LEFT_OUT}: ") for line in event)


def test_a_saved_pages_files_not_kept_are_noted(tmp_path: Path) -> None:
    page = tmp_path / "in" / "museum.html"
    page.parent.mkdir()
    shutil.copyfile(COOKIES, page)
    folder = tmp_path / "in" / "museum_files"
    folder.mkdir()
    (folder / "style.css").write_text("body { margin: 0 }\n", encoding="utf-8")
    (folder / "elsewhere.css").symlink_to(folder / "style.css")
    received = module_for(page).read(page)
    assert received.notes == ("museum_files/elsewhere.css: not a regular file, not kept",)
    bag = ingest(tmp_path, page)
    assert_in_bag(bag, received)
    assert f"note: {FORM_NOTE}: museum_files/elsewhere.css: not a regular file, not kept" in (
        ingest_event(bag)
    )


def museum_warc(path: Path) -> Path:
    """A WARC from another tool: the museum page answered 200, and a note on a requisite."""
    body = COOKIES.read_bytes()
    url = "https://museums.example/news/museum-night"
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=False)
        http = StatusAndHeaders(
            "200 OK",
            [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
            protocol="HTTP/1.1",
        )
        writer.write_record(
            writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http)
        )
        fields = (
            f"page: {url}\r\nnote: requisite https://museums.example/logo.png timed out\r\n"
        ).encode()
        writer.write_record(
            writer.create_warc_record(
                url,
                "metadata",
                payload=io.BytesIO(fields),
                warc_content_type="application/warc-fields",
            )
        )
    return path


def test_a_captured_pages_chrome_and_notes_are_in_the_bag(tmp_path: Path) -> None:
    warc = museum_warc(tmp_path / "museum.warc")
    received = module_for(warc).read(warc)
    assert received.form is Form.CAPTURE
    assert list(received.left_out) == EXPECTED[COOKIES.name]["left_out"]
    assert received.notes == ("requisite https://museums.example/logo.png timed out",)
    bag = ingest(tmp_path, warc)
    assert_in_bag(bag, received)


def test_an_e_mails_html_body_chrome_is_in_the_bag(tmp_path: Path) -> None:
    message = EmailMessage()
    message["From"] = "Press Office <press@museums.example>"
    message["To"] = "archive@example.org"
    message["Date"] = "Sat, 18 May 2024 10:15:00 +0200"
    message["Subject"] = "Statement on the museum night"
    message.set_content(COOKIES.read_text("utf-8"), subtype="html")
    eml = tmp_path / "museum.eml"
    eml.write_bytes(message.as_bytes(policy=SMTP))
    received = module_for(eml).read(eml)
    assert received.form is Form.EMAIL
    assert "Accept all" in received.left_out
    bag = ingest(tmp_path, eml)
    assert_in_bag(bag, received)


@pytest.mark.parametrize(
    "name",
    [
        "en-bicycles-letter-header-heading.docx",
        "en-water-letterhead-table.docx",
        "en-pools-joint-side-by-side-letterhead.pdf",
    ],
)
def test_a_documents_letterhead_is_in_the_bag_once(tmp_path: Path, name: str) -> None:
    """DOCX and PDF readers record their letterhead or page furniture themselves."""
    path = INPUTS / name
    received = module_for(path).read(path)
    assert list(received.left_out) == EXPECTED[name]["left_out"]
    bag = ingest(tmp_path, path)
    assert_in_bag(bag, received)
    record = json.loads((bag / "data/metadata/statement.json").read_text("utf-8"))
    # Recorded by the reader itself: not repeated by the archive.
    assert record["left_out"] == EXPECTED[name]["left_out"]
    assert not any(line.startswith(f"note: {LEFT_OUT}: ") for line in ingest_event(bag))


def test_an_odt_header_and_footer_are_in_the_bag(tmp_path: Path) -> None:
    doc = OpenDocumentText()
    layout = PageLayout(name="pm1")
    doc.automaticstyles.addElement(layout)
    master = MasterPage(name="Standard", pagelayoutname=layout)
    header, footer = Header(), Footer()
    header.addElement(P(text="Office of the Library Commissioner"))
    footer.addElement(P(text="12 Quay Street, Hillford · library-commissioner.example"))
    master.addElement(header)
    master.addElement(footer)
    doc.masterstyles.addElement(master)
    doc.text.addElement(H(outlinelevel=1, text="Statement on the new reading rooms"))
    doc.text.addElement(P(text="The reading rooms of the city library open on Monday."))
    doc.text.addElement(P(text="Hillford, 4 March 2024"))
    doc.text.addElement(P(text="Ruth Example"))
    doc.text.addElement(P(text="Library Commissioner"))
    path = tmp_path / "in" / "reading-rooms.odt"
    path.parent.mkdir()
    doc.save(str(path))
    received = module_for(path).read(path)
    assert received.left_out == (
        "Office of the Library Commissioner",
        "12 Quay Street, Hillford · library-commissioner.example",
    )
    bag = ingest(tmp_path, path)
    assert_in_bag(bag, received)


@pytest.mark.skipif(
    shutil.which("tesseract") is None or shutil.which("pdftoppm") is None,
    reason="tesseract-ocr and poppler-utils are needed to OCR a scan",
)
def test_a_scans_notes_are_in_the_bag(tmp_path: Path) -> None:
    """A scan stating no resolution: its ``scan.no-dpi`` note was in no event of the bag."""
    from tests.test_ocr import rendered_page

    page = rendered_page(REPO / "fixtures" / "en-letter-sincerely.txt")
    scan = tmp_path / "in" / "letter.png"
    scan.parent.mkdir()
    page.save(scan)  # no pHYs chunk: no resolution stated
    received = module_for(scan).read(scan)
    assert any(note.startswith("scan.no-dpi: ") for note in received.notes)
    bag = ingest(tmp_path, scan)
    assert_in_bag(bag, received)
    assert any(line.startswith("note: scan.no-dpi: ") for line in ingest_event(bag))


# --------------------------------------------------------------------------- a form that forgets

FORGOTTEN_LINES = ("Skip to main content", "Menu · Search", "Share this page", "Menu · Search")
FORGOTTEN_NOTES = ("stub.checked: a line the form wants a person to check", "an uncoded remark")


def _stub_read(path: Path) -> Received:
    """A form that parses the text and copies neither ``left_out`` nor ``notes`` anywhere."""
    statement = read_statement(path)
    original = OriginalFile(
        f"data/original/{path.stem}.stub", path.read_bytes(), "text/plain", "x-fmt/111"
    )
    return Received(
        Form.HTML,
        (original,),
        statement,
        left_out=FORGOTTEN_LINES,
        notes=FORGOTTEN_NOTES,
    )


@pytest.fixture
def stub_form(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("stub_form")
    module.accepts = lambda path, head: path.suffix == ".stub"  # type: ignore[attr-defined]
    module.read = _stub_read  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "stub_form", module)
    monkeypatch.setattr(preserve.inputs, "FORMS", ("stub_form", *preserve.inputs.FORMS))


@pytest.mark.usefixtures("stub_form")
def test_a_form_that_forgets_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "in" / "letter.stub"
    path.parent.mkdir()
    shutil.copyfile(REPO / "fixtures" / "en-letter-sincerely.txt", path)
    assert module_for(path).__name__ == "stub_form"
    bag = ingest(tmp_path, path)
    record = json.loads((bag / "data/metadata/statement.json").read_text("utf-8"))
    assert record["left_out"] == list(FORGOTTEN_LINES)  # the repeated line stays twice
    event = ingest_event(bag)
    assert [line for line in event if line.startswith("left out: ")] == [
        f"left out: {line}" for line in FORGOTTEN_LINES
    ]
    assert "note: stub.checked: a line the form wants a person to check" in event
    assert f"note: {FORM_NOTE}: an uncoded remark" in event
    assert any(line.startswith(f"note: {LEFT_OUT}: 4 line(s)") for line in event)


# --------------------------------------------------------------------------- the merge itself


def test_recorded_adds_only_what_the_statement_lacks_and_is_idempotent(tmp_path: Path) -> None:
    path = REPO / "fixtures" / "en-letter-sincerely.txt"
    received = _stub_read(path)
    once = recorded(received)
    assert once.statement.leftovers == FORGOTTEN_LINES
    assert [n.code for n in once.statement.notes[-3:]] == [LEFT_OUT, "stub.checked", FORM_NOTE]
    assert recorded(once).statement == once.statement  # a second pass adds nothing
    # A form that recorded one of its two "Menu · Search" lines: the other still goes in.
    partly = Received(
        received.form,
        received.files,
        dataclasses.replace(once.statement, leftovers=("Menu · Search",), notes=()),
        left_out=FORGOTTEN_LINES,
    )
    assert recorded(partly).statement.leftovers == (
        "Menu · Search",
        "Skip to main content",
        "Share this page",
        "Menu · Search",
    )
    nothing = Received(received.form, received.files, received.statement)
    assert recorded(nothing) is nothing


def test_coded_notes_keep_their_code() -> None:
    assert coded_note("ocr.confidence: page 2: mean 91").code == "ocr.confidence"
    assert coded_note("ocr.confidence: page 2: mean 91").message == "page 2: mean 91"
    assert coded_note("page_files/a b.png: name not portable, not kept").code == FORM_NOTE
    assert coded_note("note: plain").code == FORM_NOTE


def test_a_left_out_line_longer_than_the_record_holds_is_kept_whole(tmp_path: Path) -> None:
    """A site footer of 2,000 characters: the page goes in, every character kept."""
    notice = " · ".join(f"Museum{n:03d} opening hours" for n in range(80))
    assert len(notice) > 2000
    page = tmp_path / "in" / "museum.html"
    page.parent.mkdir()
    page.write_text(
        COOKIES.read_text("utf-8").replace(
            "© 2024 City Museums Office · Privacy policy · Cookie settings", notice
        ),
        encoding="utf-8",
    )
    received = module_for(page).read(page)
    assert notice in received.left_out
    prepared = prepare_file(page)
    assert prepared.valid, prepared.problems
    held = prepared.record["left_out"]
    assert all(len(line) <= 1000 for line in held)
    assert notice in "".join(held)
    assert prepared.statement is not None
    assert LEFT_OUT_LIMIT in {note.code for note in prepared.statement.notes}
    bag = ingest(tmp_path, page)
    assert f"left out: {notice}" in ingest_event(bag)


def test_more_left_out_lines_than_the_record_holds_are_said_so() -> None:
    fitted, why = fit_left_out([f"line {n}" for n in range(1005)])
    assert fitted == [f"line {n}" for n in range(1000)]
    assert why is not None and "first 1,000 of 1,005" in why
    assert fit_left_out(["short", "lines"]) == (["short", "lines"], None)


# --------------------------------------------------------------------------- XML tag files

CONTROL_LINES = ("Menu\x07 Search", "Press\x1b[1m releases\x0c", "tab\tkept")


def _control_read(path: Path) -> Received:
    """A form whose page chrome holds control characters (BEL, ESC, FF) that XML cannot."""
    received = _stub_read(path)
    return dataclasses.replace(received, left_out=CONTROL_LINES, notes=("x.note: bell\x07",))


def test_control_characters_leave_every_xml_tag_file_well_formed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from preserve.bag_checks import PreserveChecks

    module = types.ModuleType("control_form")
    module.accepts = lambda path, head: path.suffix == ".stub"  # type: ignore[attr-defined]
    module.read = _control_read  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "control_form", module)
    monkeypatch.setattr(preserve.inputs, "FORMS", ("control_form", *preserve.inputs.FORMS))
    path = tmp_path / "in" / "page.stub"
    path.parent.mkdir()
    shutil.copyfile(REPO / "fixtures" / "en-letter-sincerely.txt", path)
    bag = ingest(tmp_path, path)
    # The record keeps every character (JSON escapes them); premis.xml shows each
    # as a visible escape, and parses.
    record = json.loads((bag / "data/metadata/statement.json").read_text("utf-8"))
    assert record["left_out"] == list(CONTROL_LINES)
    event = ingest_event(bag)
    assert "left out: Menu\\x07 Search" in event
    assert "left out: Press\\x1b[1m releases\\x0c" in event
    assert "left out: tab\tkept" in event
    assert "note: x.note: bell\\x07" in event
    result = verify_bag(bag, extra_checks=(PreserveChecks(),))
    assert result.valid, result.problems
    # Exports for the repositories that parse XML: each XML file parses.
    runner = CliRunner()
    for profile in ("archivematica", "dspace-saf"):
        out = tmp_path / f"export-{profile}"
        done = runner.invoke(cli, ["export", str(bag), "--profile", profile, "--out-dir", str(out)])
        assert done.exit_code == 0, done.output
        for xml_file in out.rglob("*.xml"):
            ET.parse(xml_file)


def test_verify_finds_a_premis_xml_no_parser_reads(tmp_path: Path) -> None:
    """A raw control character in premis.xml, tag manifests re-hashed to match: the
    digests agree, only parsing tells (xml.malformed)."""
    import hashlib

    from preserve.bag_checks import PreserveChecks

    path = tmp_path / "in" / "letter.txt"
    path.parent.mkdir()
    shutil.copyfile(REPO / "fixtures" / "en-letter-sincerely.txt", path)
    bag = ingest(tmp_path, path)
    premis = bag / "premis.xml"
    premis.write_bytes(premis.read_bytes().replace(b"</premis:premis>", b"\x07</premis:premis>"))
    for manifest in bag.glob("tagmanifest-*.txt"):
        alg = manifest.name.removeprefix("tagmanifest-").removesuffix(".txt")
        lines = []
        for line in manifest.read_text().splitlines():
            digest, name = line.split(maxsplit=1)
            if name == "premis.xml":
                digest = hashlib.new(alg, premis.read_bytes()).hexdigest()
            lines.append(f"{digest}  {name}\n")
        manifest.write_text("".join(lines))
    result = verify_bag(bag, extra_checks=(PreserveChecks(),))
    assert not result.valid
    assert [(p.code, p.path) for p in result.problems if p.severity.value == "error"] == [
        ("xml.malformed", "premis.xml")
    ]


def test_a_page_archived_by_an_earlier_preserve_is_already_archived(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same page ingested again after this change: its archived record has fewer
    left-out lines (an earlier preserve did not record them), which is no reason to call
    it "a different statement". A changed sidecar still is."""
    import preserve.inputs.prepare as prepare_module

    archive = tmp_path / "archive"
    page = tmp_path / "in" / COOKIES.name
    page.parent.mkdir()
    shutil.copyfile(COOKIES, page)
    runner = CliRunner()
    with monkeypatch.context() as earlier:
        earlier.setattr(prepare_module, "recorded", lambda received: received)
        first = runner.invoke(cli, ["ingest", str(page), "-a", str(archive), "--json"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(cli, ["ingest", str(page), "-a", str(archive), "--json"])
    assert again.exit_code == 0, again.output
    (result,) = json.loads(again.output)["results"]
    assert result["status"] == "already-archived"
    assert "made by an earlier preserve" in result["message"]
    # A sidecar that changes what the record says is still a different statement.
    sidecar = {"identifier": result["identifier"], "title": "Another title altogether"}
    page.with_suffix(".json").write_text(json.dumps(sidecar))
    changed = runner.invoke(cli, ["ingest", str(page), "-a", str(archive), "--json"])
    assert changed.exit_code == 1
    assert "metadata differs" in changed.output
