"""preserve export --profile: each repository's own published rules, checked independently.

The rules files are vendored in tests/profiles/ (see its README for their sources):
APTrust's DART-format profiles, converted here to the BagIt Profiles format and run
through the ``bagit-profile`` library, BTR's official profile as it is; Archivematica
and DSpace publish no profile, so their documented layouts are checked directly.
Every BagIt export also validates with the Library of Congress ``bagit`` library and
``preserve verify``, and the archived bag is byte-identical before and after.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

import bagit
import bagit_profile
import pytest
from click.testing import CliRunner

from preserve.archive import ingest
from preserve.bagit_format import parse_bag_info
from preserve.cli import cli
from preserve.errors import InputError
from preserve.export.profiles import PROFILES, export_profile
from preserve.export.spec import MissingSetting, Options
from preserve.keys import generate_key
from preserve.metadata import Metadata, dublin_core
from preserve.premis import PREMIS_NS
from preserve.settings import load_settings, set_value
from preserve.signing import check_signatures, sign_archived_bag
from preserve.verify import verify_bag
from tests.conftest import FIXTURES

RULES = Path(__file__).parent / "profiles"
P = f"{{{PREMIS_NS}}}"
INSTITUTION = {
    "institution.name": "Office of the Example Ombudsperson",
    "institution.address": "1 Example Square, Exampleton",
    "institution.contact_email": "archive@ombuds.example.org",
}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive with one statement whose original name has spaces and accents, settings set."""
    root = tmp_path_factory.mktemp("export-profiles")
    source = root / "in" / "Déclaration annuelle 2024.txt"
    source.parent.mkdir()
    shutil.copyfile(FIXTURES / "en-annual-report.txt", source)
    shutil.copyfile(FIXTURES / "en-annual-report.json", source.with_suffix(".json"))
    report = ingest([source], root / "archive")
    assert report.exit_code == 0, report.as_dict()
    for key, value in INSTITUTION.items():
        set_value(root / "archive", key, value)
    return root / "archive"


@pytest.fixture
def bag(archive: Path) -> Path:
    (only,) = (archive / "bags").iterdir()
    return only


def options(archive: Path, **kw: Any) -> Options:
    return Options(institution=load_settings(archive).institution, **kw)


def tree(root: Path) -> dict[str, bytes | None]:
    return {
        p.relative_to(root).as_posix(): None if p.is_dir() else p.read_bytes()
        for p in sorted(root.rglob("*"))
    }


def unpack(archive_file: Path, dest: Path) -> list[str]:
    """Extract; returns the member names (to check the single top folder)."""
    dest.mkdir()
    if archive_file.suffix == ".zip":
        with zipfile.ZipFile(archive_file) as zf:
            names = zf.namelist()
            zf.extractall(dest)
    else:
        with tarfile.open(archive_file) as tar:
            names = tar.getnames()
            tar.extractall(dest, filter="data")
    return names


def export_and_unpack(
    bag: Path, archive: Path, tmp: Path, profile: str, name: str, **kw: Any
) -> tuple[Path, Any]:
    out = tmp / name
    result = export_profile(bag, profile, out, options(archive, **kw), archive=archive)
    if result.format == "folder":
        return out, result
    names = unpack(out, tmp / "unpacked")
    top = result.top
    assert {n.split("/", 1)[0] for n in names} == {top}  # one folder, named as the file
    return tmp / "unpacked" / top, result


def manifests(bag_dir: Path) -> set[str]:
    return {p.name for p in bag_dir.iterdir() if re.fullmatch(r"(tag)?manifest-\w+\.txt", p.name)}


def payload_of(archived: Path, sub: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (archived / "data" / sub).iterdir()}


def round_trip(bag_dir: Path) -> None:
    """Valid for the reference library and for ``preserve verify`` (our CLI, as a user runs it)."""
    bagit.Bag(str(bag_dir)).validate()
    assert verify_bag(bag_dir).valid
    result = CliRunner().invoke(cli, ["verify", str(bag_dir)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("VALID")


# --------------------------------------------------------------------------- APTrust


def dart_to_bagit_profile(dart: dict[str, Any]) -> dict[str, Any]:
    """APTrust publishes DART's format; the BagIt Profiles format says the same things.

    ``application/tar`` is listed with its common alias ``application/x-tar``
    (what ``mimetypes`` says for ``.tar``), as the specification's readers do.
    Tags in other tag files (aptrust-info.txt) have no place in the format and
    are checked by :func:`check_dart_tags`.
    """
    info = dart["bagItProfileInfo"]
    accept = list(dart["acceptSerialization"])
    if "application/tar" in accept:
        accept.append("application/x-tar")
    bag_info = {
        t["tagName"]: {
            "required": t["required"],
            **({"values": t["values"]} if t["values"] else {}),
        }
        for t in dart["tags"]
        if t["tagFile"] == "bag-info.txt"
    }
    required_files = sorted(
        {t["tagFile"] for t in dart["tags"] if t["required"]} - {"bagit.txt", "bag-info.txt"}
    )
    return {
        "BagIt-Profile-Info": {
            "BagIt-Profile-Identifier": info["bagItProfileIdentifier"],
            "Source-Organization": info["sourceOrganization"],
            "External-Description": info["externalDescription"],
            "Version": info["version"],
            "BagIt-Profile-Version": "1.3.0",
        },
        "Bag-Info": bag_info,
        "Manifests-Required": dart["manifestsRequired"],
        "Manifests-Allowed": dart["manifestsAllowed"],
        "Tag-Manifests-Required": dart["tagManifestsRequired"],
        "Tag-Manifests-Allowed": dart["tagManifestsAllowed"],
        "Allow-Fetch.txt": dart["allowFetchTxt"],
        "Serialization": dart["serialization"],
        "Accept-Serialization": accept,
        "Accept-BagIt-Version": dart["acceptBagItVersion"],
        "Tag-Files-Required": required_files,
        "Tag-Files-Allowed": [p for p in dart["tagFilesAllowed"] if p],
    }


def check_dart_tags(dart: dict[str, Any], bag_dir: Path) -> list[str]:
    """Every DART tag rule (required, not empty, allowed values) on the bag's tag files."""
    problems = []
    for tag in dart["tags"]:
        path = bag_dir / tag["tagFile"]
        values = parse_bag_info(path.read_bytes()).get_all(tag["tagName"]) if path.exists() else []
        if tag["required"] and not values:
            problems.append(f"{tag['tagFile']}: {tag['tagName']} missing")
        for value in values:
            if not value and not tag["emptyOk"]:
                problems.append(f"{tag['tagFile']}: {tag['tagName']} empty")
            if tag["values"] and value not in tag["values"]:
                problems.append(f"{tag['tagFile']}: {tag['tagName']}={value!r} not allowed")
    return problems


#: APTrust's user guide, "File and Directory Names": no newline, CR, tab, VT or bell,
#: not beginning with a dash, 1 to 255 characters. Written out here from the guide,
#: independently of preserve.export.aptrust.
def aptrust_name_ok(name: str) -> bool:
    return (
        1 <= len(name) <= 255 and not name.startswith("-") and not re.search(r"[\n\r\t\v\a]", name)
    )


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz"])
def test_a_renamed_profile_export_unpacks_to_a_folder_named_as_the_file(
    tmp_path: Path, archive: Path, bag: Path, suffix: str
) -> None:
    """Regression: ``export … -o renamed.tar.gz`` wrote a ``<bag-id>/`` folder, which
    APTrust and Archivematica refuse (folder = file name)."""
    profile = "aptrust" if suffix == ".tar" else "archivematica"
    copy, result = export_and_unpack(bag, archive, tmp_path, profile, f"renamed{suffix}")
    assert result.top == "renamed" and copy.name == "renamed" and copy.is_dir()


@pytest.mark.parametrize("version", ["v2.2", "v2.3"])
def test_aptrust_export_meets_aptrusts_profile_and_ingest_rules(
    tmp_path: Path, archive: Path, bag: Path, version: str
) -> None:
    name = f"ombuds.example.org.{bag.name}.tar"
    copy, result = export_and_unpack(bag, archive, tmp_path, "aptrust", name)
    assert result.format == "tar" and copy.name == name.removesuffix(".tar")
    dart = json.loads((RULES / f"aptrust-{version}.json").read_text())
    assert dart["tarDirMustMatchName"] and dart["acceptSerialization"] == ["application/tar"]
    profile = dart_to_bagit_profile(dart)
    # The bag claims the current profile; v2.2 is checked for everything but the claim.
    checker = bagit_profile.Profile(
        parse_bag_info((copy / "bag-info.txt").read_bytes()).get_all("BagIt-Profile-Identifier")[0],
        profile=profile,
    )
    assert checker.validate(bagit.Bag(str(copy))), [str(e) for e in checker.report.errors]
    assert checker.validate_serialization(str(tmp_path / name))
    assert check_dart_tags(dart, copy) == []
    assert manifests(copy) == {
        "manifest-md5.txt",
        "manifest-sha256.txt",
        "tagmanifest-md5.txt",
        "tagmanifest-sha256.txt",
    }
    fields = parse_bag_info((copy / "aptrust-info.txt").read_bytes())
    record = json.loads((bag / "data/metadata/statement.json").read_text())
    assert fields.get_all("Title") == [record["title"]]
    assert fields.get_all("Access") == ["Institution"]
    assert fields.get_all("Storage-Option") == ["Standard"]
    info = parse_bag_info((copy / "bag-info.txt").read_bytes())
    assert info.get_all("Source-Organization") == [INSTITUTION["institution.name"]]
    assert all(aptrust_name_ok(part) for p in copy.rglob("*") for part in p.relative_to(copy).parts)
    assert payload_of(copy, "original") == payload_of(bag, "original")
    assert payload_of(copy, "pdfa") == payload_of(bag, "pdfa")
    round_trip(copy)
    assert {c.path for c in result.changes} >= {
        "aptrust-info.txt",
        "bag-info.txt:Source-Organization",
    }


def test_aptrust_access_and_storage_option_come_from_options(
    tmp_path: Path, archive: Path, bag: Path
) -> None:
    copy, _ = export_and_unpack(
        bag,
        archive,
        tmp_path,
        "aptrust",
        "x.tar",
        access="Restricted",
        storage_option="Glacier-Deep-OR",
    )
    fields = parse_bag_info((copy / "aptrust-info.txt").read_bytes())
    assert fields.get_all("Access") == ["Restricted"]
    assert fields.get_all("Storage-Option") == ["Glacier-Deep-OR"]
    result = CliRunner().invoke(
        cli,
        [
            "export",
            str(bag),
            "--profile",
            "aptrust",
            "-o",
            str(tmp_path / "y.tar"),
            "--access",
            "Everyone",
        ],
    )
    assert result.exit_code == 1 and not (tmp_path / "y.tar").exists()
    assert len(result.output.strip().splitlines()) == 1


def test_aptrust_renames_illegal_names_and_says_so(
    tmp_path: Path, archive: Path, bag: Path
) -> None:
    from preserve.export import aptrust
    from preserve.export.staging import read_source

    source = read_source(bag)
    original = source.payload("original")[0]
    source.files["data/original/-\tbell\a.txt"] = source.files.pop(original)
    staged = aptrust.build(source, options(archive))
    assert "data/original/__bell_.txt" in staged.files
    assert any(
        c.kind == "renamed" and c.path == "data/original/-\tbell\a.txt" for c in staged.changes
    )


# --------------------------------------------------------------------------- BTR


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz", ".zip"])
def test_btr_export_validates_with_the_official_profile(
    tmp_path: Path, archive: Path, bag: Path, suffix: str
) -> None:
    copy, result = export_and_unpack(bag, archive, tmp_path, "btr", f"btr-bag{suffix}")
    assert result.top == "btr-bag" and copy.name == "btr-bag"
    official = json.loads((RULES / "btr-bagit-profile.json").read_text())
    checker = bagit_profile.Profile(
        official["BagIt-Profile-Info"]["BagIt-Profile-Identifier"], profile=official
    )
    assert checker.validate(bagit.Bag(str(copy))), [str(e) for e in checker.report.errors]
    assert checker.validate_serialization(str(tmp_path / f"btr-bag{suffix}"))
    info = parse_bag_info((copy / "bag-info.txt").read_bytes())
    for label, config in official["Bag-Info"].items():
        if config.get("required"):
            assert info.get_all(label), label
    assert info.get_all("Organization-Address") == [INSTITUTION["institution.address"]]
    assert info.get_all("Contact-Email") == [INSTITUTION["institution.contact_email"]]
    assert info.get_all("Bag-Producing-Organization") == [INSTITUTION["institution.name"]]
    assert info.get_all("Internal-Sender-Identifier") == [bag.name]
    assert info.get_all("Bag-Count") == ["1 of 1"]
    assert payload_of(copy, "original") == payload_of(bag, "original")
    round_trip(copy)


def test_btr_needs_the_institution_address(tmp_path: Path, archive: Path, bag: Path) -> None:
    (archive / "settings.toml").write_text('[institution]\nname = "Only a name"\n')
    with pytest.raises(MissingSetting, match=r"institution\.address"):
        export_profile(bag, "btr", tmp_path / "x.tar", options(archive), archive=archive)
    result = CliRunner().invoke(
        cli, ["export", str(bag), "--profile", "btr", "-o", str(tmp_path / "x.tar")]
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"preserve: error: the btr profile needs institution.address; set it with "
        f"`preserve settings {archive} institution.address VALUE`; nothing written"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive"]


# --------------------------------------------------------------------------- Archivematica


@pytest.mark.parametrize("suffix", [".zip", ".tar.gz"])
def test_archivematica_zipped_bag_layout(
    tmp_path: Path, archive: Path, bag: Path, suffix: str
) -> None:
    copy, result = export_and_unpack(bag, archive, tmp_path, "archivematica", f"transfer{suffix}")
    assert copy.name == "transfer"
    data = copy / "data"
    assert sorted(p.name for p in data.iterdir()) == ["metadata", "objects"]
    (original,) = [p for p in (data / "objects").iterdir() if p.is_file()]
    assert original.read_bytes() == next(iter(payload_of(bag, "original").values()))
    # Manual normalization: same relative path and base name as the original, .pdf.
    (pdf,) = (data / "objects/manualNormalization/preservation").iterdir()
    assert pdf.name == original.stem + ".pdf"
    assert pdf.read_bytes() == next(iter(payload_of(bag, "pdfa").values()))
    # Every metadata.csv row resolves to a file by a bag transfer's lookup (data/…).
    rows = list(csv.DictReader(io.StringIO((data / "metadata/metadata.csv").read_text())))
    assert [r["filename"] for r in rows] == [f"data/objects/{original.name}"]
    assert all((copy / r["filename"]).is_file() for r in rows)
    # PREMIS in metadata/, every object named by its originalName, which exists.
    root = ET.parse(data / "metadata/premis.xml").getroot()
    names = [o.findtext(f"{P}originalName") for o in root.findall(f"{P}object")]
    assert names and all(n and (copy / n).is_file() for n in names)
    assert not (copy / "premis.xml").exists()
    round_trip(copy)
    assert any(c.path == "premis.xml" and c.kind == "renamed" for c in result.changes)


def test_archivematica_refuses_a_plain_tar(tmp_path: Path, archive: Path, bag: Path) -> None:
    result = CliRunner().invoke(
        cli, ["export", str(bag), "--profile", "archivematica", "-o", str(tmp_path / "x.tar")]
    )
    assert result.exit_code == 1
    assert "takes .zip or .tar.gz only" in result.output
    assert not (tmp_path / "x.tar").exists()


# --------------------------------------------------------------------------- DSpace


def test_dspace_saf_item_follows_itemimport_rules(tmp_path: Path, archive: Path, bag: Path) -> None:
    out, result = export_and_unpack(
        bag,
        archive,
        tmp_path,
        "dspace-saf",
        "saf",
        collections=("123456789/7",),
        handle="123456789/99",
    )
    assert result.format == "folder"
    (item,) = out.iterdir()
    lines = (item / "contents").read_text(encoding="utf-8").splitlines()
    bundles = {}
    for line in lines:
        match = re.fullmatch(r"([^\t/]+)\tbundle:([A-Z]+)", line)
        assert match, line
        assert (item / match[1]).is_file()
        bundles.setdefault(match[2], []).append(match[1])
    assert bundles["ORIGINAL"] == list(payload_of(bag, "original"))
    assert (item / bundles["ORIGINAL"][0]).read_bytes() == next(
        iter(payload_of(bag, "original").values())
    )
    assert bundles["PRESERVATION"] == list(payload_of(bag, "pdfa"))
    found = []
    for file, schema in (("dublin_core.xml", "dc"), ("metadata_dcterms.xml", "dcterms")):
        root = ET.parse(item / file).getroot()
        assert root.tag == "dublin_core" and root.get("schema") == schema
        for value in root:
            assert value.tag == "dcvalue" and value.get("element") and value.get("qualifier")
            found.append((f"{schema}.{value.get('element')}", value.text))
    record = json.loads((bag / "data/metadata/statement.json").read_text())
    assert sorted(found) == sorted(dublin_core(Metadata(record)))  # every field mapped
    assert (item / "collections").read_text() == "123456789/7\n"
    assert (item / "handle").read_text() == "123456789/99\n"


def test_dspace_saf_writes_collections_and_handle_only_when_given(
    tmp_path: Path, archive: Path, bag: Path
) -> None:
    out, _ = export_and_unpack(bag, archive, tmp_path, "dspace-saf", "saf")
    (item,) = out.iterdir()
    assert not (item / "collections").exists() and not (item / "handle").exists()


# --------------------------------------------------------------------------- Chronopolis


def test_chronopolis_bag_has_sha256_manifests_only(
    tmp_path: Path, archive: Path, bag: Path
) -> None:
    copy, result = export_and_unpack(bag, archive, tmp_path, "chronopolis", "chron-bag")
    assert result.format == "folder" and copy.is_dir()
    assert manifests(copy) == {"manifest-sha256.txt", "tagmanifest-sha256.txt"}
    assert payload_of(copy, "original") == payload_of(bag, "original")
    round_trip(copy)


# --------------------------------------------------------------------------- all profiles


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_the_archived_bag_is_never_modified(
    tmp_path: Path, archive: Path, bag: Path, profile: str
) -> None:
    before = tree(bag)
    name = "out" + PROFILES[profile].default_suffix
    export_profile(bag, profile, tmp_path / name, options(archive))
    assert tree(bag) == before


@pytest.mark.parametrize("profile", sorted(p for p, s in PROFILES.items() if s.bagit))
def test_a_signed_bag_exported_without_a_key_says_its_signature_was_dropped(
    tmp_path: Path, archive: Path, bag: Path, profile: str
) -> None:
    (tmp_path / "keys").mkdir()
    key, _ = generate_key(tmp_path / "keys" / "archivist.key")
    sign_archived_bag(bag, key)
    before = tree(bag)
    name = "out" + PROFILES[profile].default_suffix
    copy, result = export_and_unpack(bag, archive, tmp_path, profile, name)
    assert tree(bag) == before
    assert result.signature == "dropped"
    assert not (copy / "signatures").exists()
    assert any(c.kind == "dropped" and c.path == "signatures/" for c in result.changes)
    premis = copy / PROFILES[profile].premis_path
    details = [
        e.findtext(f"{P}eventDetailInformation/{P}eventDetail") or ""
        for e in ET.parse(premis).getroot().findall(f"{P}event")
    ]
    assert any(d.startswith("Digital signature dropped") for d in details)
    round_trip(copy)


@pytest.mark.parametrize("profile", sorted(p for p, s in PROFILES.items() if s.bagit))
def test_a_bag_exported_with_a_key_is_re_signed(
    tmp_path: Path, archive: Path, bag: Path, profile: str
) -> None:
    (tmp_path / "keys").mkdir()
    key, _ = generate_key(tmp_path / "keys" / "archivist.key")
    sign_archived_bag(bag, key)
    name = "out" + PROFILES[profile].default_suffix
    copy, result = export_and_unpack(bag, archive, tmp_path, profile, name, key=key)
    assert result.signature == "re-signed"
    assert (copy / "signatures").is_dir()
    assert [p for p in check_signatures(copy) if p.severity.value == "error"] == []
    round_trip(copy)


def test_out_dir_names_each_export_by_the_profile_rule(
    tmp_path: Path, archive: Path, bag: Path
) -> None:
    out_dir = tmp_path / "outbox"
    out_dir.mkdir()
    result = CliRunner().invoke(
        cli, ["export", str(bag), "--profile", "aptrust", "--out-dir", str(out_dir), "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    (done,) = document["exports"]
    assert Path(done["path"]).name == f"{bag.name}.tar"
    assert done["top"] == bag.name
    assert {
        "kind": "added",
        "path": "aptrust-info.txt",
        "detail": "APTrust's required tag file",
    } in (done["changes"])


def test_text_output_lists_every_change(tmp_path: Path, archive: Path, bag: Path) -> None:
    result = CliRunner().invoke(
        cli, ["export", str(bag), "--profile", "archivematica", "-o", str(tmp_path / "t.zip")]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{tmp_path / 't.zip'}: archivematica zip")
    assert any(
        line.startswith("  renamed premis.xml: to data/metadata/premis.xml") for line in lines
    )
    assert any(line.startswith("  renamed data/pdfa/") for line in lines)


# --------------------------------------------------------------------------- bad input


def one_line_nothing_written(result: Any, tmp_path: Path, code: int) -> None:
    assert result.exit_code == code, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive"]


def test_unknown_profile(tmp_path: Path, bag: Path) -> None:
    result = CliRunner().invoke(
        cli, ["export", str(bag), "--profile", "nope", "-o", str(tmp_path / "x.tar")]
    )
    one_line_nothing_written(result, tmp_path, 1)
    assert "unknown profile 'nope'" in result.output


def test_invalid_bag_is_not_exported(tmp_path: Path, bag: Path) -> None:
    original = next((bag / "data" / "original").iterdir())
    original.write_bytes(original.read_bytes() + b"tampered\n")
    result = CliRunner().invoke(
        cli, ["export", str(bag), "--profile", "chronopolis", "-o", str(tmp_path / "chron")]
    )
    one_line_nothing_written(result, tmp_path, 1)
    assert "not a valid bag" in result.output


def test_existing_target_is_refused(tmp_path: Path, archive: Path, bag: Path) -> None:
    taken = tmp_path / "taken.tar"
    taken.write_bytes(b"someone else's file")
    result = CliRunner().invoke(cli, ["export", str(bag), "--profile", "aptrust", "-o", str(taken)])
    assert result.exit_code == 2 and "already exists" in result.output
    assert taken.read_bytes() == b"someone else's file"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".preserve-export-")]


def test_missing_institution_name_for_aptrust(tmp_path: Path, archive: Path, bag: Path) -> None:
    (archive / "settings.toml").unlink()
    result = CliRunner().invoke(
        cli, ["export", str(bag), "--profile", "aptrust", "-o", str(tmp_path / "x.tar")]
    )
    one_line_nothing_written(result, tmp_path, 2)
    assert f"preserve settings {archive} institution.name VALUE" in result.output


def test_profiles_command_lists_what_each_needs() -> None:
    result = CliRunner().invoke(cli, ["profiles", "--json"])
    assert result.exit_code == 0
    listed = {p["name"]: p for p in json.loads(result.output)["profiles"]}
    assert set(listed) == {"aptrust", "btr", "archivematica", "dspace-saf", "chronopolis"}
    assert listed["aptrust"]["serializations"] == ["tar"]
    assert listed["btr"]["needs"] == [
        "institution.name",
        "institution.address",
        "institution.contact_email",
    ]
    assert listed["chronopolis"]["manifests"] == ["sha256"]
    text = CliRunner().invoke(cli, ["profiles"]).output
    assert "aptrust: APTrust" in text and "needs:  institution.name" in text


def test_aptrust_refuses_a_bag_name_it_would_refuse(tmp_path: Path, bag: Path) -> None:
    result = CliRunner().invoke(
        cli, ["export", str(bag), "--profile", "aptrust", "-o", str(tmp_path / "-dash.tar")]
    )
    one_line_nothing_written(result, tmp_path, 1)
    assert "APTrust refuses this bag name (begins with a dash)" in result.output


def test_dspace_handle_must_be_one_line(tmp_path: Path, bag: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "export",
            str(bag),
            "--profile",
            "dspace-saf",
            "-o",
            str(tmp_path / "saf"),
            "--handle",
            "123/4\n567/8",
        ],
    )
    one_line_nothing_written(result, tmp_path, 1)


def test_plain_export_of_several_bags_to_a_folder(tmp_path: Path, archive: Path, bag: Path) -> None:
    second = bag.with_name(bag.name + "-copy")
    shutil.copytree(bag, second)
    out_dir = tmp_path / "outbox"
    out_dir.mkdir()
    result = CliRunner().invoke(
        cli, ["export", str(bag), str(second), "--format", "zip", "--out-dir", str(out_dir)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(
        [f"{bag.name}.zip", f"{second.name}.zip"]
    )
    several = CliRunner().invoke(
        cli, ["export", str(bag), str(second), "-o", str(tmp_path / "x.tar")]
    )
    assert several.exit_code == 1 and "use --out-dir" in several.output


@pytest.mark.parametrize("profile", ["aptrust", "btr", "archivematica"])
def test_a_profile_export_depends_on_the_bag_alone(
    tmp_path: Path, archive: Path, bag: Path, profile: str
) -> None:
    """Same bag, same options: the same bytes, so a recipient can compare digests."""
    name = "x" + PROFILES[profile].default_suffix
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = export_profile(bag, profile, tmp_path / "a" / name, options(archive))
    second = export_profile(bag, profile, tmp_path / "b" / name, options(archive))
    assert first.sha256 == second.sha256
    assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_a_payload_changed_after_verification_is_not_exported(
    tmp_path: Path, archive: Path, bag: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bytes exported are the bytes verified: a change in between writes nothing."""
    import preserve.verify

    real = preserve.verify.verify_bag

    def verify_then_tamper(path: Path, **kw: Any) -> Any:
        result = real(path, **kw)
        original = next((bag / "data" / "original").iterdir())
        original.write_bytes(original.read_bytes().replace(b"e", b"3", 1))
        return result

    monkeypatch.setattr(preserve.verify, "verify_bag", verify_then_tamper)
    with pytest.raises(InputError, match="changed while being exported"):
        export_profile(bag, "chronopolis", tmp_path / "chron", options(archive))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive"]


def test_out_dir_is_created_and_a_file_in_its_place_refused(
    tmp_path: Path, archive: Path, bag: Path
) -> None:
    """A new user names an output folder that does not exist yet: it is made."""
    out_dir = tmp_path / "deposits" / "aptrust"
    made = CliRunner().invoke(
        cli, ["export", str(bag), "--profile", "aptrust", "--out-dir", str(out_dir)]
    )
    assert made.exit_code == 0, made.output
    assert [p.name for p in out_dir.iterdir()] == [f"{bag.name}.tar"]
    a_file = tmp_path / "not-a-folder"
    a_file.write_bytes(b"x")
    refused = CliRunner().invoke(cli, ["export", str(bag), "--out-dir", str(a_file)])
    assert refused.exit_code == 2, refused.output
    assert "is a file" in refused.output and a_file.read_bytes() == b"x"
