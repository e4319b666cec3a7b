"""An ssh target's address and what its failures mean, in one line each."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from preserve.replicas.base import ReplicaError


def _ssh_failure(stderr: bytes) -> str:
    """One line for an ssh that did not connect. A host key that does not match the
    known_hosts entry is said plainly: it may be another machine answering."""
    err = stderr.decode("utf-8", "replace")
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in err or "Host key verification failed" in err:
        return (
            "refused: the host's key is not the one in known_hosts (changed, or never"
            " recorded); nothing was sent. Check the host, then update known_hosts"
        )
    why = err.strip().splitlines()
    return f"unreachable: {why[-1] if why else 'ssh failed'}"


class _Full(ReplicaError):
    """rsync stopped: the remote disk is full."""


@dataclass(frozen=True)
class SshUrl:
    user: str | None
    host: str
    port: int | None
    path: str


def parse_ssh_url(url: str) -> SshUrl:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise ReplicaError(f"not a valid ssh:// URL (bad port): {url}") from None
    if parts.scheme != "ssh" or not parts.hostname or not parts.path or parts.path == "/":
        raise ReplicaError(f"not a valid target URL (ssh://user@host[:port]/path): {url}")
    return SshUrl(parts.username, parts.hostname, port, unquote(parts.path))
