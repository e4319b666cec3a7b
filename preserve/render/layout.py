"""Compose the pages of a statement: header, title, body, signature and footer on A4.

Layout happens before drawing, so the page count is known for "page N of M".
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from preserve.metadata import Metadata
from preserve.render.draw import Align, Line, Writer, break_lines
from preserve.render.fonts import FAMILIES, check_coverage, ensure_registered
from preserve.render.shaping import base_level, words
from preserve.statement import Statement

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_X = 72.0  # 25.4 mm
MARGIN_TOP = 64.0
MARGIN_BOTTOM = 72.0
TEXT_WIDTH = PAGE_WIDTH - 2 * MARGIN_X

RTL_LANGUAGES = frozenset({"ar", "he", "fa", "ur", "ps", "yi", "sd", "ug", "ku-arab", "dv"})


@dataclass(frozen=True)
class Style:
    size: float
    leading: float
    bold: bool = False
    align: Align = Align.START
    before: float = 0.0
    gray: float = 0.0


BODY = Style(11, 15.5, align=Align.JUSTIFY, before=7)
TITLE = Style(16, 21, bold=True, align=Align.CENTER, before=18)
ORG = Style(12.5, 16, bold=True, align=Align.CENTER)
META = Style(8.5, 11, gray=0.33, align=Align.CENTER, before=2)
DATELINE = Style(10.5, 14, gray=0.2, before=2)
SIGN_OFF = Style(11, 15, before=22)
SIGN_NAME = Style(11, 15, bold=True, before=26)
SIGN_NAME_AFTER_CLOSING = Style(11, 15, bold=True, before=18)
SIGN_ROLE = Style(10.5, 14, gray=0.2)
SIGN_DATE = Style(10.5, 14, gray=0.2, before=6)
FOOTER = Style(8, 10, gray=0.4)


@dataclass(frozen=True)
class Placed:
    """A line with its position (top-down y of its baseline) and style."""

    line: Line
    y: float
    style: Style


def _direction(language: str | None) -> int:
    primary = (language or "").lower().split("-")[0]
    return 1 if primary in RTL_LANGUAGES or (language or "").lower().endswith("-arab") else 0


def _lines(text: str, style: Style, default_base: int, language: str | None) -> list[Line]:
    base = base_level(text, default_base)
    width = TEXT_WIDTH * 1000 / style.size
    ws = words(text, bold=style.bold, base=base, language=language, max_units=width)
    return break_lines(ws, width, base)


@dataclass(frozen=True)
class Document:
    """What the page shows, all as plain text (never markup)."""

    organization: str | None
    title: str
    date_issued: str
    identifier: str
    paragraphs: tuple[str, ...]
    signer_name: str | None
    signer_role: str | None
    language: str | None
    #: Lines of the statement that are neither body nor signature, shown as written.
    datelines: tuple[str, ...] = ()
    sign_off: str | None = None
    signature_dates: tuple[str, ...] = ()


def document_of(statement: Statement, metadata: Metadata) -> Document:
    """Take the validated metadata where it speaks (title, signer), the statement's body."""
    record = metadata.record
    creator = record.get("creator") or {}
    return Document(
        organization=metadata.organization,
        title=metadata.title,
        date_issued=str(record["date_issued"]),
        identifier=metadata.identifier,
        paragraphs=statement.paragraphs,
        signer_name=creator.get("name") or statement.signer_name,
        signer_role=creator.get("role") or statement.signer_role,
        language=metadata.language or statement.language,
        datelines=statement.datelines,
        sign_off=statement.sign_off,
        signature_dates=statement.signature_dates,
    )


def coverage_parts(doc: Document) -> list[tuple[str, str]]:
    parts = [("the title", doc.title)]
    if doc.organization:
        parts.append(("the organization", doc.organization))
    parts += [("the dateline", line) for line in doc.datelines]
    parts += [(f"paragraph {i}", p) for i, p in enumerate(doc.paragraphs, 1)]
    if doc.sign_off:
        parts.append(("the closing", doc.sign_off))
    parts += [("the signature's date", line) for line in doc.signature_dates]
    if doc.signer_name:
        parts.append(("the signer's name", doc.signer_name))
    if doc.signer_role:
        parts.append(("the signer's role", doc.signer_role))
    parts.append(("the identifier", doc.identifier))
    return parts


def paginate(doc: Document) -> list[list[Placed]]:
    """Place every line on a page; a page break never splits a signature block."""
    check_coverage(coverage_parts(doc))
    base = _direction(doc.language)
    lang = doc.language
    pages: list[list[Placed]] = [[]]
    y = MARGIN_TOP
    bottom = PAGE_HEIGHT - MARGIN_BOTTOM - 8

    def add(lines: list[Line], style: Style, keep: int = 2) -> None:
        nonlocal y
        y += style.before if pages[-1] else 0
        if y + style.leading * min(keep, len(lines)) > bottom and pages[-1]:
            pages.append([])
            y = MARGIN_TOP + 14
        for line in lines:
            if y + style.leading > bottom:
                pages.append([])
                y = MARGIN_TOP + 14
            y += style.leading
            pages[-1].append(Placed(line, y, style))

    if doc.organization:
        add(_lines(doc.organization, ORG, base, lang), ORG)
    meta = f"Issued {doc.date_issued} · {doc.identifier}"
    add(_lines(meta, META, 0, "en"), META)
    y += 14  # room for the rule under the header
    add(_lines(doc.title, TITLE, base, lang), TITLE)
    y += 6
    for dateline in doc.datelines:
        add(_lines(dateline, DATELINE, base, lang), DATELINE)
    for paragraph in doc.paragraphs:
        add(_lines(paragraph, BODY, base, lang), BODY)
    signature = []
    if doc.sign_off:
        signature.append((_lines(doc.sign_off, SIGN_OFF, base, lang), SIGN_OFF))
    if doc.signer_name:
        name_style = SIGN_NAME_AFTER_CLOSING if doc.sign_off else SIGN_NAME
        signature.append((_lines(doc.signer_name, name_style, base, lang), name_style))
    if doc.signer_role:
        signature.append((_lines(doc.signer_role, SIGN_ROLE, base, lang), SIGN_ROLE))
    for line in doc.signature_dates:
        signature.append((_lines(line, SIGN_DATE, base, lang), SIGN_DATE))
    if signature:
        total = sum(len(ls) for ls, _ in signature)
        for n, (lines, style) in enumerate(signature):
            add(lines, style, keep=total if n == 0 else 1)
    return pages


def draw_pages(
    doc: Document, pages: list[list[Placed]], created: datetime | None
) -> tuple[bytes, tuple[str, ...]]:
    """Draw the placed lines; return the PDF and the names of the fonts used."""
    buffer = io.BytesIO()
    first = ensure_registered(FAMILIES[0], False)  # else ReportLab adds unembedded Helvetica
    canvas = Canvas(
        buffer,
        pagesize=A4,
        invariant=1,
        pageCompression=1,
        pdfVersion=(1, 4),
        initialFontName=first,
    )
    writer = Writer(canvas)
    total = len(pages)
    footer_id = _lines(doc.identifier, FOOTER, 0, "en")
    for number, placed in enumerate(pages, 1):
        canvas.setLineWidth(0.5)
        canvas.setStrokeGray(0.55)
        if number == 1:
            header = [p for p in placed if p.style in (ORG, META)]
            rule_y = (header[-1].y if header else MARGIN_TOP) + 10
            canvas.line(MARGIN_X, PAGE_HEIGHT - rule_y, PAGE_WIDTH - MARGIN_X, PAGE_HEIGHT - rule_y)
        for p in placed:
            _fill(canvas, p.style.gray)
            writer.line(
                p.line, MARGIN_X, PAGE_HEIGHT - p.y, TEXT_WIDTH, p.style.size, p.style.align
            )
        # footer: rule, identifier on the left, "page N of M" on the right
        fy = MARGIN_BOTTOM - 26
        canvas.line(MARGIN_X, fy + 12, PAGE_WIDTH - MARGIN_X, fy + 12)
        _fill(canvas, FOOTER.gray)
        for line in footer_id[:1]:
            writer.line(line, MARGIN_X, fy, TEXT_WIDTH, FOOTER.size, Align.START)
        for line in _lines(f"page {number} of {total}", FOOTER, 0, "en"):
            writer.line(line, MARGIN_X, fy, TEXT_WIDTH, FOOTER.size, Align.END)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue(), tuple(sorted(writer.fonts_used))


def _fill(canvas: Canvas, gray: float) -> None:
    canvas._code.append(f"{gray:g} g")
