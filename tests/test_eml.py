"""Statements sent by e-mail (.eml): real MIME messages built with the standard library."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import bagit
import pytest
from click.testing import CliRunner

from preserve.cli import cli
from preserve.errors import InputError
from preserve.inputs import Form, module_for, read_received

PREMIS = "{http://www.loc.gov/premis/v3}"
BIN = Path(sys.executable).parent

STATEMENT = (
    "Museum extends its opening hours\n\n"
    "The city museum will stay open until eight in the evening on Thursdays from April, "
    "so that visitors who work during the day can see the new exhibition of old maps.\n\n"
    "Entry remains free for children and students.\n\n"
    "Maria Example\nDirector of the City Museum\n\n2 April 2024\n"
)


def message(**parts: str | bytes) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Press Office <press@museum.example>"
    msg["To"] = "archive@example.org"
    msg["Date"] = "Tue, 02 Apr 2024 10:15:00 +0400"
    msg["Message-ID"] = "<20240402101500.1234@museum.example>"
    msg["Subject"] = "Statement: museum hours"
    if "plain" in parts:
        msg.set_content(str(parts["plain"]))
    if "html" in parts:
        if "plain" in parts:
            msg.add_alternative(str(parts["html"]), subtype="html")
        else:
            msg.set_content(str(parts["html"]), subtype="html")
    if "attachment" in parts:
        msg.add_attachment(
            str(parts["attachment"]).encode(),
            maintype="text",
            subtype="plain",
            filename="statement.txt",
        )
    return msg


def write(path: Path, msg: EmailMessage) -> Path:
    path.write_bytes(msg.as_bytes(policy=SMTP))
    return path


def test_plain_body_is_the_statement_and_headers_are_recorded(tmp_path: Path) -> None:
    eml = write(tmp_path / "museum.eml", message(plain=STATEMENT))
    assert module_for(eml).__name__ == "preserve.inputs.eml"
    received = read_received(eml)
    assert received.form is Form.EMAIL
    assert received.original.content == eml.read_bytes()
    assert received.original.pronom == "fmt/950"
    assert received.statement.title == "Museum extends its opening hours"
    assert received.statement.signer_name == "Maria Example"
    email = received.record["email"]
    assert email["from"] == "Press Office <press@museum.example>"
    assert email["message_id"] == "<20240402101500.1234@museum.example>"
    assert email["sent"] == "2024-04-02T10:15:00+04:00"


def test_html_only_body_goes_through_the_extractor(tmp_path: Path) -> None:
    html = (
        "<html><body><p>Museum extends its opening hours</p>"
        + "".join(f"<p>{p}</p>" for p in STATEMENT.split("\n\n")[1:3])
        + "<ol><li>Thursdays until 20:00.</li><li>Free for children.</li></ol>"
        "<p>Maria Example<br>Director of the City Museum</p><p>2 April 2024</p>"
        "<p>Unsubscribe from this list</p></body></html>"
    )
    received = read_received(write(tmp_path / "m.eml", message(html=html)))
    text = received.files[1].content.decode()
    assert "1. Thursdays until 20:00.\n2. Free for children." in text
    assert received.statement.signer_name == "Maria Example"


def test_one_text_attachment_is_the_statement_and_the_body_a_cover_note(tmp_path: Path) -> None:
    msg = message(plain="Dear colleagues, our statement is attached.", attachment=STATEMENT)
    received = read_received(write(tmp_path / "cover.eml", msg))
    assert received.statement.title == "Museum extends its opening hours"
    assert "attachment 'statement.txt'" in received.events[0].detail


@pytest.mark.parametrize("body", ["", "   \n"])
def test_message_without_a_body_is_one_line_exit_1_nothing_written(
    tmp_path: Path, body: str
) -> None:
    msg = EmailMessage()
    msg["From"] = "someone@example.org"
    msg["Subject"] = "empty"
    msg["Message-ID"] = "<1@example.org>"
    msg.set_content(body)
    eml = write(tmp_path / "empty.eml", msg)
    with pytest.raises(InputError, match="forward the statement as text"):
        read_received(eml)
    archive = tmp_path / "archive"
    result = CliRunner().invoke(cli, ["ingest", str(eml), "-a", str(archive)])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if "error" in line]
    assert len(errors) == 1 and str(eml) in errors[0] and "Traceback" not in result.output
    assert list((archive / "bags").iterdir()) == []


def test_ingest_of_an_email_bag_holds_the_message_and_validates(tmp_path: Path) -> None:
    eml = write(tmp_path / "museum.eml", message(plain=STATEMENT))
    archive = tmp_path / "archive"
    result = CliRunner().invoke(cli, ["ingest", str(eml), "-a", str(archive), "--json"])
    assert result.exit_code == 0, result.output
    bag = archive / json.loads(result.output)["results"][0]["bag"]
    bagit.Bag(str(bag)).validate()
    assert CliRunner().invoke(cli, ["verify", str(bag)]).exit_code == 0
    assert (bag / "data/original/museum.eml").read_bytes() == eml.read_bytes()
    record = json.loads((bag / "data/metadata/statement.json").read_text())
    assert record["email"]["subject"] == "Statement: museum hours"
    premis = ET.parse(bag / "premis.xml").getroot()
    formats = {
        o.findtext(f".//{PREMIS}objectIdentifierValue"): o.findtext(f".//{PREMIS}formatRegistryKey")
        for o in premis.iter(f"{PREMIS}object")
    }
    assert formats["data/original/museum.eml"] == "fmt/950"
    fido = shutil.which("fido", path=str(BIN))
    if fido is None:
        pytest.skip("FIDO (opf-fido, the test extra) is not installed")
    out = subprocess.run(
        [fido, "-q", "-nocontainer", "-matchprintf", "%(info.puid)s\n",
         str(bag / "data/original/museum.eml")],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert "fmt/950" in out, out
