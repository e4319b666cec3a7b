"""Signing keys: made 0600, optionally passphrase-protected, fingerprints as openssl has them."""

from __future__ import annotations

import hashlib
import stat
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from preserve.cli import cli
from preserve.errors import ExitCode, KeyFileError
from preserve.keys import (
    default_public_path,
    generate_key,
    load_private_key,
    load_public_key,
    trust_key,
)

from .tsa import require_openssl


def test_new_key_is_private_and_loads_back(tmp_path: Path) -> None:
    key, public = generate_key(tmp_path / "archivist.key")
    assert public == tmp_path / "archivist.pub.pem"
    assert stat.S_IMODE((tmp_path / "archivist.key").stat().st_mode) == 0o600
    loaded = load_private_key(tmp_path / "archivist.key")
    assert loaded.fingerprint == key.fingerprint
    assert load_public_key(public).public_bytes_raw() == key.public.public_bytes_raw()
    assert loaded.public.public_bytes_raw() == key.public.public_bytes_raw()


def test_fingerprint_is_sha256_of_the_der_public_key_as_openssl_writes_it(tmp_path: Path) -> None:
    openssl = require_openssl()
    key, public = generate_key(tmp_path / "k.pem")
    der = subprocess.run(
        [openssl, "pkey", "-pubin", "-in", str(public), "-outform", "DER"],
        capture_output=True,
        check=True,
    ).stdout
    assert key.fingerprint == "sha256:" + hashlib.sha256(der).hexdigest()


def test_never_overwrites_a_key(tmp_path: Path) -> None:
    generate_key(tmp_path / "k.key")
    before = (tmp_path / "k.key").read_bytes()
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        generate_key(tmp_path / "k.key")
    assert (tmp_path / "k.key").read_bytes() == before


def test_passphrase_missing_wrong_and_right(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    key, _ = generate_key(path, passphrase=b"correct horse")
    assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    with pytest.raises(KeyFileError, match="protected by a passphrase"):
        load_private_key(path)
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        load_private_key(path, b"battery staple")
    assert load_private_key(path, b"correct horse").fingerprint == key.fingerprint


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not a key at all\n",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ],
)
def test_corrupt_key_file_is_one_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(KeyFileError) as caught:
        load_private_key(path)
    assert caught.value.exit_code == ExitCode.cannot_run
    assert "\n" not in caught.value.one_line()


def test_other_key_types_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "ec.key"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(KeyFileError, match="not an Ed25519 key"):
        load_private_key(path)
    with pytest.raises(KeyFileError, match="no such key file"):
        load_private_key(tmp_path / "absent.key")


def test_trust_key_is_idempotent(tmp_path: Path) -> None:
    key, _ = generate_key(tmp_path / "k.key")
    first = trust_key(tmp_path / "archive", key.public)
    assert trust_key(tmp_path / "archive", key.public) == first
    assert list((tmp_path / "archive" / "trusted-keys").iterdir()) == [first]


def test_default_public_path() -> None:
    assert default_public_path(Path("a/me.key")) == Path("a/me.pub.pem")
    assert default_public_path(Path("a/me.pem")) == Path("a/me.pub.pem")
    assert default_public_path(Path("a/me")) == Path("a/me.pub.pem")


def test_cli_init_with_passphrase_then_export(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"PRESERVE_KEY_PASSPHRASE": "s3cret phrase"}
    key = tmp_path / "keys" / "archivist.key"
    key.parent.mkdir()
    done = runner.invoke(
        cli,
        ["keys", "init", str(key), "--passphrase", "--archive", str(tmp_path / "archive")],
        env=env,
    )
    assert done.exit_code == 0, done.output
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(list((tmp_path / "archive" / "trusted-keys").glob("*.pem"))) == 1
    exported = runner.invoke(cli, ["keys", "export", str(key)], env=env)
    assert exported.exit_code == 0, exported.output
    assert exported.output.encode() == (key.parent / "archivist.pub.pem").read_bytes()
    wrong = runner.invoke(
        cli, ["keys", "export", str(key)], env={"PRESERVE_KEY_PASSPHRASE": "nope"}
    )
    assert wrong.exit_code == 2
    assert "wrong passphrase" in wrong.output
    none = runner.invoke(cli, ["keys", "export", str(key)], env={"PRESERVE_KEY_PASSPHRASE": ""})
    assert none.exit_code == 2 and "passphrase" in none.output


def test_cli_passphrase_file(tmp_path: Path) -> None:
    runner = CliRunner()
    phrase = tmp_path / "phrase.txt"
    phrase.write_text("from a file\n")
    key = tmp_path / "k.key"
    done = runner.invoke(cli, ["keys", "init", str(key), "--passphrase-file", str(phrase)])
    assert done.exit_code == 0, done.output
    assert load_private_key(key, b"from a file")
    again = runner.invoke(cli, ["keys", "init", str(key)])
    assert again.exit_code == 2 and "refusing to overwrite" in again.output


def test_keys_init_refuses_a_key_inside_the_archive_it_is_to_trust(tmp_path: Path) -> None:
    """D30: even an archive folder with no ledger yet is no place for a private key."""
    fresh = tmp_path / "fresh-archive"
    fresh.mkdir()
    result = CliRunner().invoke(
        cli, ["keys", "init", str(fresh / "archivist.key"), "--archive", str(fresh)]
    )
    assert result.exit_code == int(ExitCode.cannot_run), result.output
    assert "inside the archive" in result.stderr
    assert list(fresh.iterdir()) == []
