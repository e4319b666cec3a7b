"""PREMIS 3 preservation metadata: what was done to a statement, when, by what software.

Written as a tag file (``premis.xml``) so that an institution ingesting the bag
receives the statement's history with it. Built with ElementTree, so every value
is escaped as data and can never break the XML.
"""

from __future__ import annotations

import datetime as dt
import functools
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from preserve import __version__
from preserve.xmltext import xml_text

PREMIS_NS = "http://www.loc.gov/premis/v3"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{PREMIS_NS} https://www.loc.gov/standards/premis/v3/premis.xsd"

ET.register_namespace("premis", PREMIS_NS)
ET.register_namespace("xsi", XSI_NS)

#: Event types from the Library of Congress PREMIS event type vocabulary.
INGESTION = "ingestion"
VALIDATION = "validation"
NORMALIZATION = "normalization"
DIGEST_CALCULATION = "message digest calculation"
FIXITY_CHECK = "fixity check"


@dataclass(frozen=True)
class Event:
    """One thing that happened to the statement."""

    type: str
    at: dt.datetime
    outcome: str
    detail: str
    #: Payload paths the event concerns (``data/...``); empty for the whole bag.
    objects: tuple[str, ...] = ()


@dataclass(frozen=True)
class FileRecord:
    """A payload file as PREMIS describes it."""

    path: str
    size: int
    sha256: str
    pronom: str
    mime: str
    original_name: str | None = None


@functools.cache
def software_agent() -> str:
    """This software and the libraries that shape the bag's content, with versions.

    Asked once per process (four package-metadata lookups, 1-4 ms; it was asked
    several times for every bag ingested): the versions cannot change under a
    running process.
    """
    from importlib.metadata import PackageNotFoundError, version  # ~0.02 s: only when asked

    parts = [f"preserve {__version__}"]
    for dist in ("reportlab", "pikepdf", "jsonschema", "pypdfium2"):
        try:
            parts.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:  # pragma: no cover - dependencies are installed
            continue
    return ", ".join(parts)


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, f"{{{PREMIS_NS}}}{tag}")
    if text is not None:
        element.text = xml_text(text)
    return element


def _timestamp(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def premis_xml(
    *,
    identifier: str,
    files: Sequence[FileRecord],
    events: Sequence[Event],
    relations: Sequence[tuple[str, str]] = (),
) -> bytes:
    """The PREMIS document for one bag: its files (objects), events and agent.

    ``relations`` are (subtype, identifier) links from the statement to other
    statements (language versions: "has version", "is version of"), written on
    its original.
    """
    root = ET.Element(
        f"{{{PREMIS_NS}}}premis",
        {"version": "3.0", f"{{{XSI_NS}}}schemaLocation": SCHEMA_LOCATION},
    )
    source_path = next((f.path for f in files if f.path.startswith("data/original/")), None)
    for record in files:
        obj = _sub(root, "object", None)
        obj.set(f"{{{XSI_NS}}}type", "premis:file")
        oid = _sub(obj, "objectIdentifier")
        _sub(oid, "objectIdentifierType", "local")
        _sub(oid, "objectIdentifierValue", record.path)
        chars = _sub(obj, "objectCharacteristics")
        fixity = _sub(chars, "fixity")
        _sub(fixity, "messageDigestAlgorithm", "SHA-256")
        _sub(fixity, "messageDigest", record.sha256)
        _sub(fixity, "messageDigestOriginator", "preserve")
        _sub(chars, "size", str(record.size))
        fmt = _sub(chars, "format")
        designation = _sub(fmt, "formatDesignation")
        _sub(designation, "formatName", record.mime)
        if record.pronom:  # none rather than a guess (a page's images: see inputs/html.py)
            registry = _sub(fmt, "formatRegistry")
            _sub(registry, "formatRegistryName", "PRONOM")
            _sub(registry, "formatRegistryKey", record.pronom)
            _sub(registry, "formatRegistryRole", "specification")
        if record.original_name:
            _sub(obj, "originalName", record.original_name)
        if record.path == source_path:
            for subtype, other in relations:
                relation = _sub(obj, "relationship")
                _sub(relation, "relationshipType", "logical")
                _sub(relation, "relationshipSubType", subtype)
                related = _sub(relation, "relatedObjectIdentifier")
                _sub(related, "relatedObjectIdentifierType", "preserve identifier")
                _sub(related, "relatedObjectIdentifierValue", other)
        if record.path.startswith("data/pdfa/") and source_path:
            relation = _sub(obj, "relationship")
            _sub(relation, "relationshipType", "derivation")
            _sub(relation, "relationshipSubType", "has source")
            related = _sub(relation, "relatedObjectIdentifier")
            _sub(related, "relatedObjectIdentifierType", "local")
            _sub(related, "relatedObjectIdentifierValue", source_path)
    agent_name = software_agent()
    for number, event in enumerate(events, start=1):
        element = _sub(root, "event")
        eid = _sub(element, "eventIdentifier")
        _sub(eid, "eventIdentifierType", "local")
        _sub(eid, "eventIdentifierValue", f"{identifier}/event/{number}")
        _sub(element, "eventType", event.type)
        _sub(element, "eventDateTime", _timestamp(event.at))
        _sub(_sub(element, "eventDetailInformation"), "eventDetail", event.detail)
        outcome = _sub(element, "eventOutcomeInformation")
        _sub(outcome, "eventOutcome", event.outcome)
        link = _sub(element, "linkingAgentIdentifier")
        _sub(link, "linkingAgentIdentifierType", "local")
        _sub(link, "linkingAgentIdentifierValue", "preserve")
        _sub(link, "linkingAgentRole", "executing program")
        for path in event.objects:
            linked = _sub(element, "linkingObjectIdentifier")
            _sub(linked, "linkingObjectIdentifierType", "local")
            _sub(linked, "linkingObjectIdentifierValue", path)
    agent = _sub(root, "agent")
    aid = _sub(agent, "agentIdentifier")
    _sub(aid, "agentIdentifierType", "local")
    _sub(aid, "agentIdentifierValue", "preserve")
    _sub(agent, "agentName", agent_name)
    _sub(agent, "agentType", "software")
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"
