"""A real RFC 3161 time-stamping authority on 127.0.0.1, made of ``openssl ts -reply``.

Each test run makes a throwaway CA and a TSA certificate (extended key usage
timeStamping, critical) with ``cryptography``, writes an ``openssl ts`` config,
and serves POSTed requests through ``openssl ts -reply`` from a tiny HTTP server
in a thread on an ephemeral loopback port. Nothing leaves the machine.
"""

from __future__ import annotations

import datetime as dt
import http.server
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

OPENSSL = shutil.which("openssl")


def require_openssl() -> str:
    if OPENSSL is None:
        pytest.skip("openssl is not installed: the local TSA and the openssl checks need it")
    return OPENSSL


@dataclass(frozen=True)
class Authority:
    """A CA certificate and key, and where its PEM file is."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    pem: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "preserve tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_ca(folder: Path, common_name: str = "Throwaway Test Root CA") -> Authority:
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = folder / "ca.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Authority(cert, key, pem)


def make_tsa_cert(folder: Path, ca: Authority) -> tuple[Path, Path]:
    """A TSA certificate issued by ``ca``; returns (cert PEM, key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Throwaway Test TSA"))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    cert_path, key_path = folder / "tsa.pem", folder / "tsa.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(_pem(key))
    key_path.chmod(0o600)
    return cert_path, key_path


CONFIG = """\
[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
serial = {dir}/serial
crypto_device = builtin
signer_cert = {dir}/tsa.pem
certs = {dir}/ca.pem
signer_key = {dir}/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
other_policies = 1.2.3.4.5
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


class Mode(Enum):
    """How the server answers: a real timestamp, or one of the ways a TSA goes wrong."""

    good = "good"
    garbage = "garbage"
    http_error = "http-error"


@dataclass
class LocalTSA:
    url: str
    ca: Authority
    folder: Path
    mode: Mode = Mode.good
    requests: int = 0


@contextmanager
def local_tsa(folder: Path) -> Iterator[LocalTSA]:
    """Run a TSA on 127.0.0.1 until the block ends; ``tsa.ca.pem`` is its trust root."""
    openssl = require_openssl()
    folder.mkdir(parents=True, exist_ok=True)
    ca = make_ca(folder)
    make_tsa_cert(folder, ca)
    (folder / "serial").write_text("01\n")
    config = folder / "tsa.cnf"
    config.write_text(CONFIG.format(dir=folder))
    lock = threading.Lock()
    state = LocalTSA("", ca, folder)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            query = self.rfile.read(length)
            with lock:
                state.requests += 1
                n = state.requests
                if state.mode is Mode.http_error:
                    self.send_error(503, "TSA out of service")
                    return
                if state.mode is Mode.garbage:
                    body = b"<html>this is not a timestamp</html>"
                else:
                    qfile, rfile = folder / f"q{n}.tsq", folder / f"r{n}.tsr"
                    qfile.write_bytes(query)
                    done = subprocess.run(
                        [
                            openssl,
                            "ts",
                            "-reply",
                            "-config",
                            str(config),
                            "-queryfile",
                            str(qfile),
                            "-out",
                            str(rfile),
                        ],
                        capture_output=True,
                        timeout=30,
                        check=False,
                    )
                    if done.returncode != 0:
                        self.send_error(500, done.stderr.decode(errors="replace")[:200])
                        return
                    body = rfile.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/tsa"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def unused_port_url() -> str:
    """A loopback URL where nothing listens (a TSA that is down)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsa"
