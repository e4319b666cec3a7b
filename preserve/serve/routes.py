"""The reading room's pages and downloads: one handler per URL.

Stable, citable URLs: ``/statements/{identifier}`` and its downloads, ``/search``,
``/audit``, ``/oai``. A request never names a path: an identifier is looked up in
the ledger, which gives the bag's folder; files inside come from its manifests.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import queue
import re
import threading
import time
import unicodedata
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import jinja2
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from preserve import search as fulltext
from preserve.errors import InputError
from preserve.ledger import CATALOG_FACETS
from preserve.serve import bagview, catalog, chart, languages, oai
from preserve.serve.app import OAI_CSP, Ledger, ServeConfig
from preserve.serve.pages import PageImages

HERE = Path(__file__).parent
MAX_QUERY_CHARS = 300
MAX_PAGE = 100_000
RTL = {"ar", "he", "fa", "ur", "ps", "yi", "dv", "ckb", "sd", "ug"}
#: The facets the search form offers as choices (the others pass through as given).
SEARCH_FACETS = ("language", "type", "year")
_IDENTIFIER = re.compile(r"[a-z0-9]+(?:[-_.][a-z0-9]+)*")


class BadRequest(Exception):
    """A request the reading room cannot answer as asked: 400 with this message."""


def text_dir(language: str | None) -> str:
    """``rtl`` for Arabic, Hebrew, Persian and the other right-to-left languages."""
    if not language:
        return "ltr"
    subtags = language.split("-")
    script = next((t.title() for t in subtags[1:] if len(t) == 4 and t.isalpha()), None)
    if script is not None:  # a script subtag decides: az-Arab is right to left, ar-Latn is not
        return "rtl" if script in languages.RTL_SCRIPTS else "ltr"
    primary = subtags[0].lower()
    if primary in RTL and "-Latn" not in language and "-Cyrl" not in language:
        return "rtl"
    return "ltr"


def highlight(snippet: str) -> Markup:
    """FTS5's ``[word]`` marks as ``<mark>``, everything else escaped."""
    out = []
    for i, part in enumerate(re.split(r"[\[\]]", snippet)):
        out.append(f"<mark>{escape(part)}</mark>" if i % 2 else str(escape(part)))
    return Markup("".join(out))


class Room:
    """Everything the handlers share: the configuration, the ledger, templates, images."""

    def __init__(self, config: ServeConfig, ledger: Ledger) -> None:
        self.config = config
        self.archive = config.archive
        self.ledger = ledger
        cache = config.cache_dir or self.archive / "cache" / "pages"
        self.images = PageImages(cache)
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters["dir"] = text_dir
        self.templates.filters["highlight"] = highlight
        self.templates.filters["langname"] = languages.name_html
        self.templates.filters["langtext"] = languages.name_text
        self.templates.globals["facet_labels"] = catalog.FACET_LABELS

    def page(self, name: str, code: int = 200, **context: Any) -> HTMLResponse:
        html = self.templates.get_template(name).render(**context)
        return HTMLResponse(html, code)

    def bag(self, identifier: str) -> Path | None:
        relative = catalog.bag_path(self.ledger.db(), identifier)
        return None if relative is None else bagview.bag_dir(self.archive, relative)


# --------------------------------------------------------------------------- arguments


def _one(request: Request, name: str, limit: int = MAX_QUERY_CHARS) -> str | None:
    values = request.query_params.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise BadRequest(f"'{name}' is given {len(values)} times; give it once")
    value = values[0]
    if len(value) > limit:
        raise BadRequest(f"'{name}' is longer than {limit} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise BadRequest(f"'{name}' holds control characters")
    return value


def _page_number(request: Request) -> int:
    raw = _one(request, "page", 10)
    if raw is None:
        return 1
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise BadRequest(f"page {raw!r} is not a page number (1, 2, 3 ...)")
    return int(raw)


def _filters(request: Request) -> dict[str, str]:
    out = {}
    for facet in CATALOG_FACETS:
        value = _one(request, facet)
        if value:
            out[facet] = value
    return out


def _identifier(request: Request) -> str:
    identifier = str(request.path_params["identifier"])
    if len(identifier) > 120 or not _IDENTIFIER.fullmatch(identifier):
        raise HTTPException(404, "no statement has this identifier")
    return identifier


def _link(base: str, params: dict[str, str], **changes: Any) -> str:
    merged = {**params, **{k: str(v) for k, v in changes.items() if v is not None}}
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
    return base + ("?" + urlencode(merged) if merged else "")


def _pages(total: int, page: int) -> int:
    last = max(1, -(-total // catalog.PAGE_SIZE))
    if page > last:
        raise BadRequest(f"page {page} is past the last page ({last})")
    return last


# --------------------------------------------------------------------------- pages


def browse(request: Request) -> Response:
    # Plain functions run in Starlette's thread pool: SQLite lets go of the GIL while it
    # works, so two requests use two cores.
    room: Room = request.app.state.room
    page = _page_number(request)
    filters = _filters(request)
    db = room.ledger.db()
    rows, total = catalog.browse(db, filters, page)
    last = _pages(total, page)
    rows = catalog.with_versions(db, rows)
    withdrawn = catalog.withdrawn_identifiers(db, [r.identifier for r in rows])

    def link(**changes: Any) -> str:
        return _link("/", filters, **changes)

    def sidebar(db: Any) -> Markup:
        # ~56 links, each urlencoded: two thirds of the page's rendering, the same for
        # every page of a filter set until the ledger changes.
        facets = catalog.facets(db, filters)
        html = room.templates.get_template("_facets.html").render(
            facets=facets, filters=filters, link=link
        )
        return Markup(html)

    return room.page(
        "browse.html",
        rows=rows,
        total=total,
        page=page,
        last=last,
        filters=filters,
        sidebar=room.ledger.cached("sidebar?" + urlencode(sorted(filters.items())), sidebar),
        withdrawn=withdrawn,
        link=link,
    )


def search_page(request: Request) -> Response:
    room: Room = request.app.state.room
    q = _one(request, "q")
    filters = _filters(request)
    page = _page_number(request)
    rows: list[catalog.Row] = []
    total = 0
    last = 1
    ranked = True
    facets: dict[str, list[catalog.FacetValue]] | None = None
    if q is not None and q.strip():
        try:
            parsed = fulltext.parse_query(q)
        except InputError:
            raise BadRequest("the query has no words to search for (letters or digits)") from None
        db = room.ledger.db()
        offset = (page - 1) * catalog.PAGE_SIZE
        if parsed.runs:  # words of unspaced scripts: both indexes, the first hundreds only
            found = fulltext.search_parsed(
                db, parsed, limit=fulltext.MAX_RESULTS * 4, versions=False
            )
            every = catalog.rows_by_identifier(db, [h.identifier for h in found], {})
            facets = catalog.rows_facets(list(every.values()), filters, SEARCH_FACETS)
            known = catalog.rows_by_identifier(db, [h.identifier for h in found], filters)
            found = [h for h in found if h.identifier in known]
            hits, total = found[offset : offset + catalog.PAGE_SIZE], len(found)
        else:
            assert parsed.expression is not None
            matches = (
                fulltext.count_upto(db, parsed.expression, catalog.PROBE_LIMIT) if filters else None
            )
            hits, total = fulltext.search_counted(
                db,
                parsed.expression,
                limit=catalog.PAGE_SIZE,
                offset=offset,
                within=catalog.within(filters, db, matches),
                versions=False,  # catalog.with_versions below, for the whole page at once
                scores=False,  # the page shows the order, never the score
                at_most=matches if matches is not None and matches < catalog.PROBE_LIMIT else None,
            )
            known = catalog.rows_by_identifier(db, [h.identifier for h in hits], {})
            expression = parsed.expression
            facets = room.ledger.cached(
                "search-facets?" + urlencode(sorted({**filters, "q": expression}.items())),
                lambda db: catalog.search_facets(db, expression, filters, SEARCH_FACETS),
            )
        last = _pages(total, page)
        rows = [
            catalog.Row(**{**known[h.identifier].__dict__, "snippet": h.snippet})
            for h in hits
            if h.identifier in known
        ]
        rows = catalog.with_versions(db, rows)
        ranked = total <= fulltext.RANK_LIMIT
    elif page != 1:
        raise BadRequest("a page number needs a query")
    if facets is None:  # no query: the choices count the archive under the filters
        facets = room.ledger.cached(
            "search-facets?" + urlencode(sorted(filters.items())),
            lambda db: catalog.facets(db, filters, SEARCH_FACETS),
        )
    params = {**filters, **({"q": q} if q else {})}
    return room.page(
        "search.html",
        ranked=ranked,
        q=q or "",
        rows=rows,
        total=total,
        page=page,
        last=last,
        filters=filters,
        facets=facets,
        withdrawn=set(),
        link=lambda **c: _link("/search", params, **c),
    )


def _statement_context(room: Room, identifier: str) -> dict[str, Any]:
    db = room.ledger.db()
    row = catalog.get_row(db, identifier)
    bag = room.bag(identifier)
    if row is None or bag is None:
        raise HTTPException(404, "no statement has this identifier")
    record = bagview.record(bag) or {}
    files = bagview.files(bag)
    original_name = bagview.payload(files, "original")
    original_text = None
    if original_name:
        raw = bagview.read_file(bag, original_name, bagview.MAX_ORIGINAL_BYTES)
        if raw is not None:
            original_text = raw.decode("utf-8", errors="replace")
    versions = catalog.version_group(db, identifier)
    pdf_name = bagview.payload(files, "pdfa")
    pages = 0
    if pdf_name:
        key = _pdf_key(files, pdf_name)
        cached = room.images.known_count(key)
        if cached is not None:
            pages = cached
        else:
            pdf = bagview.read_file(bag, pdf_name, 256 << 20)
            pages = room.images.page_count(key, pdf) if pdf else 0
    return {
        "row": row,
        "record": record,
        "record_json": json.dumps(record, ensure_ascii=False, indent=2),
        "files": files,
        "original_text": original_text,
        "original_name": original_name,
        "pages": pages,
        "premis": bagview.premis_events(bag),
        "signatures": bagview.signatures(bag),
        "audits": catalog.audits(db, identifier),
        "versions": versions,
        "versions_withdrawn": catalog.withdrawn_identifiers(db, [v.identifier for v in versions]),
        "lang": row.language or record.get("language") or "und",
    }


def _pdf_key(files: list[bagview.BagFile], pdf_name: str) -> str:
    entry = next(f for f in files if f.path == pdf_name)
    digest = entry.digests.get("sha256") or next(iter(entry.digests.values()), pdf_name)
    return hashlib.sha256(f"{pdf_name}:{digest}".encode()).hexdigest()[:32]


async def statement(request: Request) -> Response:
    room: Room = request.app.state.room
    identifier = _identifier(request)
    db = room.ledger.db()
    row = catalog.get_row(db, identifier)
    if row is None:
        raise HTTPException(404, "no statement has this identifier")
    gone = catalog.withdrawal(db, identifier, row.state)
    if gone is not None:
        return room.page("gone.html", 410, row=row, withdrawal=gone)
    context = await run_in_threadpool(_statement_context, room, identifier)
    return room.page("statement.html", **context)


async def page_image(request: Request) -> Response:
    room: Room = request.app.state.room
    identifier = _identifier(request)
    number = int(request.path_params["page"])
    db = room.ledger.db()
    row = catalog.get_row(db, identifier)
    if row is None or catalog.withdrawal(db, identifier, row.state) is not None:
        raise HTTPException(404, "no statement has this identifier")

    def render() -> bytes | None:
        bag = room.bag(identifier)
        if bag is None:
            return None
        files = bagview.files(bag)
        pdf_name = bagview.payload(files, "pdfa")
        if pdf_name is None:
            return None
        key = _pdf_key(files, pdf_name)
        hit = room.images.cached(key, number)
        if hit is not None:
            return hit
        pdf = bagview.read_file(bag, pdf_name, 256 << 20)
        return None if pdf is None else room.images.render(key, pdf, number)

    png = await run_in_threadpool(render)
    if png is None:
        raise HTTPException(404, "no such page")
    return Response(png, media_type="image/png", headers={"cache-control": "max-age=86400"})


# --------------------------------------------------------------------------- downloads


def _download(room: Room, identifier: str, folder: str) -> tuple[int, int, str]:
    bag = room.bag(identifier)
    if bag is None:
        raise HTTPException(404, "no statement has this identifier")
    if folder == "metadata":
        name = "data/metadata/statement.json"
    else:
        found = bagview.payload(bagview.files(bag), folder)
        if found is None:
            raise HTTPException(404, f"this bag has no {folder} file")
        name = found
    opened = bagview.open_file(bag, name)
    if opened is None:
        raise HTTPException(404, f"{name} cannot be read as a regular file in the bag")
    return opened[0], opened[1], name.rsplit("/", 1)[-1]


def _live(request: Request, room: Room) -> str:
    identifier = _identifier(request)
    db = room.ledger.db()
    row = catalog.get_row(db, identifier)
    if row is None:
        raise HTTPException(404, "no statement has this identifier")
    if catalog.withdrawal(db, identifier, row.state) is not None:
        raise HTTPException(410, "this statement was withdrawn")
    return identifier


async def download(request: Request) -> Response:
    room: Room = request.app.state.room
    identifier = _live(request, room)
    kind = str(request.path_params["kind"])
    folder, media = {
        "copy.pdf": ("pdfa", "application/pdf"),
        "original.txt": ("original", "text/plain"),
        "metadata.json": ("metadata", "application/json"),
    }[kind]
    fd, size, name = await run_in_threadpool(_download, room, identifier, folder)
    disposition = "inline" if kind == "copy.pdf" else "attachment"
    return StreamingResponse(
        bagview.stream_fd(fd),
        media_type=media,
        headers={
            "content-length": str(size),
            "content-disposition": f'{disposition}; filename="{name}"',
        },
    )


class _QueueWriter:
    """A write-only file that hands chunks to the response (bounded: the writer waits)."""

    def __init__(self, chunks: queue.Queue[bytes | BaseException | None]) -> None:
        self.chunks = chunks
        self.closed_by_client = False
        self.position = 0

    def tell(self) -> int:  # tarfile asks; zipfile then finds no seek and streams
        return self.position

    def write(self, data: bytes) -> int:
        if self.closed_by_client:
            raise BrokenPipeError("the client went away")
        if data:
            self.chunks.put(bytes(data))
            self.position += len(data)
        return len(data)

    def flush(self) -> None:
        pass


async def bag_archive(request: Request) -> Response:
    """The bag as tar or zip, written by preserve.export's serializer as it is sent."""
    from preserve import export
    from preserve.export import serialize

    room: Room = request.app.state.room
    identifier = _live(request, room)
    fmt = (
        export.ExportFormat.zip if request.path_params["fmt"] == "zip" else export.ExportFormat.tar
    )
    bag = room.bag(identifier)
    if bag is None:
        raise HTTPException(404, "no statement has this identifier")
    try:
        top = serialize._check_bag_dir(bag)
        members = list(serialize._members(bag, top))
    except InputError as exc:
        raise HTTPException(409, exc.one_line()) from None
    mtime = serialize._stamp(bag)
    chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=16)
    writer = _QueueWriter(chunks)

    def produce() -> None:
        try:
            serialize._write(writer, fmt, members, mtime)  # type: ignore[arg-type]
            chunks.put(None)
        except BaseException as exc:  # handed to the response, which ends the stream
            chunks.put(exc)

    async def body() -> AsyncIterator[bytes]:
        thread = threading.Thread(target=produce, daemon=True)
        thread.start()
        try:
            while True:
                item = await asyncio.to_thread(chunks.get)
                if item is None:
                    return
                if isinstance(item, BaseException):
                    return  # the archive is cut short: a client sees an incomplete file
                yield item
        finally:
            writer.closed_by_client = True
            while thread.is_alive():
                try:
                    chunks.get_nowait()
                except queue.Empty:
                    await asyncio.sleep(0.01)

    return StreamingResponse(
        body(),
        media_type=fmt.mime,
        headers={"content-disposition": f'attachment; filename="{identifier}{fmt.suffix}"'},
    )


# --------------------------------------------------------------------------- audit, OAI


def audit_page(request: Request) -> Response:
    room: Room = request.app.state.room
    minute = time.strftime("%Y-%m-%dT%H:%M")  # "the last 30 days" moves on with the clock
    board = room.ledger.cached("dashboard", catalog.dashboard, key=minute)
    return room.page("audit.html", board=board, svg=Markup(chart.weekly_bars(board.weeks)))


async def oai_endpoint(request: Request) -> Response:
    room: Room = request.app.state.room
    if request.method == "POST":
        body = (await request.body())[: 64 << 10].decode("utf-8", errors="replace")
        args = parse_qs(body, keep_blank_values=True)
    else:
        args = parse_qs(request.url.query, keep_blank_values=True)
    base = str(request.url.replace(query="", fragment=""))
    repo = oai.Repository(room.config.repository_name, base, room.config.admin_email)

    def load(identifier: str, relative: str) -> dict[str, Any] | None:
        bag = bagview.bag_dir(room.archive, relative) if relative else room.bag(identifier)
        return None if bag is None else bagview.record(bag)

    def page_url(identifier: str) -> str:
        return str(request.url.replace(path=f"/statements/{identifier}", query="", fragment=""))

    def build() -> bytes:
        return oai.respond(room.ledger.db(), repo, args, load, page_url)

    xml = await run_in_threadpool(build) if "Records" in request.url.query else build()
    return Response(
        xml,
        media_type="text/xml; charset=utf-8",
        headers={"content-security-policy": OAI_CSP},
    )


# --------------------------------------------------------------------------- errors


def exception_handlers(room: Room) -> dict[Any, Any]:
    async def bad_request(request: Request, exc: Exception) -> Response:
        return room.page("error.html", 400, status=400, title="Bad request", message=str(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        titles = {404: "Not found", 405: "Method not allowed", 410: "Withdrawn"}
        return room.page(
            "error.html",
            exc.status_code,
            status=exc.status_code,
            title=titles.get(exc.status_code, "Error"),
            message=exc.detail,
        )

    return {BadRequest: bad_request, HTTPException: http_error}


def routes(room: Room) -> list[Route | Mount]:
    ident = "{identifier:str}"
    return [
        Route("/", browse),
        Route("/search", search_page),
        Route("/audit", audit_page),
        Route("/oai", oai_endpoint, methods=["GET", "POST"]),
        Route(f"/statements/{ident}", statement),
        Route(f"/statements/{ident}/pages/{{page:int}}.png", page_image),
        Route(f"/statements/{ident}/bag.{{fmt:str}}", bag_archive_route),
        Route(f"/statements/{ident}/{{kind:str}}", download_route),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]


async def bag_archive_route(request: Request) -> Response:
    if request.path_params["fmt"] not in ("tar", "zip"):
        raise HTTPException(404, "bags are offered as bag.tar and bag.zip")
    return await bag_archive(request)


async def download_route(request: Request) -> Response:
    if request.path_params["kind"] not in ("copy.pdf", "original.txt", "metadata.json"):
        raise HTTPException(404, "no such download")
    return await download(request)
