"""OAI-PMH 2.0 at /oai: every verb, every error code, paging, sets, dates, deleted
records; every response validated against the protocol's structure (XSD, lxml)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the reading room needs starlette")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx")

from lxml import etree  # type: ignore[import-untyped]
from starlette.testclient import TestClient

from preserve import ledger
from preserve.serve import ServeConfig, create_app, oai
from tests.conftest import REPO
from tests.serve_support import identifiers, reading_room_archive

NS = {"o": oai.OAI, "dc": oai.DC, "oai_dc": oai.OAI_DC}
SCHEMA = etree.XMLSchema(etree.parse(str(REPO / "tests/data/oai/OAI-PMH-structure.xsd")))

AZ = AR = WITHDRAWN = ""  # filled from the built archive before the module's tests run


@pytest.fixture(scope="module", autouse=True)
def _statement_identifiers() -> None:
    global AZ, AR, WITHDRAWN
    AZ, AR, WITHDRAWN = identifiers()


@pytest.fixture(scope="module")
def archive() -> Path:
    return reading_room_archive()


@pytest.fixture(scope="module")
def client(archive: Path) -> Iterator[TestClient]:
    with TestClient(create_app(ServeConfig(archive))) as c:
        yield c


def get(client: TestClient, **params: str) -> etree._Element:
    r = client.get("/oai", params=params)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    doc = etree.fromstring(r.content)
    SCHEMA.assertValid(doc)
    return doc


def error_code(doc: etree._Element) -> str | None:
    errors = doc.findall("o:error", NS)
    return errors[0].get("code") if errors else None


def all_identifiers(archive: Path) -> set[str]:
    db = ledger.connect(archive, readonly=True)
    try:
        return {r[0] for r in db.execute("SELECT identifier FROM bags")}
    finally:
        db.close()


def test_identify(client: TestClient) -> None:
    doc = get(client, verb="Identify")
    ident = doc.find("o:Identify", NS)
    assert ident.findtext("o:protocolVersion", namespaces=NS) == "2.0"
    assert ident.findtext("o:deletedRecord", namespaces=NS) == "persistent"
    assert ident.findtext("o:baseURL", namespaces=NS) == "http://testserver/oai"
    assert ident.findtext("o:granularity", namespaces=NS) == "YYYY-MM-DDThh:mm:ssZ"


def test_list_metadata_formats(client: TestClient) -> None:
    doc = get(client, verb="ListMetadataFormats")
    assert [e.text for e in doc.iterfind(".//o:metadataPrefix", NS)] == ["oai_dc"]
    doc = get(client, verb="ListMetadataFormats", identifier=f"oai:preserve:{AZ}")
    assert error_code(doc) is None
    doc = get(client, verb="ListMetadataFormats", identifier="oai:preserve:nothing")
    assert error_code(doc) == "idDoesNotExist"


def test_list_sets_by_language_and_organization(client: TestClient) -> None:
    doc = get(client, verb="ListSets")
    specs = [e.text for e in doc.iterfind(".//o:setSpec", NS)]
    assert "language:ar" in specs and "language:az-Latn" in specs
    assert any(s.startswith("organization:") for s in specs)
    ar = get(client, verb="ListIdentifiers", metadataPrefix="oai_dc", set="language:ar")
    ids = [e.text for e in ar.iterfind(".//o:header/o:identifier", NS)]
    assert f"oai:preserve:{AR}" in ids and f"oai:preserve:{AZ}" not in ids


def test_get_record_is_dublin_core_from_the_crosswalk(client: TestClient, archive: Path) -> None:
    import json

    from preserve.metadata import Metadata, dublin_core

    doc = get(client, verb="GetRecord", identifier=f"oai:preserve:{AR}", metadataPrefix="oai_dc")
    dc = doc.find(".//oai_dc:dc", NS)
    record = json.loads((archive / "bags" / AR / "data/metadata/statement.json").read_text())
    pairs = dublin_core(Metadata(record=record))
    assert dc.findtext("dc:title", namespaces=NS) == record["title"]
    assert dc.findtext("dc:date", namespaces=NS) == record["date_issued"]
    assert dc.findtext("dc:language", namespaces=NS) == "ar"
    subjects = [e.text for e in dc.iterfind("dc:subject", NS)]
    assert subjects == [v for k, v in pairs if k == "dc.subject"]
    assert f"http://testserver/statements/{AR}" in [
        e.text for e in dc.iterfind("dc:identifier", NS)
    ]


def test_withdrawn_statement_is_a_deleted_record(client: TestClient) -> None:
    doc = get(
        client, verb="GetRecord", identifier=f"oai:preserve:{WITHDRAWN}", metadataPrefix="oai_dc"
    )
    header = doc.find(".//o:header", NS)
    assert header.get("status") == "deleted"
    assert doc.find(".//o:metadata", NS) is None


def test_list_records_pages_with_resumption_tokens(
    client: TestClient, archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(oai, "PAGE_SIZE", 7)
    expected = all_identifiers(archive)
    for verb in ("ListIdentifiers", "ListRecords"):
        seen: list[str] = []
        doc = get(client, verb=verb, metadataPrefix="oai_dc")
        cursors = []
        while True:
            seen += [e.text.split(":", 2)[2] for e in doc.iterfind(".//o:header/o:identifier", NS)]
            token = doc.find(".//o:resumptionToken", NS)
            if token is None:
                break
            assert token.get("completeListSize") == str(len(expected))
            cursors.append(int(token.get("cursor")))
            if not token.text:
                break  # the last page: an empty token
            doc = get(client, verb=verb, resumptionToken=token.text)
        assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))
        assert cursors == list(range(0, len(expected), 7))


def test_from_and_until(client: TestClient, archive: Path) -> None:
    doc = get(client, verb="ListIdentifiers", metadataPrefix="oai_dc", until="2000-01-01")
    assert error_code(doc) == "noRecordsMatch"
    doc = get(client, verb="ListIdentifiers", metadataPrefix="oai_dc", **{"from": "2000-01-01"})
    assert error_code(doc) is None
    doc = get(
        client, verb="ListIdentifiers", metadataPrefix="oai_dc", **{"from": "2999-01-01T00:00:00Z"}
    )
    assert error_code(doc) == "noRecordsMatch"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "badVerb"),
        ({"verb": "Delete"}, "badVerb"),
        ({"verb": "ListRecords"}, "badArgument"),
        ({"verb": "Identify", "extra": "1"}, "badArgument"),
        ({"verb": "GetRecord", "metadataPrefix": "oai_dc"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "yesterday"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2024-02-30"}, "badArgument"),
        (
            {
                "verb": "ListRecords",
                "metadataPrefix": "oai_dc",
                "from": "2024-01-02",
                "until": "2024-01-01",
            },
            "badArgument",
        ),
        (
            {
                "verb": "ListRecords",
                "metadataPrefix": "oai_dc",
                "from": "2024-01-01",
                "until": "2024-01-02T00:00:00Z",
            },
            "badArgument",
        ),
        ({"verb": "ListRecords", "resumptionToken": "not-a-token"}, "badResumptionToken"),
        ({"verb": "ListRecords", "resumptionToken": "eyJ4IjoxfQ"}, "badResumptionToken"),
        (
            {"verb": "ListRecords", "resumptionToken": "x", "metadataPrefix": "oai_dc"},
            "badArgument",
        ),
        ({"verb": "ListSets", "resumptionToken": "x"}, "badResumptionToken"),
        ({"verb": "ListRecords", "metadataPrefix": "marc21"}, "cannotDisseminateFormat"),
        (
            {"verb": "GetRecord", "identifier": "oai:preserve:x", "metadataPrefix": "oai_dc"},
            "idDoesNotExist",
        ),
        (
            {"verb": "GetRecord", "identifier": "oai:preserve:{AZ}", "metadataPrefix": "mods"},
            "cannotDisseminateFormat",
        ),
        (
            {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "set": "language:xx"},
            "noRecordsMatch",
        ),
    ],
)
def test_every_error_code(client: TestClient, params: dict[str, str], code: str) -> None:
    params = {k: v.replace("{AZ}", AZ) for k, v in params.items()}
    doc = get(client, **params)
    assert error_code(doc) == code
    if code in ("badVerb", "badArgument"):
        assert not doc.find("o:request", NS).attrib  # no arguments echoed for these


def test_repeated_arguments_are_bad(client: TestClient) -> None:
    r = client.get("/oai?verb=Identify&verb=Identify")
    doc = etree.fromstring(r.content)
    SCHEMA.assertValid(doc)
    assert error_code(doc) == "badVerb"
    r = client.get("/oai?verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=oai_dc")
    assert error_code(etree.fromstring(r.content)) == "badArgument"


def test_post_is_answered_like_get(client: TestClient) -> None:
    r = client.post(
        "/oai",
        content="verb=Identify",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    doc = etree.fromstring(r.content)
    SCHEMA.assertValid(doc)
    assert doc.find("o:Identify", NS) is not None


def test_an_empty_archive_has_no_set_hierarchy(tmp_path: Path) -> None:
    ledger.connect(tmp_path).close()  # an archive with a ledger and nothing in it
    with TestClient(create_app(ServeConfig(tmp_path))) as c:
        assert error_code(get(c, verb="ListSets")) == "noSetHierarchy"
        assert error_code(get(c, verb="ListRecords", metadataPrefix="oai_dc")) == "noRecordsMatch"
        assert error_code(get(c, verb="Identify")) is None


def test_the_structure_check_rejects_what_the_protocol_forbids(client: TestClient) -> None:
    """The schema is not a rubber stamp: each mutation of a good response is refused."""
    good = client.get(
        "/oai",
        params={
            "verb": "GetRecord",
            "identifier": f"oai:preserve:{AZ}",
            "metadataPrefix": "oai_dc",
        },
    ).content
    mutations = [
        (b"<datestamp>", b"<datestamp>yesterday"),  # not a UTC datestamp
        (b"<setSpec>language:", b"<setSpec>language: "),  # a space in a setSpec
        (b"<dc:title>", b"<dc:heading>x</dc:heading><dc:title>"),  # not Dublin Core
        (b"<header>", b'<header status="gone">'),
        (b'metadataPrefix="oai_dc"', b'metadataPrefix="oai dc"'),
    ]
    for old, new in mutations:
        assert old in good, old
        doc = etree.fromstring(good.replace(old, new, 1))
        assert not SCHEMA.validate(doc), new
