"""DSpace: an item in the Simple Archive Format (SAF) that ItemImport takes, not a bag.

The output is a folder (the "archive") holding one item folder: the original
and the PDF/A, ``contents`` listing each file with its bundle
(``name<TAB>bundle:ORIGINAL``; the PDF/A in a bundle of its own), the record
through :func:`preserve.metadata.dublin_core` as ``dublin_core.xml`` (``dc.*``)
and ``metadata_dcterms.xml`` (``dcterms.*``), ``collections`` only when handles
are given and ``handle`` only when one is. ItemImport takes file names as they
stand in ``contents``, so a name holding a tab or a line break cannot be listed.
"""

from __future__ import annotations

import posixpath
import xml.etree.ElementTree as ET

from preserve.errors import InputError
from preserve.export.spec import Options, ProfileSpec
from preserve.export.staging import Change, SourceBag, Staged
from preserve.metadata import Metadata, dublin_core
from preserve.xmltext import xml_text

ITEM = "item_000"
ORIGINAL_BUNDLE = "ORIGINAL"
PRESERVATION_BUNDLE = "PRESERVATION"
METADATA_BUNDLE = "METADATA"
#: Our qualifiers where DSpace's default registry has a more exact field.
_QUALIFIER = {"dc.identifier": "other", "dc.language": "iso", "dc.source": "uri"}


def dublin_core_xml(pairs: list[tuple[str, str]], schema: str) -> bytes:
    """``<dublin_core schema=…><dcvalue element= qualifier=>`` for the pairs in ``schema``."""
    root = ET.Element("dublin_core", {"schema": schema})
    for key, value in pairs:
        prefix, _, element = key.partition(".")
        if prefix != schema:
            continue
        ET.SubElement(
            root, "dcvalue", {"element": element, "qualifier": _QUALIFIER.get(key, "none")}
        ).text = xml_text(value)
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def build(source: SourceBag, options: Options) -> Staged:
    for value in (*options.collections, *([options.handle] if options.handle is not None else [])):
        if not value.strip() or any(c in value for c in "\t\r\n"):
            raise InputError("a DSpace handle is one non-empty line", repr(value))
    pairs = dublin_core(Metadata(source.record))
    files: dict[str, bytes] = {}
    changes: list[Change] = []
    lines: list[str] = []

    def put(old: str, bundle: str, why: str) -> None:
        name = posixpath.basename(old)
        if any(c in name for c in "\t\r\n") or name in files:
            raise InputError(f"{old}: cannot be listed in DSpace's contents file", source.path)
        files[f"{ITEM}/{name}"] = source.files[old]
        lines.append(f"{name}\tbundle:{bundle}")
        changes.append(Change("renamed", old, f"to {ITEM}/{name} (bundle {bundle}; {why})"))

    for old in source.payload("original"):
        put(old, ORIGINAL_BUNDLE, "the statement as received")
    for old in source.payload("pdfa"):
        put(old, PRESERVATION_BUNDLE, "the PDF/A preservation copy")
    for old in ("data/metadata/statement.json", "premis.xml"):
        if old in source.files:
            put(old, METADATA_BUNDLE, "the full record and its history")
    added = {
        "dublin_core.xml": dublin_core_xml(pairs, "dc"),
        "metadata_dcterms.xml": dublin_core_xml(pairs, "dcterms"),
        "contents": ("\n".join(lines) + "\n").encode("utf-8"),
    }
    if options.collections:
        added["collections"] = ("\n".join(options.collections) + "\n").encode("utf-8")
    if options.handle:
        added["handle"] = (options.handle + "\n").encode("utf-8")
    for name, content in added.items():
        files[f"{ITEM}/{name}"] = content
        changes.append(Change("added", f"{ITEM}/{name}", "DSpace Simple Archive Format"))
    return Staged(files=files, bag_info=[], changes=changes)


SPEC = ProfileSpec(
    name="dspace-saf",
    repository="DSpace (Simple Archive Format, ItemImport)",
    summary="a folder with one item: dublin_core.xml, metadata_dcterms.xml, contents "
    "(ORIGINAL and PRESERVATION bundles), collections and handle only if given",
    needs=(),
    formats=(),
    manifests=None,
    tagmanifests=None,
    premis_path=f"{ITEM}/premis.xml",
    build=build,
    bagit=False,
)
