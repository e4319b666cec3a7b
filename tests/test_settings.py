"""The archive's settings file: read, validated, shown and changed by `preserve settings`."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from preserve.bagit_format import Limits
from preserve.cli import cli
from preserve.settings import (
    Settings,
    SettingsError,
    load_settings,
    set_value,
    settings_path,
)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_no_file_means_every_default(tmp_path: Path) -> None:
    assert load_settings(tmp_path) == Settings()
    assert load_settings(tmp_path).limits == Limits()


def test_a_full_file_is_read(tmp_path: Path) -> None:
    settings_path(tmp_path).write_text(
        """
[institution]
name = "National Archive of Examples"
address = "1 Archive Street, Sample City"
contact_name = "Jane Archivist"
contact_email = "archive@example.org"
identifiers = {isil = "XX-SAMPLE-1"}

[limits]
max_files = 500

[signing]
required = true

[replicas]
copies = 3
targets.offsite = {url = "ssh://keeper@127.0.0.1:2222/srv/replica"}
targets.vault = {url = "/mnt/vault/archive"}
""",
        encoding="utf-8",
    )
    s = load_settings(tmp_path)
    assert s.institution.name == "National Archive of Examples"
    assert s.institution.contact_email == "archive@example.org"
    assert s.institution.identifiers == {"isil": "XX-SAMPLE-1"}
    assert s.limits.max_files == 500 and s.limits.max_depth == Limits().max_depth
    assert s.signing_required is True
    assert s.replica_copies == 3
    assert s.replica_targets == {
        "offsite": "ssh://keeper@127.0.0.1:2222/srv/replica",
        "vault": "/mnt/vault/archive",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[institution]\nnmae = 'x'\n", "Additional properties are not allowed"),
        ("[limits]\nmax_files = 0\n", "limits.max_files"),
        ("[institution]\ncontact_email = 'nobody'\n", "is not an e-mail address"),
        ('[institution]\nname = "Office\\u2028Payload-Oxum: 1.1"\n', "line break or control"),
        ('[institution]\nname = "Office\\nPayload-Oxum: 1.1"\n', "line break or control"),
        ('[institution]\nname = "Office\\u0085Payload-Oxum: 1.1"\n', "line break or control"),
        ("[replicas.targets.x]\npath = '/a'\n", "'path' was unexpected"),
        ("x = [", "not valid TOML"),
    ],
)
def test_a_bad_file_is_one_line_naming_it(tmp_path: Path, text: str, message: str) -> None:
    settings_path(tmp_path).write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError, match=r"settings\.toml") as caught:
        load_settings(tmp_path)
    assert message in caught.value.one_line()
    assert "\n" not in caught.value.one_line()
    code, _out, err = run("settings", str(tmp_path))
    assert code == 2 and message in err and "Traceback" not in err


def test_a_fifo_or_link_is_never_read(tmp_path: Path) -> None:
    os.mkfifo(settings_path(tmp_path))
    code, _out, err = run("settings", str(tmp_path))  # would block forever if opened
    assert code == 2 and "not a regular file" in err
    os.unlink(settings_path(tmp_path))
    settings_path(tmp_path).symlink_to("/dev/zero")
    code, _out, err = run("settings", str(tmp_path))
    assert code == 2 and "not a regular file" in err


def test_set_show_and_get_through_the_command(tmp_path: Path) -> None:
    assert run("settings", str(tmp_path), "institution.name", "Archive of Examples")[0] == 0
    assert run("settings", str(tmp_path), "limits.max_files", "2_000")[0] == 0
    assert run("settings", str(tmp_path), "signing.required", "true")[0] == 0
    assert run("settings", str(tmp_path), "replicas.targets.vault.url", "/mnt/vault")[0] == 0
    written = tomllib.loads(settings_path(tmp_path).read_text(encoding="utf-8"))
    assert written == {
        "institution": {"name": "Archive of Examples"},
        "limits": {"max_files": 2000},
        "signing": {"required": True},
        "replicas": {"targets": {"vault": {"url": "/mnt/vault"}}},
    }
    assert run("settings", str(tmp_path), "limits.max_files") == (0, "2000\n", "")
    assert run("settings", str(tmp_path), "signing.required") == (0, "true\n", "")
    code, out, _ = run("settings", str(tmp_path), "--json")
    assert code == 0 and json.loads(out) == written
    code, out, err = run("settings", str(tmp_path), "institution.address")
    assert (code, out) == (1, "") and "not set" in err


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("institution.nam", "x", "unknown setting 'institution.nam'"),
        ("limits.max_files", "12x", "takes a whole number"),
        ("limits.max_files", "0", "limits.max_files"),
        ("signing.required", "perhaps", "takes true or false"),
        ("institution.contact_email", "bad", "is not an e-mail address"),
        ("replicas.targets", "x", "is a table"),
    ],
)
def test_a_bad_change_writes_nothing(tmp_path: Path, key: str, value: str, message: str) -> None:
    set_value(tmp_path, "institution.name", "Archive of Examples")
    before = settings_path(tmp_path).read_bytes()
    code, _out, err = run("settings", str(tmp_path), key, value)
    assert code == 2 and message in err, err
    assert settings_path(tmp_path).read_bytes() == before


def test_setting_needs_an_archive_folder(tmp_path: Path) -> None:
    code, _out, err = run("settings", str(tmp_path / "missing"), "institution.name", "x")
    assert code == 2 and "not an archive folder" in err
