"""preserve.safe_names: the original's name in a bag is one every repository accepts.

Names are ingested for real (files with those names on disk), and the bags are then
read by bagit-python, the reference implementation Archivematica runs: before the
rule, a name with U+0085 or U+2028 made it report "exists in manifest but was not
found on filesystem" while our verifier said VALID.
"""

from __future__ import annotations

import json
import shutil
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

import bagit
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from preserve.safe_names import FALLBACK_NAME, MAX_NAME_BYTES, portable_name

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PREMIS = "{http://www.loc.gov/premis/v3}"


@pytest.mark.parametrize(
    ("received", "stored"),
    [
        ("statement.txt", "statement.txt"),
        ("Заявление омбудсмена.txt", "Заявление омбудсмена.txt"),  # letters of any script stay
        ("a\u0085b.txt", "a b.txt"),  # NEL: a line break to bagit-python
        ("a\u2028b\u2029c.txt", "a b c.txt"),  # line and paragraph separators
        ("no\u00a0break\u202fspace.txt", "no break space.txt"),
        ("tab\there\r\n.txt", "tab here .txt"),
        ("zero\u200bwidth\u200e\ufeff.txt", "zerowidth.txt"),  # format characters go
        ("con.txt", "_con.txt"),
        ("LPT1", "_LPT1"),
        ("nul .tar.gz", "_nul .tar.gz"),
        ("console.txt", "console.txt"),  # only the device names themselves
        ("a:b*c?d.txt", "a_b_c_d.txt"),
        ("100%.txt", "100_.txt"),
        ("-rf.txt", "rf.txt"),  # APTrust: no leading dash
        (".hidden.txt", "hidden.txt"),
        ("trailing. ", "trailing"),
        ("e\u0301te\u0301.txt", "\u00e9t\u00e9.txt"),  # NFC
        ("", FALLBACK_NAME),
        (None, FALLBACK_NAME),
        ("\u2028\u0085", FALLBACK_NAME),
    ],
)
def test_portable_name(received: str | None, stored: str) -> None:
    assert portable_name(received) == stored


def test_long_names_keep_their_extension_and_whole_characters() -> None:
    name = "ա" * 200 + ".txt"  # Armenian: two bytes each
    stored = portable_name(name)
    assert stored.endswith(".txt") and stored.startswith("ա")
    assert len(stored.encode("utf-8")) <= MAX_NAME_BYTES
    assert portable_name(stored) == stored


@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=300))
@example("con\u2028.txt")
@example("\u00a0-\u0085.")
def test_portable_name_is_portable_and_idempotent(name: str) -> None:
    stored = portable_name(name)
    assert stored and len(stored.encode("utf-8")) <= MAX_NAME_BYTES
    assert not any(unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp", "Cn", "Co"} for c in stored)
    assert not any(c in '/\\:*?"<>|%' for c in stored)
    assert all(c == " " or unicodedata.category(c) != "Zs" for c in stored)
    assert not stored.startswith((".", "-", " ")) and not stored.endswith((".", " "))
    assert stored.split(".")[0].rstrip().casefold() not in {"con", "prn", "aux", "nul", "lpt1"}
    assert portable_name(stored) == stored


#: (name on disk, fixture whose bytes it holds); fixtures without a sidecar.
NAMES = [
    ("next\u0085line.txt", "en-letter-sincerely.txt"),
    ("line\u2028separator.txt", "en-name-comma-role.txt"),
    ("no\u00a0break.txt", "en-role-before-name.txt"),
    ("con.txt", "en-seminar-two-dates.txt"),
    ("ա" * 100 + ".txt", "az-hotline.txt"),
]


@pytest.fixture(scope="module")
def named_bags(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Received name -> the bag ``preserve ingest`` made of a file with that name."""
    from preserve.archive import IngestOptions, ingest

    root = tmp_path_factory.mktemp("names")
    inputs = []
    for name, fixture in NAMES:
        folder = root / "in" / fixture.removesuffix(".txt")
        folder.mkdir(parents=True)
        shutil.copyfile(FIXTURES / fixture, folder / name)
        inputs.append(folder / name)
    report = ingest(inputs, root / "archive", IngestOptions(workers=1))
    assert report.exit_code == 0, report.as_dict()
    bags = {}
    for name, _ in NAMES:
        (result,) = [r for r in report.results if r.source.endswith(name)]
        bags[name] = root / "archive" / "bags" / str(result.identifier)
    return bags


@pytest.mark.parametrize("name", [n for n, _ in NAMES])
def test_bagit_python_validates_and_the_received_name_is_kept(
    named_bags: dict[str, Path], name: str
) -> None:
    from preserve.bag_checks import PreserveChecks
    from preserve.verify import verify_bag

    bag = named_bags[name]
    bagit.Bag(str(bag)).validate()  # before: "exists in manifest but was not found"
    assert verify_bag(bag, extra_checks=(PreserveChecks(),)).valid
    stored = portable_name(name)
    assert stored != name
    original = bag / "data" / "original" / stored
    assert original.is_file()
    record = json.loads((bag / "data/metadata/statement.json").read_bytes())
    assert record["source"]["original_name"] == name
    premis = ET.fromstring((bag / "premis.xml").read_bytes())
    names = {
        obj.findtext(f"{PREMIS}originalName"): obj
        for obj in premis.iter(f"{PREMIS}object")
        if obj.find(f"{PREMIS}originalName") is not None
    }
    assert name in names


def test_a_harmless_name_is_stored_as_received(tmp_path: Path) -> None:
    from preserve.archive import IngestOptions, ingest

    source = tmp_path / "in" / "Déclaration.txt"
    source.parent.mkdir()
    shutil.copyfile(FIXTURES / "en-letter-sincerely.txt", source)
    report = ingest([source], tmp_path / "archive", IngestOptions(workers=1))
    (bag,) = (tmp_path / "archive" / "bags").iterdir()
    assert report.exit_code == 0
    assert (bag / "data/original/Déclaration.txt").is_file()
    record = json.loads((bag / "data/metadata/statement.json").read_bytes())
    assert "original_name" not in record.get("source", {})
