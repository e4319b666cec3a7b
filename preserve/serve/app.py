"""The reading room's application: configuration, security headers, access, startup.

Safe by construction: the ledger is opened read-only (``mode=ro``), a URL names
a statement only by an identifier looked up in the ledger, every response
carries a strict Content-Security-Policy (no script at all, nothing from another
host), and a bind beyond the loopback interface requires a credential.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from preserve import ledger
from preserve.errors import ArchiveError, PreserveError

#: The schema the reading room reads (ledger migration 4: catalog, facets, trigram index).
NEEDS_LEDGER_VERSION = 4
MAX_QUERY_STRING = 2048
CSP = (
    "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none';"
    " form-action 'self'; frame-ancestors 'none'; img-src 'self'; style-src 'self'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}


class ServeRefused(PreserveError):
    """A configuration the reading room will not run with (exit 2: could not run)."""


@dataclass(frozen=True)
class ServeConfig:
    """How the reading room runs."""

    archive: Path
    host: str = "127.0.0.1"
    port: int = 8000
    #: A bearer token, or ``user:password`` for HTTP basic auth; None: open.
    token: str | None = None
    basic: str | None = None
    repository_name: str = "preserve reading room"
    admin_email: str = "archive@localhost"
    cache_dir: Path | None = None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_config(config: ServeConfig) -> None:
    """Refuse what would expose the archive by accident (exit 2, one line)."""
    if not is_loopback(config.host) and not (config.token or config.basic):
        raise ServeRefused(
            f"--host {config.host} listens beyond this machine: give --token or --basic "
            "(or bind to 127.0.0.1)"
        )
    if config.basic is not None and ":" not in config.basic:
        raise ServeRefused("--basic takes USER:PASSWORD")
    db = ledger.connect(config.archive, readonly=True)
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        db.close()
    if version < NEEDS_LEDGER_VERSION:
        raise ArchiveError(
            f"the ledger is at schema {version}; the reading room needs "
            f"{NEEDS_LEDGER_VERSION}: run any writing command once (e.g. 'preserve audit "
            "ARCHIVE --limit 1') to bring it up to date",
            config.archive,
        )


class Ledger:
    """One read-only connection per thread (SQLite connections are not shared)."""

    def __init__(self, archive: Path) -> None:
        self.archive = archive
        self._local = threading.local()

    def db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = ledger.connect(self.archive, readonly=True)
            db.execute("PRAGMA query_only = ON")
            self._local.db = db
        return db


class Guard(BaseHTTPMiddleware):
    """Security headers on every response; access control; bounded query strings."""

    def __init__(self, app: Any, config: ServeConfig) -> None:
        super().__init__(app)
        self.token = config.token
        self.basic = config.basic

    def _allowed(self, request: Request) -> bool:
        if not (self.token or self.basic):
            return True
        given = request.headers.get("authorization", "")
        if self.token and hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
            return True
        if self.basic:
            expected = "Basic " + base64.b64encode(self.basic.encode()).decode()
            return hmac.compare_digest(given.encode(), expected.encode())
        return False

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if not self._allowed(request):
            response: Response = PlainTextResponse("authentication required\n", 401)
            if self.basic:
                response.headers["www-authenticate"] = 'Basic realm="reading room"'
            else:
                response.headers["www-authenticate"] = "Bearer"
        elif len(request.scope.get("query_string", b"")) > MAX_QUERY_STRING:
            response = PlainTextResponse(
                f"the query string is longer than {MAX_QUERY_STRING} bytes\n", 400
            )
        else:
            response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response


def create_app(config: ServeConfig) -> Starlette:
    """The ASGI application over ``config.archive`` (checked: ledger present and current)."""
    from preserve.serve.routes import Room, exception_handlers, routes

    archive = config.archive.absolute()
    config = ServeConfig(**{**config.__dict__, "archive": archive})
    check_config(config)
    room = Room(config, Ledger(archive))
    app = Starlette(
        routes=routes(room),
        middleware=[Middleware(Guard, config=config)],
        exception_handlers=exception_handlers(room),
    )
    app.state.room = room
    return app


def run(config: ServeConfig, app: Starlette | None = None) -> None:
    """Serve until interrupted (uvicorn, one process)."""
    import uvicorn

    app = app or create_app(config)
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        log_level="warning",
        server_header=False,
        proxy_headers=False,
        limit_concurrency=256,
    )
