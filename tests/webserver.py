"""A real HTTP server on 127.0.0.1 for the capture tests, serving invented pages.

Each route answers with a status, header lines written exactly as given (odd
spacing and case included, so the tests can check the WARC keeps them byte for
byte), a body and an optional delay before answering. It records every request
it receives. Nothing but 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    status: int = 200
    #: Header lines as written on the wire, without the line end.
    headers: tuple[str, ...] = ("Content-Type: text/html; charset=utf-8",)
    body: bytes = b""
    delay: float = 0.0
    reason: str | None = None
    #: Send ``body`` as it is, with no Content-Length (for a chunked answer).
    raw: bool = False


@dataclass
class Site:
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[float, str, dict[str, str]]] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


class _Handler(BaseHTTPRequestHandler):
    site: Site
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.site.requests.append((time.monotonic(), self.path, dict(self.headers.items())))
        route = self.site.routes.get(self.path)
        if route is None:
            route = Route(404, ("Content-Type: text/html",), b"<html><body>Not here</body></html>")
        if route.delay:
            time.sleep(route.delay)
        reason = route.reason or self.responses.get(route.status, ("",))[0]
        head = f"HTTP/1.0 {route.status} {reason}\r\n"
        head += "".join(line + "\r\n" for line in route.headers)
        if not route.raw:
            head += f"Content-Length: {len(route.body)}\r\n"
        head += "\r\n"
        with suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(head.encode("latin-1") + route.body)


@contextmanager
def serve(site: Site) -> Iterator[Site]:
    handler = type("Handler", (_Handler,), {"site": site})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def page(
    title: str,
    paragraphs: list[str],
    *,
    signer: str = "Anna Example",
    role: str = "Head of the City Library",
    date: str = "12 March 2024",
    extra: str = "",
    head: str = "",
    charset: str | None = "utf-8",
) -> str:
    """An invented statement page with site chrome around the article."""
    meta = f'<meta charset="{charset}">' if charset else ""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!DOCTYPE html>\n<html lang='en'><head>{meta}<title>{title} | City Office</title>"
        f"{head}</head><body>"
        "<header><nav><ul><li><a href='/'>Home</a></li><li><a href='/news'>News</a></li>"
        "<li><a href='/contacts'>Contacts</a></li></ul></nav></header>"
        f"<main><article><h1>{title}</h1><p class='date'>{date}</p>{body}{extra}"
        f"<p>{signer}<br>{role}</p></article>"
        "<div class='share'>Share this page: <a>Facebook</a> <a>Telegram</a> <a>Print</a></div>"
        "</main><footer><p>Opening hours of the office: 9:00 to 18:00</p>"
        "<p>Views: 4321</p></footer></body></html>"
    )
