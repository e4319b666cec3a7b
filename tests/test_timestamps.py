"""RFC 3161 timestamps from a real local TSA (``openssl ts -reply`` on 127.0.0.1)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import bagit
import pytest
from click.testing import CliRunner

from preserve.archive import IngestOptions, ingest
from preserve.cli import cli
from preserve.errors import TimestampError
from preserve.keys import generate_key
from preserve.signing import Trust, check_signatures
from preserve.timestamps import (
    _sort_certificates,
    check_timestamp,
    decode,
    load_roots,
    request_timestamp,
)

from .conftest import FIXTURES
from .test_archive import tree_digest
from .tsa import LocalTSA, Mode, local_tsa, make_ca, require_openssl, unused_port_url


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTSA]:
    require_openssl()
    with local_tsa(tmp_path_factory.mktemp("tsa")) as running:
        yield running


@pytest.fixture(autouse=True)
def _good_mode(tsa: LocalTSA) -> Iterator[None]:
    tsa.mode = Mode.good
    yield
    tsa.mode = Mode.good


@pytest.fixture(scope="module")
def signed_pristine(tmp_path_factory: pytest.TempPathFactory, tsa: LocalTSA) -> Path:
    """An archive whose one bag was signed and timestamped at ingest."""
    root = tmp_path_factory.mktemp("stamped")
    (root / "keys").mkdir()
    key, _ = generate_key(root / "keys" / "archivist.key")
    options = IngestOptions(signing_key=key, tsa_url=tsa.url)
    report = ingest([FIXTURES / "en-annual-report.txt"], root / "archive", options)
    assert report.exit_code == 0, report.as_dict()
    return root


@pytest.fixture
def stamped(signed_pristine: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(signed_pristine, copy)
    return copy


def only_bag(root: Path) -> Path:
    (bag,) = (root / "archive" / "bags").iterdir()
    return bag


def test_local_tsa_timestamp_verifies(tsa: LocalTSA) -> None:
    stamp = request_timestamp(tsa.url, b"the statement as issued")
    roots = load_roots([tsa.ca.pem])
    assert list(check_timestamp(stamp.der, b"the statement as issued", roots)) == []


def test_timestamp_over_other_data_does_not_verify(tsa: LocalTSA) -> None:
    stamp = request_timestamp(tsa.url, b"something else")
    problems = list(check_timestamp(stamp.der, b"the statement", load_roots([tsa.ca.pem])))
    assert [p.code for p in problems] == ["timestamp.imprint-mismatch"]


def test_timestamp_from_a_tsa_outside_the_trust_store(tsa: LocalTSA, tmp_path: Path) -> None:
    stamp = request_timestamp(tsa.url, b"data")
    stranger = make_ca(tmp_path / "other", "Some Other Root")
    problems = list(check_timestamp(stamp.der, b"data", load_roots([stranger.pem])))
    assert [p.code for p in problems] == ["timestamp.untrusted"]
    unjudged = list(check_timestamp(stamp.der, b"data", []))
    assert [(p.code, p.severity.value) for p in unjudged] == [("timestamp.no-trust", "warning")]


def test_tampered_token_fails_its_cms_signature(tsa: LocalTSA) -> None:
    stamp = request_timestamp(tsa.url, b"data")
    der = bytearray(stamp.der)
    der[-3] ^= 0x01  # inside the TSA's signature value
    problems = list(check_timestamp(bytes(der), b"data", load_roots([tsa.ca.pem])))
    assert [p.code for p in problems] in (["timestamp.untrusted"], ["timestamp.malformed"])


@pytest.mark.parametrize("garbage", [b"", b"garbage", b"\x30\x03\x02\x01\x00", b"\x30\x82\xff"])
def test_malformed_timestamp_files(garbage: bytes) -> None:
    problems = list(check_timestamp(garbage, b"data", None))
    assert [p.code for p in problems] == ["timestamp.malformed"]
    assert "\n" not in problems[0].message


def test_certificate_set_is_sorted_without_changing_length(tsa: LocalTSA) -> None:
    """openssl writes the CMS certificates unsorted; our copy for parsing is DER-sorted."""
    stamp = request_timestamp(tsa.url, b"data")
    fixed = _sort_certificates(stamp.der)
    assert len(fixed) == len(stamp.der)
    assert decode(stamp.der).tst_info.serial_number == stamp.serial
    assert _sort_certificates(fixed) == fixed


@pytest.mark.parametrize(
    ("mode", "message"),
    [(Mode.garbage, "did not answer with a timestamp"), (Mode.http_error, "HTTP 503")],
)
def test_tsa_that_answers_badly(tsa: LocalTSA, mode: Mode, message: str) -> None:
    tsa.mode = mode
    with pytest.raises(TimestampError, match=message):
        request_timestamp(tsa.url, b"data")


def test_unreachable_tsa_and_bad_url() -> None:
    with pytest.raises(TimestampError, match="unreachable"):
        request_timestamp(unused_port_url(), b"data", timeout=5)
    with pytest.raises(TimestampError, match="http"):
        request_timestamp("file:///etc/passwd", b"data")


# --------------------------------------------------------------------------- in bags


def test_signed_and_timestamped_bag_verifies(stamped: Path, tsa: LocalTSA) -> None:
    bag = only_bag(stamped)
    names = sorted(p.name for p in (bag / "signatures").iterdir())
    assert "tagmanifest-sha256.txt.sig.tsr" in names
    assert "tagmanifest-sha512.txt.sig.tsr" in names
    bagit.Bag(str(bag)).validate()
    trust = Trust.from_files([stamped / "keys" / "archivist.pub.pem"], [tsa.ca.pem])
    assert list(check_signatures(bag, trust)) == []
    info = json.loads((bag / "signatures" / "signature.json").read_text())
    assert all(item["timestamp_time"] for item in info["signed"])


def test_timestamp_verifies_with_openssl_alone(stamped: Path, tsa: LocalTSA) -> None:
    openssl = require_openssl()
    bag = only_bag(stamped)
    sig = bag / "signatures" / "tagmanifest-sha256.txt.sig"
    command = [openssl, "ts", "-verify", "-data", str(sig), "-in", f"{sig}.tsr"]
    good = subprocess.run(
        [*command, "-CAfile", str(tsa.ca.pem)], capture_output=True, text=True, check=False
    )
    assert good.returncode == 0 and "Verification: OK" in good.stdout, good
    other = bag / "signatures" / "tagmanifest-sha512.txt.sig"
    wrong = subprocess.run(
        [*command[:4], str(other), "-in", f"{sig}.tsr", "-CAfile", str(tsa.ca.pem)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert wrong.returncode != 0


def test_timestamp_swapped_for_one_over_other_data(stamped: Path, tsa: LocalTSA) -> None:
    bag = only_bag(stamped)
    folder = bag / "signatures"
    shutil.copy(
        folder / "tagmanifest-sha512.txt.sig.tsr", folder / "tagmanifest-sha256.txt.sig.tsr"
    )
    trust = Trust.from_files([stamped / "keys" / "archivist.pub.pem"], [tsa.ca.pem])
    problems = list(check_signatures(bag, trust))
    assert [(p.code, p.path) for p in problems] == [
        ("timestamp.imprint-mismatch", "signatures/tagmanifest-sha256.txt.sig.tsr")
    ]


def test_cli_verify_with_trust_store(stamped: Path, tsa: LocalTSA, tmp_path: Path) -> None:
    runner = CliRunner()
    bag = only_bag(stamped)
    pub = stamped / "keys" / "archivist.pub.pem"
    args = ["verify", "--json", "--trusted-key", str(pub)]
    good = runner.invoke(cli, [*args, "--tsa-ca", str(tsa.ca.pem), str(bag)])
    assert good.exit_code == 0, good.output
    assert json.loads(good.output)["bags"][0]["problems"] == []
    stranger = make_ca(tmp_path / "stranger", "Stranger Root")
    bad = runner.invoke(cli, [*args, "--tsa-ca", str(stranger.pem), str(bag)])
    assert bad.exit_code == 1
    assert {p["code"] for p in json.loads(bad.output)["bags"][0]["problems"]} == {
        "timestamp.untrusted"
    }
    (bag / "signatures" / "tagmanifest-sha256.txt.sig.tsr").write_bytes(b"<html>oops</html>")
    broken = runner.invoke(cli, [*args, "--tsa-ca", str(tsa.ca.pem), str(bag)])
    assert broken.exit_code == 1 and "timestamp.malformed" in broken.output


def test_cli_sign_with_garbage_tsa_changes_nothing(
    stamped: Path, tsa: LocalTSA, tmp_path: Path
) -> None:
    bag = only_bag(stamped)
    before = tree_digest(bag)
    tsa.mode = Mode.garbage
    key = stamped / "keys" / "archivist.key"
    done = CliRunner().invoke(cli, ["sign", "--key", str(key), "--tsa", tsa.url, str(bag)])
    assert done.exit_code == 2
    assert "did not answer with a timestamp" in done.output
    assert done.output.count("\n") == 1
    assert tree_digest(bag) == before


def test_cli_anchor_timestamped(stamped: Path, tsa: LocalTSA) -> None:
    openssl = require_openssl()
    archive = stamped / "archive"
    done = CliRunner().invoke(cli, ["ledger", "anchor", "--json", "--tsa", tsa.url, str(archive)])
    assert done.exit_code == 0, done.output
    doc = json.loads(done.output)
    assert doc["events"] == 2 and doc["timestamp_time"]
    ca = str(tsa.ca.pem)
    check = subprocess.run(
        [openssl, "ts", "-verify", "-data", doc["file"], "-in", doc["timestamp"], "-CAfile", ca],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check
    assert Path(doc["file"]).read_text() == doc["line"] + "\n"
