"""RFC 3161 trusted timestamps: ask a time-stamping authority (TSA), check its answer.

A timestamp proves that some bytes existed at a moment, on the word of a TSA
whose certificate chain the verifier trusts. We store the TSA's whole answer
(a DER ``TimeStampResp``, the ``.tsr`` file ``openssl ts -reply`` writes), so
it can be checked without ``preserve``::

    openssl ts -verify -data FILE -in FILE.tsr -CAfile tsa-root.pem

Requests carry a SHA-256 message imprint, a random nonce and ask for the TSA's
certificate. Parsing and the CMS/chain verification are ``rfc3161-client``'s
(Trail of Bits, used by sigstore); this module adds the HTTP exchange and the
problem codes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import http.client
import re
import socket
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from preserve.bagit_format import Problem, Severity
from preserve.errors import TimestampError
from preserve.fsio import RefusedFile, read_limited

#: A bundle of TSA root certificates is a few hundred KB at most.
_MAX_ROOTS_BYTES = 16 << 20

#: Where an archive keeps the root certificates of the TSAs it trusts.
TRUSTED_TSA_DIR = "trusted-tsa"
#: A TSA answer larger than this is refused (real ones are a few kilobytes).
MAX_RESPONSE_BYTES = 1 << 20
DEFAULT_TIMEOUT_SECONDS = 30.0

_HASHES = {
    "2.16.840.1.101.3.4.2.1": hashlib.sha256,
    "2.16.840.1.101.3.4.2.2": hashlib.sha384,
    "2.16.840.1.101.3.4.2.3": hashlib.sha512,
}


@dataclass(frozen=True)
class Timestamp:
    """A parsed TSA answer: its DER bytes and the time it vouches for."""

    der: bytes
    gen_time: dt.datetime
    serial: int


def request_timestamp(
    url: str, data: bytes, *, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> Timestamp:
    """Ask the TSA at ``url`` to timestamp ``data``; check the answer is for our request.

    ``timeout`` bounds the whole exchange (connecting, sending, the answer's headers
    and body), not each read: a TSA that drips one byte a second is cut off in time.
    The chain of trust is not checked here (that is the verifier's job, with the
    trust store the user names); the imprint and the nonce are, so what is stored
    is always an answer to this request. Raises :class:`TimestampError`.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise TimestampError(f"TSA URL must be http:// or https://, not {url!r}")
    request = (
        TimestampRequestBuilder()
        .data(data)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    body = _post(parts, request.as_bytes(), timeout)
    if len(body) > MAX_RESPONSE_BYTES:
        raise TimestampError(f"TSA {url} answered more than {MAX_RESPONSE_BYTES} bytes")
    try:
        response = decode(body)
        status = response.status
    except Exception as exc:  # the parser raises its own types for every kind of garbage
        raise TimestampError(f"TSA {url} did not answer with a timestamp: {exc}") from None
    if status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        detail = "; ".join(response.status_string) or f"status {status}"
        raise TimestampError(f"TSA {url} refused the request: {detail}")
    info = response.tst_info
    if info.message_imprint.message != request.message_imprint.message:
        raise TimestampError(f"TSA {url} timestamped other data than was asked")
    if request.nonce is not None and info.nonce != request.nonce:
        raise TimestampError(f"TSA {url} answered with another request's nonce")
    return Timestamp(body, info.gen_time, info.serial_number)


def _post(url: urllib.parse.SplitResult, query: bytes, timeout: float) -> bytes:
    """POST a timestamp query; the TSA's answer body, all within ``timeout`` seconds.

    A timer shuts the socket down when the time is up, which ends any read still
    waiting (http.client's own timeout applies to each read, so a slow drip of
    header lines or body bytes would otherwise never end).
    """
    name = url.geturl()
    connection_type = (
        http.client.HTTPSConnection if url.scheme.lower() == "https" else http.client.HTTPConnection
    )
    try:
        connection = connection_type(url.hostname or "", url.port, timeout=timeout)
    except ValueError as exc:  # a port that is not a number
        raise TimestampError(f"TSA URL {name!r} is not valid: {exc}") from None
    expired = threading.Event()
    opened: list[socket.socket] = []

    def cut_off() -> None:
        expired.set()
        for sock in opened:  # the connection drops its own reference after HTTP/1.0 answers
            with contextlib.suppress(OSError):  # already closed: the exchange is over
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(timeout, cut_off)
    timer.daemon = True
    timer.start()
    try:
        connection.connect()
        if connection.sock is not None:
            opened.append(connection.sock)
        if expired.is_set():  # the time ran out while connecting
            raise TimeoutError
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        connection.request(
            "POST",
            path,
            body=query,
            headers={
                "Content-Type": "application/timestamp-query",
                "Accept": "application/timestamp-reply",
                "User-Agent": "preserve",
            },
        )
        answer = connection.getresponse()
        body = answer.read(MAX_RESPONSE_BYTES + 1)
        if answer.status != 200:
            raise TimestampError(f"TSA {name} answered HTTP {answer.status} {answer.reason}")
    except (OSError, http.client.HTTPException) as exc:
        if expired.is_set():
            raise TimestampError(f"TSA {name} did not answer within {timeout:g} s") from None
        raise TimestampError(f"TSA {name} unreachable: {exc}") from None
    finally:
        timer.cancel()
        connection.close()
    if expired.is_set():
        raise TimestampError(f"TSA {name} did not answer within {timeout:g} s")
    return body


def load_roots(paths: Sequence[Path]) -> list[x509.Certificate]:
    """Trusted TSA root certificates from PEM files (bundles allowed) or folders of them."""
    roots: list[x509.Certificate] = []
    for path in paths:
        named = not path.is_dir()
        files = [path] if named else sorted([*path.glob("*.pem"), *path.glob("*.crt")])
        for file in files:
            try:
                # fsio's one rule: a FIFO never hangs; links only when the operator named one.
                pem = read_limited(file, _MAX_ROOTS_BYTES, follow=named)
                roots += x509.load_pem_x509_certificates(pem)
            except RefusedFile as exc:
                raise TimestampError(exc.reason, file) from None
            except OSError as exc:
                raise TimestampError(f"cannot read: {exc.strerror or exc}", file) from None
            except ValueError as exc:
                raise TimestampError(f"not a PEM certificate file: {exc}", file) from None
    return roots


def check_timestamp(
    der: bytes,
    data: bytes,
    roots: Sequence[x509.Certificate] | None,
    *,
    path: str = "",
) -> Iterator[Problem]:
    """Problems with a stored TSA answer over ``data`` (none when it is good).

    Codes: ``timestamp.malformed``, ``timestamp.not-granted``,
    ``timestamp.imprint-mismatch`` (a timestamp over other bytes),
    ``timestamp.untrusted`` (bad CMS signature, or a chain that does not lead to
    ``roots``) and the warning ``timestamp.no-trust`` when no roots were given.
    """
    try:
        response = decode(der)
        status = response.status
    except Exception as exc:  # any parse failure is a malformed file, never a crash
        yield Problem("timestamp.malformed", path, f"not an RFC 3161 TimeStampResp: {_reason(exc)}")
        return
    if status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        yield Problem("timestamp.not-granted", path, f"the TSA did not grant it (status {status})")
        return
    try:
        info = response.tst_info
        imprint = info.message_imprint
        algorithm = imprint.hash_algorithm.dotted_string
        when = info.gen_time
    except Exception as exc:  # a granted answer without a readable token
        yield Problem("timestamp.malformed", path, f"unreadable token: {_reason(exc)}")
        return
    hasher = _HASHES.get(algorithm)
    if hasher is None:
        yield Problem("timestamp.malformed", path, f"unsupported imprint algorithm {algorithm}")
        return
    digest = hasher(data).digest()
    if imprint.message != digest:
        yield Problem(
            "timestamp.imprint-mismatch",
            path,
            "the timestamp is over other data than the file beside it",
        )
        return
    if not roots:
        yield Problem(
            "timestamp.no-trust",
            path,
            f"timestamp of {_iso(when)} matches, but no trusted TSA certificate was given "
            "to check who issued it",
            Severity.warning,
        )
        return
    yield from _check_chain(response, digest, roots, path, when)


def _check_chain(
    response: TimeStampResponse,
    digest: bytes,
    roots: Sequence[x509.Certificate],
    path: str,
    when: dt.datetime,
) -> Iterator[Problem]:
    builder = VerifierBuilder()
    for root in dict.fromkeys(roots):
        builder = builder.add_root_certificate(root)
    try:
        builder.build().verify(response, digest)
    except VerificationError as exc:
        yield Problem(
            "timestamp.untrusted",
            path,
            f"timestamp of {_iso(when)} does not verify against the trusted TSA "
            f"certificates: {_reason(exc)}",
        )
    except Exception as exc:  # fail closed on anything the verifier could not handle
        yield Problem("timestamp.untrusted", path, f"cannot be verified: {_reason(exc)}")


#: A Rust ``Debug`` rendering (``ParseError { kind: ShortData { needed: 1 } }``) at the
#: end of a cryptography/rfc3161-client message: an internal repr, not for people.
_RUST_DEBUG = re.compile(r":?\s*[A-Z]\w*\s*[{(].*\Z", re.DOTALL)


def _reason(exc: BaseException) -> str:
    """An exception's message as one short line for a report, without library reprs."""
    text = _RUST_DEBUG.sub("", str(exc)).strip().splitlines()
    line = text[0] if text else ""
    return (line[:200] or type(exc).__name__.lower()).rstrip(":")


def _iso(when: dt.datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def gen_time(der: bytes) -> str | None:
    """The time a stored answer vouches for (ISO 8601, UTC), or None if unreadable."""
    try:
        return _iso(decode(der).tst_info.gen_time)
    except Exception:  # only for display; check_timestamp reports the problem
        return None


# --------------------------------------------------------------------------- DER


def decode(der: bytes) -> TimeStampResponse:
    """Parse a TSA answer, tolerating the one liberty OpenSSL takes with DER.

    OpenSSL (``openssl ts -reply``, and the many TSAs built on it) writes the
    CMS ``certificates`` SET OF in the order the certificates were given, not in
    the sorted order DER requires, and ``rfc3161-client`` parses strictly. The
    certificates are not covered by the TSA's signature, so we sort them in a
    copy before parsing; same length, so no enclosing length changes. The stored
    file keeps the TSA's bytes.
    """
    return decode_timestamp_response(_sort_certificates(der))


def _tlv(data: bytes, at: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the DER element at ``at``."""
    if at + 2 > len(data):
        raise ValueError("truncated")
    tag = data[at]
    if tag & 0x1F == 0x1F:
        raise ValueError("high tag numbers are not expected here")
    first = data[at + 1]
    at += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or at + count > len(data):
            raise ValueError("indefinite or oversized length")
        length = int.from_bytes(data[at : at + count], "big")
        at += count
    if at + length > len(data):
        raise ValueError("truncated")
    return tag, at, at + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, element start, contents start, element end) of each element in a range."""
    out = []
    at = start
    while at < end:
        tag, body, stop = _tlv(data, at)
        out.append((tag, at, body, stop))
        at = stop
    return out


def _sort_certificates(der: bytes) -> bytes:
    """``der`` with SignedData.certificates in DER order; unchanged if not found."""
    try:
        _, body, end = _tlv(der, 0)  # TimeStampResp
        parts = _children(der, body, end)
        if len(parts) < 2:
            return der
        _, _, token_body, token_end = parts[1]  # timeStampToken: ContentInfo
        info = _children(der, token_body, token_end)
        if len(info) < 2 or info[1][0] != 0xA0:
            return der
        signed = _children(der, info[1][2], info[1][3])  # [0] EXPLICIT SignedData
        if not signed or signed[0][0] != 0x30:
            return der
        for tag, _, cert_body, cert_end in _children(der, signed[0][2], signed[0][3]):
            if tag == 0xA0:  # certificates [0] IMPLICIT SET OF
                certs = [der[a:b] for _, a, _, b in _children(der, cert_body, cert_end)]
                ordered = b"".join(sorted(certs))
                return der[:cert_body] + ordered + der[cert_end:]
    except ValueError:
        pass
    return der
