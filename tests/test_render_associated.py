"""The associated files of a PDF/A-3 copy: each embedded file is what its name says.

A page statement (a saved HTML page, a Telegram post page, a WARC capture) is
rendered from the text taken out of the page. Its PDF/A-3u/3a copy embeds the page
exactly as received, under the page's name, typed ``text/html``, AFRelationship
Source, and the extracted text as ``x.txt``, ``text/plain``, Data (the text the pages
were laid out from), plus the metadata record: the copies here are opened with
pikepdf and every embedded file's name, /Subtype, /AFRelationship, /Params and bytes
are compared with the files in the bag. Before, the extracted text was embedded
under the page's ``.html`` name as its Source; the verifier tells such a copy.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from click.testing import CliRunner

from preserve import archive as archive_mod
from preserve.archive import IngestOptions, ingest
from preserve.bag_checks import check_our_bag
from preserve.cli import cli
from preserve.inputs.capture import CaptureOptions, capture
from preserve.metadata import Metadata
from preserve.pdfa import (
    Attachment,
    PdfaLevel,
    PdfInfo,
    bare_mime,
    check_pdfa,
    embedded_files,
    finish_pdfa,
)
from preserve.verify import BagResult, verify_bag
from tests.conftest import FIXTURES
from tests.pdf_tools import qpdf_check
from tests.webserver import Route, Site, page, serve

PAGES = FIXTURES / "inputs"
MUSEUMS = PAGES / "en-museums-cookie-banner.html"  # a saved page, with a cookie banner
TELEGRAM = PAGES / "en-parks-telegram-post.html"  # a Telegram post's page
ODD = "Библиотека открыла читальный сад"


def _embedded(pdf: bytes) -> dict[str, dict[str, Any]]:
    """Each associated file of the copy as pikepdf reads it, by its /UF name."""
    out: dict[str, dict[str, Any]] = {}
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        af = {spec.objgen for spec in doc.Root.AF}
        for spec in doc.Root.AF:
            stream = spec.EF.F
            params = stream.Params
            out[str(spec.UF)] = {
                "F": str(spec.F),
                "relationship": str(spec.AFRelationship),
                "subtype": str(stream.Subtype),
                "size": int(params.Size),
                "checksum": bytes(params.CheckSum),
                "moddate": str(params.ModDate),
                "desc": str(spec.Desc),
                "bytes": stream.read_bytes(),
            }
        # every embedded file (the name tree) is an associated file (the catalog's /AF)
        assert {s.obj.objgen for s in doc.attachments.values()} == af
    return out


def _check_file(
    found: dict[str, Any], name: str, data: bytes, relationship: str, mime: str
) -> None:
    assert found["F"] == name
    assert found["relationship"] == f"/{relationship}"
    assert found["subtype"] == f"/{mime}"
    assert found["bytes"] == data
    assert found["size"] == len(data)
    assert found["checksum"] == hashlib.md5(data).digest()  # ISO 32000-1 7.11.4: MD5
    assert found["moddate"].startswith("D:")


def _verified(bag: Path) -> BagResult:
    """The bag verified as ``preserve verify`` does: with the checks of our own bags."""
    return verify_bag(bag, extra_checks=(check_our_bag,))


def _bag_pdf(bag: Path) -> bytes:
    (pdf,) = (bag / "data" / "pdfa").iterdir()
    return pdf.read_bytes()


def _ingest(path: Path, archive: Path, level: PdfaLevel) -> Path:
    report = ingest([path], archive, IngestOptions(level=level, workers=1))
    assert report.exit_code == 0, report.as_dict()
    (result,) = report.results
    assert result.bag is not None
    return archive / result.bag


@pytest.mark.parametrize("level", [PdfaLevel.A3U, PdfaLevel.A3A])
@pytest.mark.parametrize("source", [MUSEUMS, TELEGRAM], ids=["saved-page", "telegram"])
def test_a_saved_page_is_embedded_as_received_and_its_text_as_text(
    source: Path, level: PdfaLevel, tmp_path: Path
) -> None:
    bag = _ingest(source, tmp_path / "archive", level)
    pdf = _bag_pdf(bag)
    found = _embedded(pdf)
    page_name, text_name = source.name, source.stem + ".txt"
    assert list(found) == [page_name, text_name, "statement.json"]
    original = (bag / "data" / "original" / page_name).read_bytes()
    assert original == source.read_bytes()  # the bag's original: the file as received
    _check_file(found[page_name], page_name, original, "Source", "text/html")
    extracted = (bag / "data" / "extracted" / text_name).read_bytes()
    _check_file(found[text_name], text_name, extracted, "Data", "text/plain")
    assert found[text_name]["bytes"] != original and b"<" not in found[text_name]["bytes"]
    _check_file(
        found["statement.json"],
        "statement.json",
        (bag / "data" / "metadata" / "statement.json").read_bytes(),
        "Data",
        "application/json",
    )
    assert "data/original/" + page_name in found[page_name]["desc"]
    assert check_pdfa(pdf) == []
    qpdf_check(pdf, tmp_path)
    result = _verified(bag)
    assert result.valid and not result.problems, result.problems


def test_a_capture_embeds_the_page_as_served_not_decoded(tmp_path: Path) -> None:
    """A WARC capture: the page's bytes as the server sent them (windows-1251 here),
    the text as extracted (UTF-8); the WARC itself stays in the bag."""
    body = page(
        ODD,
        [
            "Городская библиотека открыла во вторник читальный сад для посетителей всех "
            "возрастов. В саду есть скамейки и книги.",
            "Книги можно брать по читательскому билету; сад открыт с девяти утра до заката.",
        ],
        signer="Анна Примерова",
        role="Директор городской библиотеки",
        date="12 марта 2024",
        charset=None,
    ).encode("cp1251")
    site = Site(
        {"/ru": Route(headers=("Content-Type: text/html; charset=windows-1251",), body=body)}
    )
    with serve(site) as running:
        warc = capture(running.url("/ru"), tmp_path, CaptureOptions(rate_limit=0, timeout=5.0))
    bag = _ingest(warc, tmp_path / "archive", PdfaLevel.A3U)
    found = _embedded(_bag_pdf(bag))
    assert list(found) == ["page.html", "page.txt", "statement.json"]
    _check_file(found["page.html"], "page.html", body, "Source", "text/html")
    assert (bag / "data" / "original" / "page.html").read_bytes() == body
    text = (bag / "data" / "extracted" / "page.txt").read_bytes()
    assert ODD.encode("utf-8") in text
    _check_file(found["page.txt"], "page.txt", text, "Data", "text/plain")
    assert not any(name.endswith(".warc") for name in found)
    result = _verified(bag)
    assert result.valid and not result.problems, result.problems


def test_an_email_is_embedded_as_sent_and_its_text_as_text(tmp_path: Path) -> None:
    from email.policy import SMTP

    from tests.test_eml import STATEMENT, message

    eml = tmp_path / "museum.eml"
    eml.write_bytes(message(plain=STATEMENT).as_bytes(policy=SMTP))
    bag = _ingest(eml, tmp_path / "archive", PdfaLevel.A3U)
    found = _embedded(_bag_pdf(bag))
    assert list(found) == ["museum.eml", "museum.txt", "statement.json"]
    _check_file(found["museum.eml"], "museum.eml", eml.read_bytes(), "Source", "message/rfc822")
    text = (bag / "data" / "extracted" / "museum.txt").read_bytes()
    _check_file(found["museum.txt"], "museum.txt", text, "Data", "text/plain")
    assert not _verified(bag).problems


def test_a_text_statement_embeds_its_file_alone(tmp_path: Path) -> None:
    source = FIXTURES / "hy-library-access.txt"
    bag = _ingest(source, tmp_path / "archive", PdfaLevel.A3U)
    found = _embedded(_bag_pdf(bag))
    assert list(found) == [source.name, "statement.json"]
    _check_file(found[source.name], source.name, source.read_bytes(), "Source", "text/plain")
    assert not _verified(bag).problems


def test_preserve_render_of_a_page_embeds_the_page(tmp_path: Path) -> None:
    out = tmp_path / "copy.pdf"
    result = CliRunner().invoke(cli, ["render", str(TELEGRAM), "-o", str(out), "--pdfa", "3u"])
    assert result.exit_code == 0, result.output
    found = _embedded(out.read_bytes())
    _check_file(found[TELEGRAM.name], TELEGRAM.name, TELEGRAM.read_bytes(), "Source", "text/html")
    assert found[TELEGRAM.stem + ".txt"]["relationship"] == "/Data"


def test_pdfa_validator_finds_nothing_in_the_copy_of_a_page(tmp_path: Path) -> None:
    """pikepdf's allow-list validator (veraPDF's rules, 6.8 on embedded files among them)
    on the 3u copy of a page: the claim of U is the one finding it may make (it knows B)."""
    try:
        import pikepdf.pdfa as validator
    except ImportError as exc:
        pytest.skip(f"pikepdf.pdfa is not available: {exc}")
    pdf = _bag_pdf(_ingest(MUSEUMS, tmp_path / "archive", PdfaLevel.A3U))
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        report = validator.check(doc, "3b")
    findings = [f for f in report.findings if "pdfaid:conformance is 'U'" not in f.message]
    assert findings == [], findings


@pytest.fixture
def old_copies(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Render as preserve did before: the statement's text under its source's name."""
    monkeypatch.setattr(archive_mod, "associated_files", lambda files, metadata: None)
    yield


def test_the_verifier_tells_a_copy_that_embeds_the_text_under_the_pages_name(
    old_copies: None, tmp_path: Path
) -> None:
    bag = _ingest(MUSEUMS, tmp_path / "archive", PdfaLevel.A3U)
    found = _embedded(_bag_pdf(bag))
    assert found[MUSEUMS.name]["subtype"] == "/text/plain"  # the defect, as it was made
    result = _verified(bag)
    assert result.valid  # the bag is whole: a warning, not an error
    (problem,) = result.problems
    assert problem.code == "pdfa.associated-file-differs"
    assert problem.severity.value == "warning"
    assert problem.path.startswith("data/pdfa/")
    assert f"is not data/original/{MUSEUMS.name}" in problem.message
    assert f"its bytes are data/extracted/{MUSEUMS.stem}.txt" in problem.message


def test_a_text_copy_made_before_still_verifies(old_copies: None, tmp_path: Path) -> None:
    """A text statement's copy embedded its file as received before too: no warning."""
    bag = _ingest(FIXTURES / "ru-school-visit.txt", tmp_path / "archive", PdfaLevel.A3U)
    assert not _verified(bag).problems


# --------------------------------------------------------------------------- pdfa units


def test_subtype_is_the_bare_media_type() -> None:
    assert bare_mime("text/html; charset=windows-1251") == "text/html"
    assert bare_mime("Text/Plain") == "text/plain"
    assert bare_mime("message/rfc822") == "message/rfc822"
    assert bare_mime("not a type") == "application/octet-stream"
    assert bare_mime("") == "application/octet-stream"


def _finished(attachments: tuple[Attachment, ...]) -> bytes:
    from tests.test_render import CREATED, make, render

    rendered = render("en", PdfaLevel.A3U)
    _statement, metadata = make("en")
    assert isinstance(metadata, Metadata)
    info = PdfInfo(title="t", author="a", language="en", identifier="x")
    with pikepdf.open(io.BytesIO(rendered.pdf)) as doc:
        del doc.Root.AF
        del doc.Root.Names
        out = io.BytesIO()
        doc.save(out)
    return finish_pdfa(out.getvalue(), PdfaLevel.A3U, info, CREATED, attachments)


def test_two_files_of_one_name_are_both_embedded() -> None:
    """A page saved as ``notice.txt`` and its extracted ``notice.txt``: both kept."""
    pdf = _finished(
        (
            Attachment("notice.txt", b"<p>page</p>", "text/html", "Source"),
            Attachment("notice.txt", b"page", "text/plain; charset=utf-8", "Data"),
        )
    )
    files = embedded_files(pdf, 1 << 20)
    assert [(f.filename, f.relationship, f.mime_type, f.data) for f in files] == [
        ("notice.txt", "Source", "text/html", b"<p>page</p>"),
        ("notice.txt", "Data", "text/plain", b"page"),
    ]
    assert check_pdfa(pdf) == []


def test_check_pdfa_refuses_a_subtype_with_parameters() -> None:
    pdf = _finished((Attachment("x.html", b"<p>x</p>", "text/html", "Source"),))
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        doc.Root.AF[0].EF.F.Subtype = pikepdf.Name("/text/html;charset=utf-8")
        out = io.BytesIO()
        doc.save(out)
    codes = [p.code for p in check_pdfa(out.getvalue())]
    assert codes == ["pdfa.no-mime-type"]


def test_embedded_files_decodes_no_more_than_asked() -> None:
    bomb = b"\0" * (8 << 20)
    pdf = _finished((Attachment("zeros.bin", bomb, "application/octet-stream", "Data"),))
    (found,) = embedded_files(pdf, 1024)
    assert found.data is not None and len(found.data) == 1025


@pytest.mark.parametrize("level", [PdfaLevel.A3U, PdfaLevel.A3A])
def test_the_embedded_record_is_the_bags_when_a_name_was_made_portable(
    tmp_path: Path, level: PdfaLevel
) -> None:
    """A statement received as ``notice: hours?.txt`` is stored as ``notice_ hours_.txt``
    and its record keeps the name as received (source.original_name): the record the
    copy embeds is the bag's statement.json, byte for byte (it was the record before
    the name was added)."""
    received = tmp_path / "in" / "notice: hours?.txt"
    received.parent.mkdir()
    received.write_bytes((FIXTURES / "en-letter-sincerely.txt").read_bytes())
    bag = _ingest(received, tmp_path / "archive", level)
    record = (bag / "data" / "metadata" / "statement.json").read_bytes()
    assert b'"original_name": "notice: hours?.txt"' in record
    pdf = next((bag / "data" / "pdfa").iterdir()).read_bytes()
    assert _embedded(pdf)["statement.json"]["bytes"] == record


def test_a_copy_embedding_another_record_is_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy rendered before the record was complete (as preserve did before): the
    verifier warns that its embedded statement.json is not the bag's."""
    monkeypatch.setattr(archive_mod, "with_received_name", lambda metadata, _received: metadata)
    received = tmp_path / "in" / "notice: hours?.txt"
    received.parent.mkdir()
    received.write_bytes((FIXTURES / "en-letter-sincerely.txt").read_bytes())
    bag = _ingest(received, tmp_path / "archive", PdfaLevel.A3U)
    result = verify_bag(bag, extra_checks=(check_our_bag,))
    assert result.valid  # a warning: the bag is whole
    (problem,) = [p for p in result.problems if p.code == "pdfa.associated-file-differs"]
    assert "'statement.json'" in problem.message
    assert "data/metadata/statement.json" in problem.message
