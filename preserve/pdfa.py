"""PDF/A: finish a rendered PDF as PDF/A (pikepdf), and check what a PDF's claim rests on.

:func:`finish_pdfa` adds what PDF/A requires on top of the page content: XMP metadata
that agrees with the document information dictionary, an sRGB OutputIntent, a
deterministic trailer /ID and, for PDF/A-3, the statement as received (and the text
taken out of it) and its metadata as associated files. :func:`check_pdfa` is the
self-check the verifier uses later; it reports what breaks the claim a PDF makes,
not everything a full validator would.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pikepdf
from pikepdf import Array, Dictionary, Name, String

from preserve.errors import PreserveError
from preserve.pdf_structure import check_structure, write_structure

if TYPE_CHECKING:
    from preserve.render.tagging import StructNode

#: The sRGB profile of every OutputIntent: ICC v2 (valid for PDF/A-1, -2 and -3), with
#: a fixed creation date inside; see preserve/icc/PROVENANCE.md.
ICC_PROFILE = "sRGB-v2.icc"
ICC_CONDITION = "sRGB IEC61966-2.1"
PRODUCER = "preserve (ReportLab, pikepdf)"


class PdfaLevel(Enum):
    """The PDF/A levels ``preserve render --pdfa`` offers, with everything that depends on them."""

    A1B = "1b"
    A2B = "2b"
    A2U = "2u"
    A3U = "3u"
    A2A = "2a"
    A3A = "3a"

    @property
    def part(self) -> int:
        return int(self.value[0])

    @property
    def conformance(self) -> str:
        return self.value[1].upper()

    @property
    def pronom(self) -> str:
        """PRONOM format identifier, for format registries and bag metadata."""
        return _PRONOM[self]

    @property
    def pdf_version(self) -> str:
        return "1.4" if self.part == 1 else "1.7"

    @property
    def max_icc_major(self) -> int:
        """Highest ICC profile major version the level allows in an OutputIntent."""
        return 2 if self.part == 1 else 4

    @property
    def unicode(self) -> bool:
        """Conformance U (and A, which includes it): every glyph maps to Unicode."""
        return self.conformance in ("U", "A")

    @property
    def tagged(self) -> bool:
        """Conformance A: a logical structure tree (Tagged PDF); preserve also claims PDF/UA-1."""
        return self.conformance == "A"

    @property
    def attachments(self) -> bool:
        """Only PDF/A-3 may embed arbitrary files (as associated files)."""
        return self.part == 3

    @classmethod
    def parse(cls, value: str) -> PdfaLevel:
        for level in cls:
            if level.value == value.strip().lower():
                return level
        allowed = ", ".join(level.value for level in cls)
        raise ValueError(f"unknown PDF/A level {value!r}; allowed: {allowed}")

    @classmethod
    def from_claim(cls, part: str, conformance: str) -> PdfaLevel | None:
        for level in cls:
            if str(level.part) == part.strip() and level.conformance == conformance.strip().upper():
                return level
        return None


_PRONOM = {
    PdfaLevel.A1B: "fmt/354",
    PdfaLevel.A2B: "fmt/477",
    PdfaLevel.A2U: "fmt/478",
    PdfaLevel.A3U: "fmt/481",
    PdfaLevel.A2A: "fmt/476",
    PdfaLevel.A3A: "fmt/479",
}


class NoStructureError(PreserveError):
    """A PDF/A level A (tagged) was asked for without a structure tree to write."""


@dataclass(frozen=True)
class PdfInfo:
    """Document-level metadata, written identically to DocInfo and XMP."""

    title: str
    author: str
    language: str
    identifier: str
    description: str | None = None
    subjects: tuple[str, ...] = ()
    date_issued: str | None = None


@dataclass(frozen=True)
class Attachment:
    """A file embedded in a PDF/A-3 as an associated file of the document."""

    filename: str
    data: bytes
    #: Its media type; parameters (``; charset=…``) are left out of /Subtype, which
    #: ISO 19005-3 and veraPDF (6.8) want as ``type/subtype`` alone.
    mime_type: str
    #: /AFRelationship: "Source" for the statement as received, "Data" for the text the
    #: copy was laid out from and for the metadata.
    relationship: str
    description: str = ""


@dataclass(frozen=True)
class EmbeddedFile:
    """An embedded file of a PDF as a reader finds it (:func:`embedded_files`)."""

    #: Its name (/UF, else /F), which a preserve copy gives as the bag names the file.
    filename: str
    #: /AFRelationship without the slash (``Source``, ``Data``…); "" when absent.
    relationship: str
    #: /Subtype of the embedded file stream without the slash; "" when absent.
    mime_type: str
    #: The decoded bytes, at most the ``limit`` asked for plus one; None when the
    #: stream uses a filter preserve does not decode (never inflated past the bound).
    data: bytes | None


#: A MIME type as /Subtype must give it: ``type/subtype``, no parameters (veraPDF 6.8-t1).
_MIME = re.compile(r"[-\w+.]+/[-\w+.]+")


def bare_mime(media_type: str) -> str:
    """``type/subtype`` of a media type (``text/html; charset=utf-8`` -> ``text/html``);
    ``application/octet-stream``, as ISO 19005-3 asks, where none can be read from it."""
    bare = media_type.split(";", 1)[0].strip().lower()
    return bare if _MIME.fullmatch(bare) else "application/octet-stream"


@dataclass(frozen=True)
class PdfaProblem:
    """One reason a PDF does not meet the PDF/A level it claims; ``code`` is stable."""

    code: str
    message: str

    def one_line(self) -> str:
        return f"{self.code}: {self.message}"


# --------------------------------------------------------------------------- finishing


def icc_profile() -> bytes:
    return (resources.files("preserve") / "icc" / ICC_PROFILE).read_bytes()


def _pdf_date(when: datetime) -> str:
    return "D:" + when.astimezone(UTC).strftime("%Y%m%d%H%M%S") + "+00'00'"


def _xmp_date(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + "+00:00"


def finish_pdfa(
    pdf_bytes: bytes,
    level: PdfaLevel,
    info: PdfInfo,
    created: datetime,
    attachments: Sequence[Attachment] = (),
    structure: StructNode | None = None,
) -> bytes:
    """Make a PDF written by the layout into a PDF/A file of ``level``; same input, same bytes.

    ``structure`` is the tree :class:`~preserve.render.tagging.StructureBuilder` recorded
    while drawing; with it the file is Tagged PDF (any level may carry tags; level A
    requires them, and is refused without, since its claim would be false:
    NoStructureError, exit 2, could not run).
    """
    if attachments and not level.attachments:
        raise ValueError(f"PDF/A-{level.value} cannot embed files; use 3u or 3a")
    if level.tagged and structure is None:
        raise NoStructureError(
            f"PDF/A-{level.value} needs the structure tree recorded while drawing; "
            "this renderer gave none"
        )
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        _docinfo(pdf, info, created)
        _xmp(pdf, level, info, created)
        _output_intent(pdf)
        root = pdf.Root
        root.Lang = String(info.language)
        root.ViewerPreferences = Dictionary(DisplayDocTitle=True)
        if structure is not None:
            write_structure(pdf, structure, info.language, tabs=level.part > 1)
        for key in ("/OpenAction", "/AA", "/Names"):
            if key in root:
                del root[key]
        for page in pdf.pages:  # ReportLab writes an empty page transition dictionary
            if "/Trans" in page.obj and len(page.obj.Trans.keys()) == 0:
                del page.obj.Trans
        if attachments:
            _attach(pdf, attachments, created)
        out = io.BytesIO()
        pdf.save(
            out,
            deterministic_id=True,
            fix_metadata_version=False,
            force_version=level.pdf_version,
            object_stream_mode=(
                pikepdf.ObjectStreamMode.disable
                if level.part == 1
                else pikepdf.ObjectStreamMode.generate
            ),
            compress_streams=True,
        )
        return out.getvalue()


def _docinfo(pdf: pikepdf.Pdf, info: PdfInfo, created: datetime) -> None:
    docinfo = Dictionary(
        Title=String(info.title),
        Author=String(info.author),
        Creator=String(PRODUCER),
        Producer=String(PRODUCER),
        CreationDate=String(_pdf_date(created)),
        ModDate=String(_pdf_date(created)),
    )
    if info.description:
        docinfo.Subject = String(info.description)
    if info.subjects:
        docinfo.Keywords = String("; ".join(info.subjects))
    pdf.trailer.Info = pdf.make_indirect(docinfo)


def _xmp(pdf: pikepdf.Pdf, level: PdfaLevel, info: PdfInfo, created: datetime) -> None:
    # The values are set as data through pikepdf's XMP API, which escapes them: a title
    # like "]]></rdf:li>" stays text. Dates are pinned to ``created``.
    with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
        meta["dc:title"] = info.title
        meta["dc:creator"] = [info.author]
        meta["dc:language"] = [info.language]
        meta["dc:identifier"] = info.identifier
        meta["dc:format"] = "application/pdf"
        if info.description:
            meta["dc:description"] = info.description
        if info.subjects:
            meta["dc:subject"] = list(info.subjects)
            meta["pdf:Keywords"] = "; ".join(info.subjects)
        meta["dc:date"] = [info.date_issued or created.date().isoformat()]
        meta["pdf:Producer"] = PRODUCER
        meta["xmp:CreatorTool"] = PRODUCER
        meta["xmp:CreateDate"] = _xmp_date(created)
        meta["xmp:ModifyDate"] = _xmp_date(created)
        meta["xmp:MetadataDate"] = _xmp_date(created)
        meta["pdfaid:part"] = str(level.part)
        meta["pdfaid:conformance"] = level.conformance
        if level.tagged:
            meta["pdfuaid:part"] = "1"
    stream = pdf.Root.Metadata
    xmp = _hoist_namespaces(stream.read_bytes())
    stream.write(_declare_pdfua(xmp) if level.tagged else xmp)


#: Namespaces declared on rdf:Description, where PDFBox's XMP parser looks for them.
_XMP_NAMESPACES = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "pdf": "http://ns.adobe.com/pdf/1.3/",
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
    "pdfuaid": "http://www.aiim.org/pdfua/ns/id/",
}
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


def _hoist_namespaces(xmp: bytes) -> bytes:
    """Declare the namespaces once on rdf:Description instead of on every property.

    pikepdf writes ``xmlns:dc`` on each element, which is valid XML but which
    PDFBox Preflight (xmpbox) reads as "Schema is not set"; the data is unchanged.
    """
    from lxml import etree  # type: ignore[import-untyped]  # lxml comes with pikepdf

    head, sep, rest = xmp.partition(b"?>")
    body, _, tail = rest.rpartition(b"<?xpacket")
    root = etree.fromstring(body.strip())
    for desc in root.iter(f"{{{_RDF}}}Description"):
        new = etree.Element(
            desc.tag, attrib=dict(desc.attrib), nsmap={**desc.nsmap, **_XMP_NAMESPACES}
        )
        new.text = "\n  "
        for child in list(desc):
            child.tail = "\n  "
            new.append(child)
        desc.getparent().replace(desc, new)
    etree.cleanup_namespaces(root)
    text: bytes = etree.tostring(root, encoding="utf-8")
    return head + sep + b"\n" + text + b"\n" + b"<?xpacket" + tail


PDFUA_NS = "http://www.aiim.org/pdfua/ns/id/"
_EXTENSION = {
    "pdfaExtension": "http://www.aiim.org/pdfa/ns/extension/",
    "pdfaSchema": "http://www.aiim.org/pdfa/ns/schema#",
    "pdfaProperty": "http://www.aiim.org/pdfa/ns/property#",
}
#: PDF/A allows only predefined XMP schemas unless an extension schema describes the
#: others; pdfuaid is not predefined, so it is declared (PDFBox Preflight insists).
_PDFUA_SCHEMA = f"""<pdfaExtension:schemas xmlns:pdfaExtension="{_EXTENSION["pdfaExtension"]}"
 xmlns:pdfaSchema="{_EXTENSION["pdfaSchema"]}" xmlns:pdfaProperty="{_EXTENSION["pdfaProperty"]}"
 xmlns:rdf="{_RDF}">
 <rdf:Bag>
  <rdf:li rdf:parseType="Resource">
   <pdfaSchema:schema>PDF/UA Universal Accessibility Schema</pdfaSchema:schema>
   <pdfaSchema:namespaceURI>{PDFUA_NS}</pdfaSchema:namespaceURI>
   <pdfaSchema:prefix>pdfuaid</pdfaSchema:prefix>
   <pdfaSchema:property>
    <rdf:Seq>
     <rdf:li rdf:parseType="Resource">
      <pdfaProperty:name>part</pdfaProperty:name>
      <pdfaProperty:valueType>Integer</pdfaProperty:valueType>
      <pdfaProperty:category>internal</pdfaProperty:category>
      <pdfaProperty:description>Part of ISO 14289 followed</pdfaProperty:description>
     </rdf:li>
    </rdf:Seq>
   </pdfaSchema:property>
  </rdf:li>
 </rdf:Bag>
</pdfaExtension:schemas>"""


def _declare_pdfua(xmp: bytes) -> bytes:
    """Add the extension schema that declares pdfuaid:part, in an rdf:Description of its own.

    PDFBox reads extension schemas only from a description whose first child is
    pdfaExtension:schemas, before the other descriptions (xmpbox DomXmpParser).
    """
    from lxml import etree

    head, sep, rest = xmp.partition(b"?>")
    body, _, tail = rest.rpartition(b"<?xpacket")
    root = etree.fromstring(body.strip())
    rdf = next(root.iter(f"{{{_RDF}}}RDF"))
    desc = etree.Element(
        f"{{{_RDF}}}Description", attrib={f"{{{_RDF}}}about": ""}, nsmap=_EXTENSION
    )
    desc.text = "\n  "
    schema = etree.fromstring(_PDFUA_SCHEMA)
    schema.tail = "\n "
    desc.append(schema)
    desc.tail = "\n "
    rdf.insert(0, desc)
    etree.cleanup_namespaces(root)
    text: bytes = etree.tostring(root, encoding="utf-8")
    return head + sep + b"\n" + text + b"\n" + b"<?xpacket" + tail


def _output_intent(pdf: pikepdf.Pdf) -> None:
    profile = pdf.make_stream(icc_profile())
    profile.N = 3
    intent = Dictionary(
        Type=Name.OutputIntent,
        S=Name.GTS_PDFA1,
        OutputConditionIdentifier=String(ICC_CONDITION),
        Info=String(ICC_CONDITION),
        RegistryName=String("http://www.color.org"),
        DestOutputProfile=profile,
    )
    pdf.Root.OutputIntents = Array([pdf.make_indirect(intent)])


def _attach(pdf: pikepdf.Pdf, attachments: Sequence[Attachment], created: datetime) -> None:
    """Each file as an associated file of the document: /F and /UF its name, /Subtype
    its bare MIME type, /Params its size, MD5 /CheckSum and dates (pikepdf writes them),
    listed in the catalog's /AF. Two files of one name (a page saved as ``x.txt`` and
    its extracted ``x.txt``) keep it; the name tree's key of the second is made unique."""
    specs = []
    for item in attachments:
        spec = pikepdf.AttachedFileSpec(
            pdf,
            item.data,
            description=item.description,
            filename=item.filename,
            mime_type=bare_mime(item.mime_type),
            creation_date=_pdf_date(created),
            mod_date=_pdf_date(created),
            relationship=Name("/" + item.relationship),
        )
        key, n = item.filename, 1
        while key in pdf.attachments:
            n += 1
            key = f"{item.filename} ({n})"
        pdf.attachments[key] = spec
        specs.append(spec.obj)
    pdf.Root.AF = Array(specs)


def embedded_files(pdf: bytes, limit: int) -> list[EmbeddedFile]:
    """The files a PDF embeds (its name tree, in order), each decoded up to ``limit`` + 1
    bytes at most (a compression bomb costs no more); [] for a PDF pikepdf cannot open.

    For a verifier holding the files the copy claims to carry: one whose decoded bytes
    are longer than ``limit`` cannot be the file it is compared with.
    """
    try:
        doc = pikepdf.open(io.BytesIO(pdf))
    except (pikepdf.PdfError, OSError):
        return []
    out = []
    with doc:
        for _key, spec in doc.attachments.items():
            obj = spec.obj
            name = obj.get("/UF", obj.get("/F", ""))
            relationship = obj.get("/AFRelationship")
            stream = obj.get("/EF", Dictionary()).get("/F")
            subtype = stream.get("/Subtype") if isinstance(stream, pikepdf.Stream) else None
            out.append(
                EmbeddedFile(
                    str(name),
                    str(relationship)[1:] if isinstance(relationship, Name) else "",
                    str(subtype)[1:] if isinstance(subtype, Name) else "",
                    stream_head(stream, limit + 1) if isinstance(stream, pikepdf.Stream) else None,
                )
            )
    return out


# --------------------------------------------------------------------------- checking

_DOCINFO_XMP = {
    "/Title": "dc:title",
    "/Author": "dc:creator",
    "/Subject": "dc:description",
    "/Keywords": "pdf:Keywords",
    "/Creator": "xmp:CreatorTool",
    "/Producer": "pdf:Producer",
    "/CreationDate": "xmp:CreateDate",
    "/ModDate": "xmp:ModifyDate",
}
_FORBIDDEN_ACTIONS = {
    "/JavaScript",
    "/Launch",
    "/ImportData",
    "/ResetForm",
    "/Sound",
    "/Movie",
    "/Hide",
    "/SetOCGState",
    "/Rendition",
    "/Trans",
    "/GoTo3DView",
}


@dataclass
class _Findings:
    problems: list[PdfaProblem] = field(default_factory=list)

    def add(self, code: str, message: str) -> None:
        problem = PdfaProblem(code, message)
        if problem not in self.problems:
            self.problems.append(problem)


def check_pdfa(pdf: bytes | Path) -> list[PdfaProblem]:
    """What breaks the PDF/A claim this PDF makes (empty list: nothing found).

    Checks the rules a reader needs and a silent corruption could break: the claim
    itself (pdfaid), embedded fonts (and ToUnicode for levels U and A), the OutputIntent
    and its ICC version, XMP agreeing with DocInfo, no encryption, JavaScript, forbidden
    actions or external references, /AF with /AFRelationship on PDF/A-3 files, and for
    level A or a pdfuaid claim the tagging (:func:`preserve.pdf_structure.check_structure`).
    """
    found = _Findings()
    source = io.BytesIO(pdf) if isinstance(pdf, bytes) else Path(pdf)
    try:
        doc = pikepdf.open(source)
    except pikepdf.PasswordError:
        return [PdfaProblem("pdfa.encrypted", "the PDF is encrypted (PDF/A forbids encryption)")]
    except (pikepdf.PdfError, OSError) as exc:
        return [PdfaProblem("pdfa.unreadable", f"not a readable PDF: {exc}")]
    with doc:
        level = _claim(doc, found)
        if doc.is_encrypted:
            found.add("pdfa.encrypted", "the PDF is encrypted (PDF/A forbids encryption)")
        if "/ID" not in doc.trailer:
            found.add("pdfa.no-trailer-id", "the trailer has no /ID")
        _check_output_intent(doc, level, found)
        _check_objects(doc, level, found)
        if level is not None:
            _check_docinfo(doc, found)
            _check_attachments(doc, level, found)
        _check_tagging(doc, level, found)
    return found.problems


def _claim(doc: pikepdf.Pdf, found: _Findings) -> PdfaLevel | None:
    if "/Metadata" not in doc.Root:
        found.add("pdfa.no-xmp", "the catalog has no XMP metadata stream")
        found.add("pdfa.no-pdfaid", "no pdfaid:part/conformance: the PDF does not claim PDF/A")
        return None
    packet = doc.Root.get("/Metadata")
    head = stream_head(packet, MAX_XMP_BYTES + 1) if isinstance(packet, pikepdf.Stream) else b""
    if head is None or len(head) > MAX_XMP_BYTES:
        why = "is over 4 MiB decoded" if head else "uses a filter preserve does not decode"
        found.add("pdfa.bad-xmp", f"the XMP metadata {why}; not parsed")
        return None
    try:
        meta = doc.open_metadata()
        part, conformance = (
            str(meta.get("pdfaid:part", "")),
            str(meta.get("pdfaid:conformance", "")),
        )
    except Exception as exc:  # a broken XMP packet is reported, not raised
        found.add("pdfa.bad-xmp", f"the XMP metadata cannot be parsed: {exc}")
        return None
    if not part or not conformance:
        found.add("pdfa.no-pdfaid", "no pdfaid:part/conformance: the PDF does not claim PDF/A")
        return None
    level = PdfaLevel.from_claim(part, conformance)
    if level is None:
        found.add(
            "pdfa.unknown-level",
            f"claims PDF/A-{part}{conformance.lower()}, which preserve does not make",
        )
    return level


#: Bytes of an ICC profile's header: all the check reads of it (version, signature).
_ICC_HEADER = 128
#: Decoded bytes of an XMP packet the check parses; a larger one is a problem.
MAX_XMP_BYTES = 4 << 20


def stream_head(stream: pikepdf.Stream, limit: int) -> bytes | None:
    """At most ``limit`` decoded bytes of ``stream``, decoding no more than that.

    pikepdf's ``read_bytes`` inflates a whole stream: 1.6 MB of deflate can hold
    1.5 GiB. Here the raw bytes are inflated by zlib with ``max_length``, so a
    compression bomb costs ``limit`` bytes. None: a filter other than FlateDecode
    (without predictor), which is then not decoded at all.
    """
    filters = stream.get("/Filter")
    chain = list(filters) if isinstance(filters, Array) else [] if filters is None else [filters]
    if not chain:
        return bytes(stream.read_raw_bytes()[:limit])
    params = stream.get("/DecodeParms")
    if chain != [Name.FlateDecode] or (params is not None and not _no_predictor(params)):
        return None
    inflater = zlib.decompressobj()
    try:
        return inflater.decompress(stream.read_raw_bytes(), limit)
    except zlib.error:
        return b""


def _no_predictor(params: object) -> bool:
    if isinstance(params, Array):
        return all(_no_predictor(p) for p in params)
    if isinstance(params, Dictionary):
        return int(params.get("/Predictor", 1)) == 1
    return params is None


def _check_output_intent(doc: pikepdf.Pdf, level: PdfaLevel | None, found: _Findings) -> None:
    intents = [i for i in doc.Root.get("/OutputIntents", Array()) if i.get("/S") == Name.GTS_PDFA1]
    profiles = [i.get("/DestOutputProfile") for i in intents]
    streams = [p for p in profiles if isinstance(p, pikepdf.Stream)]
    if not intents or len(streams) != len(profiles):
        found.add("pdfa.no-output-intent", "no GTS_PDFA1 OutputIntent with an ICC profile")
        return
    for profile in streams:
        data = stream_head(profile, _ICC_HEADER)
        if data is None:
            found.add(
                "pdfa.icc-unchecked",
                "the OutputIntent's ICC profile uses a filter preserve does not decode "
                "(only unfiltered or FlateDecode), so its version was not checked",
            )
            continue
        if len(data) < 128 or data[36:40] != b"acsp":
            found.add("pdfa.bad-icc", "the OutputIntent's ICC profile is not a valid ICC profile")
            continue
        major = data[8]
        if level is not None and major > level.max_icc_major:
            found.add(
                "pdfa.icc-version",
                f"the OutputIntent's ICC profile is version {major}; PDF/A-{level.part} allows "
                f"at most {level.max_icc_major}",
            )


def _fonts(doc: pikepdf.Pdf) -> Iterable[pikepdf.Object]:
    seen: set[tuple[int, int]] = set()
    for obj in doc.objects:
        if isinstance(obj, Dictionary | pikepdf.Stream) and obj.get("/Type") == Name.Font:
            if obj.objgen in seen:
                continue
            seen.add(obj.objgen)
            yield obj
    for page in doc.pages:  # direct font dictionaries are not in doc.objects
        fonts = page.obj.get("/Resources", Dictionary()).get("/Font", Dictionary())
        for _name, font in fonts.items():
            if font.objgen == (0, 0):
                yield font


def _check_objects(doc: pikepdf.Pdf, level: PdfaLevel | None, found: _Findings) -> None:
    for font in _fonts(doc):
        name = str(font.get("/BaseFont", "?"))[1:]
        subtype = font.get("/Subtype")
        if subtype == Name.Type0:
            descendants = font.get("/DescendantFonts", Array())
            descriptor = descendants[0].get("/FontDescriptor") if len(descendants) else None
        elif subtype == Name.Type3:
            descriptor = None
        else:
            descriptor = font.get("/FontDescriptor")
        if subtype != Name.Type3 and (
            descriptor is None
            or not any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
        ):
            found.add("pdfa.font-not-embedded", f"font {name} is not embedded")
        # A composite font's map sits on the Type0 font, not on its descendant CIDFont.
        descendant = subtype in (Name.CIDFontType0, Name.CIDFontType2)
        if level is not None and level.unicode and not descendant and "/ToUnicode" not in font:
            found.add("pdfa.no-tounicode", f"font {name} has no ToUnicode map (needed for level U)")
    for obj in doc.objects:
        if not isinstance(obj, Dictionary | pikepdf.Stream):
            continue
        action = obj.get("/S")
        if action == Name.JavaScript or "/JS" in obj:
            found.add("pdfa.javascript", "the PDF contains JavaScript")
        elif (
            isinstance(action, Name)
            and str(action) in _FORBIDDEN_ACTIONS
            and (obj.get("/Type") in (None, Name.Action))
        ):
            found.add("pdfa.action", f"the PDF contains a forbidden {str(action)[1:]} action")
        if "/AA" in obj:
            found.add("pdfa.action", "the PDF contains additional-actions (/AA)")
        if obj.get("/Subtype") == Name.Form and "/Ref" in obj:
            found.add("pdfa.external-reference", "a reference XObject points at another file")
        if "/OPI" in obj:
            found.add("pdfa.external-reference", "an OPI dictionary points at external images")
        if (
            isinstance(obj, pikepdf.Stream)
            and "/F" in obj
            and obj.get("/Type") != Name.EmbeddedFile
        ):
            found.add("pdfa.external-reference", "a stream takes its data from an external file")
    names = doc.Root.get("/Names", Dictionary())
    if "/JavaScript" in names:
        found.add("pdfa.javascript", "the PDF contains document-level JavaScript")


def _xmp_text(value: object) -> str:
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    return str(value)


def _same_date(pdf_date: str, xmp_date: str) -> bool:
    # LibreOffice writes UTC as "Z'" and others "Z00'00'": the same instant as "Z".
    pdf_date = re.sub(r"Z(00'?00'?|')$", "Z", pdf_date.strip())
    try:
        a = pikepdf.models.metadata.decode_pdf_date(pdf_date)
        b = datetime.fromisoformat(xmp_date.replace("Z", "+00:00"))
    except (ValueError, TypeError):
        return False
    if (a.tzinfo is None) != (b.tzinfo is None):
        return a.replace(tzinfo=None) == b.replace(tzinfo=None)
    return a == b


def _check_docinfo(doc: pikepdf.Pdf, found: _Findings) -> None:
    info = doc.trailer.get("/Info")
    if info is None:
        return
    meta = doc.open_metadata()
    for key, prop in _DOCINFO_XMP.items():
        if key not in info:
            continue
        value = str(info[key])
        xmp = meta.get(prop)
        if xmp is None:
            found.add(
                "pdfa.xmp-docinfo-mismatch", f"DocInfo {key[1:]} is set but XMP {prop} is missing"
            )
            continue
        same = _same_date(value, str(xmp)) if key.endswith("Date") else value == _xmp_text(xmp)
        if not same:
            found.add(
                "pdfa.xmp-docinfo-mismatch",
                f"DocInfo {key[1:]} {value!r} differs from XMP {prop} {_xmp_text(xmp)!r}",
            )


def _check_attachments(doc: pikepdf.Pdf, level: PdfaLevel, found: _Findings) -> None:
    files = list(doc.attachments.items())
    if level.part == 1 and files:
        found.add("pdfa.embedded-file", "PDF/A-1 does not allow embedded files")
    if level.part == 2:
        for name, _spec in files:
            found.add(
                "pdfa.embedded-file", f"PDF/A-2 allows only PDF/A files to be embedded ({name})"
            )
    if level.part != 3:
        return
    af = doc.Root.get("/AF")
    af_ids = {o.objgen for o in af} if isinstance(af, Array) else set()
    if not files:
        found.add("pdfa.no-af", "PDF/A-3 preservation copy has no associated files")
    if files and af is None:
        found.add("pdfa.no-af", "the catalog has no /AF array for its embedded files")
    for name, spec in files:
        obj = spec.obj
        if "/AFRelationship" not in obj:
            found.add("pdfa.no-af", f"embedded file {name} has no /AFRelationship")
        if obj.objgen not in af_ids:
            found.add("pdfa.no-af", f"embedded file {name} is not listed in the catalog's /AF")
        stream = obj.get("/EF", Dictionary()).get("/F")
        if stream is None or "/Subtype" not in stream:
            found.add("pdfa.no-mime-type", f"embedded file {name} has no MIME type (/Subtype)")
        elif not _MIME.fullmatch(str(stream.Subtype)[1:]):
            found.add(
                "pdfa.no-mime-type",
                f"embedded file {name}'s /Subtype {str(stream.Subtype)[1:]!r} is not a MIME"
                " type (type/subtype, no parameters)",
            )


def _check_tagging(doc: pikepdf.Pdf, level: PdfaLevel | None, found: _Findings) -> None:
    """Level A and PDF/UA-1: the structure tree, and pdfuaid declared in XMP.

    Only for a PDF/A level preserve knows: then ``_claim`` has already parsed the XMP
    (within its size limit), so reading it again here is bounded too.
    """
    if level is None:
        return
    xmp = _xmp_tree(doc)
    ua = xmp is not None and _xmp_value(xmp, PDFUA_NS, "part") is not None
    if not ua and not level.tagged:
        return
    if ua and xmp is not None and not _pdfua_declared(xmp):
        found.add(
            "pdfa.no-pdfua-schema",
            "XMP claims pdfuaid:part but no pdfaExtension schema declares it",
        )
    title = _xmp_value(xmp, _XMP_NAMESPACES["dc"], "title") if xmp is not None else None
    check_structure(doc, title, found.add)


def _xmp_tree(doc: pikepdf.Pdf) -> Any | None:
    from lxml import etree

    stream = doc.Root.get("/Metadata")
    if not isinstance(stream, pikepdf.Stream):
        return None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        return etree.fromstring(stream.read_bytes(), parser)
    except (etree.XMLSyntaxError, pikepdf.PdfError, ValueError):
        return None  # reported as pdfa.bad-xmp by _claim


def _xmp_value(xmp: Any, namespace: str, name: str) -> str | None:
    """A property's text, as an element or as an attribute of rdf:Description."""
    tag = f"{{{namespace}}}{name}"
    for desc in xmp.iter(f"{{{_RDF}}}Description"):
        if tag in desc.attrib:
            return str(desc.attrib[tag])
        for elem in desc.iterchildren(tag):
            text = "".join(elem.itertext()).strip()
            return text or None
    return None


def _pdfua_declared(xmp: Any) -> bool:
    """An extension schema with namespace URI pdfuaid's and a property named part."""
    ns_uri = f"{{{_EXTENSION['pdfaSchema']}}}namespaceURI"
    prop = f"{{{_EXTENSION['pdfaProperty']}}}name"
    for schemas in xmp.iter(f"{{{_EXTENSION['pdfaExtension']}}}schemas"):
        for item in schemas.iter(f"{{{_RDF}}}li"):
            uri = item.attrib.get(ns_uri) or "".join(
                "".join(e.itertext()) for e in item.iterchildren(ns_uri)
            )
            if uri.strip() != PDFUA_NS:
                continue
            names = [e.attrib.get(prop) or "".join(e.itertext()) for e in item.iter()]
            if any(n and n.strip() == "part" for n in names):
                return True
    return False
