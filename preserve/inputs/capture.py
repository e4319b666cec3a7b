"""A web page captured to WARC 1.1, and a WARC read back as a statement.

The page is evidence: its address, the moment, the server's answer and the HTML
as served. :func:`capture` fetches a page and what it needs to be read
(stylesheets, images, and what the CSS names: ``@import``, fonts, background
images; bounded in count and bytes), following and recording
redirects, politely (a user agent naming the tool, a pause between requests to
one host, timeouts), and writes every exchange as it went over the wire (request
and response records, headers byte for byte) plus a metadata record into an
uncompressed WARC 1.1 file with ``warcio`` (FIDO calls a ``.warc.gz`` GZIP,
x-fmt/266; a ``.warc`` is fmt/1281).

:func:`read` takes any WARC (ours or a crawler's) to a :class:`Received`: the WARC
and the page's HTML as received, the statement extracted from the page
(:mod:`preserve.inputs.html`), the page's address and retrieval time in the record
and a PREMIS capture event (agent, software, HTTP status, digests). So the
``capture`` command is: fetch, write the WARC, ingest the WARC.

A 4xx/5xx answer, an answer that is not HTML or a page over the size limit is
:class:`CaptureRefused` (exit 1); a timeout or an unreachable host is
:class:`CaptureUnreachable` (exit 2). Either way no WARC is written.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import http.client
import io
import re
import shutil
import socket
import ssl
import tempfile
import threading
import time
import urllib.parse
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import lxml.html  # type: ignore[import-untyped]
import tinycss2  # type: ignore[import-untyped]
from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]
from warcio.statusandheaders import StatusAndHeaders  # type: ignore[import-untyped]
from warcio.warcwriter import WARCWriter  # type: ignore[import-untyped]

from preserve import __version__
from preserve.errors import ExitCode, InputError, UnreadableInput
from preserve.fsio import NotARegularFile, read_input
from preserve.inputs import Form, OriginalFile, Received, media_type, sniff
from preserve.inputs.html import (
    MAX_HTML_BYTES,
    extract,
    extracted_file,
    extraction_event,
    pronom_of,
    statement_from,
)
from preserve.premis import Event

#: Whether a file is this form: decided in :mod:`preserve.inputs.sniff`, which
#: imports none of this module's libraries, so asking every form stays cheap.
accepts = sniff.capture

if TYPE_CHECKING:
    from preserve.archive import IngestOptions, IngestReport

#: WARC 1.1 in PRONOM (an uncompressed ``.warc``).
PRONOM_WARC = "fmt/1281"
#: PREMIS event type (LoC vocabulary): getting the page from the web.
CAPTURE = "capture"
USER_AGENT = f"preserve/{__version__} (statement archive; +https://preserve.invalid/capture)"
#: A WARC read for ingest is at most this large.
MAX_WARC_BYTES = 200 * 1024 * 1024
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
warcio_version = version("warcio")


class CaptureRefused(InputError):
    """The server answered, and the answer is not a page we can take (exit 1)."""


class CaptureUnreachable(UnreadableInput):
    """The page could not be had at all: a timeout, a refused connection, no such host (exit 2)."""

    exit_code = ExitCode.cannot_run


@dataclass(frozen=True)
class CaptureOptions:
    """How politely and how far a capture goes."""

    #: Seconds between two requests to one host; 0 turns the pause off.
    rate_limit: float = 1.0
    #: Seconds a connection or a whole answer may take.
    timeout: float = 30.0
    max_page_bytes: int = MAX_HTML_BYTES
    #: Stylesheets and images fetched with the page, at most this many and this many bytes.
    max_requisites: int = 50
    max_requisite_bytes: int = 20 * 1024 * 1024
    max_redirects: int = 10
    user_agent: str = USER_AGENT


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and its response, as sent and as received."""

    url: str
    at: dt.datetime
    request: bytes
    #: The response's status line and header lines, byte for byte, up to the blank line.
    response_head: bytes
    #: The entity body, transfer coding removed (chunked framing undone): what is read.
    body: bytes
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    ip: str | None = None
    #: The body's bytes exactly as they came over the wire (chunked framing and all):
    #: what the WARC's response record holds after the head. None: same as ``body``.
    wire_body: bytes | None = None

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass(frozen=True)
class Fetched:
    """A page and its requisites, each exchange in the order it happened."""

    url: str
    page: Exchange
    redirects: tuple[Exchange, ...]
    requisites: tuple[Exchange, ...]
    notes: tuple[str, ...] = ()


# --------------------------------------------------------------------------- HTTP


class _TooLarge(Exception):
    pass


class _Tee(io.RawIOBase):
    """The socket's reader, keeping every byte read (what was received, as received)."""

    def __init__(self, fp: BinaryIO, sink: bytearray, limit: int, deadline: float) -> None:
        super().__init__()
        self._fp = fp
        self._sink = sink
        self._limit = limit
        self._deadline = deadline

    def _keep(self, data: bytes | memoryview) -> None:
        self._sink += data
        if len(self._sink) > self._limit:
            raise _TooLarge
        if time.monotonic() > self._deadline:
            raise TimeoutError("the answer took longer than the timeout")

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data = self._fp.read(-1 if size is None else size)
        self._keep(data)
        return data

    def read1(self, size: int = -1) -> bytes:
        data = self._fp.read1(size)  # type: ignore[attr-defined]
        self._keep(data)
        return bytes(data)

    def readinto(self, buffer: Any) -> int:
        count = self._fp.readinto(buffer)  # type: ignore[attr-defined]
        self._keep(memoryview(buffer)[:count])
        return int(count)

    def readline(self, size: int | None = -1) -> bytes:
        data = self._fp.readline(-1 if size is None else size)
        self._keep(data)
        return data

    def peek(self, size: int = 0) -> bytes:
        return bytes(self._fp.peek(size))  # type: ignore[attr-defined]

    def close(self) -> None:
        self._fp.close()
        super().close()


class _Response(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, *args: Any, tee: Callable[[BinaryIO], _Tee], **kw: Any):
        super().__init__(sock, *args, **kw)
        self.fp = tee(self.fp)  # type: ignore[assignment]


def _connection(
    scheme: str, host: str, port: int | None, timeout: float
) -> http.client.HTTPConnection:
    if scheme == "https":
        return http.client.HTTPSConnection(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
    return http.client.HTTPConnection(host, port, timeout=timeout)


class _Pacer:
    """At most one request per ``interval`` seconds to each host."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.last: dict[str, float] = {}
        self.lock = threading.Lock()

    def wait(self, host: str) -> None:
        if self.interval <= 0:
            return
        with self.lock:
            ready = self.last.get(host, 0.0) + self.interval
            pause = ready - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            self.last[host] = time.monotonic()


def _get(url: str, options: CaptureOptions, pacer: _Pacer, limit: int, accept: str) -> Exchange:
    """One GET, recorded as it went over the wire; raises OSError/_TooLarge/HTTPException."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise CaptureRefused(f"not an http(s) address: {url}", url)
    pacer.wait(parts.netloc)
    at = dt.datetime.now(dt.UTC)
    deadline = time.monotonic() + options.timeout
    received = bytearray()
    sent = bytearray()
    conn = _connection(parts.scheme, parts.hostname, parts.port, options.timeout)
    conn.response_class = functools.partial(  # type: ignore[assignment]
        _Response, tee=lambda fp: _Tee(fp, received, limit + 256 * 1024, deadline)
    )
    original_send = conn.send

    def send(data: Any) -> None:
        sent.extend(data)
        original_send(data)

    conn.send = send  # type: ignore[method-assign]
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    try:
        conn.request(
            "GET",
            target,
            headers={
                "User-Agent": options.user_agent,
                "Accept": accept,
                "Accept-Encoding": "identity",
                "Connection": "close",
            },
        )
        response = conn.getresponse()
        ip = None
        if conn.sock is not None:
            ip = str(conn.sock.getpeername()[0])
        length = response.getheader("Content-Length")
        if length and length.strip().isdigit() and int(length) > limit:
            raise _TooLarge
        head_end = received.find(b"\r\n\r\n")
        head_end = len(received) if head_end < 0 else head_end + 4
        body = response.read(limit + 1)
        if len(body) > limit:
            raise _TooLarge
        head = bytes(received[:head_end])
        wire = bytes(received[head_end:])
        headers = tuple((k, v) for k, v in response.getheaders())
        return Exchange(
            url,
            at,
            bytes(sent),
            head,
            body,
            response.status,
            response.reason,
            headers,
            ip,
            None if wire == body else wire,
        )
    finally:
        conn.close()


def fetch(url: str, options: CaptureOptions | None = None, pacer: _Pacer | None = None) -> Fetched:
    """The page at ``url`` (redirects followed) and its requisites; nothing is written."""
    options = options or CaptureOptions()
    pacer = pacer or _Pacer(options.rate_limit)
    redirects: list[Exchange] = []
    current = url
    accept = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
    while True:
        try:
            exchange = _get(current, options, pacer, options.max_page_bytes, accept)
        except _TooLarge:
            raise CaptureRefused(
                f"page is over the limit of {options.max_page_bytes:,} bytes "
                "(--max-page-bytes to allow more); nothing was captured",
                url,
            ) from None
        except TimeoutError:
            raise CaptureUnreachable(
                f"no answer within {options.timeout:g} s (--timeout); nothing was captured", url
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise CaptureUnreachable(
                f"cannot reach the server: {reason}; nothing was captured", url
            ) from None
        if exchange.status in _REDIRECTS and exchange.header("Location"):
            redirects.append(exchange)
            if len(redirects) > options.max_redirects:
                raise CaptureRefused(
                    f"more than {options.max_redirects} redirects; nothing was captured", url
                )
            current = urllib.parse.urljoin(current, exchange.header("Location") or "")
            continue
        break
    if exchange.status >= 400:
        raise CaptureRefused(
            f"the server answered {exchange.status} {exchange.reason} for {current}; "
            "nothing was captured",
            url,
        )
    if exchange.status != 200:
        raise CaptureRefused(
            f"the server answered {exchange.status} {exchange.reason}, not a page; "
            "nothing was captured",
            url,
        )
    kind = (exchange.header("Content-Type") or "").split(";")[0].strip().lower()
    if kind not in _HTML_TYPES:
        raise CaptureRefused(
            f"the answer is {kind or 'of no stated type'}, not an HTML page; "
            "save the document and ingest it instead",
            url,
        )
    requisites, notes = _requisites(exchange, options, pacer)
    return Fetched(url, exchange, tuple(redirects), tuple(requisites), tuple(notes))


def decoded_body(exchange: Exchange, limit: int = MAX_HTML_BYTES) -> bytes:
    """The body with its content coding (gzip, deflate) undone, at most ``limit`` bytes.

    We ask for ``identity``, but a server may compress anyway; the WARC keeps what
    it sent, and this is what a browser would read. A bomb stops at ``limit``.
    """
    coding = (exchange.header("Content-Encoding") or "").strip().lower()
    if coding not in {"gzip", "x-gzip", "deflate"}:
        return exchange.body
    wbits = 16 + zlib.MAX_WBITS if "gzip" in coding else zlib.MAX_WBITS
    try:
        return zlib.decompressobj(wbits).decompress(exchange.body, limit)
    except zlib.error:
        return b""


def requisite_urls(page: Exchange) -> list[str]:
    """What the page needs to be read, in page order, each once.

    Stylesheets, icons and images it links, and what its own CSS refers to: the
    ``url(…)`` and ``@import`` of ``<style>`` elements and ``style`` attributes
    (background images, fonts). What linked stylesheets refer to is found when
    they are fetched (:func:`stylesheet_urls`).
    """
    try:
        root = lxml.html.document_fromstring(decoded_body(page))
    except (ValueError, lxml.etree.ParserError):
        return []
    found: list[str] = []
    for element in root.iter():
        if not isinstance(element.tag, str):  # comments, processing instructions
            continue
        refs: list[str] = []
        if element.tag == "link":
            rel = (element.get("rel") or "").lower().split()
            href = element.get("href") if {"stylesheet", "icon"} & set(rel) else None
            refs = [href] if href else []
        elif element.tag == "img":
            refs = [element.get("src") or ""]
        elif element.tag == "style":
            refs = css_references(element.text_content() or "")
        if element.get("style"):
            refs += css_references(element.get("style"), declarations=True)
        for ref in refs:
            _add_url(found, page.url, ref)
    return found


def _add_url(found: list[str], base: str, ref: str) -> None:
    ref = ref.strip()
    if not ref or ref.startswith(("data:", "#")):
        return
    absolute = urllib.parse.urldefrag(urllib.parse.urljoin(base, ref)).url
    if urllib.parse.urlsplit(absolute).scheme in {"http", "https"} and absolute not in found:
        found.append(absolute)


#: What any reference in a stylesheet starts with; a sheet without it names nothing.
_CSS_REFERENCE = re.compile(rb"url\(|src\(|@import", re.IGNORECASE)


def css_references(css: str, declarations: bool = False) -> list[str]:
    """The addresses a stylesheet refers to (``url(…)``, ``@import "…"``), in order (tinycss2).

    ``declarations``: ``css`` is the value of a ``style`` attribute, not a sheet.
    """
    nodes = (
        tinycss2.parse_blocks_contents(css, skip_comments=True)
        if declarations
        else tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
    )
    found: list[str] = []
    _css_walk(nodes, found, 0)
    return found


def _css_walk(nodes: Any, found: list[str], depth: int) -> None:
    if depth > 50:  # nesting this deep is no stylesheet a page needs
        return
    for node in nodes or ():
        kind = getattr(node, "type", "")
        if kind == "url":
            found.append(node.value)
        elif kind == "function" and node.lower_name in {"url", "src"}:
            strings = [a.value for a in node.arguments if a.type == "string"]
            found += strings[:1]
            _css_walk(node.arguments, found, depth + 1)
        elif kind == "at-rule":
            if node.lower_at_keyword == "import":
                found += [t.value for t in node.prelude if t.type == "string"][:1]
            _css_walk(node.prelude, found, depth + 1)
            _css_walk(node.content, found, depth + 1)
        elif kind == "qualified-rule":
            _css_walk(node.prelude, found, depth + 1)
            _css_walk(node.content, found, depth + 1)
        elif kind == "declaration":
            _css_walk(node.value, found, depth + 1)
        elif kind in {"() block", "[] block", "{} block"}:
            _css_walk(node.content, found, depth + 1)


def stylesheet_urls(exchange: Exchange, limit: int) -> list[str]:
    """What a fetched stylesheet refers to (fonts, images, imported sheets), as addresses."""
    kind = (exchange.header("Content-Type") or "").split(";")[0].strip().lower()
    if exchange.status != 200 or kind != "text/css":
        return []
    body = decoded_body(exchange, limit)
    if not _CSS_REFERENCE.search(body):
        return []  # nothing to find: skip the tokenizer (pure Python, about 0.7 MB/s)
    rules, _encoding = tinycss2.parse_stylesheet_bytes(
        body,
        protocol_encoding=_charset_param(exchange.header("Content-Type") or ""),
        skip_comments=True,
        skip_whitespace=True,
    )
    found: list[str] = []
    refs: list[str] = []
    _css_walk(rules, refs, 0)
    for ref in refs:
        _add_url(found, exchange.url, ref)
    return found


def _requisites(
    page: Exchange, options: CaptureOptions, pacer: _Pacer
) -> tuple[list[Exchange], list[str]]:
    """Fetch what the page needs, breadth first: the page's own, then what stylesheets name.

    Both bounds (count and bytes) hold over everything fetched; what is left is named.
    """
    urls = requisite_urls(page)
    kept: list[Exchange] = []
    notes: list[str] = []
    total = 0
    number = 0
    while number < len(urls):
        url = urls[number]
        if number >= options.max_requisites:
            notes.append(
                f"{len(urls) - number} requisite(s) not fetched: over the limit of "
                f"{options.max_requisites} (--max-requisites)"
            )
            break
        number += 1
        left = options.max_requisite_bytes - total
        try:
            exchange = _get(url, options, pacer, max(left, 0), "*/*")
        except _TooLarge:
            notes.append(f"{url}: not fetched, over the requisites' byte limit")
            continue
        except (OSError, http.client.HTTPException, CaptureRefused) as exc:
            notes.append(f"{url}: not fetched ({getattr(exc, 'strerror', None) or exc})")
            continue
        total += len(exchange.body)
        kept.append(exchange)
        if exchange.status >= 400:
            notes.append(f"{url}: the server answered {exchange.status} {exchange.reason}")
        for found in stylesheet_urls(exchange, options.max_requisite_bytes):
            if found not in urls and found != page.url:
                urls.append(found)
    return kept, notes


# --------------------------------------------------------------------------- WARC


class _RawHeaders(StatusAndHeaders):  # type: ignore[misc]
    """HTTP headers that warcio writes back exactly as received, not re-serialised."""

    def __init__(self, raw: bytes, exchange: Exchange) -> None:
        protocol, _, rest = raw.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
        super().__init__(rest, list(exchange.headers), protocol=protocol)
        self.raw = raw
        self.headers_buff = raw

    def compute_headers_buffer(self, header_filter: Any = None) -> None:
        self.headers_buff = self.raw


def _warc_date(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def write_warc(fetched: Fetched, out: BinaryIO, options: CaptureOptions | None = None) -> None:
    """Write the capture as WARC 1.1: warcinfo, request/response pairs, one metadata record."""
    options = options or CaptureOptions()
    writer = WARCWriter(out, gzip=False, warc_version="1.1")
    info = writer.create_warcinfo_record(
        None,
        {
            "software": f"preserve {__version__} (warcio {warcio_version})",
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "http-header-user-agent": options.user_agent,
            "robots": "classic",
        },
    )
    writer.write_record(info)
    page_id = ""
    for exchange in (*fetched.redirects, fetched.page, *fetched.requisites):
        common = {"WARC-Date": _warc_date(exchange.at)}
        if exchange.ip:
            common["WARC-IP-Address"] = exchange.ip
        wire = exchange.body if exchange.wire_body is None else exchange.wire_body
        response = writer.create_warc_record(
            exchange.url,
            "response",
            payload=io.BytesIO(wire),
            length=len(wire),
            warc_headers_dict=dict(common),
            http_headers=_RawHeaders(exchange.response_head, exchange),
        )
        request = writer.create_warc_record(
            exchange.url,
            "request",
            payload=io.BytesIO(exchange.request),
            length=len(exchange.request),
            warc_headers_dict=dict(common),
        )
        writer.write_request_response_pair(request, response)
        if exchange is fetched.page:
            page_id = response.rec_headers.get_header("WARC-Record-ID")
    fields = [
        f"seed: {fetched.url}",
        f"page: {fetched.page.url}",
        *(f"redirect: {e.url} -> {e.status} {e.header('Location')}" for e in fetched.redirects),
        *(f"requisite: {e.url} {e.status}" for e in fetched.requisites),
        *(f"note: {' '.join(n.split())}" for n in fetched.notes),
        f"rate-limit-seconds: {options.rate_limit:g}",
    ]
    payload = ("\r\n".join(fields) + "\r\n").encode("utf-8")
    metadata = writer.create_warc_record(
        fetched.page.url,
        "metadata",
        payload=io.BytesIO(payload),
        length=len(payload),
        warc_content_type="application/warc-fields",
        warc_headers_dict={"WARC-Concurrent-To": page_id},
    )
    writer.write_record(metadata)


def capture(
    url: str, folder: Path, options: CaptureOptions | None = None, pacer: _Pacer | None = None
) -> Path:
    """Fetch ``url`` and write its WARC into ``folder``; the path of the new file."""
    options = options or CaptureOptions()
    fetched = fetch(url, options, pacer)
    host = urllib.parse.urlsplit(fetched.page.url).hostname or "page"
    stamp = fetched.page.at.strftime("%Y%m%dT%H%M%SZ")
    name = "".join(c if c.isalnum() or c in ".-" else "-" for c in host)[:60]
    path = folder / f"{name}-{stamp}.warc"
    with path.open("xb") as out:
        write_warc(fetched, out, options)
    return path


def capture_into_archive(
    urls: list[str],
    archive: Path,
    options: CaptureOptions | None = None,
    ingest_options: IngestOptions | None = None,
) -> IngestReport:
    """Capture each page to a WARC and ingest the WARCs; a page that fails is reported.

    The WARCs are written in a private temporary folder and removed afterwards
    (each lives on in its bag). A refused or unreachable page is one failed
    result and nothing of it is ingested; the others still go in.
    """
    from preserve.archive import IngestReport, IngestResult, Status, ingest
    from preserve.errors import PreserveError, ValidationFailed
    from preserve.inputs.prepare import prepare_input

    options = options or CaptureOptions()
    folder = Path(tempfile.mkdtemp(prefix="preserve-capture-"))
    pacer = _Pacer(options.rate_limit)
    failed: list[IngestResult] = []
    captured: dict[str, str] = {}
    try:
        for url in urls:
            try:
                path = capture(url, folder, options, pacer)
            except (CaptureRefused, CaptureUnreachable) as error:
                failed.append(
                    IngestResult(url, Status.failed, error.message, exit_code=error.exit_code)
                )
                continue
            sidecar = ingest_options.metadata_file if ingest_options else None
            try:  # a login wall or a page without a valid record: refused before the archive
                _, prepared = prepare_input(path, sidecar)
                prepared.metadata()
            except PreserveError as error:
                message = error.message
                if isinstance(error, ValidationFailed):
                    message += "; for a captured page, give what it lacks with --metadata FILE"
                failed.append(IngestResult(url, Status.failed, message, exit_code=error.exit_code))
                continue
            captured[str(path)] = url
        if not captured:  # nothing to ingest: the archive is not touched at all
            return IngestReport(str(archive.absolute()), tuple(failed))
        report = ingest([Path(p) for p in captured], archive, ingest_options)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    results = [replace(r, source=captured.get(r.source, r.source)) for r in report.results]
    return IngestReport(report.archive, (*failed, *results), report.recovered)


# --------------------------------------------------------------------------- a WARC as input


@dataclass(frozen=True)
class _Record:
    type: str
    url: str
    date: str
    record_id: str
    status: int | None = None
    reason: str = ""
    content_type: str = ""
    location: str | None = None
    payload: bytes = b""
    payload_digest: str | None = None
    fields: dict[str, list[str]] = field(default_factory=dict)


def _records(data: bytes, path: Path) -> Iterator[_Record]:
    try:
        for record in ArchiveIterator(io.BytesIO(data), check_digests=True):
            headers = record.rec_headers
            kind = record.rec_type
            url = headers.get_header("WARC-Target-URI") or ""
            common = {
                "type": kind,
                "url": url,
                "date": headers.get_header("WARC-Date") or "",
                "record_id": headers.get_header("WARC-Record-ID") or "",
            }
            if kind == "response" and record.http_headers:
                http = record.http_headers
                status_line = http.get_statuscode() or "0"
                yield _Record(
                    **common,
                    status=int(status_line) if status_line.isdigit() else 0,
                    reason=http.statusline.partition(" ")[2],
                    content_type=http.get_header("Content-Type") or "",
                    location=http.get_header("Location"),
                    # Bounded: a compressed payload may inflate without end.
                    payload=record.content_stream().read(MAX_HTML_BYTES + 1),
                    payload_digest=headers.get_header("WARC-Payload-Digest"),
                )
            elif kind in {"metadata", "warcinfo"}:
                text = record.content_stream().read().decode("utf-8", "replace")
                fields: dict[str, list[str]] = {}
                for line in text.splitlines():
                    key, sep, value = line.partition(": ")
                    if sep:
                        fields.setdefault(key, []).append(value)
                yield _Record(**common, fields=fields)
            else:
                record.content_stream().read()
    except Exception as exc:  # warcio raises bare exceptions on malformed input
        raise InputError(f"not a readable WARC file: {exc}", path) from None


def read(path: Path) -> Received:
    """A WARC as received; its page's text is the statement (the seed page when it says)."""
    try:
        data = read_input(path, MAX_WARC_BYTES)
    except NotARegularFile:
        raise UnreadableInput("not a regular file (a FIFO, device or socket)", path) from None
    except OSError as exc:
        raise UnreadableInput(f"cannot read: {exc.strerror or exc}", path) from None
    if len(data) > MAX_WARC_BYTES:
        raise InputError(f"WARC file is over the limit of {MAX_WARC_BYTES:,} bytes", path)
    if data[:2] == b"\x1f\x8b":
        raise InputError(
            "a compressed WARC (.warc.gz): decompress it (gunzip) and ingest the .warc", path
        )
    if not data.startswith(b"WARC/"):
        raise InputError("not a WARC file (it does not start with 'WARC/')", path)
    records = list(_records(data, path))
    responses = [r for r in records if r.type == "response"]
    meta = next((r for r in records if r.type == "metadata" and "page" in r.fields), None)
    wanted = meta.fields["page"][0] if meta else None
    page = next(
        (
            r
            for r in responses
            if r.status == 200
            and r.content_type.split(";")[0].strip().lower() in _HTML_TYPES
            and (wanted is None or r.url == wanted)
        ),
        None,
    )
    if page is None:
        raise InputError("the WARC holds no HTML page answered with 200 OK", path)
    if len(page.payload) > MAX_HTML_BYTES:
        raise InputError(f"the page in the WARC is over {MAX_HTML_BYTES:,} bytes", path)
    charset = _charset_param(page.content_type)
    extraction = extract(page.payload, path, declared_charset=charset)
    statement = statement_from(extraction, path)
    warc_name = path.name if path.suffix.lower() == ".warc" else f"{path.name}.warc"
    warc = OriginalFile(
        f"data/capture/{_portable(warc_name)}",
        data,
        "application/warc",
        PRONOM_WARC,
        path.name if _portable(warc_name) != path.name else None,
    )
    html = OriginalFile(
        "data/original/page.html",
        page.payload,
        media_type("text/html", extraction.charset),
        pronom_of(page.payload),
    )
    extracted = extracted_file("page", extraction)
    retrieved = _rfc3339(page.date)
    chain = _redirect_chain(responses, page, meta)
    warc_sha256 = hashlib.sha256(data).hexdigest()
    detail = (
        f"GET {page.url} answered {page.status} {page.reason} at {retrieved}"
        + (f" after redirects {' -> '.join(chain)}" if chain else "")
        + f"; {len(responses) - 1 - len(chain)} requisite answer(s) recorded"
        + f"; WARC sha256:{warc_sha256}, response record {page.record_id}"
        + (f" payload digest {page.payload_digest}" if page.payload_digest else "")
        + f"; captured by {_software(records, meta)}"
    )
    at = _parse_date(page.date)
    events = (
        Event(CAPTURE, at, "success", detail, (warc.path, html.path)),
        extraction_event(extraction, dt.datetime.now(dt.UTC), html.path, extracted.path),
    )
    record: dict[str, Any] = {"source": {"url": page.url, "retrieved": retrieved}}
    notes = tuple(n for n in (meta.fields.get("note", []) if meta else []))
    if notes:  # requisites not fetched, named in the bag's history as in the WARC
        events = (
            replace(events[0], detail=events[0].detail + "; " + " | ".join(notes)),
            *events[1:],
        )
    return Received(
        Form.CAPTURE,
        (warc, html, extracted),
        statement,
        record=record,
        events=events,
        left_out=extraction.left_out,
        notes=notes,
    )


def _portable(name: str) -> str:
    from preserve.bagging import safe_original_name

    stored = safe_original_name(name)
    return "capture.warc" if stored == "statement.txt" else stored


def _charset_param(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip("\"'") or None
    return None


def _parse_date(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return dt.datetime.now(dt.UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _rfc3339(value: str) -> str:
    return (
        _parse_date(value).astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def _redirect_chain(responses: list[_Record], page: _Record, meta: _Record | None) -> list[str]:
    if meta is not None:
        return [line.split(" -> ")[0] for line in meta.fields.get("redirect", [])]
    return [r.url for r in responses if r.status in _REDIRECTS and r.location]


def _software(records: list[_Record], meta: _Record | None) -> str:
    """The capturing software as the WARC's warcinfo record names it."""
    info = next((r for r in records if r.type == "warcinfo" and "software" in r.fields), None)
    return info.fields["software"][0] if info else "software not named in the WARC"


def digest_b32(data: bytes) -> str:
    """A WARC-style ``sha1:BASE32`` digest (what warcio writes), for tests and reports."""
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()
