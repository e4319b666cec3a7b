"""A time-stamping authority cannot keep `sign --tsa` waiting past its deadline (D20).

The servers here answer on 127.0.0.1 one byte at a time: each read succeeds long
before a per-read timeout, so only a deadline on the whole exchange stops them.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from preserve.errors import TimestampError
from preserve.timestamps import request_timestamp

HEADERS = b"HTTP/1.0 200 OK\r\nContent-Type: application/timestamp-reply\r\n"


@contextmanager
def drip_server(prefix: bytes, drip: bytes) -> Iterator[str]:
    """Answer each connection with ``prefix`` at once, then ``drip`` a byte every 0.1 s."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(0.2)
                try:
                    conn.recv(65536)
                    conn.sendall(prefix)
                    for byte in drip:
                        if stop.is_set():
                            break
                        conn.sendall(bytes([byte]))
                        time.sleep(0.1)
                except OSError:
                    continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/tsa"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


@pytest.mark.parametrize(
    ("prefix", "drip"),
    [
        (b"", HEADERS + b"X-Slow: " + b"a" * 400),  # the headers never end
        (HEADERS + b"Content-Length: 1000\r\n\r\n", b"\x30" * 1000),  # nor does the body
    ],
    ids=["headers", "body"],
)
def test_a_dripping_tsa_is_cut_off_at_the_deadline(prefix: bytes, drip: bytes) -> None:
    with drip_server(prefix, drip) as url:
        started = time.monotonic()
        with pytest.raises(TimestampError, match="did not answer within 1 s"):
            request_timestamp(url, b"signature bytes", timeout=1.0)
        assert time.monotonic() - started < 3.0


def test_an_http_error_is_one_line() -> None:
    answer = b"HTTP/1.0 503 Busy\r\nContent-Length: 0\r\n\r\n"
    with (
        drip_server(answer, b"") as url,
        pytest.raises(TimestampError, match="answered HTTP 503 Busy"),
    ):
        request_timestamp(url, b"signature bytes", timeout=5.0)
