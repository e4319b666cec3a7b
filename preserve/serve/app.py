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
import json
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from preserve import ledger
from preserve.errors import ArchiveError, PreserveError

MAX_QUERY_STRING = 2048
CSP = (
    "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none';"
    " form-action 'self'; frame-ancestors 'none'; img-src 'self'; style-src 'self'"
)
#: OAI-PMH answers are XML that a person may open too: browsers show it as a tree only
#: with inline styles, so those are allowed; nothing else loads and no script runs.
OAI_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none';"
    " frame-ancestors 'none'"
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
        ready = db.execute(
            "SELECT count(*) FROM sqlite_master WHERE name IN"
            " ('catalog', 'facet_counts', 'audit_weeks', 'statements_unspaced')"
        ).fetchone()[0]
    finally:
        db.close()
    if ready != 4:
        raise ArchiveError(
            "the ledger predates the reading room (no catalog): run any writing command "
            "once (e.g. 'preserve audit ARCHIVE --limit 1') to bring it up to date",
            config.archive,
        )


T = TypeVar("T")
#: Values kept by :meth:`Ledger.cached` (the least recently used go first).
MEMO_ENTRIES = 256


class Ledger:
    """One read-only connection per thread (SQLite connections are not shared), and
    one process-wide memo of values kept until the ledger changes."""

    def __init__(self, archive: Path) -> None:
        self.archive = archive
        self._local = threading.local()
        self._memo: OrderedDict[str, tuple[object, Any]] = OrderedDict()
        self._memo_lock = threading.Lock()
        self._watch: sqlite3.Connection | None = None

    def db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = ledger.connect(self.archive, readonly=True)
            db.execute("PRAGMA query_only = ON")
            self._local.db = db
        return db

    def _data_version(self) -> int:
        """``PRAGMA data_version`` of one connection kept for the purpose (asked under
        ``_memo_lock``): it changes whenever another connection, in any process, commits."""
        if self._watch is None:
            ledger.connect(self.archive, readonly=True).close()  # checks it is a ledger
            uri = ledger.ledger_path(self.archive).resolve().as_uri()
            try:
                watch = sqlite3.connect(
                    f"{uri}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
                )
                watch.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.OperationalError:  # read-only storage: nothing can change it
                watch = sqlite3.connect(
                    f"{uri}?immutable=1", uri=True, check_same_thread=False, isolation_level=None
                )
            watch.execute("PRAGMA query_only = ON")
            self._watch = watch
        return int(self._watch.execute("PRAGMA data_version").fetchone()[0])

    def cached(
        self, name: str, compute: Callable[[sqlite3.Connection], T], key: Hashable = None
    ) -> T:
        """``compute(db)``, kept until the ledger changes or ``key`` does.

        A change is any commit by another connection, in any process (an ingest or an
        audit while the room is open): SQLite's ``PRAGMA data_version`` of one watching
        connection. The memo is shared by the process's threads, so a value (facet
        counts under a filter set: up to 40 ms at 100,000 statements) is computed once
        per process and change, not once per thread of the pool. What is shown is never
        older than the ledger: a value is stamped with the version read before it was
        computed.
        """
        with self._memo_lock:
            stamp = (self._data_version(), key)
            hit = self._memo.get(name)
            if hit is not None and hit[0] == stamp:
                self._memo.move_to_end(name)
                return hit[1]  # type: ignore[no-any-return]
        value = compute(self.db())  # outside the lock: other pages go on meanwhile
        with self._memo_lock:
            self._memo[name] = (stamp, value)
            self._memo.move_to_end(name)
            while len(self._memo) > MEMO_ENTRIES:  # names can come from requests: bounded
                self._memo.popitem(last=False)
        return value


class Guard:
    """Security headers on every response; access control; bounded query strings.

    Plain ASGI (not BaseHTTPMiddleware, which costs a task and a stream per request).
    """

    def __init__(self, app: ASGIApp, config: ServeConfig) -> None:
        self.app = app
        self.token = config.token
        self.basic = config.basic
        self.headers = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    def _allowed(self, scope: Scope) -> bool:
        if not (self.token or self.basic):
            return True
        given = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        if self.token and hmac.compare_digest(given, f"Bearer {self.token}".encode()):
            return True
        if self.basic:
            expected = "Basic " + base64.b64encode(self.basic.encode()).decode()
            return hmac.compare_digest(given, expected.encode())
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *((k, v) for k, v in self.headers if k not in present),
                ]
            await send(message)

        if not self._allowed(scope):
            challenge = 'Basic realm="reading room"' if self.basic else "Bearer"
            response: Response = PlainTextResponse(
                "authentication required\n", 401, headers={"www-authenticate": challenge}
            )
        elif len(scope.get("query_string", b"")) > MAX_QUERY_STRING:
            response = PlainTextResponse(
                f"the query string is longer than {MAX_QUERY_STRING} bytes\n", 400
            )
        else:
            await self.app(scope, receive, send_with_headers)
            return
        await response(scope, receive, send_with_headers)


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


#: How ``run`` hands the configuration to worker processes (uvicorn starts them fresh).
CONFIG_ENV = "PRESERVE_SERVE_CONFIG"


def app_from_environment() -> Starlette:
    """The application for a uvicorn worker process, from :data:`CONFIG_ENV`."""
    raw = json.loads(os.environ[CONFIG_ENV])
    cache = raw.pop("cache_dir")
    return create_app(
        ServeConfig(
            **{**raw, "archive": Path(raw["archive"]), "cache_dir": Path(cache) if cache else None}
        )
    )


def run(config: ServeConfig, app: Starlette | None = None, *, workers: int = 1) -> None:
    """Serve until interrupted: uvicorn, in ``workers`` processes (one per core scales)."""
    import uvicorn

    from preserve.serve.protocol import fastest_protocol

    options: dict[str, Any] = {
        "host": config.host,
        "port": config.port,
        "log_level": "warning",
        "server_header": False,
        "proxy_headers": False,
        "limit_concurrency": 256,
        "http": fastest_protocol(),
    }
    if workers > 1:
        fields = {k: str(v) if isinstance(v, Path) else v for k, v in config.__dict__.items()}
        os.environ[CONFIG_ENV] = json.dumps(fields)
        uvicorn.run(
            "preserve.serve.app:app_from_environment", factory=True, workers=workers, **options
        )
        return
    uvicorn.run(app or create_app(config), **options)
