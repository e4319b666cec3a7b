"""Archivematica: a zipped-bag transfer laid out as its documentation describes.

A zipped bag is a ``.zip`` or ``.tar.gz`` holding one folder named as the file.
Inside ``data/``, the originals go to ``objects/`` and what describes them to
``metadata/``: ``metadata/metadata.csv`` names files as ``data/objects/…`` (the
form a bag transfer's lookup resolves), and ``metadata/premis.xml`` carries our
PREMIS objects with their ``originalName`` so Archivematica imports the events.
The PDF/A is a preservation copy, not a second original: it goes to
``objects/manualNormalization/preservation/`` under the original's name with
``.pdf``, which Archivematica's manual normalization matches to the original.
"""

from __future__ import annotations

import csv
import io
import posixpath
import xml.etree.ElementTree as ET

from preserve.export.serialize import ExportFormat
from preserve.export.spec import Options, ProfileSpec
from preserve.export.staging import Change, SourceBag, Staged, staged_from
from preserve.premis import PREMIS_NS, XSI_NS
from preserve.xmltext import xml_text

OBJECTS = "data/objects"
PRESERVATION = f"{OBJECTS}/manualNormalization/preservation"
METADATA_CSV = "data/metadata/metadata.csv"
PREMIS = "data/metadata/premis.xml"
_P = f"{{{PREMIS_NS}}}"


def build(source: SourceBag, options: Options) -> Staged:
    staged = staged_from(source)
    staged.set_info("BagIt-Profile-Identifier", None)  # Archivematica publishes no profile
    if options.institution.name:
        staged.set_info("Source-Organization", options.institution.name)
    moved: dict[str, str] = {}
    originals = source.payload("original")
    for old in originals:
        new = f"{OBJECTS}/{old.removeprefix('data/original/')}"
        staged.move(old, new, "Archivematica takes originals from objects/")
        moved[old] = new
    stem = posixpath.splitext(posixpath.basename(moved[originals[0]]))[0] if originals else None
    for old in source.payload("pdfa"):
        name = (
            f"{stem}.pdf" if stem and len(source.payload("pdfa")) == 1 else posixpath.basename(old)
        )
        new = f"{PRESERVATION}/{name}"
        staged.move(old, new, "the PDF/A as a manual normalization (preservation copy)")
        moved[old] = new
    if METADATA_CSV in staged.files:
        staged.add(
            METADATA_CSV,
            _rewrite_csv(staged.files[METADATA_CSV], moved),
            "rows name files as data/objects/…, the originals only",
        )
    if "premis.xml" in staged.files:
        content = _rewrite_premis(staged.files.pop("premis.xml"), moved)
        staged.files[PREMIS] = content
        staged.changes.append(
            Change(
                "renamed",
                "premis.xml",
                f"to {PREMIS} (Archivematica imports PREMIS from metadata/)",
            )
        )
    return staged


def _rewrite_csv(data: bytes, moved: dict[str, str]) -> bytes:
    """Our rows say ``objects/original/X``: Archivematica's bag lookup wants ``data/objects/X``."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if rows:
        writer.writerow(rows[0])
    for row in rows[1:]:
        if not row:
            continue
        old = "data/" + row[0].removeprefix("objects/")
        new = moved.get(old)
        if new is None or new.startswith(PRESERVATION):
            continue  # a normalized copy is described by its original's row
        writer.writerow([new, *row[1:]])
    return out.getvalue().encode("utf-8")


def _rewrite_premis(data: bytes, moved: dict[str, str]) -> bytes:
    """Object paths follow the files; every object gets ``originalName`` (its path here)."""
    ET.register_namespace("premis", PREMIS_NS)
    ET.register_namespace("xsi", XSI_NS)
    root = ET.fromstring(data)
    for element in root.iter():
        if (
            element.tag
            in (
                f"{_P}objectIdentifierValue",
                f"{_P}linkingObjectIdentifierValue",
                f"{_P}relatedObjectIdentifierValue",
            )
            and element.text in moved
        ):
            element.text = moved[element.text]
    for obj in root.findall(f"{_P}object"):
        value = obj.findtext(f"{_P}objectIdentifier/{_P}objectIdentifierValue")
        if not value:
            continue
        name = obj.find(f"{_P}originalName")
        if name is None:
            name = ET.Element(f"{_P}originalName")
            # PREMIS 3 order: identifier, …, objectCharacteristics, originalName, storage…
            children = list(obj)
            after = max(
                (
                    i
                    for i, c in enumerate(children)
                    if c.tag in (f"{_P}objectIdentifier", f"{_P}objectCharacteristics")
                ),
                default=0,
            )
            obj.insert(after + 1, name)
        name.text = xml_text(value)
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


SPEC = ProfileSpec(
    name="archivematica",
    repository="Archivematica",
    summary="zipped-bag transfer (.zip or .tar.gz): data/objects/ originals, the PDF/A as a "
    "manual normalization, data/metadata/metadata.csv and premis.xml",
    needs=(),
    formats=(ExportFormat.zip, ExportFormat.tar_gz),
    manifests=None,
    tagmanifests=None,
    premis_path=PREMIS,
    build=build,
)
