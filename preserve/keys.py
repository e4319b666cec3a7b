"""Ed25519 signing keys for an archive or an archivist, in formats openssl reads.

A private key is a PKCS#8 PEM file, written with mode 0600 and never
overwritten, optionally encrypted with a passphrase (PKCS#8 with the best
encryption ``cryptography`` offers). A public key is a SubjectPublicKeyInfo PEM
file. A key's fingerprint is ``sha256:`` and the hex SHA-256 of its public key's
DER encoding, the same as::

    openssl pkey -pubin -in KEY.pub.pem -outform DER | sha256sum

An archive trusts the public keys in ``ARCHIVE/trusted-keys/*.pem``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from preserve.errors import KeyFileError
from preserve.fsio import atomic_write, write_new

log = logging.getLogger(__name__)

#: Where an archive keeps the public keys of the signers it trusts.
TRUSTED_KEYS_DIR = "trusted-keys"
#: Environment variable holding a key's passphrase (for scripts; a prompt is safer).
PASSPHRASE_ENV = "PRESERVE_KEY_PASSPHRASE"
#: Larger "key files" are refused unread (a PEM Ed25519 key is a few hundred bytes).
MAX_KEY_FILE_BYTES = 64 * 1024
#: The chained ledger event that records an archive's trust in a signer's key: the
#: audit trusts only the keys in ``trusted-keys/`` that such an event vouches for.
KEY_TRUST_EVENT = "key trust"


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """``sha256:<hex>`` of the key's DER SubjectPublicKeyInfo."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(der).hexdigest()


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass(frozen=True)
class SigningKey:
    """A loaded private key and what identifies it."""

    private: Ed25519PrivateKey
    path: str | None = None

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public)

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data)


def default_public_path(private_path: Path) -> Path:
    """``keys/archivist.key`` (or ``.pem``) → ``keys/archivist.pub.pem``."""
    name = private_path.name
    for suffix in (".key.pem", ".key", ".pem"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    return private_path.with_name(name + ".pub.pem")


def generate_key(
    path: Path,
    *,
    passphrase: bytes | None = None,
    public_path: Path | None = None,
    archive: Path | None = None,
) -> tuple[SigningKey, Path]:
    """Create a new key at ``path`` (0600, refusing to overwrite) and its public PEM.

    Returns the key and where its public half was written. Either both files
    are written or neither is left behind. A key is never written inside an
    archive (``archive``, or any folder holding a ledger) nor inside a bag
    (:func:`check_key_location`).
    """
    public_path = public_path or default_public_path(path)
    for target in (path, public_path):
        check_key_location(target, archive)
        if target.exists() or target.is_symlink():
            raise KeyFileError("already exists; refusing to overwrite a key", target)
    private = Ed25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    _write_new(path, pem, 0o600)
    try:
        _write_new(public_path, public_pem(private.public_key()), 0o644)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return SigningKey(private, str(path)), public_path


def check_key_location(path: Path, archive: Path | None = None) -> None:
    """Refuse a key file inside an archive or a bag, with one :class:`KeyFileError`.

    Inside an archive, whoever can read the archive (its mirrors, its backups)
    could sign as the archivist; inside a bag, a new file breaks the bag (an
    unlisted payload file, or a tag file the audit reports).
    """
    folder = path.absolute().parent
    if archive is not None:
        root = archive.absolute()
        if folder == root or root in folder.parents:
            raise KeyFileError(f"inside the archive {archive}: keep signing keys outside it", path)
    for ancestor in (folder, *folder.parents):
        if os.path.lexists(ancestor / "bagit.txt"):
            raise KeyFileError(
                f"inside the bag {ancestor}: a key written there would break the bag", path
            )
        if os.path.lexists(ancestor / "ledger.sqlite"):
            raise KeyFileError(f"inside the archive {ancestor}: keep signing keys outside it", path)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` exclusively with ``mode`` from the start (no window of wider access)."""
    try:
        write_new(path, data, mode)
    except FileExistsError:
        raise KeyFileError("already exists; refusing to overwrite a key", path) from None
    except OSError as exc:
        raise KeyFileError(f"cannot write: {exc.strerror or exc}", path) from None


def _read_key_file(path: Path) -> bytes:
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise KeyFileError("not a regular file", path)
        if st.st_size > MAX_KEY_FILE_BYTES:
            raise KeyFileError("too large to be a key file", path)
        return path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError("no such key file", path) from None
    except OSError as exc:
        raise KeyFileError(f"cannot read: {exc.strerror or exc}", path) from None


def is_encrypted(path: Path) -> bool:
    """Whether a private key file needs a passphrase (it is an encrypted PKCS#8 PEM)."""
    return b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in _read_key_file(path)


def load_private_key(path: Path, passphrase: bytes | None = None) -> SigningKey:
    """Load an Ed25519 private key; one clear :class:`KeyFileError` for every failure."""
    data = _read_key_file(path)
    mode = path.stat().st_mode
    if mode & 0o077:
        log.warning("%s: private key is readable by others (chmod 600 it)", path)
    encrypted = b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data
    if encrypted and not passphrase:
        raise KeyFileError(
            f"the key is protected by a passphrase; give it (prompt, --passphrase-file "
            f"or {PASSPHRASE_ENV})",
            path,
        )
    try:
        key = serialization.load_pem_private_key(data, password=passphrase if encrypted else None)
    except TypeError:
        raise KeyFileError("the key is not protected by a passphrase; give none", path) from None
    except ValueError as exc:
        if encrypted:
            raise KeyFileError("wrong passphrase (or a corrupt key file)", path) from None
        raise KeyFileError(f"not a PEM private key: {_first_line(exc)}", path) from None
    except UnsupportedAlgorithm:
        raise KeyFileError("unsupported key algorithm (expected Ed25519)", path) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"not an Ed25519 key ({type(key).__name__})", path)
    return SigningKey(key, str(path))


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file (SubjectPublicKeyInfo)."""
    return parse_public_key(_read_key_file(path), path)


def parse_public_key(data: bytes, where: Path | str | None = None) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(f"not a PEM public key: {_first_line(exc)}", where) from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"not an Ed25519 public key ({type(key).__name__})", where)
    return key


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first.split(" See https://", 1)[0]  # cryptography's FAQ link is noise here


def trusted_keys_dir(archive: Path) -> Path:
    return archive / TRUSTED_KEYS_DIR


def load_trusted_keys(paths: list[Path]) -> dict[str, Ed25519PublicKey]:
    """Public keys by fingerprint, from PEM files or folders of ``*.pem`` files."""
    keys: dict[str, Ed25519PublicKey] = {}
    for path in paths:
        files = sorted(path.glob("*.pem")) if path.is_dir() else [path]
        for file in files:
            key = load_public_key(file)
            keys[fingerprint(key)] = key
    return keys


def trust_key(archive: Path, public_key: Ed25519PublicKey) -> Path:
    """Add a public key to the archive's trusted signers and record it in the ledger's
    chain (a :data:`KEY_TRUST_EVENT`); idempotent. Returns the key's file.

    The audit trusts only the keys a chained event vouches for, so a key file
    dropped into ``trusted-keys/`` by hand is reported, not trusted. Creates the
    archive if needed. Either the file and the event are both written, or neither.
    """
    from preserve import ledger, ledger_check
    from preserve.archive import open_archive
    from preserve.premis import software_agent

    fp = fingerprint(public_key)
    folder = trusted_keys_dir(archive)
    target = folder / (fp.removeprefix("sha256:")[:32] + ".pem")
    relative = f"{TRUSTED_KEYS_DIR}/{target.name}"
    db = open_archive(archive)
    try:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise KeyFileError(f"cannot create: {exc.strerror or exc}", folder) from None
        written = False
        try:
            with ledger.write(db):
                exists = os.path.lexists(target)
                if exists and fingerprint(load_public_key(target)) != fp:
                    raise KeyFileError("holds another key; refusing to overwrite it", target)
                if exists and ledger_check.recorded_keys(db).get(fp) == relative:
                    return target
                if not exists:
                    atomic_write(target, public_pem(public_key))
                    written = True
                ledger.record_event(
                    db,
                    identifier=None,
                    type=KEY_TRUST_EVENT,
                    outcome="success",
                    detail={"key_fingerprint": fp, "file": relative},
                    agent=software_agent(),
                )
        except BaseException:
            if written:  # the event was not recorded: no trust without it
                target.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise KeyFileError(f"cannot write: {exc.strerror or exc}", target) from None
    finally:
        db.close()
    return target
