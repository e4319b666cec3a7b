"""The PDF/A finish and the conformance self-check: each broken rule is found by its code."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from collections.abc import Callable
from pathlib import Path

import pikepdf
import pytest
from reportlab.pdfgen.canvas import Canvas

from preserve.metadata import Metadata
from preserve.pdfa import ICC_PROFILE, PdfaLevel, PdfaProblem, check_pdfa, icc_profile
from preserve.render import render_statement
from preserve.statement import Statement

CREATED = dt.datetime(2024, 2, 23, tzinfo=dt.UTC)
FONT_DIR = Path(__file__).resolve().parents[1] / "preserve" / "fonts"


def rendered(level: PdfaLevel = PdfaLevel.A2U) -> bytes:
    text = "Statement\n\nThe Commissioner calls for calm.\n\nJane Doe"
    statement = Statement(
        original=text.encode(),
        text=text,
        title="Statement",
        paragraphs=("The Commissioner calls for calm.",),
        signer_name="Jane Doe",
    )
    metadata = Metadata(
        record={
            "identifier": "jane-doe-2024-02-23-statement",
            "title": "Statement",
            "creator": {"name": "Jane Doe"},
            "date_issued": "2024-02-23",
            "language": "en",
            "type": "statement",
        }
    )
    return render_statement(statement, metadata, level, created=CREATED).pdf


def edited(pdf_bytes: bytes, change: Callable[[pikepdf.Pdf], None], **save: object) -> bytes:
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        change(pdf)
        out = io.BytesIO()
        pdf.save(out, **save)  # type: ignore[arg-type]
        return out.getvalue()


def codes(problems: list[PdfaProblem]) -> set[str]:
    return {p.code for p in problems}


# --------------------------------------------------------------------------- levels


def test_levels_map_to_part_conformance_and_pronom() -> None:
    table = {
        level.value: (level.part, level.conformance, level.pronom, level.max_icc_major)
        for level in PdfaLevel
    }
    assert table == {
        "1b": (1, "B", "fmt/354", 2),
        "2b": (2, "B", "fmt/477", 4),
        "2u": (2, "U", "fmt/478", 4),
        "3u": (3, "U", "fmt/481", 4),
        "2a": (2, "A", "fmt/476", 4),
        "3a": (3, "A", "fmt/479", 4),
    }
    assert [level.value for level in PdfaLevel if level.tagged] == ["2a", "3a"]
    assert all(level.unicode for level in PdfaLevel if level.tagged)  # A includes U
    assert PdfaLevel.parse(" 3U ") is PdfaLevel.A3U
    assert PdfaLevel.from_claim("2", "u") is PdfaLevel.A2U
    with pytest.raises(ValueError, match="allowed: 1b, 2b, 2u, 3u, 2a, 3a"):
        PdfaLevel.parse("4")


def test_vendored_icc_profile_is_version_2_srgb() -> None:
    data = icc_profile()
    assert ICC_PROFILE == "sRGB-v2.icc"
    assert data[8] == 2 and data[16:20] == b"RGB " and data[36:40] == b"acsp"
    assert hashlib.sha256(data).hexdigest() == (
        "2a92d4bae450b76d8b0aa42193df974d75f62738ecebf74f01c5e75b12a95796"
    )


def test_vendored_fonts_match_their_provenance_table() -> None:
    table = (FONT_DIR / "PROVENANCE.md").read_text()
    rows = dict(re.findall(r"^\| (\S+\.ttf) \|.*\| ([0-9a-f]{64}) \|$", table, re.M))
    files = {p.name for p in FONT_DIR.glob("*.ttf")}
    assert files == set(rows), "every vendored font is listed, and only those"
    for name, digest in rows.items():
        assert hashlib.sha256((FONT_DIR / name).read_bytes()).hexdigest() == digest, name
    assert (FONT_DIR / "OFL.txt").read_text().count("SIL OPEN FONT LICENSE") >= 1


# --------------------------------------------------------------------------- self-check


@pytest.mark.parametrize("level", list(PdfaLevel))
def test_a_fresh_render_has_no_problems(level: PdfaLevel) -> None:
    assert check_pdfa(rendered(level)) == []


def test_accepts_a_path(tmp_path: Path) -> None:
    path = tmp_path / "x.pdf"
    path.write_bytes(rendered())
    assert check_pdfa(path) == []


def test_plain_pdf_without_claim_and_with_standard_font() -> None:
    out = io.BytesIO()
    canvas = Canvas(out)
    canvas.drawString(72, 720, "Helvetica, not embedded")
    canvas.save()
    found = codes(check_pdfa(out.getvalue()))
    assert {"pdfa.no-xmp", "pdfa.no-pdfaid", "pdfa.no-output-intent"} <= found
    assert "pdfa.font-not-embedded" in found


def test_not_a_pdf() -> None:
    assert codes(check_pdfa(b"%PDF-1.4 garbage")) == {"pdfa.unreadable"}


def test_missing_output_intent() -> None:
    def drop(pdf: pikepdf.Pdf) -> None:
        del pdf.Root.OutputIntents

    assert codes(check_pdfa(edited(rendered(), drop))) == {"pdfa.no-output-intent"}


def test_icc_v4_is_refused_for_pdfa_1() -> None:
    def v4(pdf: pikepdf.Pdf) -> None:
        profile = pdf.Root.OutputIntents[0].DestOutputProfile
        data = bytearray(profile.read_bytes())
        data[8] = 4
        profile.write(bytes(data))

    assert codes(check_pdfa(edited(rendered(PdfaLevel.A1B), v4))) == {"pdfa.icc-version"}
    assert check_pdfa(edited(rendered(PdfaLevel.A2B), v4)) == []


def test_docinfo_that_disagrees_with_xmp() -> None:
    def retitle(pdf: pikepdf.Pdf) -> None:
        pdf.docinfo.Title = "Another title"

    problems = check_pdfa(edited(rendered(), retitle))
    assert codes(problems) == {"pdfa.xmp-docinfo-mismatch"}
    assert "Another title" in problems[0].message


def test_docinfo_date_that_disagrees_with_xmp() -> None:
    def redate(pdf: pikepdf.Pdf) -> None:
        pdf.docinfo.ModDate = "D:20250101000000+00'00'"

    assert codes(check_pdfa(edited(rendered(), redate))) == {"pdfa.xmp-docinfo-mismatch"}


def test_missing_pdfaid() -> None:
    def unclaim(pdf: pikepdf.Pdf) -> None:
        with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
            del meta["pdfaid:part"]

    assert "pdfa.no-pdfaid" in codes(check_pdfa(edited(rendered(), unclaim)))


def test_javascript_open_action() -> None:
    def script(pdf: pikepdf.Pdf) -> None:
        pdf.Root.OpenAction = pdf.make_indirect(
            pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)"))
        )

    assert "pdfa.javascript" in codes(check_pdfa(edited(rendered(), script)))


def test_launch_action_and_additional_actions() -> None:
    def launch(pdf: pikepdf.Pdf) -> None:
        pdf.pages[0].obj.AA = pikepdf.Dictionary(
            O=pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("x")))
        )

    assert "pdfa.action" in codes(check_pdfa(edited(rendered(), launch)))


def test_encryption_is_reported() -> None:
    locked = edited(rendered(), lambda pdf: None, encryption=pikepdf.Encryption(owner="o", user=""))
    assert "pdfa.encrypted" in codes(check_pdfa(locked))


def test_unembedded_font_is_reported() -> None:
    def unembed(pdf: pikepdf.Pdf) -> None:
        for _name, font in pdf.pages[0].Resources.Font.items():
            del font.FontDescriptor.FontFile2

    assert codes(check_pdfa(edited(rendered(), unembed))) == {"pdfa.font-not-embedded"}


def test_missing_tounicode_matters_only_for_level_u() -> None:
    def strip(pdf: pikepdf.Pdf) -> None:
        for _name, font in pdf.pages[0].Resources.Font.items():
            del font.ToUnicode

    assert codes(check_pdfa(edited(rendered(PdfaLevel.A2U), strip))) == {"pdfa.no-tounicode"}
    assert check_pdfa(edited(rendered(PdfaLevel.A2B), strip)) == []


def test_pdfa_3_without_af() -> None:
    def drop(pdf: pikepdf.Pdf) -> None:
        del pdf.Root.AF

    assert codes(check_pdfa(edited(rendered(PdfaLevel.A3U), drop))) == {"pdfa.no-af"}


def test_pdfa_3_attachment_without_relationship() -> None:
    def drop(pdf: pikepdf.Pdf) -> None:
        for spec in pdf.Root.AF:
            del spec.AFRelationship

    assert codes(check_pdfa(edited(rendered(PdfaLevel.A3U), drop))) == {"pdfa.no-af"}


def test_embedded_file_in_pdfa_2() -> None:
    def attach(pdf: pikepdf.Pdf) -> None:
        pdf.attachments["x.txt"] = pikepdf.AttachedFileSpec(pdf, b"x", mime_type="text/plain")

    assert codes(check_pdfa(edited(rendered(PdfaLevel.A2U), attach))) == {"pdfa.embedded-file"}


def test_finish_refuses_attachments_below_pdfa_3() -> None:
    from preserve.pdfa import Attachment, PdfInfo, finish_pdfa

    info = PdfInfo(title="t", author="a", language="en", identifier="abc")
    with pytest.raises(ValueError, match="3u or 3a"):
        finish_pdfa(
            rendered(),
            PdfaLevel.A2U,
            info,
            CREATED,
            [Attachment("a.txt", b"a", "text/plain", "Source")],
        )
