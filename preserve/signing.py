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
      signers/<hex>/                      a countersignature: the same files, by another key
                                          (<hex>: its fingerprint without ``sha256:``)
      premis.xml                          every signer as a PREMIS agent, each signing an event

The first signer's files sit in ``signatures/`` itself (the layout of single-signer
bags, which keep verifying); each further signer (a second archivist, an
institution key) signs the same tag manifests independently in its own folder, and
is checked on its own. Each signature checks with openssl alone::

    openssl pkeyutl -verify -pubin -inkey signatures/signer.pub.pem -rawin \\
        -in tagmanifest-sha256.txt -sigfile signatures/tagmanifest-sha256.txt.sig

``signature.json`` and ``premis.xml`` are not signed: they say what to expect (so
a changed tag manifest is told apart from a forged signature); the signatures
decide. ``signature.json`` lists the signers present when it was made
(``countersigns``), so a removed signer is noticed inside the bag; the archive's
ledger, which records every signer as a chained event, is what a forger cannot edit.
Checks read through :class:`~preserve.verify.access.BagFiles`, so a bag serialized
as tar, tar.gz or zip is checked as it is, streamed, never extracted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
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
from preserve.verify.access import BagFiles, open_bag_files

SIGNATURES_DIR = "signatures"
INFO_NAME = "signature.json"
PUBLIC_KEY_NAME = "signer.pub.pem"
FORMAT = "preserve-bag-signature/1"
ALGORITHM = "Ed25519"
#: Countersignatures: ``signatures/signers/<hex>/``, one folder per further signer.
SIGNERS_DIR = "signers"
#: Every signer as a PREMIS agent and its signing as an event (unsigned, informative).
PREMIS_NAME = "premis.xml"
SIG_SUFFIX = ".sig"
TSR_SUFFIX = ".tsr"
#: PREMIS event type recorded in the ledger when a bag is signed (once per signer).
SIGNATURE_EVENT = "digital signature generation"
#: The PREMIS agent identifier type of a signer: its key's fingerprint.
AGENT_ID_TYPE = "Ed25519 public key fingerprint (sha256 of DER)"
#: Signature files larger than this are not read (they are a few kilobytes).
MAX_FILE_BYTES = 1 << 20
#: Problem code of a signature file over :data:`MAX_FILE_BYTES` (not read).
LIMIT_CODE = "limit.signature-file-size"
#: More signers than this in one bag are not checked (a hostile bag's thousand folders).
MAX_SIGNERS = 64
#: Problem code of a bag with more than :data:`MAX_SIGNERS` signers (none beyond checked).
SIGNERS_LIMIT_CODE = "limit.signers"
_PREMIS_REL = f"{SIGNATURES_DIR}/{PREMIS_NAME}"
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
    """The contents of one signer's ``signature.json``."""

    key_fingerprint: str
    signed_at: str
    files: tuple[SignedFile, ...]
    software: str = ""
    tsa: str | None = None
    #: Who signs, as the signer said (an archivist, an institution); never the statement's.
    signer: str | None = None
    #: Fingerprints of the other signers whose signatures were in the bag at signing time.
    countersigns: tuple[str, ...] = ()
    #: Bag-relative folder of this signer's files (``signatures`` for the first signer).
    folder: str = field(default=SIGNATURES_DIR, compare=False)
    #: Signatures that no longer verified and were replaced by this signing (not stored).
    replaced: tuple[str, ...] = field(default=(), compare=False)

    @property
    def countersignature(self) -> bool:
        return self.folder != SIGNATURES_DIR

    def as_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "format": FORMAT,
            "algorithm": ALGORITHM,
            "key_fingerprint": self.key_fingerprint,
            "public_key": PUBLIC_KEY_NAME,
            "signed_at": self.signed_at,
            "software": self.software,
            "tsa": self.tsa,
            "signed": [f.as_dict() for f in self.files],
        }
        if self.signer is not None:
            doc["signer"] = self.signer
        if self.countersigns:
            doc["countersigns"] = list(self.countersigns)
        return doc


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def signer_folder(fingerprint: str) -> str:
    """The bag-relative folder of a countersignature by the key ``fingerprint``."""
    return f"{SIGNATURES_DIR}/{SIGNERS_DIR}/{fingerprint.removeprefix('sha256:')}"


def tag_manifests(bag: Path | BagFiles) -> list[str]:
    """Names of the bag's tag manifests, sorted."""
    if not isinstance(bag, (str, Path)):
        return sorted(
            rel
            for rel in bag.files
            if "/" not in rel
            and (parsed := parse_manifest_name(rel))
            and parsed[0] is ManifestKind.tag
        )
    names = []
    for entry in os.scandir(bag):
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
    signer: str | None = None,
) -> SignatureInfo:
    """Sign every tag manifest of a bag (and timestamp the signatures, with ``tsa_url``).

    An unsigned bag gets its first signature in ``signatures/``. A signed bag gets
    a countersignature in ``signatures/signers/<hex>/`` beside the signatures it
    has; the same key signing again replaces its own signature. Signatures that no
    longer verify (the tag manifests changed since) are replaced, not kept beside a
    new one (``replaced`` names them). ``signer`` names who signs (recorded in
    ``signature.json`` and as the PREMIS agent).

    Everything (signatures, timestamps) is obtained before anything is written;
    the new ``signatures/`` is written and fsynced under a temporary name and
    renamed into place, so a failure leaves the bag as it was. Raises
    :class:`SigningError` or :class:`TimestampError` (nothing changed).
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
    if signer is not None and (not signer.strip() or not signer.isprintable()):
        raise SigningError("the signer's name must be printable text on one line", bag_dir)
    kept, replaced = _existing_signers(bag_dir, key.fingerprint)
    files: dict[str, bytes] = {}
    for _, content in kept.values():
        files.update(content)
    signed: list[SignedFile] = []
    own = SIGNATURES_DIR if SIGNATURES_DIR not in kept else signer_folder(key.fingerprint)
    prefix = own.removeprefix(SIGNATURES_DIR).lstrip("/")
    prefix = f"{prefix}/" if prefix else ""
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
        files[prefix + sig_name] = signature
        tsr_name = when = None
        if tsa_url:
            stamp = timestamps.request_timestamp(tsa_url, signature, timeout=tsa_timeout)
            tsr_name = sig_name + TSR_SUFFIX
            files[prefix + tsr_name] = stamp.der
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
    info = SignatureInfo(
        key.fingerprint,
        _now(),
        tuple(signed),
        SOFTWARE_AGENT,
        tsa_url,
        signer=signer,
        countersigns=tuple(sorted(i.key_fingerprint for i, _ in kept.values())),
        folder=own,
        replaced=replaced,
    )
    files[prefix + PUBLIC_KEY_NAME] = keymod.public_pem(key.public)
    files[prefix + INFO_NAME] = _info_bytes(info)
    everyone = sorted(
        [*(i for i, _ in kept.values()), info], key=lambda i: (i.countersignature, i.folder)
    )
    files[PREMIS_NAME] = signers_premis(everyone)
    _install(bag_dir, files)
    return info


def _info_bytes(info: SignatureInfo) -> bytes:
    return (json.dumps(info.as_dict(), indent=2, ensure_ascii=False) + "\n").encode()


#: What :func:`_existing_signers` keeps: fingerprint (or ``signatures`` for the first
#: signer's slot, held by another key) -> (info, files relative to ``signatures/``).
_Kept = dict[str, tuple[SignatureInfo, dict[str, bytes]]]


def _existing_signers(bag_dir: Path, fingerprint: str) -> tuple[_Kept, tuple[str, ...]]:
    """The signatures to keep beside a new one by ``fingerprint``, and those replaced.

    A signature by the same key is replaced by the new one; a signature that does
    not verify (malformed, stale, bad) is replaced rather than kept beside a good one.
    Kept: the first signer's slot under ``signatures``, others by fingerprint.
    """
    if not is_signed(bag_dir):
        return {}, ()
    folder = bag_dir / SIGNATURES_DIR
    if folder.is_symlink() or not folder.is_dir():
        raise SigningError(f"{SIGNATURES_DIR} exists and is not a folder", bag_dir)
    from preserve.verify.access import read_errors

    kept: _Kept = {}
    replaced: list[str] = []
    with open_bag_files(bag_dir) as bag:
        for slot in _slots(bag):
            problems: list[Problem] = []
            info = _check_signer(bag, slot, Trust(), [], problems)
            errors = [p for p in problems if p.severity is Severity.error]
            if info is None or errors:
                replaced.append(errors[0].one_line() if errors else f"{slot}: unreadable")
                continue
            if info.key_fingerprint == fingerprint:
                continue  # re-signing by the same key replaces its own signature
            content: dict[str, bytes] = {}
            inner = slot.removeprefix(SIGNATURES_DIR).lstrip("/")
            for rel in bag.files:
                name = rel[len(slot) + 1 :]
                if rel.startswith(slot + "/") and "/" not in name and rel != _PREMIS_REL:
                    try:
                        content[f"{inner}/{name}".lstrip("/")] = bag.read(rel, MAX_FILE_BYTES)
                    except read_errors() as exc:
                        raise SigningError(f"cannot read {rel}: {exc}", bag_dir) from None
            kept[SIGNATURES_DIR if slot == SIGNATURES_DIR else info.key_fingerprint] = (
                info,
                content,
            )
    # A signer replaced above is no longer beside the others: their lists say so.
    staying = {fingerprint, *(i.key_fingerprint for i, _ in kept.values())}
    for slot_key, (info, content) in list(kept.items()):
        if set(info.countersigns) - staying:
            info = replace(info, countersigns=tuple(c for c in info.countersigns if c in staying))
            inner = info.folder.removeprefix(SIGNATURES_DIR).lstrip("/")
            content[f"{inner}/{INFO_NAME}".lstrip("/")] = _info_bytes(info)
            kept[slot_key] = (info, content)
    return kept, tuple(replaced)


def signers_premis(infos: Sequence[SignatureInfo]) -> bytes:
    """A PREMIS 3 document naming every signer as an agent, each signing as an event.

    Signers are archivists or institutions acting on the bag: they appear here and
    in the ledger, never among the statement's creators (its record is not touched).
    """
    import xml.etree.ElementTree as ET

    from preserve.premis import PREMIS_NS, software_agent
    from preserve.xmltext import xml_text

    ET.register_namespace("premis", PREMIS_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
        element = ET.SubElement(parent, f"{{{PREMIS_NS}}}{tag}")
        if text is not None:
            element.text = xml_text(text)
        return element

    root = ET.Element(f"{{{PREMIS_NS}}}premis", {"version": "3.0"})
    for number, info in enumerate(infos, start=1):
        event = sub(root, "event")
        eid = sub(event, "eventIdentifier")
        sub(eid, "eventIdentifierType", "local")
        sub(eid, "eventIdentifierValue", f"{SIGNATURES_DIR}/event/{number}")
        sub(event, "eventType", SIGNATURE_EVENT)
        sub(event, "eventDateTime", info.signed_at)
        kind = "countersignature" if info.countersignature else "signature"
        what = ", ".join(f.file for f in info.files)
        sub(sub(event, "eventDetailInformation"), "eventDetail", f"{ALGORITHM} {kind} over {what}")
        sub(sub(event, "eventOutcomeInformation"), "eventOutcome", "success")
        link = sub(event, "linkingAgentIdentifier")
        sub(link, "linkingAgentIdentifierType", AGENT_ID_TYPE)
        sub(link, "linkingAgentIdentifierValue", info.key_fingerprint)
        sub(link, "linkingAgentRole", "signer")
        tool = sub(event, "linkingAgentIdentifier")
        sub(tool, "linkingAgentIdentifierType", "local")
        sub(tool, "linkingAgentIdentifierValue", "preserve")
        sub(tool, "linkingAgentRole", "executing program")
    for info in {i.key_fingerprint: i for i in infos}.values():
        agent = sub(root, "agent")
        aid = sub(agent, "agentIdentifier")
        sub(aid, "agentIdentifierType", AGENT_ID_TYPE)
        sub(aid, "agentIdentifierValue", info.key_fingerprint)
        sub(agent, "agentName", info.signer or info.key_fingerprint)
        sub(agent, "agentNote", f"public key: {info.folder}/{PUBLIC_KEY_NAME}")
    agent = sub(root, "agent")
    aid = sub(agent, "agentIdentifier")
    sub(aid, "agentIdentifierType", "local")
    sub(aid, "agentIdentifierValue", "preserve")
    sub(agent, "agentName", software_agent())
    sub(agent, "agentType", "software")
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _lists_signatures(manifest: bytes) -> bool:
    for line in manifest.decode("utf-8", "replace").splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[1].lstrip("*").startswith(SIGNATURES_DIR + "/"):
            return True
    return False


def _install(bag_dir: Path, files: Mapping[str, bytes]) -> None:
    """Write ``files`` (paths inside ``signatures/``) as the new ``signatures/`` folder,
    replacing any old one by renames."""
    _clean_leftovers(bag_dir)
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    new = bag_dir / (_NEW_PREFIX + token)
    old = bag_dir / (_OLD_PREFIX + token)
    target = bag_dir / SIGNATURES_DIR
    try:
        new.mkdir()
        folders = {new}
        for name, data in sorted(files.items()):
            path = new.joinpath(*name.split("/"))
            if path.parent not in folders:
                path.parent.mkdir(parents=True, exist_ok=True)
                folders.add(path.parent)
            write_new(path, data)
        for folder in sorted(folders, key=lambda p: -len(p.parts)):
            fsync_dir(folder)
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
    """A PREMIS 'digital signature generation' event in the ledger's chain (inside a write).

    One event per signer: the audit finds any recorded signer's signature that was
    later removed from the bag (:func:`removed_signers`).
    """
    from preserve import ledger
    from preserve.premis import software_agent

    return ledger.record_event(
        db,
        identifier=identifier,
        type=SIGNATURE_EVENT,
        outcome="success",
        detail={
            "key_fingerprint": info.key_fingerprint,
            "signer": info.signer,
            "role": "countersignature" if info.countersignature else "signature",
            "folder": info.folder,
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
    signer: str | None = None,
) -> SignatureInfo:
    """Sign (or countersign) a bag, refusing one that fails verification; in an archive,
    also record the signer in the ledger's chain.

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
        return sign_bag(bag_dir, key, tsa_url=tsa_url, signer=signer)
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
        info = sign_bag(bag_dir, key, tsa_url=tsa_url, signer=signer)
        with ledger.write(db):
            record_signature(db, recorded.identifier, info)
        return info
    finally:
        db.close()


class BagRefused(SigningError):
    """The bag was checked and is not fit to be signed (invalid, or rewritten since ingest)."""

    exit_code = ExitCode.bad


def removed_signers(db: Any, bag_dir: Path, identifier: str) -> list[Problem]:
    """Signers the ledger recorded for a bag whose signature is no longer in it.

    Deleting ``signatures/`` (or one signer's folder) makes a bag look merely
    unsigned (or signed by fewer) to any check inside it; only the ledger remembers
    who signed, with which key and when. Code ``ledger.signature-missing``.
    """
    rows = db.execute(
        "SELECT at, detail FROM events WHERE identifier = ? AND type = ? ORDER BY id",
        (identifier, SIGNATURE_EVENT),
    ).fetchall()
    if not rows:
        return []
    recorded: dict[str, str] = {}
    for row in rows:
        try:
            key = str(json.loads(row["detail"]).get("key_fingerprint") or "an unknown key")
        except (ValueError, AttributeError):
            key = "an unknown key"
        recorded[key] = row["at"]
    if not is_signed(bag_dir):
        key, at = next(reversed(recorded.items()))
        return [
            Problem(
                "ledger.signature-missing",
                SIGNATURES_DIR,
                f"the ledger records a signature by {key} at {at}, "
                "but the bag has no signatures/ folder: it was removed",
            )
        ]
    present = set()
    with open_bag_files(bag_dir) as bag:
        for slot in _slots(bag):
            try:
                present.add(_parse_info(_get(bag, f"{slot}/{INFO_NAME}"), slot).key_fingerprint)
            except SigningError:
                continue  # a damaged signature.json is the signature check's to report
    return [
        Problem(
            "ledger.signature-missing",
            signer_folder(key) if key.startswith("sha256:") else SIGNATURES_DIR,
            f"the ledger records a signature by {key} at {at}, "
            "but the bag holds no signature by that key: it was removed",
        )
        for key, at in recorded.items()
        if key not in present
    ]


# --------------------------------------------------------------------------- checking


def is_signed(bag: Path | BagFiles) -> bool:
    """Whether the bag has a ``signatures`` entry (folder or anything else)."""
    if isinstance(bag, (str, Path)):
        return os.path.lexists(Path(bag) / SIGNATURES_DIR)
    inside = SIGNATURES_DIR + "/"
    return any(
        p == SIGNATURES_DIR or p.startswith(inside)
        for group in (bag.files.keys(), bag.dirs, bag.others)
        for p in group
    )


def read_signature(bag_dir: Path) -> SignatureInfo:
    """Parse the first signer's ``signatures/signature.json`` of a bag directory.

    :class:`SigningError` if it is not well formed (see :func:`read_signers` for all).
    """
    rel = f"{SIGNATURES_DIR}/{INFO_NAME}"
    data = _read(Path(bag_dir) / SIGNATURES_DIR / INFO_NAME)
    return _parse_info(data, SIGNATURES_DIR, Path(bag_dir), rel)


def read_signers(bag: Path | BagFiles) -> list[SignatureInfo]:
    """Every signer's ``signature.json`` that parses, first signer first (not verified)."""
    if isinstance(bag, (str, Path)):
        with open_bag_files(Path(bag)) as files:
            return read_signers(files)
    found = []
    for slot in _slots(bag):
        try:
            found.append(_parse_info(_get(bag, f"{slot}/{INFO_NAME}"), slot))
        except SigningError:
            continue
    return found


def _parse_info(
    data: bytes | _Unread, folder: str, where: Path | None = None, rel: str | None = None
) -> SignatureInfo:
    rel = rel or f"{folder}/{INFO_NAME}"
    if isinstance(data, _Unread):
        raise (SignatureFileTooLarge if data.too_large else SigningError)(
            f"{rel} {data.why}", where
        )
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SigningError(f"{rel} is not UTF-8 JSON: {exc}", where) from None
    except RecursionError:
        raise SigningError(f"{rel} is JSON nested too deeply", where) from None
    try:
        if doc["format"] != FORMAT or doc["algorithm"] != ALGORITHM:
            raise SigningError(
                f"{rel}: unknown format {doc['format']!r}/{doc['algorithm']!r} "
                f"(expected {FORMAT!r}, {ALGORITHM!r})",
                where,
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
        signer = doc.get("signer")
        countersigns = doc.get("countersigns") or []
        if not isinstance(countersigns, list):
            raise TypeError("countersigns")
        return SignatureInfo(
            str(doc["key_fingerprint"]),
            str(doc["signed_at"]),
            files,
            str(doc.get("software", "")),
            doc.get("tsa"),
            signer=None if signer is None else str(signer),
            countersigns=tuple(str(c) for c in countersigns),
            folder=folder,
        )
    except KeyError as exc:
        raise SigningError(f"{rel} lacks the field {exc.args[0]!r}", where) from None
    except (TypeError, ValueError) as exc:
        if isinstance(exc, SigningError):
            raise
        why = str(exc) if isinstance(exc, _BadName) else "a field has the wrong type"
        raise SigningError(f"{rel}: {why}", where) from None


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


def _get(bag: BagFiles, rel: str) -> bytes | _Unread:
    """A file of the bag (directory, tar or zip) by the same rule as :func:`_read`."""
    from preserve.verify.access import read_errors
    from preserve.verify.tree import _TooLarge

    if rel not in bag.files:
        if rel in bag.others:
            return _Unread("is not a regular file (a link or special file is never followed)")
        return _Unread("is a folder" if rel in bag.dirs else "is missing")
    try:
        return bag.read(rel, MAX_FILE_BYTES)
    except _TooLarge as exc:
        shown = f"{exc.size:,} bytes" if exc.size is not None else "larger than that"
        return _Unread(f"is {shown}; the limit is {MAX_FILE_BYTES:,} bytes (not read)", True)
    except read_errors() as exc:
        return _Unread(f"cannot be read ({getattr(exc, 'strerror', None) or exc})")


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


def _slots(bag: BagFiles) -> list[str]:
    """The folders holding a signer's files: ``signatures`` (when it holds one), then
    each ``signatures/signers/<name>``, sorted."""
    inside = f"{SIGNATURES_DIR}/"
    others = f"{SIGNATURES_DIR}/{SIGNERS_DIR}/"
    paths = [p for group in (bag.files.keys(), bag.dirs, bag.others) for p in group]
    counter = sorted({p[len(others) :].split("/", 1)[0] for p in paths if p.startswith(others)})
    own = {p for p in paths if p.startswith(inside) and "/" not in p[len(inside) :]} - {
        f"{inside}{PREMIS_NAME}",
        f"{inside}{SIGNERS_DIR}",
    }
    first = [SIGNATURES_DIR] if own or not counter else []
    return first + [others + c for c in counter]


def check_signatures(bag: Path | BagFiles, trust: Trust | None = None) -> Iterator[Problem]:
    """Problems with a bag's signatures and timestamps; nothing for an unsigned bag.

    ``bag`` is a bag directory or a listed bag (:class:`BagFiles`: a directory, tar,
    tar.gz or zip, read streamed). Every signer is checked on its own, and its
    problems are named by its folder. ``trust`` None: the trust of the archive a bag
    directory sits in, if any; otherwise signatures are checked for integrity and
    each signer is reported unchecked.

    Codes: ``signature.malformed``, ``signature.bad`` (does not verify with the
    stored key), ``signature.stale`` (a tag manifest changed after signing),
    ``signature.incomplete`` (a tag manifest the signer did not sign),
    ``signature.signer-missing`` (a signer another signature.json names is gone),
    ``signature.untrusted-signer``, the warning ``signature.no-trust``, and the
    ``timestamp.*`` codes of :func:`preserve.timestamps.check_timestamp`.
    """
    if isinstance(bag, (str, Path)):
        if Path(bag).is_dir() and not is_signed(Path(bag)):
            return
        with open_bag_files(Path(bag)) as files:  # a folder, tar or zip
            found = list(check_signatures(files, trust))
        yield from found
        return
    if not is_signed(bag):
        return
    if SIGNATURES_DIR in bag.files or SIGNATURES_DIR in bag.others:
        yield Problem("signature.malformed", SIGNATURES_DIR, "not a folder")
        return
    if bag.root_path() is None:
        bag = _Prefetched(bag)
    if trust is None:
        root = bag.root_path()
        archive = archive_of(root) if root is not None else None
        try:
            trust = Trust.for_archive(archive) if archive else Trust()
        except PreserveError as exc:
            yield Problem("signature.trust-unreadable", "", exc.one_line())
            trust = Trust()
    roots = _roots(trust)
    manifests = tag_manifests(bag)
    present: dict[str, str] = {}
    claimed: list[tuple[str, SignatureInfo]] = []
    slots = _slots(bag)
    if len(slots) > MAX_SIGNERS:
        yield Problem(
            SIGNERS_LIMIT_CODE,
            f"{SIGNATURES_DIR}/{SIGNERS_DIR}",
            f"{len(slots):,} signers, over the limit of {MAX_SIGNERS}: the first "
            f"{MAX_SIGNERS} were checked, the rest not",
        )
        slots = slots[:MAX_SIGNERS]
    for slot in slots:
        problems: list[Problem] = []
        info = _check_signer(bag, slot, trust, roots, problems, manifests)
        yield from problems
        if info is not None:
            present[info.key_fingerprint] = slot
            claimed.append((slot, info))
    for slot, info in claimed:
        for other in info.countersigns:
            if other not in present and other != info.key_fingerprint:
                yield Problem(
                    "signature.signer-missing",
                    f"{slot}/{INFO_NAME}",
                    f"this signature was made beside one by {other}, which is no longer in "
                    "the bag (removed)",
                )


class _Prefetched:
    """A serialized bag whose ``signatures/`` files are read once, in path order.

    A tar.gz can only seek backwards by decompressing again from its start; the
    signature files read one by one, signer after signer, would do that several
    times. Our exports (and most tools) store members sorted by path, so one forward
    pass reads them all. Bounded: files over :data:`MAX_FILE_BYTES` are left for
    :func:`_get` to report, and at most :data:`_PREFETCH_BYTES` in all are kept.
    """

    def __init__(self, bag: BagFiles) -> None:
        from preserve.verify.access import read_errors

        self._bag = bag
        self.label = bag.label
        self.files = bag.files
        self.dirs = bag.dirs
        self.others = bag.others
        self._cache: dict[str, bytes] = {}
        budget = _PREFETCH_BYTES
        inside = f"{SIGNATURES_DIR}/"
        for rel in sorted(r for r in bag.files if r.startswith(inside)):
            size = bag.files[rel]
            if size < 0 or size > min(MAX_FILE_BYTES, budget):
                continue
            try:
                self._cache[rel] = bag.read(rel, MAX_FILE_BYTES)
            except read_errors():
                continue  # read again on demand, where the error is reported
            budget -= size

    def read(self, rel: str, max_bytes: int) -> bytes:
        data = self._cache.get(rel)
        if data is not None and len(data) <= max_bytes:
            return data
        return self._bag.read(rel, max_bytes)

    def root_path(self) -> Path | None:
        return self._bag.root_path()

    def bag_name(self) -> str:
        return self._bag.bag_name()


#: What :class:`_Prefetched` keeps in memory at most (signature files are kilobytes).
_PREFETCH_BYTES = 8 << 20


def _check_signer(
    bag: BagFiles,
    slot: str,
    trust: Trust,
    roots: list[Any],
    out: list[Problem],
    manifests: list[str] | None = None,
) -> SignatureInfo | None:
    """One signer's problems, appended to ``out``; returns its info when it parsed."""
    if slot in bag.others or slot in bag.files:
        out.append(Problem("signature.malformed", slot, "not a folder"))
        return None
    info_rel = f"{slot}/{INFO_NAME}"
    try:
        info = _parse_info(_get(bag, info_rel), slot)
    except SigningError as exc:
        code = LIMIT_CODE if isinstance(exc, SignatureFileTooLarge) else "signature.malformed"
        out.append(Problem(code, info_rel, exc.message))
        return None
    key_rel = f"{slot}/{PUBLIC_KEY_NAME}"
    pem = _get(bag, key_rel)
    try:
        if isinstance(pem, _Unread):
            if pem.too_large:
                out.append(Problem(LIMIT_CODE, key_rel, f"{key_rel} {pem.why}"))
                return None
            raise KeyFileError(f"{key_rel} {pem.why}")
        public = keymod.parse_public_key(pem)
    except KeyFileError as exc:
        out.append(Problem("signature.malformed", key_rel, exc.message))
        return None
    actual_fp = keymod.fingerprint(public)
    if actual_fp != info.key_fingerprint:
        out.append(
            Problem(
                "signature.malformed",
                key_rel,
                f"key fingerprint {actual_fp} differs from {info.key_fingerprint} in {INFO_NAME}",
            )
        )
        return None
    if slot != SIGNATURES_DIR and slot != signer_folder(actual_fp):
        out.append(
            Problem(
                "signature.malformed",
                slot,
                f"folder of key {actual_fp} must be {signer_folder(actual_fp)}",
            )
        )
        return None
    who = f" by {actual_fp}" if slot != SIGNATURES_DIR else ""
    signed_names = {f.file for f in info.files}
    for name in tag_manifests(bag) if manifests is None else manifests:
        if name not in signed_names:
            out.append(
                Problem(
                    "signature.incomplete",
                    name,
                    f"tag manifest not covered by the bag's signature{who}",
                )
            )
    good = 0
    for item in info.files:
        good += _check_one(bag, slot, item, public, roots, who, out)
    if not info.files:
        out.append(Problem("signature.malformed", info_rel, "signs nothing"))
    if good and good == len(info.files):
        out.extend(_judge_signer(actual_fp, trust, key_rel))
    return info


def _roots(trust: Trust) -> list[Any]:
    from cryptography import x509

    roots: list[Any] = []
    for pem in trust.tsa_roots:
        roots += x509.load_pem_x509_certificates(pem)
    return roots


def _check_one(
    bag: BagFiles,
    slot: str,
    item: SignedFile,
    public: Any,
    roots: list[Any],
    who: str,
    out: list[Problem],
) -> bool:
    """Problems with one signed tag manifest (appended to ``out``); whether it verified."""
    sig_rel = f"{slot}/{item.signature}"
    signature = _get(bag, sig_rel)
    if isinstance(signature, _Unread) or len(signature) != 64:
        if isinstance(signature, _Unread) and signature.too_large:
            out.append(Problem(LIMIT_CODE, sig_rel, f"{sig_rel} {signature.why}"))
        else:
            why = signature.why if isinstance(signature, _Unread) else "is not 64 bytes"
            out.append(
                Problem(
                    "signature.malformed",
                    sig_rel,
                    f"{sig_rel} {why} (expected a 64-byte raw Ed25519 signature)",
                )
            )
        return False
    ok = False
    data = _get(bag, item.file) if parse_manifest_name(item.file) else _Unread("is missing")
    if isinstance(data, _Unread):
        out.append(
            Problem(
                "signature.stale", item.file, f"signed tag manifest is missing from the bag{who}"
            )
        )
    elif hashlib.sha256(data).hexdigest() != item.sha256:
        out.append(
            Problem(
                "signature.stale",
                item.file,
                f"tag manifest changed after the bag was signed{who} (payload or tags rewritten)",
            )
        )
    else:
        try:
            public.verify(signature, data)
            ok = True
        except InvalidSignature:
            out.append(
                Problem("signature.bad", sig_rel, f"signature over {item.file} does not verify")
            )
    if item.timestamp is not None:
        tsr_rel = f"{slot}/{item.timestamp}"
        tsr = _get(bag, tsr_rel)
        if isinstance(tsr, _Unread):
            code = LIMIT_CODE if tsr.too_large else "timestamp.malformed"
            out.append(Problem(code, tsr_rel, f"{tsr_rel} {tsr.why}"))
        else:
            out.extend(timestamps.check_timestamp(tsr, signature, roots, path=tsr_rel))
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
    """:func:`check_signatures` with fixed trust, as a picklable ``ExtraCheck``.

    It reads through :class:`BagFiles`, so it runs on serialized bags too.
    """

    trust: Trust | None = field(default=None)
    reads_bag_files: bool = True

    def __call__(self, bag: Path | BagFiles) -> Iterator[Problem]:
        return check_signatures(bag, self.trust)

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
    "read_signers",
    "removed_signers",
    "sign_bag",
    "signers_premis",
]
