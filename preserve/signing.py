"""Signed bags: Ed25519 signatures over the tag manifests, in a ``signatures/`` tag folder.

Checksums in a bag catch accidents; whoever edits a file can recompute them. A
signature over the tag manifests (which cover ``manifest-*.txt``, which cover the
payload) binds every byte of the bag to a key, and an RFC 3161 timestamp over
that signature proves since when it has existed. As in Harvard's bag-nabit, the
signature lives in tag files that the tag manifests do not list (RFC 8493 allows
unlisted tag files), so the bag stays a valid BagIt bag for tools that know
nothing of signatures, and a signature never has to cover itself::

    signatures/
      signature.json                      what was signed, by which key, when (format below)
      signer.pub.pem                      the signer's Ed25519 public key (SubjectPublicKeyInfo PEM)
      tagmanifest-sha256.txt.sig          64-byte raw Ed25519 signature over the exact file bytes
      tagmanifest-sha256.txt.sig.tsr      optional RFC 3161 TimeStampResp over the .sig bytes
      tagmanifest-sha512.txt.sig(.tsr)    the same for every other tag manifest

Each signature checks with openssl alone::

    openssl pkeyutl -verify -pubin -inkey signatures/signer.pub.pem -rawin \\
        -in tagmanifest-sha256.txt -sigfile signatures/tagmanifest-sha256.txt.sig

``signature.json`` is not signed: it says what to expect (so a changed tag
manifest is told apart from a forged signature); the signatures decide.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature

from preserve import keys as keymod
from preserve import timestamps
from preserve.bagit_format import BAGIT_TXT, ManifestKind, Problem, Severity, parse_manifest_name
from preserve.errors import (
    ExitCode,
    KeyFileError,
    PreserveError,
    SigningError,
    TimestampError,
)
from preserve.fsio import FileTooLarge, archive_of, fsync_dir, read_limited, read_regular, write_new
from preserve.keys import SigningKey

SIGNATURES_DIR = "signatures"
INFO_NAME = "signature.json"
PUBLIC_KEY_NAME = "signer.pub.pem"
FORMAT = "preserve-bag-signature/1"
ALGORITHM = "Ed25519"
SIG_SUFFIX = ".sig"
TSR_SUFFIX = ".tsr"
#: PREMIS event type recorded in the ledger when a bag is signed.
SIGNATURE_EVENT = "digital signature generation"
#: Signature files larger than this are not read (they are a few kilobytes).
MAX_FILE_BYTES = 1 << 20
#: Problem code of a signature file over :data:`MAX_FILE_BYTES` (not read).
LIMIT_CODE = "limit.signature-file-size"
_NEW_PREFIX = ".signatures.new-"
_OLD_PREFIX = ".signatures.old-"


# --------------------------------------------------------------------------- trust


@dataclass(frozen=True)
class Trust:
    """The trust material a verification is judged by (PEM bytes: picklable, cheap).

    ``judge_signers`` says whether a signer missing from ``keys`` is an error
    (someone named whom to trust) or only unchecked (a warning).
    """

    keys: tuple[bytes, ...] = ()
    tsa_roots: tuple[bytes, ...] = ()
    judge_signers: bool = False

    @classmethod
    def from_files(cls, keys: Sequence[Path] = (), tsa_roots: Sequence[Path] = ()) -> Trust:
        """Trusted signer public keys and TSA root certificates from files or folders."""
        loaded = keymod.load_trusted_keys(list(keys))  # raises KeyFileError on a bad file
        roots = timestamps.load_roots(list(tsa_roots))  # raises TimestampError
        from cryptography.hazmat.primitives.serialization import Encoding

        return cls(
            tuple(keymod.public_pem(k) for k in loaded.values()),
            tuple(r.public_bytes(Encoding.PEM) for r in roots),
            judge_signers=bool(keys),
        )

    @classmethod
    def for_archive(cls, archive: Path) -> Trust:
        """An archive's trust: ``trusted-keys/*.pem`` and ``trusted-tsa/*.pem``."""
        key_dir = keymod.trusted_keys_dir(archive)
        tsa_dir = archive / timestamps.TRUSTED_TSA_DIR
        return cls.from_files(
            [key_dir] if key_dir.is_dir() else [],
            [tsa_dir] if tsa_dir.is_dir() else [],
        ).with_judging(key_dir.is_dir())

    def with_judging(self, judge: bool) -> Trust:
        return Trust(self.keys, self.tsa_roots, judge)

    def merged(self, other: Trust) -> Trust:
        return Trust(
            tuple(dict.fromkeys((*self.keys, *other.keys))),
            tuple(dict.fromkeys((*self.tsa_roots, *other.tsa_roots))),
            self.judge_signers or other.judge_signers,
        )

    def fingerprints(self) -> set[str]:
        return {keymod.fingerprint(keymod.parse_public_key(pem)) for pem in self.keys}


# --------------------------------------------------------------------------- signing


@dataclass(frozen=True)
class SignedFile:
    """One signed tag manifest and what was stored for it."""

    file: str
    sha256: str
    signature: str
    timestamp: str | None = None
    timestamp_time: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "sha256": self.sha256,
            "signature": self.signature,
            "timestamp": self.timestamp,
            "timestamp_time": self.timestamp_time,
        }


@dataclass(frozen=True)
class SignatureInfo:
    """The contents of ``signatures/signature.json``."""

    key_fingerprint: str
    signed_at: str
    files: tuple[SignedFile, ...]
    software: str = ""
    tsa: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "algorithm": ALGORITHM,
            "key_fingerprint": self.key_fingerprint,
            "public_key": PUBLIC_KEY_NAME,
            "signed_at": self.signed_at,
            "software": self.software,
            "tsa": self.tsa,
            "signed": [f.as_dict() for f in self.files],
        }


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def tag_manifests(bag_dir: Path) -> list[str]:
    """Names of the bag's tag manifests, sorted."""
    names = []
    for entry in os.scandir(bag_dir):
        parsed = parse_manifest_name(entry.name)
        if parsed and parsed[0] is ManifestKind.tag and entry.is_file(follow_symlinks=False):
            names.append(entry.name)
    return sorted(names)


def sign_bag(
    bag_dir: Path,
    key: SigningKey,
    *,
    tsa_url: str | None = None,
    tsa_timeout: float = timestamps.DEFAULT_TIMEOUT_SECONDS,
) -> SignatureInfo:
    """Sign every tag manifest of a bag (and timestamp the signatures, with ``tsa_url``).

    Everything (signatures, timestamps) is obtained before anything is written;
    the new ``signatures/`` is written and fsynced under a temporary name and
    renamed into place, so a failure leaves the bag as it was. Re-signing
    replaces an earlier signature. Raises :class:`SigningError` or
    :class:`TimestampError` (nothing changed).
    """
    from preserve.bagging import SOFTWARE_AGENT

    bag_dir = Path(bag_dir)
    if not (bag_dir / BAGIT_TXT).is_file():
        raise SigningError("not a bag (no bagit.txt)", bag_dir)
    try:
        names = tag_manifests(bag_dir)
    except OSError as exc:
        raise SigningError(f"cannot list: {exc.strerror or exc}", bag_dir) from None
    if not names:
        raise SigningError("the bag has no tag manifest to sign", bag_dir)
    files: dict[str, bytes] = {}
    signed: list[SignedFile] = []
    for name in names:
        try:
            data = (bag_dir / name).read_bytes()
        except OSError as exc:
            raise SigningError(f"cannot read {name}: {exc.strerror or exc}", bag_dir) from None
        if _lists_signatures(data):
            raise SigningError(
                f"{name} lists files under {SIGNATURES_DIR}/: a signature cannot sign the "
                "manifest that lists it; rewrite the tag manifests without them",
                bag_dir,
            )
        signature = key.sign(data)
        sig_name = name + SIG_SUFFIX
        files[sig_name] = signature
        tsr_name = when = None
        if tsa_url:
            stamp = timestamps.request_timestamp(tsa_url, signature, timeout=tsa_timeout)
            tsr_name = sig_name + TSR_SUFFIX
            files[tsr_name] = stamp.der
            when = timestamps.gen_time(stamp.der)
        signed.append(
            SignedFile(
                name,
                hashlib.sha256(data).hexdigest(),
                sig_name,
                tsr_name,
                when,
            )
        )
    info = SignatureInfo(key.fingerprint, _now(), tuple(signed), SOFTWARE_AGENT, tsa_url)
    files[PUBLIC_KEY_NAME] = keymod.public_pem(key.public)
    files[INFO_NAME] = (json.dumps(info.as_dict(), indent=2, ensure_ascii=False) + "\n").encode()
    _install(bag_dir, files)
    return info


def _lists_signatures(manifest: bytes) -> bool:
    for line in manifest.decode("utf-8", "replace").splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[1].lstrip("*").startswith(SIGNATURES_DIR + "/"):
            return True
    return False


def _install(bag_dir: Path, files: Mapping[str, bytes]) -> None:
    """Write ``files`` as the new ``signatures/`` folder, replacing any old one by renames."""
    _clean_leftovers(bag_dir)
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    new = bag_dir / (_NEW_PREFIX + token)
    old = bag_dir / (_OLD_PREFIX + token)
    target = bag_dir / SIGNATURES_DIR
    try:
        new.mkdir()
        for name, data in files.items():
            write_new(new / name, data)
        fsync_dir(new)
        if target.is_symlink() or (target.exists() and not target.is_dir()):
            raise SigningError(f"{SIGNATURES_DIR} exists and is not a folder", bag_dir)
        if target.exists():
            os.rename(target, old)
        os.rename(new, target)
        fsync_dir(bag_dir)
    except OSError as exc:
        if old.exists() and not target.exists():
            os.rename(old, target)  # put the previous signature back
        shutil.rmtree(new, ignore_errors=True)
        raise SigningError(f"cannot write the signature: {exc.strerror or exc}", bag_dir) from None
    except BaseException:
        if old.exists() and not target.exists():
            os.rename(old, target)
        shutil.rmtree(new, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _clean_leftovers(bag_dir: Path) -> None:
    """Remove what an interrupted signing left: a half-written new folder, an old one."""
    for entry in bag_dir.iterdir():
        if entry.name.startswith(_NEW_PREFIX):
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith(_OLD_PREFIX):
            if (bag_dir / SIGNATURES_DIR).exists():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                os.rename(entry, bag_dir / SIGNATURES_DIR)


def record_signature(db: Any, identifier: str, info: SignatureInfo) -> str:
    """A PREMIS 'digital signature generation' event in the ledger's chain (inside a write)."""
    from preserve import ledger
    from preserve.premis import software_agent

    return ledger.record_event(
        db,
        identifier=identifier,
        type=SIGNATURE_EVENT,
        outcome="success",
        detail={
            "key_fingerprint": info.key_fingerprint,
            "signed_at": info.signed_at,
            "tsa": info.tsa,
            "signed": {f.file: f.sha256 for f in info.files},
            "timestamps": {f.file: f.timestamp_time for f in info.files if f.timestamp},
        },
        agent=software_agent(),
    )


def sign_archived_bag(
    bag_dir: Path,
    key: SigningKey,
    *,
    tsa_url: str | None = None,
) -> SignatureInfo:
    """Sign a bag, refusing one that fails verification; in an archive, also record it.

    A signature vouches for the bag, so a bag that is corrupt, or whose tag
    manifests differ from those the archive's ledger recorded at ingest (it was
    rewritten since), is refused rather than blessed: :class:`SigningError`.
    """
    from preserve import ledger, ledger_check
    from preserve.verify import verify_bag

    bag_dir = Path(bag_dir)
    if not bag_dir.is_dir():
        raise SigningError("not a bag directory", bag_dir)
    result = verify_bag(bag_dir)
    errors = [p for p in result.errors if not p.code.startswith(("signature.", "timestamp."))]
    if errors:
        raise BagRefused(f"not signed: the bag is invalid ({errors[0].one_line()})", bag_dir)
    archive = archive_of(bag_dir)
    if archive is None:
        return sign_bag(bag_dir, key, tsa_url=tsa_url)
    db = ledger.connect(archive)
    try:
        recorded = ledger.get_bag(db, bag_dir.name)
        if recorded is None:
            raise BagRefused("not signed: the archive's ledger does not know this bag", bag_dir)
        # The digests the chain recorded at ingest, as well as the table's: editing the
        # table must not get a rewritten bag signed (preserve.ledger_check).
        chained = ledger_check.chain_digests(db, recorded.identifier) if ledger.strict(db) else {}
        expected = [*recorded.tagmanifest_digests.items(), *(chained or {}).items()]
        for name, digest in expected:
            data = read_regular(bag_dir / name, MAX_FILE_BYTES)
            if data is None or hashlib.sha256(data).hexdigest() != digest:
                raise BagRefused(
                    f"not signed: {name} differs from the ledger's record at ingest "
                    "(the bag was rewritten; audit the archive)",
                    bag_dir,
                )
        info = sign_bag(bag_dir, key, tsa_url=tsa_url)
        with ledger.write(db):
            record_signature(db, recorded.identifier, info)
        return info
    finally:
        db.close()


class BagRefused(SigningError):
    """The bag was checked and is not fit to be signed (invalid, or rewritten since ingest)."""

    exit_code = ExitCode.bad


# --------------------------------------------------------------------------- checking


def is_signed(bag_dir: Path) -> bool:
    return os.path.lexists(bag_dir / SIGNATURES_DIR)


def read_signature(bag_dir: Path) -> SignatureInfo:
    """Parse ``signatures/signature.json``; :class:`SigningError` if it is not well formed."""
    rel = f"{SIGNATURES_DIR}/{INFO_NAME}"
    data = _read(bag_dir / SIGNATURES_DIR / INFO_NAME)
    if isinstance(data, _Unread):
        raise (SignatureFileTooLarge if data.too_large else SigningError)(
            f"{rel} {data.why}", bag_dir
        )
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SigningError(f"{rel} is not UTF-8 JSON: {exc}", bag_dir) from None
    except RecursionError:
        raise SigningError(f"{rel} is JSON nested too deeply", bag_dir) from None
    try:
        if doc["format"] != FORMAT or doc["algorithm"] != ALGORITHM:
            raise SigningError(
                f"{rel}: unknown format {doc['format']!r}/{doc['algorithm']!r} "
                f"(expected {FORMAT!r}, {ALGORITHM!r})",
                bag_dir,
            )
        files = tuple(
            SignedFile(
                _name(f["file"]),
                str(f["sha256"]),
                _name(f["signature"]),
                None if f.get("timestamp") is None else _name(f["timestamp"]),
                f.get("timestamp_time"),
            )
            for f in doc["signed"]
        )
        return SignatureInfo(
            str(doc["key_fingerprint"]),
            str(doc["signed_at"]),
            files,
            str(doc.get("software", "")),
            doc.get("tsa"),
        )
    except KeyError as exc:
        raise SigningError(f"{rel} lacks the field {exc.args[0]!r}", bag_dir) from None
    except (TypeError, ValueError) as exc:
        if isinstance(exc, SigningError):
            raise
        why = str(exc) if isinstance(exc, _BadName) else "a field has the wrong type"
        raise SigningError(f"{rel}: {why}", bag_dir) from None


class SignatureFileTooLarge(SigningError):
    """A file of ``signatures/`` over :data:`MAX_FILE_BYTES` (reported as ``limit.*``)."""


class _BadName(ValueError):
    """A name in signature.json that is not a plain file name (its message is shown)."""


@dataclass(frozen=True)
class _Unread:
    """Why a file of the signature was not read: ``why`` completes "<path> ..."."""

    why: str
    too_large: bool = False


def _read(path: Path) -> bytes | _Unread:
    """A signature file by fsio's one rule, or why not (missing, link, FIFO, too large)."""
    try:
        return read_limited(path, MAX_FILE_BYTES)
    except FileTooLarge as exc:
        return _Unread(f"{exc.reason} (not read)", too_large=True)
    except FileNotFoundError:
        return _Unread("is missing")
    except OSError as exc:
        return _Unread(str(getattr(exc, "reason", None) or f"cannot be read ({exc.strerror})"))


def _name(value: object) -> str:
    """A plain file name (no folders, nothing hidden): what signature.json may refer to."""
    if (
        not isinstance(value, str)
        or not value
        or "/" in value
        or "\\" in value
        or value.startswith(".")
    ):
        shown = repr(value) if isinstance(value, str) else f"a JSON {type(value).__name__}"
        raise _BadName(f"{shown[:80]} is not a plain file name")
    return value


def check_signatures(bag_dir: Path, trust: Trust | None = None) -> Iterator[Problem]:
    """Problems with a bag's signature and timestamps; nothing for an unsigned bag.

    ``trust`` None: the trust of the archive the bag sits in, if any; otherwise
    signatures are checked for integrity and the signer is reported unchecked.

    Codes: ``signature.malformed``, ``signature.bad`` (does not verify with the
    stored key), ``signature.stale`` (a tag manifest changed after signing),
    ``signature.incomplete`` (a tag manifest nobody signed),
    ``signature.untrusted-signer``, the warning ``signature.no-trust``, and the
    ``timestamp.*`` codes of :func:`preserve.timestamps.check_timestamp`.
    """
    bag_dir = Path(bag_dir)
    if not is_signed(bag_dir):
        return
    folder = bag_dir / SIGNATURES_DIR
    if folder.is_symlink() or not folder.is_dir():
        yield Problem("signature.malformed", SIGNATURES_DIR, "not a folder")
        return
    if trust is None:
        archive = archive_of(bag_dir)
        try:
            trust = Trust.for_archive(archive) if archive else Trust()
        except PreserveError as exc:
            yield Problem("signature.trust-unreadable", "", exc.one_line())
            trust = Trust()
    try:
        info = read_signature(bag_dir)
    except SigningError as exc:
        code = LIMIT_CODE if isinstance(exc, SignatureFileTooLarge) else "signature.malformed"
        yield Problem(code, f"{SIGNATURES_DIR}/{INFO_NAME}", exc.message)
        return
    key_rel = f"{SIGNATURES_DIR}/{PUBLIC_KEY_NAME}"
    pem = _read(folder / PUBLIC_KEY_NAME)
    try:
        if isinstance(pem, _Unread):
            if pem.too_large:
                yield Problem(LIMIT_CODE, key_rel, f"{key_rel} {pem.why}")
                return
            raise KeyFileError(pem.why)
        public = keymod.parse_public_key(pem)
    except KeyFileError as exc:
        yield Problem("signature.malformed", key_rel, exc.message)
        return
    actual_fp = keymod.fingerprint(public)
    if actual_fp != info.key_fingerprint:
        yield Problem(
            "signature.malformed",
            key_rel,
            f"key fingerprint {actual_fp} differs from {info.key_fingerprint} in {INFO_NAME}",
        )
        return
    roots = _roots(trust)
    signed_names = {f.file for f in info.files}
    for name in tag_manifests(bag_dir):
        if name not in signed_names:
            yield Problem(
                "signature.incomplete", name, "tag manifest not covered by the bag's signature"
            )
    good = 0
    for item in info.files:
        ok = yield from _check_one(bag_dir, folder, item, public, roots)
        good += ok
    if not info.files:
        yield Problem("signature.malformed", f"{SIGNATURES_DIR}/{INFO_NAME}", "signs nothing")
    if good and good == len(info.files):
        yield from _judge_signer(actual_fp, trust, key_rel)


def _roots(trust: Trust) -> list[Any]:
    from cryptography import x509

    roots: list[Any] = []
    for pem in trust.tsa_roots:
        roots += x509.load_pem_x509_certificates(pem)
    return roots


def _check_one(
    bag_dir: Path, folder: Path, item: SignedFile, public: Any, roots: list[Any]
) -> Generator[Problem, None, bool]:
    """Problems with one signed tag manifest; returns whether its signature verified."""
    sig_rel = f"{SIGNATURES_DIR}/{item.signature}"
    signature = _read(folder / item.signature)
    if isinstance(signature, _Unread) or len(signature) != 64:
        if isinstance(signature, _Unread) and signature.too_large:
            yield Problem(LIMIT_CODE, sig_rel, f"{sig_rel} {signature.why}")
        else:
            why = signature.why if isinstance(signature, _Unread) else "is not 64 bytes"
            yield Problem(
                "signature.malformed",
                sig_rel,
                f"{sig_rel} {why} (expected a 64-byte raw Ed25519 signature)",
            )
        return False
    ok = False
    data = (
        read_regular(bag_dir / item.file, MAX_FILE_BYTES)
        if parse_manifest_name(item.file)
        else None
    )
    if data is None:
        yield Problem("signature.stale", item.file, "signed tag manifest is missing from the bag")
    elif hashlib.sha256(data).hexdigest() != item.sha256:
        yield Problem(
            "signature.stale",
            item.file,
            "tag manifest changed after the bag was signed (payload or tags rewritten)",
        )
    else:
        try:
            public.verify(signature, data)
            ok = True
        except InvalidSignature:
            yield Problem("signature.bad", sig_rel, f"signature over {item.file} does not verify")
    if item.timestamp is not None:
        tsr_rel = f"{SIGNATURES_DIR}/{item.timestamp}"
        tsr = _read(folder / item.timestamp)
        if isinstance(tsr, _Unread):
            code = LIMIT_CODE if tsr.too_large else "timestamp.malformed"
            yield Problem(code, tsr_rel, f"{tsr_rel} {tsr.why}")
        else:
            yield from timestamps.check_timestamp(tsr, signature, roots, path=tsr_rel)
    return ok


def _judge_signer(fp: str, trust: Trust, key_rel: str) -> Iterator[Problem]:
    if not trust.judge_signers:
        yield Problem(
            "signature.no-trust",
            key_rel,
            f"signature verifies with key {fp}, but no trusted keys were given to say whose "
            "it is (--trusted-key, or the archive's trusted-keys/)",
            Severity.warning,
        )
    elif fp not in trust.fingerprints():
        yield Problem(
            "signature.untrusted-signer",
            key_rel,
            f"signed by {fp}, which is not among the trusted keys",
        )


@dataclass(frozen=True)
class SignatureCheck:
    """:func:`check_signatures` with fixed trust, as a picklable ``ExtraCheck``."""

    trust: Trust | None = field(default=None)

    def __call__(self, bag_dir: Path) -> Iterator[Problem]:
        return check_signatures(bag_dir, self.trust)

    @property
    def __name__(self) -> str:
        return "signature check"


__all__ = [
    "SIGNATURES_DIR",
    "SignatureCheck",
    "SignatureInfo",
    "SigningError",
    "TimestampError",
    "Trust",
    "archive_of",
    "check_signatures",
    "read_signature",
    "sign_bag",
]
