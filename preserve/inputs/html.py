"""Saved HTML (``page.html``, and a browser's ``page_files/``): the page kept, its text read.

The page and its folder go into the bag as received; the statement is the text
``trafilatura`` extracts from the page, with two repairs so that the copy shows
what the page shows: ordered-list items keep the numbers the browser displays
("1." "2." "b." "iv.", from ``start``, ``type`` and ``value``), where the
extractor would print "- ", and every line of the page's visible text that the
extraction does not hold is listed in ``left_out`` (navigation, share buttons,
footers): nothing vanishes silently. The same extraction serves web captures
(:mod:`preserve.inputs.capture`) and HTML e-mail (:mod:`preserve.inputs.eml`).
"""

from __future__ import annotations

import codecs
import datetime as dt
import os
import re
import stat
from dataclasses import dataclass, replace
from pathlib import Path

import charset_normalizer
import lxml.html  # type: ignore[import-untyped]
import trafilatura
from lxml import etree

from preserve.bagging import safe_original_name
from preserve.errors import InputError, UnreadableInput
from preserve.fsio import NotARegularFile, read_input
from preserve.inputs import Form, OriginalFile, Received, media_type, sniff
from preserve.premis import Event
from preserve.statement import Statement, parse_statement

#: Whether a file is this form: decided in :mod:`preserve.inputs.sniff`, which
#: imports none of this module's libraries, so asking every form stays cheap.
accepts = sniff.html

#: A saved page larger than this is refused (a statement's page is well under it).
MAX_HTML_BYTES = 10 * 1024 * 1024
#: A browser's ``page_files/`` folder: at most this many files and bytes are kept.
MAX_REQUISITES = 500
MAX_REQUISITE_BYTES = 50 * 1024 * 1024
#: A page with a password field and fewer words than this is a login wall.
LOGIN_WALL_WORDS = 150

#: PREMIS event type (LoC vocabulary) for taking the text out of the page.
EXTRACTION = "metadata extraction"

# Marks the numbers we write into <ol> items, so only those replace the extractor's "- "
# (ASCII letters: the extractor drops private-use and invisible characters). A page that
# holds this word itself is read with another (see :func:`_mark_for`).
_MARK = "qzpreservenumberq"
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.IGNORECASE
)
_BLOCK_TAGS = frozenset(
    "address article aside blockquote br dd details dialog div dl dt fieldset figcaption figure "
    "footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table td th "
    "tr ul option button label title".split()
)
_INVISIBLE_TAGS = ("script", "style", "noscript", "template", "head", "svg")


@dataclass(frozen=True)
class Extraction:
    """The statement's text taken out of a page, and what of the page it left out."""

    text: str
    charset: str
    title: str | None
    #: Lines of the page's visible text that are not in ``text``, in page order.
    left_out: tuple[str, ...]
    notes: tuple[str, ...] = ()


def pronom_of(data: bytes) -> str:
    """The PRONOM id of an HTML file by its document type (as FIDO's signatures decide).

    ``<!DOCTYPE html>`` is HTML 5 (fmt/471); the HTML 4.01 and 4.0 public
    identifiers are fmt/100 and fmt/99; anything else is HTML without a version (fmt/96).
    """
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    match = re.match(rb"<!doctype\s+html\s*(public\s+\"([^\"]*)\")?", head, re.IGNORECASE)
    if not match:
        return "fmt/96"
    public = (match.group(2) or b"").upper()
    if not public:
        return "fmt/471"
    if b"HTML 4.01" in public:
        return "fmt/100"
    if b"HTML 4.0" in public:
        return "fmt/99"
    return "fmt/96"


def charset_of(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """The page's encoding and how it was found: BOM, HTTP header, meta tag, else detected.

    Labels are read as browsers read them: ``iso-8859-1`` and ``ascii`` mean windows-1252.
    """
    for bom, name in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return name, "byte order mark"
    candidates: list[tuple[str | None, str]] = [(declared, "HTTP Content-Type")]
    meta = _META_CHARSET.search(data[:4096])
    if meta:
        candidates.append((meta.group(1).decode("ascii", "replace"), "meta tag"))
    for label, how in candidates:
        found = _codec(label)
        if found:
            return found, how
    best = charset_normalizer.from_bytes(data[:200_000]).best()
    if best is None:
        return "utf-8", "assumed"
    return _codec(best.encoding) or "utf-8", "detected (charset-normalizer)"


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().lower()).name
    except LookupError:
        return None
    return "cp1252" if name in {"latin-1", "iso8859-1", "ascii"} else name


def decode_page(
    data: bytes, path: Path | str | None, declared: str | None = None
) -> tuple[str, str]:
    """The page as text, and the charset it was read in; bytes that do not decode are an error."""
    charset, how = charset_of(data, declared)
    try:
        text = data.decode("utf-8-sig" if charset == "utf-8" else charset)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"page is not valid {charset} ({how}) at byte {exc.start}; "
            "save it again from the browser, or convert it to UTF-8",
            path,
        ) from None
    return text, charset


def _number(index: int, kind: str) -> str:
    if kind in {"a", "A"}:
        letters = ""
        while index > 0:
            index, rest = divmod(index - 1, 26)
            letters = chr(ord("a") + rest) + letters
        return letters.upper() if kind == "A" else letters
    if kind in {"i", "I"}:
        roman = ""
        for value, digits in (
            (1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
            (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"),
        ):  # fmt: skip
            while index >= value:
                roman += digits
                index -= value
        return roman.upper() if kind == "I" else roman
    return str(index)


def _int(value: str | None, default: int) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        return default


def _number_lists(root: lxml.html.HtmlElement, mark: str) -> None:
    """Write into each ``<ol>`` item the number a browser displays for it."""
    for ol in root.iter("ol"):
        items = [li for li in ol if isinstance(li.tag, str) and li.tag == "li"]
        reversed_ = ol.get("reversed") is not None
        kind = ol.get("type") or "1"
        current = _int(ol.get("start"), len(items) if reversed_ else 1)
        for li in items:
            current = _int(li.get("value"), current)
            li.text = f"{mark}{_number(current, li.get('type') or kind)}. " + (li.text or "")
            current += -1 if reversed_ else 1


def visible_lines(root: lxml.html.HtmlElement) -> list[str]:
    """The page's text as a reader sees it, one line per block, without scripts or styles."""
    parts: list[str] = []

    def walk(element: etree._Element) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in _INVISIBLE_TAGS or element.get("hidden") is not None:
            return
        block = tag in _BLOCK_TAGS
        if block:
            parts.append("\n")
        if tag and element.text:
            parts.append(element.text)
        for child in element:
            walk(child)
            if child.tail:
                parts.append(child.tail)
        if block:
            parts.append("\n")

    body = root.find("body")
    walk(body if body is not None else root)
    return [" ".join(line.split()) for line in "".join(parts).split("\n") if line.strip()]


def _squash(text: str) -> str:
    return " ".join(text.split())


def _mark_for(page: str) -> str:
    mark = _MARK
    while mark in page:
        mark += "q"
    return mark


def extract(
    data: bytes, path: Path | str | None, *, declared_charset: str | None = None
) -> Extraction:
    """The statement's text in a page; a login wall or a page without text is an InputError."""
    page, charset = decode_page(data, path, declared_charset)
    try:
        root = lxml.html.document_fromstring(page.encode("utf-8"), parser=_parser())
    except (etree.ParserError, ValueError) as exc:
        raise InputError(f"page cannot be read as HTML: {exc}", path) from None
    shown = visible_lines(root)
    password = root.xpath("//input[translate(@type, 'PASWORD', 'pasword') = 'password']")
    mark = _mark_for(page)
    _number_lists(root, mark)
    post, posts = post_text(root)
    if posts > 1:
        raise InputError(
            f"the page shows {posts} Telegram posts, not one statement; save or capture the "
            "post's own page (https://t.me/CHANNEL/NUMBER?embed=1)",
            path,
        )
    document = (
        None
        if post is not None
        else trafilatura.bare_extraction(
            root,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            favor_recall=True,
        )
    )
    body = post if post is not None else getattr(document, "text", None) or ""
    lines = [_unmark(line, mark) for line in body.split("\n") if line.strip() or post]
    words = sum(len(line.split()) for line in lines)
    if password and words < LOGIN_WALL_WORDS:
        raise InputError(
            f"page is a login wall (a password form and {words} words of text), not the "
            "statement: save the page while logged in, or give the statement's text",
            path,
        )
    if not lines:
        raise InputError(
            "no statement text found in the page; give the statement's text as a .txt file", path
        )
    title = getattr(document, "title", None)
    if title and _squash(title) not in {_squash(line) for line in lines[:3]}:
        shown_title = next((s for s in shown if _squash(title) == s), None)
        if shown_title:  # shown on the page above the text: part of what was issued
            lines.insert(0, shown_title)
    text = "\n".join(lines).strip("\n") + "\n"
    held = f" {_squash(text)} "
    # Whole words: "News" in the menu is not held by "Newsletter" in the text.
    left_out = tuple(line for line in shown if f" {line} " not in held)
    return Extraction(text, charset, title, left_out)


#: Classes of a social network's post body in its web view: the post is the statement.
#: Telegram's channel preview (``t.me/s/…``) and post embed (``t.me/…/123?embed=1``).
_POST_CLASSES = ("tgme_widget_message_text",)


def post_text(root: lxml.html.HtmlElement) -> tuple[str | None, int]:
    """The text of the one post a social network's page shows (or None), and how many it shows.

    trafilatura takes the channel's name above a Telegram post for its first line
    and the view counter below it for its last; the post's own element is what was
    published. Line breaks (``<br>``) are kept, two of them as a blank line. A page
    of several posts (a channel's feed) is refused by the caller: which one is the
    statement is for a person to say.
    """
    found = [
        element
        for name in _POST_CLASSES
        for element in root.xpath(
            "//*[contains(concat(' ', normalize-space(@class), ' '), $name)]", name=f" {name} "
        )
    ]
    if len(found) != 1:
        return None, len(found)
    element = found[0]
    for br in element.iter("br"):
        br.tail = "\n" + (br.tail or "")
    for block in element.iter(*_BLOCK_TAGS - {"br"}):
        block.tail = "\n" + (block.tail or "")
    lines = [" ".join(line.split()) for line in element.text_content().split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    return text or None, 1


def _unmark(line: str, mark: str) -> str:
    """A numbered item as the page shows it ("1. Bring…"), not as "- 1. Bring…"."""
    stripped = line.lstrip()
    if stripped.startswith(f"- {mark}"):
        return stripped[2 + len(mark) :]
    return line.replace(mark, "")


def _parser() -> lxml.html.HTMLParser:
    # No network, no entities from outside, comments dropped: the page is data.
    return lxml.html.HTMLParser(
        encoding="utf-8", remove_comments=True, no_network=True, huge_tree=False
    )


def statement_from(extraction: Extraction, path: Path | str | None) -> Statement:
    """Parse the extracted text as a statement; the page's left-out lines become notes."""
    statement = parse_statement(extraction.text.encode("utf-8"), path)
    return statement


def extraction_event(extraction: Extraction, at: dt.datetime, source: str, target: str) -> Event:
    """PREMIS: the text taken from the page, and every line of the page it left out."""
    left = extraction.left_out
    detail = (
        f"statement text extracted with trafilatura {trafilatura.__version__} from {source} "
        f"(read as {extraction.charset}); {len(left)} line(s) of the page left out"
    )
    if left:
        detail += ": " + " | ".join(left)
    return Event(EXTRACTION, at, "success", detail, (source, target))


def read_page_bytes(path: Path) -> bytes:
    try:
        if path.is_dir():
            raise UnreadableInput("is a directory, not a page", path)
        data = read_input(path, MAX_HTML_BYTES)
    except NotARegularFile:
        raise UnreadableInput("not a regular file (a FIFO, device or socket)", path) from None
    except OSError as exc:
        raise UnreadableInput(f"cannot read: {exc.strerror or exc}", path) from None
    if len(data) > MAX_HTML_BYTES:
        raise InputError(f"page is over the limit of {MAX_HTML_BYTES:,} bytes", path)
    if not data.strip():
        raise InputError("page is empty", path)
    return data


def requisites(page: Path) -> tuple[list[tuple[str, bytes]], list[str]]:
    """The files of a browser's ``<stem>_files/`` folder beside the page, as received.

    Regular files only (symbolic links are not followed; FIFOs are not opened), at
    most :data:`MAX_REQUISITES` files and :data:`MAX_REQUISITE_BYTES` bytes; what
    is not kept is named in the notes.
    """
    folder = page.with_name(page.stem + "_files")
    kept: list[tuple[str, bytes]] = []
    notes: list[str] = []
    if folder.is_symlink() or not folder.is_dir():
        if folder.is_symlink():
            notes.append(f"{folder.name}/ is a symbolic link: not followed")
        return kept, notes
    total = 0
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            full = Path(root) / name
            relative = full.relative_to(folder.parent).as_posix()
            if any(safe_original_name(part) != part for part in Path(relative).parts):
                notes.append(f"{relative}: name not portable, not kept")
                continue
            info = os.lstat(full)
            if not stat.S_ISREG(info.st_mode):
                notes.append(f"{relative}: not a regular file, not kept")
                continue
            if len(kept) >= MAX_REQUISITES or total + info.st_size > MAX_REQUISITE_BYTES:
                notes.append(f"{relative}: over the limit of the page's folder, not kept")
                continue
            data = read_input(full, info.st_size)
            total += len(data)
            kept.append((relative, data))
    return kept, notes


def read(path: Path) -> Received:
    """A saved page (and its folder) as received; the statement is its extracted text."""
    data = read_page_bytes(path)
    extraction = extract(data, path)
    statement = statement_from(extraction, path)
    stored = safe_original_name(path.name)
    if stored == "statement.txt":
        stored = "page.html"
    original = OriginalFile(
        f"data/original/{stored}",
        data,
        media_type("text/html", extraction.charset),
        pronom_of(data),
        path.name if path.name != stored else None,
    )
    files = [original]
    kept, notes = requisites(path)
    for relative, content in kept:
        files.append(
            OriginalFile(f"data/original/{relative}", content, *_kind_of(relative, content))
        )
    extracted = extracted_file(path.stem, extraction)
    files.append(extracted)
    now = dt.datetime.now(dt.UTC)
    event = extraction_event(extraction, now, original.path, extracted.path)
    if notes:  # what of the page's folder was not kept, named in the bag's history
        event = replace(event, detail=event.detail + "; not kept: " + " | ".join(notes))
    events = (event,)
    return Received(
        Form.HTML,
        tuple(files),
        statement,
        events=events,
        left_out=extraction.left_out,
        notes=tuple(notes),
    )


def extracted_file(stem: str, extraction: Extraction) -> OriginalFile:
    """The extracted text, kept beside the original so the copy can be checked against it."""
    name = safe_original_name(f"{stem}.txt")
    return OriginalFile(
        f"data/extracted/{name}",
        extraction.text.encode("utf-8"),
        "text/plain; charset=utf-8",
        "x-fmt/111",
    )


def _kind_of(name: str, data: bytes) -> tuple[str, str]:
    """A requisite's media type by its first bytes, and its PRONOM id where they decide it.

    Only formats whose signature alone names one PRONOM id get one (GIF 87a/89a,
    CSS by name and text); PNG and JPEG versions depend on chunks and markers
    FIDO reads and we do not, so they get a media type and no PRONOM id rather
    than a guess.
    """
    if data.startswith(b"GIF87a"):
        return "image/gif", "fmt/3"
    if data.startswith(b"GIF89a"):
        return "image/gif", "fmt/4"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png", ""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", ""
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp", ""
    if name.lower().endswith(".css") and b"\x00" not in data[:4096]:
        return "text/css", "x-fmt/224"
    return "application/octet-stream", ""
