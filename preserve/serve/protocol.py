"""uvicorn's HTTP/1.1 protocol with Nagle's algorithm off on every connection.

asyncio turns Nagle off only for sockets it knows are TCP; the listening socket
uvicorn shares with its worker processes does not say so, and each small
response then waited ~40 ms for the client's delayed ACK (measured with
``--workers 2``: 2 ms pages became 44 ms). A module of its own, so that worker
processes can import the class and the rest of the package never imports uvicorn.

The parser is httptools (llhttp, in C) where it is installed: h11, in pure
Python, cost ~0.25 ms of CPU per request, a sixth of a browse page's.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol


def _no_delay(transport: Any) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):  # not a TCP socket after all
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayH11Protocol(H11Protocol):
    """H11Protocol that sets TCP_NODELAY when a TCP connection is made."""

    def connection_made(self, transport: Any) -> None:
        _no_delay(transport)
        super().connection_made(transport)


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is not installed
    FASTEST: type[Any] = NoDelayH11Protocol
else:

    class NoDelayHttpToolsProtocol(HttpToolsProtocol):
        """HttpToolsProtocol that sets TCP_NODELAY when a TCP connection is made.

        At module level, so that uvicorn's worker processes can unpickle it.
        """

        def connection_made(self, transport: Any) -> None:
            _no_delay(transport)
            super().connection_made(transport)

    FASTEST = NoDelayHttpToolsProtocol


def fastest_protocol() -> type[Any]:
    """The httptools protocol with Nagle off, or h11's where httptools is absent."""
    return FASTEST
