"""Signed bags: real bags ingested from a fixture, signed, tampered with, and checked."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import bagit
import pytest
from click.testing import CliRunner

from preserve import ledger
from preserve.archive import IngestOptions, ingest
from preserve.chain import verify_chain
from preserve.cli import cli
from preserve.errors import ExitCode, SigningError, TimestampError
from preserve.keys import KEY_TRUST_EVENT, SigningKey, generate_key, trust_key
from preserve.signing import (
    SIGNATURE_EVENT,
    BagRefused,
    SignatureCheck,
    Trust,
    check_signatures,
    read_signers,
    sign_archived_bag,
    sign_bag,
    signer_folder,
)
from preserve.verify import verify_bag

from .conftest import FIXTURES
from .test_archive import tree_digest
from .tsa import require_openssl, unused_port_url

STATEMENT = FIXTURES / "en-annual-report.txt"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive holding one unsigned bag of the annual-report fixture."""
    root = tmp_path_factory.mktemp("signing")
    report = ingest([STATEMENT], root / "archive")
    assert report.exit_code == 0, report.as_dict()
    return root / "archive"


@pytest.fixture
def bag(archive: Path) -> Path:
    (only,) = (archive / "bags").iterdir()
    return only


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    (tmp_path / "keys").mkdir(exist_ok=True)
    return generate_key(tmp_path / "keys" / "archivist.key")[0]


def pub(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "archivist.pub.pem"


def codes(problems: object) -> set[str]:
    return {p.code for p in problems}  # type: ignore[attr-defined]


def rewrite_consistently(bag_dir: Path, *, drop_signatures: bool = False) -> None:
    """What a forger does: edit a payload file, then recompute every manifest."""
    if drop_signatures:
        shutil.rmtree(bag_dir / "signatures")
    original = next((bag_dir / "data" / "original").iterdir())
    data = bytearray(original.read_bytes())
    data[10] ^= 0x01
    original.write_bytes(bytes(data))
    bagit.Bag(str(bag_dir)).save(manifests=True)
    bagit.Bag(str(bag_dir)).validate()  # the bag alone looks perfect


# --------------------------------------------------------------------------- sign, verify


def test_sign_then_verify(bag: Path, key: SigningKey, tmp_path: Path) -> None:
    before = tree_digest(bag)
    info = sign_bag(bag, key)
    assert info.key_fingerprint == key.fingerprint
    assert [f.file for f in info.files] == ["tagmanifest-sha256.txt", "tagmanifest-sha512.txt"]
    # Nothing outside signatures/ changed, and the bag is still a valid BagIt bag.
    after = tree_digest(bag)
    assert {k: v for k, v in after.items() if not k.startswith("signatures/")} == before
    assert sorted(k for k in after if k.startswith("signatures/")) == [
        "signatures/premis.xml",
        "signatures/signature.json",
        "signatures/signer.pub.pem",
        "signatures/tagmanifest-sha256.txt.sig",
        "signatures/tagmanifest-sha512.txt.sig",
    ]
    bagit.Bag(str(bag)).validate()
    result = verify_bag(bag, extra_checks=[SignatureCheck(Trust.from_files([pub(tmp_path)]))])
    assert result.valid and result.problems == (), result.problems
    assert list(check_signatures(bag, Trust.from_files([pub(tmp_path)]))) == []


def test_signature_verifies_with_openssl_alone(bag: Path, key: SigningKey) -> None:
    openssl = require_openssl()
    sign_bag(bag, key)
    for name in ("tagmanifest-sha256.txt", "tagmanifest-sha512.txt"):
        command = [
            openssl,
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            "signatures/signer.pub.pem",
            "-rawin",
            "-in",
            name,
            "-sigfile",
            f"signatures/{name}.sig",
        ]
        good = subprocess.run(command, cwd=bag, capture_output=True, text=True, check=False)
        assert good.returncode == 0 and "Signature Verified Successfully" in good.stdout, good
    rewrite_consistently(bag)
    bad = subprocess.run(command, cwd=bag, capture_output=True, text=True, check=False)
    assert bad.returncode != 0, bad


def test_consistent_rewrite_is_caught_without_the_ledger(bag: Path, key: SigningKey) -> None:
    sign_bag(bag, key)
    rewrite_consistently(bag)
    # Outside any archive: copy the bag alone, so no ledger can help.
    alone = bag.parent.parent.parent / "alone" / bag.name
    shutil.copytree(bag, alone)
    result = verify_bag(alone, extra_checks=[SignatureCheck()])
    assert not result.valid
    assert {p.code for p in result.errors} == {"signature.stale"}
    assert {p.path for p in result.errors} == {"tagmanifest-sha256.txt", "tagmanifest-sha512.txt"}


def test_forged_signature_json_then_bad_signature(bag: Path, key: SigningKey) -> None:
    """A forger who also updates signature.json's digests still cannot make the signature."""
    sign_bag(bag, key)
    rewrite_consistently(bag)
    info_path = bag / "signatures" / "signature.json"
    info = json.loads(info_path.read_text())
    import hashlib

    for item in info["signed"]:
        item["sha256"] = hashlib.sha256((bag / item["file"]).read_bytes()).hexdigest()
    info_path.write_text(json.dumps(info))
    assert codes(check_signatures(bag)) == {"signature.bad"}


def test_signature_from_an_untrusted_key(bag: Path, key: SigningKey, tmp_path: Path) -> None:
    """A forger re-signs the rewritten bag with their own key: valid maths, unknown signer."""
    sign_bag(bag, key)
    rewrite_consistently(bag, drop_signatures=True)
    forger, _ = generate_key(tmp_path / "forger.key")
    sign_bag(bag, forger)
    trusted = Trust.from_files([pub(tmp_path)])
    problems = list(check_signatures(bag, trusted))
    assert codes(problems) == {"signature.untrusted-signer"}
    assert forger.fingerprint in problems[0].message
    # Without trust material nobody can say whose key it is: only a warning, never "fine".
    unjudged = list(check_signatures(bag, Trust()))
    assert [(p.code, p.severity.value) for p in unjudged] == [("signature.no-trust", "warning")]


def test_sig_file_swapped_for_another_keys_signature(
    bag: Path, key: SigningKey, tmp_path: Path
) -> None:
    sign_bag(bag, key)
    forger, _ = generate_key(tmp_path / "forger.key")
    name = "tagmanifest-sha256.txt"
    (bag / "signatures" / f"{name}.sig").write_bytes(forger.sign((bag / name).read_bytes()))
    problems = list(check_signatures(bag, Trust.from_files([pub(tmp_path)])))
    assert [(p.code, p.path) for p in problems] == [
        ("signature.bad", "signatures/tagmanifest-sha256.txt.sig")
    ]


@pytest.mark.parametrize(
    ("damage", "path"),
    [
        (lambda b: (b / "signatures/signature.json").write_text("{not json"), "signature.json"),
        (lambda b: (b / "signatures/signature.json").write_text('{"format": "x"}'), "json"),
        (lambda b: (b / "signatures/tagmanifest-sha256.txt.sig").write_bytes(b"short"), "sig"),
        (lambda b: (b / "signatures/signer.pub.pem").write_text("garbage"), "pem"),
        (lambda b: (b / "signatures/signer.pub.pem").unlink(), "pem"),
    ],
)
def test_malformed_signature_files(bag: Path, key: SigningKey, damage: object, path: str) -> None:
    sign_bag(bag, key)
    damage(bag)  # type: ignore[operator]
    problems = list(check_signatures(bag))
    assert codes(problems) == {"signature.malformed"}, problems
    assert all("\n" not in p.message for p in problems)


def test_unsigned_tag_manifest_is_reported(bag: Path, key: SigningKey) -> None:
    sign_bag(bag, key)
    data = json.loads((bag / "signatures/signature.json").read_text())
    data["signed"] = [f for f in data["signed"] if f["file"] == "tagmanifest-sha256.txt"]
    (bag / "signatures/signature.json").write_text(json.dumps(data))
    assert ("signature.incomplete", "tagmanifest-sha512.txt") in {
        (p.code, p.path) for p in check_signatures(bag)
    }


def test_unsigned_bag_has_no_signature_problems(bag: Path) -> None:
    assert list(check_signatures(bag)) == []


# --------------------------------------------------------------------------- atomicity


def test_resigning_replaces_own_signature_and_another_key_countersigns(
    bag: Path, key: SigningKey, tmp_path: Path
) -> None:
    first = sign_bag(bag, key)
    again = sign_bag(bag, key)  # the same key: its own signature is replaced
    assert again.folder == "signatures" and not (bag / "signatures" / "signers").exists()
    other, _ = generate_key(tmp_path / "other.key")
    info = sign_bag(bag, other)  # another key: a countersignature beside the first
    assert json.loads((bag / "signatures/signature.json").read_text())["key_fingerprint"] == (
        first.key_fingerprint
    )
    assert info.folder == signer_folder(other.fingerprint) and info.countersignature
    assert info.countersigns == (key.fingerprint,)
    assert sorted(p.name for p in bag.iterdir() if p.name.startswith(".")) == []
    bagit.Bag(str(bag)).validate()


def test_failed_timestamp_leaves_the_bag_unchanged(bag: Path, key: SigningKey) -> None:
    sign_bag(bag, key)
    before = tree_digest(bag)
    with pytest.raises(TimestampError, match="unreachable"):
        sign_bag(bag, key, tsa_url=unused_port_url(), tsa_timeout=5)
    assert tree_digest(bag) == before
    assert sorted(p.name for p in bag.iterdir()) == sorted(
        p.name for p in bag.iterdir() if not p.name.startswith(".")
    )


def test_cannot_sign_what_is_not_a_bag(tmp_path: Path, key: SigningKey) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SigningError, match="not a bag"):
        sign_bag(tmp_path / "empty", key)


def test_bag_whose_tag_manifest_lists_signatures_is_refused(bag: Path, key: SigningKey) -> None:
    sign_bag(bag, key)
    bagit.Bag(str(bag)).save(manifests=True)  # bagit-python lists signatures/ in tag manifests
    before = tree_digest(bag)
    with pytest.raises(SigningError, match="lists files under signatures/"):
        sign_bag(bag, key)
    assert tree_digest(bag) == before


# --------------------------------------------------------------------------- archive


def test_ingest_signs_and_chains_a_signature_event(tmp_path: Path, key: SigningKey) -> None:
    archive = tmp_path / "signed-archive"
    trust_key(archive, key.public)
    report = ingest([STATEMENT], archive, IngestOptions(signing_key=key))
    assert report.exit_code == 0, report.as_dict()
    (bag_dir,) = (archive / "bags").iterdir()
    bagit.Bag(str(bag_dir)).validate()
    assert list(check_signatures(bag_dir)) == []  # judged by the archive's trusted-keys/
    db = ledger.connect(archive, readonly=True)
    try:
        types = [r["type"] for r in db.execute("SELECT type FROM events ORDER BY id")]
        assert types == [KEY_TRUST_EVENT, "ingestion", SIGNATURE_EVENT]
        assert verify_chain(db).ok
    finally:
        db.close()


def test_ingest_with_unreachable_tsa_publishes_nothing(tmp_path: Path, key: SigningKey) -> None:
    archive = tmp_path / "a"
    options = IngestOptions(signing_key=key, tsa_url=unused_port_url())
    report = ingest([STATEMENT], archive, options)
    assert report.exit_code == ExitCode.cannot_run
    assert "cannot sign" in report.results[0].message
    assert list((archive / "bags").iterdir()) == []
    assert list((archive / "staging").iterdir()) == []
    db = ledger.connect(archive, readonly=True)
    try:
        assert db.execute("SELECT count(*) FROM bags").fetchone()[0] == 0
    finally:
        db.close()


def test_sign_archived_bag_records_it_and_refuses_a_rewritten_one(
    archive: Path, bag: Path, key: SigningKey
) -> None:
    sign_archived_bag(bag, key)
    db = ledger.connect(archive, readonly=True)
    try:
        assert (
            db.execute("SELECT count(*) FROM events WHERE type = ?", (SIGNATURE_EVENT,)).fetchone()[
                0
            ]
            == 1
        )
    finally:
        db.close()
    rewrite_consistently(bag)
    before = tree_digest(bag)
    with pytest.raises(BagRefused, match="differs from the ledger") as caught:
        sign_archived_bag(bag, key)
    assert caught.value.exit_code == ExitCode.bad
    assert tree_digest(bag) == before


def test_cli_sign_verify_and_audit(archive: Path, bag: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    key_file = tmp_path / "cli.key"
    env = {"PRESERVE_KEY_PASSPHRASE": "pass phrase"}
    made = runner.invoke(
        cli, ["keys", "init", str(key_file), "--passphrase", "--archive", str(archive)], env=env
    )
    assert made.exit_code == 0, made.output
    wrong = runner.invoke(
        cli, ["sign", "--key", str(key_file), str(bag)], env={"PRESERVE_KEY_PASSPHRASE": "x"}
    )
    assert wrong.exit_code == 2 and "wrong passphrase" in wrong.output
    assert not (bag / "signatures").exists()
    signed = runner.invoke(cli, ["sign", "--key", str(key_file), str(bag)], env=env)
    assert signed.exit_code == 0, signed.output
    checked = runner.invoke(cli, ["verify", "--json", str(bag)])
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.output)["bags"][0]["problems"] == []
    audited = runner.invoke(cli, ["audit", "--json", str(archive)])
    assert audited.exit_code == 0, audited.output

    # An archive that trusts nobody else: a forger's signature is named as such.
    forger, _ = generate_key(tmp_path / "forger.key")
    rewrite_consistently(bag, drop_signatures=True)
    sign_bag(bag, forger)
    audited = runner.invoke(cli, ["audit", "--json", str(archive)])
    assert audited.exit_code == 1
    found = {p["code"] for p in json.loads(audited.output)["bags"][0]["problems"]}
    assert {"signature.untrusted-signer", "ledger.tagmanifest-changed"} <= found
    alone = runner.invoke(cli, ["verify", "--trusted-key", str(tmp_path / "cli.pub.pem"), str(bag)])
    assert alone.exit_code == 1 and "signature.untrusted-signer" in alone.output


def test_cli_sign_refuses_corrupt_key_without_touching_bags(bag: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    before = tree_digest(bag)
    done = CliRunner().invoke(cli, ["sign", "--key", str(bad), str(bag)])
    assert done.exit_code == 2
    assert done.output.count("\n") == 1 and "bad.key" in done.output
    assert tree_digest(bag) == before


def test_ledger_without_the_row_cannot_be_signed(archive: Path, bag: Path, key: SigningKey) -> None:
    db = sqlite3.connect(archive / "ledger.sqlite")
    db.execute("DELETE FROM bags")
    db.commit()
    db.close()
    with pytest.raises(BagRefused, match="does not know this bag"):
        sign_archived_bag(bag, key)


def test_checks_for_our_bags_include_the_signature(
    archive: Path, bag: Path, key: SigningKey
) -> None:
    from preserve.bag_checks import check_our_bag

    trust_key(archive, key.public)
    sign_bag(bag, key)
    assert list(check_our_bag(bag)) == []  # judged by the archive's trusted-keys/
    rewrite_consistently(bag)
    assert "signature.stale" in codes(check_our_bag(bag))


def test_audit_finds_a_removed_signature_through_the_ledger(
    archive: Path, bag: Path, key: SigningKey
) -> None:
    """Without signatures/ the bag looks merely unsigned; the ledger remembers it was signed."""
    from preserve.audit import audit

    sign_archived_bag(bag, key)
    assert audit(archive).ok
    shutil.rmtree(bag / "signatures")
    assert verify_bag(bag).valid  # nothing inside the bag can tell
    report = audit(archive)
    found = {(p.code, p.path) for b in report.bags for p in b.problems}
    assert ("ledger.signature-missing", "signatures") in found
    assert not report.ok


def test_required_signature_missing_is_reported_by_verify_and_audit(
    archive: Path, bag: Path, key: SigningKey, tmp_path: Path
) -> None:
    """With [signing] required, a bag without signatures/ is invalid, ledger or not."""
    from preserve.audit import audit
    from preserve.bag_checks import PreserveChecks
    from preserve.settings import set_value

    runner = CliRunner()
    # Not required: an unsigned bag is fine; --require-signature makes it invalid.
    assert runner.invoke(cli, ["verify", str(bag)]).exit_code == 0
    forced = runner.invoke(cli, ["verify", "--json", "--require-signature", str(bag)])
    assert forced.exit_code == 1, forced.output
    (only,) = json.loads(forced.output)["bags"]
    assert ("signature.missing", "signatures") in {(p["code"], p["path"]) for p in only["problems"]}
    # Required by the archive's settings: verify (a bag in the archive) and audit.
    set_value(archive, "signing.required", "true")
    assert "signature.missing" in codes(verify_bag(bag, extra_checks=(PreserveChecks(),)).problems)
    report = audit(archive, keep_valid=False)
    assert {(b.identifier, p.code) for b in report.bags for p in b.problems} == {
        (bag.name, "signature.missing")
    }
    # Signed: no problem; the whole folder deleted (and the ledger's row with its
    # memory of the signing gone too, say, on a copy): still caught.
    sign_archived_bag(bag, key)
    assert audit(archive).ok
    shutil.rmtree(bag / "signatures")
    assert "signature.missing" in codes(verify_bag(bag, extra_checks=(PreserveChecks(),)).problems)
    # A copy of the bag outside any archive needs the flag.
    copy = tmp_path / "copy" / bag.name
    shutil.copytree(bag, copy)
    assert verify_bag(copy, extra_checks=(PreserveChecks(),)).valid
    assert not verify_bag(copy, extra_checks=(PreserveChecks(require_signature=True),)).valid


# --------------------------------------------------------------------------- several signers


def openssl_verifies(bag_dir: Path, folder: str, manifest: str) -> bool:
    openssl = require_openssl()
    command = [
        openssl,
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        f"{folder}/signer.pub.pem",
        "-rawin",
        "-in",
        manifest,
        "-sigfile",
        f"{folder}/{manifest}.sig",
    ]
    done = subprocess.run(command, cwd=bag_dir, capture_output=True, text=True, check=False)
    return done.returncode == 0 and "Signature Verified Successfully" in done.stdout


@pytest.fixture
def institution(tmp_path: Path) -> SigningKey:
    (tmp_path / "keys").mkdir(exist_ok=True)
    return generate_key(tmp_path / "keys" / "institution.key")[0]


def both_trusted(tmp_path: Path) -> Trust:
    return Trust.from_files([pub(tmp_path), tmp_path / "keys" / "institution.pub.pem"])


def test_countersignatures_are_each_checked_on_their_own(
    bag: Path, key: SigningKey, institution: SigningKey, tmp_path: Path
) -> None:
    sign_bag(bag, key, signer="First Archivist")
    counter = sign_bag(bag, institution, signer="Example Institution")
    folder = signer_folder(institution.fingerprint)
    assert (bag / folder / "signature.json").is_file()
    for manifest in ("tagmanifest-sha256.txt", "tagmanifest-sha512.txt"):
        assert openssl_verifies(bag, "signatures", manifest)
        assert openssl_verifies(bag, folder, manifest)
    assert list(check_signatures(bag, both_trusted(tmp_path))) == []
    assert [(i.key_fingerprint, i.signer) for i in read_signers(bag)] == [
        (key.fingerprint, "First Archivist"),
        (counter.key_fingerprint, "Example Institution"),
    ]
    # Trusting only the first signer: the countersigner is named, nobody else.
    problems = list(check_signatures(bag, Trust.from_files([pub(tmp_path)])))
    assert [(p.code, p.path) for p in problems] == [
        ("signature.untrusted-signer", f"{folder}/signer.pub.pem")
    ]
    # One byte of the countersignature: that signer's problem alone.
    sig = bag / folder / "tagmanifest-sha512.txt.sig"
    data = bytearray(sig.read_bytes())
    data[5] ^= 0x01
    sig.write_bytes(bytes(data))
    assert not openssl_verifies(bag, folder, "tagmanifest-sha512.txt")
    problems = list(check_signatures(bag, both_trusted(tmp_path)))
    assert [(p.code, p.path) for p in problems] == [
        ("signature.bad", f"{folder}/tagmanifest-sha512.txt.sig")
    ]
    result = verify_bag(bag, extra_checks=[SignatureCheck(both_trusted(tmp_path))])
    assert not result.valid


def test_a_rewritten_bag_makes_every_signer_stale(
    bag: Path, key: SigningKey, institution: SigningKey
) -> None:
    sign_bag(bag, key)
    sign_bag(bag, institution)
    rewrite_consistently(bag)
    stale = {(p.code, p.message.split(" (")[0]) for p in check_signatures(bag)}
    assert {c for c, _ in stale} == {"signature.stale"}
    assert any(institution.fingerprint in m for _, m in stale)  # the countersigner is named
    assert any(institution.fingerprint not in m for _, m in stale)


def test_signer_is_an_agent_in_premis_never_a_creator(
    bag: Path, key: SigningKey, institution: SigningKey
) -> None:
    import xml.etree.ElementTree as ET

    from preserve.premis import PREMIS_NS

    record_before = (bag / "data/metadata/statement.json").read_bytes()
    sign_bag(bag, key, signer="First Archivist")
    sign_bag(bag, institution, signer="Example Institution")
    root = ET.parse(bag / "signatures" / "premis.xml").getroot()
    ns = {"p": PREMIS_NS}
    agents = {
        a.findtext("p:agentIdentifier/p:agentIdentifierValue", namespaces=ns): a.findtext(
            "p:agentName", namespaces=ns
        )
        for a in root.findall("p:agent", ns)
    }
    assert agents[key.fingerprint] == "First Archivist"
    assert agents[institution.fingerprint] == "Example Institution"
    events = root.findall("p:event", ns)
    assert [e.findtext("p:eventType", namespaces=ns) for e in events] == [SIGNATURE_EVENT] * 2
    signers = [
        link.findtext("p:linkingAgentIdentifierValue", namespaces=ns)
        for e in events
        for link in e.findall("p:linkingAgentIdentifier", ns)
        if link.findtext("p:linkingAgentRole", namespaces=ns) == "signer"
    ]
    assert signers == [key.fingerprint, institution.fingerprint]
    # The statement's record (its creators) is untouched by who signed the bag.
    assert (bag / "data/metadata/statement.json").read_bytes() == record_before
    assert b"Example Institution" not in (bag / "bag-info.txt").read_bytes()


def test_an_old_single_signer_bag_keeps_verifying(
    bag: Path, key: SigningKey, tmp_path: Path
) -> None:
    """Bags signed before countersignatures: no premis.xml, no signer fields."""
    sign_bag(bag, key)
    (bag / "signatures" / "premis.xml").unlink()
    info_path = bag / "signatures" / "signature.json"
    doc = json.loads(info_path.read_text())
    doc.pop("signer", None)
    doc.pop("countersigns", None)
    info_path.write_text(json.dumps(doc, indent=2))
    assert list(check_signatures(bag, Trust.from_files([pub(tmp_path)]))) == []
    other, _ = generate_key(tmp_path / "other.key")
    sign_bag(bag, other)  # and it can be countersigned
    assert codes(check_signatures(bag, Trust())) == {"signature.no-trust"}


def test_a_removed_signer_is_named_by_the_others_and_by_the_ledger(
    archive: Path, bag: Path, key: SigningKey, institution: SigningKey, tmp_path: Path
) -> None:
    from preserve.audit import audit

    trust_key(archive, key.public)
    trust_key(archive, institution.public)
    sign_archived_bag(bag, key, signer="First Archivist")
    sign_archived_bag(bag, institution, signer="Example Institution")
    db = ledger.connect(archive, readonly=True)
    try:
        details = [
            json.loads(r["detail"])
            for r in db.execute("SELECT detail FROM events WHERE type = ?", (SIGNATURE_EVENT,))
        ]
        assert [(d["key_fingerprint"], d["role"], d["signer"]) for d in details] == [
            (key.fingerprint, "signature", "First Archivist"),
            (institution.fingerprint, "countersignature", "Example Institution"),
        ]
        assert verify_chain(db).ok
    finally:
        db.close()
    assert audit(archive).ok
    folder = signer_folder(institution.fingerprint)
    kept = tmp_path / "kept"
    shutil.copytree(bag / folder, kept)
    shutil.rmtree(bag / folder)  # the countersignature removed: only the ledger knows
    assert list(check_signatures(bag)) == []
    found = {(p.code, p.path) for b in audit(archive).bags for p in b.problems}
    assert ("ledger.signature-missing", folder) in found
    # The first signature removed instead: the countersigner's signature.json names it.
    shutil.copytree(kept, bag / folder)
    for name in ("signature.json", "signer.pub.pem"):
        (bag / "signatures" / name).unlink()
    for sig in (bag / "signatures").glob("*.sig"):
        sig.unlink()
    assert [(p.code, p.path) for p in check_signatures(bag)] == [
        ("signature.signer-missing", f"{folder}/signature.json")
    ]
    found = {(p.code, p.path) for b in audit(archive).bags for p in b.problems}
    assert ("ledger.signature-missing", signer_folder(key.fingerprint)) in found


def test_cli_countersigns_and_names_both(
    archive: Path, bag: Path, key: SigningKey, tmp_path: Path
) -> None:
    runner = CliRunner()
    for name in ("a", "b"):
        made = runner.invoke(cli, ["keys", "init", str(tmp_path / f"{name}.key")])
        assert made.exit_code == 0, made.output
    first = runner.invoke(cli, ["sign", "--key", str(tmp_path / "a.key"), str(bag)])
    assert first.exit_code == 0 and "signed by" in first.output, first.output
    second = runner.invoke(
        cli,
        ["sign", "--key", str(tmp_path / "b.key"), "--signer", "Second Archivist", str(bag)],
    )
    assert second.exit_code == 0, second.output
    assert "countersigned by" in second.output and "Second Archivist" in second.output
    checked = runner.invoke(
        cli,
        [
            "verify",
            "--trusted-key",
            str(tmp_path / "a.pub.pem"),
            "--trusted-key",
            str(tmp_path / "b.pub.pem"),
            str(bag),
        ],
    )
    assert checked.exit_code == 0 and checked.output.startswith("VALID"), checked.output


# --------------------------------------------------------------------------- serialized bags


def serialized(bag_dir: Path, out_dir: Path, suffix: str) -> Path:
    from preserve.export import export_bag

    out_dir.mkdir(exist_ok=True)
    return export_bag(bag_dir, out_dir / f"{bag_dir.name}{suffix}").path


SUFFIXES = [".tar", ".tar.gz", ".zip"]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_signed_serialized_bag_is_checked_streamed(
    bag: Path, key: SigningKey, institution: SigningKey, tmp_path: Path, suffix: str
) -> None:
    sign_bag(bag, key)
    sign_bag(bag, institution)
    out = serialized(bag, tmp_path / "out", suffix)
    trust = both_trusted(tmp_path)
    result = verify_bag(out, extra_checks=[SignatureCheck(trust)])
    assert result.valid and result.problems == (), result.problems
    done = CliRunner().invoke(
        cli,
        [
            "verify",
            "--trusted-key",
            str(pub(tmp_path)),
            "--trusted-key",
            str(tmp_path / "keys" / "institution.pub.pem"),
            str(out),
        ],
    )
    assert done.exit_code == 0 and done.output.startswith("VALID"), done.output
    assert "check.skipped" not in done.output
    # Without trust material: each signer is unchecked (a warning), never skipped.
    plain = CliRunner().invoke(cli, ["verify", "--json", str(out)])
    assert plain.exit_code == 0, plain.output
    found = json.loads(plain.output)["bags"][0]["problems"]
    assert sorted(p["code"] for p in found) == ["signature.no-trust"] * 2


def tamper_signature_byte(bag_dir: Path) -> None:
    sig = bag_dir / "signatures" / "tagmanifest-sha256.txt.sig"
    data = bytearray(sig.read_bytes())
    data[0] ^= 0x80
    sig.write_bytes(bytes(data))


def tamper_tag_manifest_consistently(bag_dir: Path) -> None:
    """Change bag-info.txt and re-hash it in every tag manifest, as a careful forger would."""
    import hashlib

    info = bag_dir / "bag-info.txt"
    info.write_bytes(info.read_bytes() + b"Internal-Sender-Description: edited later\n")
    for manifest in bag_dir.glob("tagmanifest-*.txt"):
        alg = manifest.name.removeprefix("tagmanifest-").removesuffix(".txt")
        lines = []
        for line in manifest.read_text().splitlines():
            digest, path = line.split(None, 1)
            if path == "bag-info.txt":
                digest = hashlib.new(alg, info.read_bytes()).hexdigest()
            lines.append(f"{digest}  {path}\n")
        manifest.write_text("".join(lines))
    bagit.Bag(str(bag_dir)).validate()  # a consistent bag, for a tool without signatures


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("tamper", [tamper_signature_byte, tamper_tag_manifest_consistently])
def test_a_tampered_serialized_bag_is_named_as_in_a_folder(
    bag: Path, key: SigningKey, institution: SigningKey, tmp_path: Path, suffix: str, tamper: object
) -> None:
    sign_bag(bag, key)
    sign_bag(bag, institution)
    tamper(bag)  # type: ignore[operator]
    trust = both_trusted(tmp_path)
    in_folder = verify_bag(bag, extra_checks=[SignatureCheck(trust)])
    out = serialized(bag, tmp_path / "out", suffix)
    in_file = verify_bag(out, extra_checks=[SignatureCheck(trust)])
    assert not in_folder.valid and not in_file.valid
    assert [p.one_line() for p in in_file.problems] == [p.one_line() for p in in_folder.problems]
    assert list(check_signatures(out, trust)) == list(check_signatures(bag, trust)) != []
    expected = {"signature.bad"} if tamper is tamper_signature_byte else {"signature.stale"}
    assert {p.code for p in in_file.errors} == expected
    done = CliRunner().invoke(cli, ["verify", "--trusted-key", str(pub(tmp_path)), str(out)])
    assert done.exit_code == 1 and done.output.startswith("INVALID"), done.output


def test_a_timestamped_countersignature_is_checked_in_its_folder_and_in_a_tar(
    bag: Path, key: SigningKey, institution: SigningKey, tmp_path: Path
) -> None:
    from .tsa import local_tsa

    require_openssl()
    with local_tsa(tmp_path / "tsa") as tsa:
        sign_bag(bag, key)
        info = sign_bag(bag, institution, tsa_url=tsa.url)
    folder = signer_folder(institution.fingerprint)
    assert all(f.timestamp_time for f in info.files)
    assert (bag / folder / "tagmanifest-sha256.txt.sig.tsr").is_file()
    trust = Trust.from_files(
        [pub(tmp_path), tmp_path / "keys" / "institution.pub.pem"], [tsa.ca.pem]
    )
    assert list(check_signatures(bag, trust)) == []
    out = serialized(bag, tmp_path / "out", ".tar.gz")
    assert list(check_signatures(out, trust)) == []
    tsr = bag / folder / "tagmanifest-sha512.txt.sig.tsr"
    tsr.write_bytes(tsr.read_bytes()[:-40])
    found = {(p.code.split(".")[0], p.path) for p in check_signatures(bag, trust)}
    assert found == {("timestamp", f"{folder}/tagmanifest-sha512.txt.sig.tsr")}


def test_too_many_signer_folders_are_not_all_checked(
    bag: Path, key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    import preserve.signing

    monkeypatch.setattr(preserve.signing, "MAX_SIGNERS", 3)
    sign_bag(bag, key)
    for n in range(5):
        (bag / "signatures" / "signers" / f"{n:064x}").mkdir(parents=True)
    found = [(p.code, p.path) for p in check_signatures(bag)]
    assert found[0] == ("limit.signers", "signatures/signers")
    assert len([f for f in found if f[0] == "signature.malformed"]) == 2  # 3 checked, 1 good
