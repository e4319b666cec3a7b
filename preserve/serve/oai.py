"""OAI-PMH 2.0: the catalogue for harvesters (all six verbs, ``oai_dc``).

Datestamps are when a bag entered the archive (or was withdrawn), at seconds
granularity. Sets are by language (``language:az-Latn``) and by organization
(``organization:<ascii slug>``). Lists page with resumption tokens that carry
the query and the last record sent (keyset paging: a token stays valid while the
archive grows). Withdrawn statements are deleted records, kept for good
(``deletedRecord`` persistent). Built with lxml, so every value is escaped data.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree  # type: ignore[import-untyped]  # lxml comes with pikepdf
from slugify import slugify

from preserve import ledger
from preserve.metadata import Metadata, dublin_core
from preserve.serve.catalog import WITHDRAWAL, WITHDRAWN_STATE, facet_values
from preserve.serve.languages import language_name

OAI = "http://www.openarchives.org/OAI/2.0/"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
OAI_DC_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
PAGE_SIZE = 50

VERBS: dict[str, tuple[set[str], set[str]]] = {
    # verb: (required arguments, optional arguments); resumptionToken is exclusive.
    "Identify": (set(), set()),
    "ListMetadataFormats": (set(), {"identifier"}),
    "ListSets": (set(), {"resumptionToken"}),
    "ListIdentifiers": ({"metadataPrefix"}, {"from", "until", "set", "resumptionToken"}),
    "ListRecords": ({"metadataPrefix"}, {"from", "until", "set", "resumptionToken"}),
    "GetRecord": ({"identifier", "metadataPrefix"}, set()),
}
#: Dublin Core crosswalk names (preserve.metadata.dublin_core) to oai_dc elements.
DC_ELEMENTS = {
    "dc.identifier": "identifier",
    "dc.title": "title",
    "dc.creator": "creator",
    "dc.contributor": "contributor",
    "dc.publisher": "publisher",
    "dcterms.issued": "date",
    "dc.language": "language",
    "dc.description": "description",
    "dc.subject": "subject",
    "dcterms.spatial": "coverage",
    "dc.source": "source",
    "dc.rights": "rights",
    "dc.type": "type",
}
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_SECOND = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


class OaiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Repository:
    """What Identify says and how identifiers are formed."""

    name: str
    base_url: str
    admin_email: str
    namespace: str = "preserve"

    def oai_id(self, identifier: str) -> str:
        return f"oai:{self.namespace}:{identifier}"

    def local_id(self, oai_id: str) -> str | None:
        prefix = f"oai:{self.namespace}:"
        return oai_id[len(prefix) :] if oai_id.startswith(prefix) else None


RecordLoader = Callable[[str, str], dict[str, Any] | None]


def respond(
    db: sqlite3.Connection,
    repo: Repository,
    args: Mapping[str, list[str]],
    load_record: RecordLoader,
    page_url: Callable[[str], str],
) -> bytes:
    """The whole OAI-PMH response document for one request's arguments."""
    root = etree.Element(f"{{{OAI}}}OAI-PMH", nsmap={None: OAI, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{OAI} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd")
    etree.SubElement(root, f"{{{OAI}}}responseDate").text = _stamp(dt.datetime.now(dt.UTC))
    request = etree.SubElement(root, f"{{{OAI}}}request")
    request.text = repo.base_url
    try:
        verb, single = _check(args)
        for key, value in single.items():
            request.set(key, value)
        handler = _HANDLERS[verb]
        handler(root, db, repo, single, load_record, page_url)
    except OaiError as exc:
        if exc.code in ("badVerb", "badArgument"):
            for key in list(request.attrib):
                del request.attrib[key]
        error = etree.SubElement(root, f"{{{OAI}}}error", code=exc.code)
        error.text = exc.message
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _check(args: Mapping[str, list[str]]) -> tuple[str, dict[str, str]]:
    verbs = args.get("verb", [])
    if len(verbs) != 1:
        raise OaiError("badVerb", "give exactly one verb" if verbs else "no verb given")
    verb = verbs[0]
    if verb not in VERBS:
        raise OaiError("badVerb", f"{verb!r} is not an OAI-PMH verb")
    required, optional = VERBS[verb]
    single: dict[str, str] = {"verb": verb}
    for key, values in args.items():
        if key == "verb":
            continue
        if key not in required | optional:
            raise OaiError("badArgument", f"{key!r} is not an argument of {verb}")
        if len(values) != 1:
            raise OaiError("badArgument", f"{key!r} is repeated")
        single[key] = values[0]
    if "resumptionToken" in single:
        if len(single) != 2:
            raise OaiError("badArgument", "resumptionToken is an exclusive argument")
        return verb, single
    missing = required - set(single)
    if missing:
        raise OaiError("badArgument", f"{verb} needs {', '.join(sorted(missing))}")
    return verb, single


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sub(parent: Any, tag: str, text: str | None = None, ns: str = OAI) -> Any:
    element = etree.SubElement(parent, f"{{{ns}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _earliest(db: sqlite3.Connection) -> str:
    column = _changed(db)
    row = db.execute(f"SELECT min({column}) FROM bags WHERE state != 'publishing'").fetchone()
    return str(row[0]) if row and row[0] else _stamp(dt.datetime.now(dt.UTC))


def _identify(root: Any, db: sqlite3.Connection, repo: Repository, *_: Any) -> None:
    node = _sub(root, "Identify")
    _sub(node, "repositoryName", repo.name)
    _sub(node, "baseURL", repo.base_url)
    _sub(node, "protocolVersion", "2.0")
    _sub(node, "adminEmail", repo.admin_email)
    _sub(node, "earliestDatestamp", _earliest(db))
    _sub(node, "deletedRecord", "persistent")
    _sub(node, "granularity", "YYYY-MM-DDThh:mm:ssZ")


def _formats(
    root: Any, db: sqlite3.Connection, repo: Repository, args: Mapping[str, str], *_: Any
) -> None:
    if "identifier" in args:
        _lookup(db, repo, args["identifier"])
    node = _sub(root, "ListMetadataFormats")
    fmt = _sub(node, "metadataFormat")
    _sub(fmt, "metadataPrefix", "oai_dc")
    _sub(fmt, "schema", OAI_DC_SCHEMA)
    _sub(fmt, "metadataNamespace", OAI_DC)


def sets(db: sqlite3.Connection) -> list[tuple[str, str, str, str]]:
    """(setSpec, setName, facet, value) for every language and organization a published
    statement has (one being published has none yet: its set would list nothing)."""
    out = []
    for facet in ("language", "organization"):
        for value in (v.value for v in facet_values(db, facet)):
            spec_value = value if facet == "language" else slugify(value, max_length=80) or "x"
            spec_value = re.sub(r"[^A-Za-z0-9\-_.!~*'()]", "-", spec_value)
            label = str(value)
            if facet == "language":  # a name for people; the spec keeps the code
                name = language_name(label)
                label = f"{name.english} ({name.autonym})" if name.autonym else name.english
            out.append((f"{facet}:{spec_value}", f"{facet.title()}: {label}", facet, str(value)))
    return out


def _list_sets(
    root: Any, db: sqlite3.Connection, repo: Repository, args: Mapping[str, str], *_: Any
) -> None:
    if "resumptionToken" in args:
        raise OaiError("badResumptionToken", "ListSets is never split: no token is valid")
    all_sets = sets(db)
    if not all_sets:
        raise OaiError("noSetHierarchy", "the archive holds no statements yet, so no sets")
    node = _sub(root, "ListSets")
    for spec, name, _facet, _value in all_sets:
        item = _sub(node, "set")
        _sub(item, "setSpec", spec)
        _sub(item, "setName", name)


def _lookup(db: sqlite3.Connection, repo: Repository, oai_id: str) -> sqlite3.Row:
    local = repo.local_id(oai_id)
    row = None
    if local is not None:
        row = db.execute(
            f"SELECT b.identifier, b.{_changed(db)} AS changed_at, b.state, b.path,"
            " c.language, c.organization"
            " FROM bags b JOIN catalog c ON c.identifier = b.identifier"
            " WHERE b.identifier = ? AND b.state != 'publishing'",
            (local,),
        ).fetchone()
    if row is None:
        raise OaiError("idDoesNotExist", f"{oai_id!r} is not in this repository")
    return row  # type: ignore[no-any-return]


def _changed(db: sqlite3.Connection) -> str:
    """The column of the datestamps: ``changed_at`` (ledger 11 on); a ledger not yet
    migrated (the reading room opens it read-only) has only ``ingested_at``."""
    return "changed_at" if ledger.version_of(db) >= 11 else "ingested_at"


def _datestamp(row: Any, withdrawn_at: str | None) -> str:
    """When the record last changed: its withdrawal, else its publication (the one
    time from/until select by, ``bags.changed_at``, so no change escapes a harvest)."""
    return withdrawn_at or str(row["changed_at"])


def _withdrawn(db: sqlite3.Connection, identifier: str, state: str) -> str | None:
    r = db.execute(
        "SELECT max(at) FROM events WHERE identifier = ? AND type = ?", (identifier, WITHDRAWAL)
    ).fetchone()
    if r and r[0]:
        return str(r[0])
    return "" if state == WITHDRAWN_STATE else None


def _header(parent: Any, db: sqlite3.Connection, repo: Repository, row: Any) -> bool:
    """Write a record header; True when the record is deleted (withdrawn)."""
    withdrawn = _withdrawn(db, row["identifier"], row["state"])
    header = _sub(parent, "header")
    if withdrawn is not None:
        header.set("status", "deleted")
    _sub(header, "identifier", repo.oai_id(row["identifier"]))
    _sub(header, "datestamp", _datestamp(row, withdrawn or None))
    if row["language"]:
        _sub(header, "setSpec", f"language:{row['language']}")
    if row["organization"]:
        slug = re.sub(
            r"[^A-Za-z0-9\-_.!~*'()]", "-", slugify(row["organization"], max_length=80) or "x"
        )
        _sub(header, "setSpec", f"organization:{slug}")
    return withdrawn is not None


def _metadata(parent: Any, record: dict[str, Any], page: str) -> None:
    meta = _sub(parent, "metadata")
    dc = etree.SubElement(meta, f"{{{OAI_DC}}}dc", nsmap={"oai_dc": OAI_DC, "dc": DC, "xsi": XSI})
    dc.set(f"{{{XSI}}}schemaLocation", f"{OAI_DC} {OAI_DC_SCHEMA}")
    for name, value in dublin_core(Metadata(record=record)):
        element = DC_ELEMENTS.get(name)
        if element:
            _sub(dc, element, value, DC)
    _sub(dc, "identifier", page, DC)
    _sub(dc, "format", "application/pdf", DC)


def _get_record(
    root: Any,
    db: sqlite3.Connection,
    repo: Repository,
    args: Mapping[str, str],
    load: RecordLoader,
    page_url: Callable[[str], str],
) -> None:
    _prefix(args["metadataPrefix"])
    row = _lookup(db, repo, args["identifier"])
    node = _sub(root, "GetRecord")
    _record(node, db, repo, row, load, page_url)


def _record(
    node: Any,
    db: sqlite3.Connection,
    repo: Repository,
    row: Any,
    load: RecordLoader,
    page_url: Callable[[str], str],
) -> None:
    record_node = _sub(node, "record")
    if _header(record_node, db, repo, row):
        return
    record = load(row["identifier"], row["path"])
    if record is not None:
        _metadata(record_node, record, page_url(row["identifier"]))


def _prefix(value: str) -> None:
    if value != "oai_dc":
        raise OaiError("cannotDisseminateFormat", f"{value!r} is not offered; use oai_dc")


def _date(value: str, *, until: bool) -> tuple[str, str]:
    """An OAI datestamp argument as a comparable bound, and its granularity."""
    if _SECOND.fullmatch(value):
        grain = "second"
        bound = value
    elif _DAY.fullmatch(value):
        grain = "day"
        bound = value + ("T23:59:59Z" if until else "T00:00:00Z")
    else:
        raise OaiError(
            "badArgument", f"{value!r} is not a date (YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ)"
        )
    try:
        dt.datetime.strptime(bound, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise OaiError("badArgument", f"{value!r} is not a real date") from None
    return bound, grain


def _encode_token(state: dict[str, Any]) -> str:
    raw = json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> dict[str, Any]:
    bad = OaiError("badResumptionToken", "this resumptionToken is not one this repository issued")
    if len(token) > 2000 or not re.fullmatch(r"[A-Za-z0-9_-]+", token):
        raise bad
    try:
        state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        raise bad from None
    keys = {"p", "f", "u", "s", "a", "i", "c", "v"}
    if not isinstance(state, dict) or set(state) != keys or state["v"] != 1:
        raise bad
    if not all(isinstance(state[k], str | None) for k in ("f", "u", "s", "a", "i")):
        raise bad
    if not isinstance(state["c"], int) or state["c"] < 0 or state["p"] != "oai_dc":
        raise bad
    return state


def _list(
    root: Any,
    db: sqlite3.Connection,
    repo: Repository,
    args: Mapping[str, str],
    load: RecordLoader,
    page_url: Callable[[str], str],
    *,
    records: bool,
) -> None:
    if "resumptionToken" in args:
        state = _decode_token(args["resumptionToken"])
    else:
        _prefix(args["metadataPrefix"])
        state = {
            "p": "oai_dc",
            "f": None,
            "u": None,
            "s": args.get("set"),
            "a": None,
            "i": None,
            "c": 0,
            "v": 1,
        }
        grains = []
        if "from" in args:
            state["f"], g = _date(args["from"], until=False)
            grains.append(g)
        if "until" in args:
            state["u"], g = _date(args["until"], until=True)
            grains.append(g)
        if len(set(grains)) > 1:
            raise OaiError("badArgument", "from and until must have the same granularity")
        if state["f"] and state["u"] and state["f"] > state["u"]:
            raise OaiError("badArgument", "from is later than until")
    changed = f"b.{_changed(db)}"
    clauses = ["b.state != 'publishing'"]
    params: list[Any] = []
    if state["f"]:
        clauses.append(f"{changed} >= ?")
        params.append(state["f"])
    if state["u"]:
        clauses.append(f"{changed} <= ?")
        params.append(state["u"])
    if state["s"]:
        match = [s for s in sets(db) if s[0] == state["s"]]
        if not match:
            if not sets(db):
                raise OaiError("noSetHierarchy", "the archive has no sets")
            raise OaiError("noRecordsMatch", f"no set {state['s']!r}")
        facet_values = [m[3] for m in match]
        clauses.append(f"c.{match[0][2]} IN ({','.join('?' * len(facet_values))})")
        params.extend(facet_values)
    where = " WHERE " + " AND ".join(clauses)
    base = " FROM bags b JOIN catalog c ON c.identifier = b.identifier" + where
    total = int(db.execute("SELECT count(*)" + base, params).fetchone()[0])
    page_where = ""
    page_params: list[Any] = []
    if state["a"] is not None:
        page_where = f" AND ({changed} > ? OR ({changed} = ? AND b.identifier > ?))"
        page_params = [state["a"], state["a"], state["i"]]
    rows = db.execute(
        f"SELECT b.identifier, {changed} AS changed_at, b.state, b.path, c.language,"
        " c.organization" + base + page_where + f" ORDER BY {changed}, b.identifier LIMIT ?",
        [*params, *page_params, PAGE_SIZE + 1],
    ).fetchall()
    if not rows:
        if state["a"] is not None:
            raise OaiError("badResumptionToken", "this resumptionToken is past the end of the list")
        raise OaiError("noRecordsMatch", "no statements match these arguments")
    node = _sub(root, "ListRecords" if records else "ListIdentifiers")
    for row in rows[:PAGE_SIZE]:
        if records:
            _record(node, db, repo, row, load, page_url)
        else:
            _header(node, db, repo, row)
    if len(rows) > PAGE_SIZE or state["a"] is not None:
        token = _sub(node, "resumptionToken")
        token.set("completeListSize", str(total))
        token.set("cursor", str(state["c"]))
        if len(rows) > PAGE_SIZE:
            last = rows[PAGE_SIZE - 1]
            token.text = _encode_token(
                {
                    **state,
                    "a": last["changed_at"],
                    "i": last["identifier"],
                    "c": state["c"] + PAGE_SIZE,
                }
            )


def _list_identifiers(*a: Any) -> None:
    _list(*a, records=False)


def _list_records(*a: Any) -> None:
    _list(*a, records=True)


_HANDLERS: dict[str, Callable[..., None]] = {
    "Identify": _identify,
    "ListMetadataFormats": _formats,
    "ListSets": _list_sets,
    "GetRecord": _get_record,
    "ListIdentifiers": _list_identifiers,
    "ListRecords": _list_records,
}
