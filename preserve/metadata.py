"""Merge the parsed draft with a sidecar, validate it, and map it to Dublin Core.

The draft is what the statement's text says (:mod:`preserve.statement`); a JSON
sidecar completes or overrides it. Only :func:`validate_record` produces a
:class:`Metadata`, so holding one means the record passed the schema.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from preserve.errors import (
    ExitCode,
    FieldProblem,
    InputError,
    PreserveError,
    UnreadableInput,
    ValidationFailed,
)
from preserve.fsio import NotARegularFile, SymlinkRefused, read_input

# Identifiers live in preserve.identifiers; re-exported here for the callers of old.
from preserve.identifiers import (  # noqa: F401
    IDENTIFIER_MAX,
    SLUG_REPLACEMENTS,
    STOP_WORDS,
    WINDOWS_RESERVED,
    _slug,
    derive_identifier,
    identifier_problems,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    import jsonschema

    # The parser (~0.1 s of regexes to compile) is imported where a statement is read:
    # checking a bag's metadata.json (verify, audit) needs none of it.
    from preserve.statement import Note, Statement

#: A sidecar larger than this is refused: metadata is a few kilobytes.
MAX_SIDECAR_BYTES = 256 * 1024


@dataclass(frozen=True)
class Metadata:
    """A validated metadata record (see ``schemas/statement.schema.json``)."""

    record: Mapping[str, Any]

    @property
    def identifier(self) -> str:
        return str(self.record["identifier"])

    @property
    def title(self) -> str:
        return str(self.record["title"])

    @property
    def creator_name(self) -> str:
        return str(self.record["creator"]["name"])

    @property
    def creator_role(self) -> str | None:
        role = self.record["creator"].get("role")
        return None if role is None else str(role)

    @property
    def organization(self) -> str | None:
        org = self.record["creator"].get("organization") or self.record.get("publisher")
        return None if org is None else str(org)

    @property
    def date_issued(self) -> dt.date:
        return dt.date.fromisoformat(self.record["date_issued"])

    @property
    def language(self) -> str:
        return str(self.record["language"])

    def to_json(self) -> bytes:
        """Canonical JSON bytes (sorted keys, UTF-8, LF): the same record, the same bytes."""
        return (
            json.dumps(self.record, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        ).encode()


# --------------------------------------------------------------------------- schema


@cache
def load_schema(name: str = "statement.schema.json") -> dict[str, Any]:
    """A JSON Schema shipped with the package (``schemas/`` in the source tree)."""
    text = resources.files("preserve.schemas").joinpath(name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _fast_check() -> Callable[[Any], bool] | None:
    """The statement schema compiled to Python: True only for a valid record
    (:mod:`preserve.compiled_schema`); any other answer goes to :func:`_validator`."""
    from preserve.compiled_schema import fast_validator

    return fast_validator(load_schema())


@cache
def _validator() -> jsonschema.protocols.Validator:
    """jsonschema's validator, for the problems of a record the fast check did not pass
    (imported only then: ~0.1 s)."""
    import jsonschema

    schema = load_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator: jsonschema.protocols.Validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return validator


# --------------------------------------------------------------------------- draft & sidecar


def draft_from_statement(statement: Statement) -> dict[str, Any]:
    """What the text itself says, as a partial record (no identifier yet).

    Only fields the parse was sure of are filled: a field it left blank (with a
    note) stays out, so the schema asks for it from the sidecar instead of an
    identifier being built from a guess. Lines left out as site text are listed in
    ``left_out``; a joint statement's signers in ``creators``.
    """
    draft: dict[str, Any] = {"type": statement.genre or "statement"}
    if statement.title:
        draft["title"] = statement.title
    creators = [
        {
            k: v
            for k, v in (("name", s.name), ("role", s.role), ("organization", s.organization))
            if v
        }
        for s in statement.signers
    ]
    if creators:
        draft["creator"] = creators[0]
    if len(creators) > 1:
        draft["creators"] = creators
    if statement.date_issued:
        draft["date_issued"] = statement.date_issued.isoformat()
    if statement.language:
        draft["language"] = statement.language
    if statement.leftovers:
        draft["left_out"] = fit_left_out(statement.leftovers)[0]
    if statement.encoding and statement.encoding not in ("utf-8", "utf-8-sig"):
        # Not UTF-8: what it was read as, and how sure the detector was (1 when given).
        draft["encoding"] = {
            "name": statement.encoding,
            "confidence": round(statement.encoding_confidence, 3),
        }
    return draft


#: Code of the note saying the left-out lines were more or longer than the record holds.
LEFT_OUT_LIMIT = "metadata.left-out-limit"


def fit_left_out(lines: Sequence[str]) -> tuple[list[str], str | None]:
    """The left-out lines as the record's ``left_out`` can hold them, and why not as
    they are (None when they fit).

    A page may leave out a cookie notice longer than the schema's line (1,000
    characters) or more lines than its list: refusing the statement for it would be
    worse than keeping them. A long line is kept in consecutive pieces, every
    character in order; lines past the list's limit stay out of the record, and the
    note says the bag's ingest event names every one (see ``archive``).
    """
    schema = load_schema()["properties"]["left_out"]
    most, longest = int(schema["maxItems"]), int(schema["items"]["maxLength"])
    fitted: list[str] = []
    split = 0
    for line in lines:
        pieces = [line[i : i + longest] for i in range(0, len(line), longest)] or [line]
        split += len(pieces) > 1
        fitted += pieces
    why = []
    if split:
        why.append(
            f"{split} left-out line(s) longer than {longest:,} characters are kept in "
            f"left_out as consecutive pieces of {longest:,}"
        )
    if len(fitted) > most:
        why.append(
            f"left_out holds the first {most:,} of {len(fitted):,} left-out lines; the bag's "
            "PREMIS ingest event names every one"
        )
        fitted = fitted[:most]
    return fitted, "; ".join(why) or None


def sidecar_path(statement_path: Path) -> Path:
    """``statement.json`` beside ``statement.txt``."""
    return statement_path.with_suffix(".json")


def read_sidecar(path: Path, *, follow: bool = True) -> dict[str, Any]:
    """Load a sidecar JSON object, with a one-line error naming the file.

    ``follow``: the operator named the file (``--metadata``); a sidecar found beside a
    statement is read with ``follow=False``: a symbolic link there is refused, not
    followed to a file elsewhere.
    """
    try:
        data = read_input(path, MAX_SIDECAR_BYTES, follow=follow)
    except SymlinkRefused:
        raise UnreadableInput("metadata is a symbolic link (never followed)", path) from None
    except NotARegularFile:
        raise UnreadableInput("metadata is not a regular file", path) from None
    except OSError as exc:
        raise UnreadableInput(f"cannot read metadata: {exc.strerror or exc}", path) from None
    if len(data) > MAX_SIDECAR_BYTES:
        raise InputError(f"metadata file is over the limit of {MAX_SIDECAR_BYTES:,} bytes", path)
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InputError(f"metadata is not valid UTF-8 (offset {exc.start})", path) from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"metadata is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", path
        ) from None
    except RecursionError:  # "[[[[..." deeper than the parser's stack: hostile, not JSON we take
        raise InputError("metadata is nested too deeply to be a metadata record", path) from None
    except ValueError:  # int() refuses numbers of more than 4,300 digits (CVE-2020-10735)
        raise InputError("metadata holds a number with thousands of digits", path) from None
    try:  # "\ud800" is valid JSON but no Unicode text: nothing downstream could write it
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(exc.object[exc.start])
        raise InputError(f"metadata holds a lone surrogate U+{code:04X} (not text)", path) from None
    if not isinstance(value, dict):
        raise InputError(
            f"metadata must be a JSON object {{...}}, not {type(value).__name__}", path
        )
    return value


def merge(draft: Mapping[str, Any], sidecar: Mapping[str, Any]) -> dict[str, Any]:
    """Sidecar over draft; nested objects (creator, source) merge field by field.

    Neither input is modified: the caller's dicts stay as they were.
    """
    merged: dict[str, Any] = json.loads(json.dumps(draft))
    for key, value in sidecar.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = json.loads(json.dumps(value))
    return merged


# --------------------------------------------------------------------------- validation


def validate_record(
    record: Mapping[str, Any], *, hints: Mapping[str, str] | None = None
) -> Metadata:
    """Validate a complete record; raise ValidationFailed listing every problem."""
    problems = check_record(record, hints=hints)
    if problems:
        raise ValidationFailed(problems)
    return Metadata(record=dict(record))


def check_record(
    record: Mapping[str, Any], *, hints: Mapping[str, str] | None = None
) -> list[FieldProblem]:
    """Every problem with a record, each with its field path and an actionable message."""
    instance = dict(record)
    fast = _fast_check()
    problems = (
        []
        if fast is not None and fast(instance)
        else [_explain(error, hints or {}) for error in _validator().iter_errors(instance)]
    )
    problems += identifier_problems(record.get("identifier"))
    language = record.get("language")
    if isinstance(language, str) and not _tag_is_valid(language):
        problems.append(
            FieldProblem(
                "language", f"'{language}' is not a valid BCP 47 tag (e.g. en, az-Latn, hy)"
            )
        )
    unique: dict[tuple[str, str], FieldProblem] = {}
    for problem in problems:
        unique.setdefault((problem.field, problem.message), problem)
    return sorted(unique.values(), key=lambda p: (p.field, p.message))


#: Tags the language detector gives (py3langid's classes, and the tags it picks by
#: script): each is valid BCP 47 (tests/test_startup.py asks langcodes about every
#: one), so checking them needs not import langcodes (~0.03 s a command).
DETECTED_TAGS = frozenset(
    """ace af am an ar ary arz as az ba bcl be bg bn br bs ca crh cs cy da de dz el en eo es
    et eu ext fa fi fo fr fuv fy ga gcf gcr gd gl gom grc gu gug guw ha hbo he hi hr ht hu hy
    id ig is it ja jv ka kab kik kk km kn ko ku ky la lb lg lij ln lo lt ltg lv mg mk ml mn mr
    ms mt my ne nl nn no nso oc om or pa pcm pl ps pt qu ro ru rw sa sdh se si sk sl sn so sq
    sr st sv sw ta te tg th tk tl tr tt ug uk ur uz uzs vec vi vo wa wuu xh yo yue zh zu zxx
    az-Latn az-Cyrl zh-Hant""".split()
)


def _tag_is_valid(tag: str) -> bool:
    """langcodes' answer: whether ``tag`` is a valid BCP 47 language tag."""
    if tag in DETECTED_TAGS:
        return True
    import langcodes

    return bool(langcodes.tag_is_valid(tag))


_ALLOWED = "allowed: {}"


def _explain(error: jsonschema.ValidationError, hints: Mapping[str, str]) -> FieldProblem:
    """Turn a jsonschema error into a field path and a message a person can act on."""
    path = ".".join(str(p) for p in error.absolute_path)
    kind = error.validator
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    if kind == "required":
        missing = re.search(r"'([^']+)' is a required property", error.message)
        name = missing.group(1) if missing else "?"
        field = f"{path}.{name}" if path else name
        hint = hints.get(field, "add it to the sidecar JSON (statement.json)")
        return FieldProblem(field, f"missing — {hint}")
    if kind == "additionalProperties":
        instance = error.instance if isinstance(error.instance, Mapping) else {}
        extra = sorted(set(instance) - set(schema.get("properties", {})))
        allowed = ", ".join(sorted(schema.get("properties", {})))
        fields = ", ".join(f"'{name}'" for name in extra)
        return FieldProblem(path, f"unknown field {fields} — allowed fields here: {allowed}")
    if kind == "format" or (kind == "anyOf" and path.endswith("retrieved")):
        fmt = error.validator_value if kind == "format" else "date or date-time"
        what = {
            "date": "not a real calendar date in the form YYYY-MM-DD",
            "date-time": "not an RFC 3339 date-time",
            "uri": "not a valid URL",
        }.get(str(fmt), f"not a valid {fmt}")
        return FieldProblem(path, f"{error.instance!r} is {what}")
    if kind == "pattern" and path == "identifier":
        return FieldProblem(
            path,
            f"{error.instance!r} is not a safe identifier — use lowercase letters a-z and digits, "
            "with single '-', '_' or '.' between them (no '/', '..', spaces or control characters)",
        )
    if kind == "pattern" and path == "source.url":
        return FieldProblem(path, f"{error.instance!r} must be an http:// or https:// URL")
    if kind == "pattern":
        return FieldProblem(path, "must contain visible text, not only white space")
    if kind == "enum":
        allowed = ", ".join(str(v) for v in schema.get("enum", []))
        return FieldProblem(path, f"{error.instance!r} is not one of: {allowed}")
    if kind == "type":
        return FieldProblem(
            path, f"must be of type {error.validator_value}, not {type(error.instance).__name__}"
        )
    if kind in {"minLength", "maxLength", "maxItems"}:
        limit = error.validator_value
        if kind == "minLength":
            return FieldProblem(
                path, "is empty" if limit == 1 else f"is shorter than {limit} characters"
            )
        return FieldProblem(path, f"is longer than the limit of {limit}")
    if kind == "uniqueItems":
        return FieldProblem(path, "lists the same value twice")
    return FieldProblem(path, error.message)


@dataclass(frozen=True)
class Prepared:
    """What validation of a statement produced: the record, and the notes behind it."""

    statement: Statement | None
    record: dict[str, Any]
    problems: tuple[FieldProblem, ...]
    sidecar: Path | None

    @property
    def valid(self) -> bool:
        return not self.problems

    def metadata(self) -> Metadata:
        if self.problems:
            raise ValidationFailed(
                list(self.problems),
                self.sidecar or (self.statement.source_path if self.statement else None),
            )
        return Metadata(record=self.record)


def prepare(
    statement: Statement | None,
    sidecar: Mapping[str, Any] | None = None,
    *,
    sidecar_file: Path | None = None,
) -> Prepared:
    """Merge draft and sidecar, derive the identifier if missing, and check the result."""
    draft = draft_from_statement(statement) if statement else {}
    if statement is not None:
        why = fit_left_out(statement.leftovers)[1]
        if why is not None:
            from dataclasses import replace

            from preserve.statement import Note

            statement = replace(statement, notes=(*statement.notes, Note(LEFT_OUT_LIMIT, why)))
    record = merge(draft, sidecar or {})
    if "identifier" not in record:
        record["identifier"] = derive_identifier(record)
    if "creator" in record and isinstance(record["creator"], dict):
        org = record["creator"].get("organization")
        if org and "publisher" not in record:
            record["publisher"] = org
    record = _schema_order(record)
    hints = _hints(statement, sidecar_file)
    problems = check_record(record, hints=hints)
    return Prepared(statement, record, tuple(problems), sidecar_file)


def _schema_order(record: Mapping[str, Any]) -> dict[str, Any]:
    """Fields in the schema's order (unknown ones last), so output reads the same every time."""
    order = list(load_schema()["properties"])
    rank = {name: i for i, name in enumerate(order)}
    return {k: record[k] for k in sorted(record, key=lambda k: (rank.get(k, len(order)), k))}


def _hints(statement: Statement | None, sidecar_file: Path | None) -> dict[str, str]:
    """Why a field is missing, from what parsing saw, and where to add it."""
    if statement is None:
        return {}
    if sidecar_file is None and statement.source_path is not None:
        sidecar_file = sidecar_path(statement.source_path)
    where = f"add it to {sidecar_file.name}" if sidecar_file else "add it to a sidecar JSON"
    explained: set[str] = set()
    hints = {
        "creator": f"the signature block has no name line; {where}",
        "creator.name": f"the signature block has no name line; {where}",
        "title": f"the statement has no title line; {where}",
        "language": f"the language could not be identified from the text; {where}",
        "date_issued": f"the text has no line with a date; {where}",
    }
    from preserve.statement import NoteCode

    # The parse's own reason, by code, where it left a field blank on purpose.
    reasons: dict[str, str] = {
        NoteCode.SIGNER_UNSURE: "creator.name",
        NoteCode.TITLE_UNSURE: "title",
        NoteCode.NO_TITLE: "title",
        NoteCode.DATE_INVALID: "date_issued",
        NoteCode.DATE_AMBIGUOUS: "date_issued",
        NoteCode.LANGUAGE_UNSURE: "language",
    }
    for note in statement.notes:
        field = reasons.get(note.code)
        if field is not None and field not in explained:
            explained.add(field)
            hints[field] = f"{note.message}; {where}"
            if field == "creator.name":
                hints["creator"] = hints[field]
    return hints


def prepare_file(
    path: Path, metadata_file: Path | None = None, encoding: str | None = None
) -> Prepared:
    """Prepare a statement file (``.txt``) or a metadata file alone (``.json``).

    A ``.txt`` is parsed and completed by ``--metadata`` or by the sidecar beside it.
    ``encoding`` (``--encoding``) decodes a text statement strictly in that encoding
    instead of detecting it.
    """
    from preserve.statement import read_statement

    if path.suffix.lower() == ".json" and metadata_file is None:
        return prepare(None, read_sidecar(path), sidecar_file=path)
    from preserve.inputs import form_for

    if form_for(path) != "preserve.inputs.text":  # a page, a WARC, an e-mail…
        from preserve.inputs.prepare import prepare_input

        return prepare_input(path, metadata_file)[1]
    statement = read_statement(path, encoding)
    sidecar_file = metadata_file
    beside = sidecar_file is None and os.path.lexists(sidecar_path(path))
    if beside:
        # Whatever is there is the operator's metadata: a FIFO or a link is refused in
        # one line, never skipped (the statement would go in without its metadata).
        sidecar_file = sidecar_path(path)
    sidecar = read_sidecar(sidecar_file, follow=not beside) if sidecar_file else None
    return prepare(statement, sidecar, sidecar_file=sidecar_file)


# --------------------------------------------------------------------------- Dublin Core


def dublin_core(metadata: Metadata) -> list[tuple[str, str]]:
    """The record as Dublin Core elements, in a fixed order; repeated elements repeat.

    One crosswalk serves the bag's descriptive metadata (metadata.csv, bag-info)
    and repository exports, so they cannot disagree.
    """
    r = metadata.record
    creator = r["creator"]
    name = creator["name"]
    if creator.get("role"):
        name = f"{name} ({creator['role']})"
    pairs: list[tuple[str, str]] = [
        ("dc.identifier", r["identifier"]),
        ("dc.title", r["title"]),
        ("dc.creator", name),
    ]
    if creator.get("organization"):
        pairs.append(("dc.contributor", creator["organization"]))
    if r.get("publisher"):
        pairs.append(("dc.publisher", r["publisher"]))
    pairs.append(("dcterms.issued", r["date_issued"]))
    pairs.append(("dc.language", r["language"]))
    if r.get("description"):
        pairs.append(("dc.description", r["description"]))
    pairs += [("dc.subject", s) for s in r.get("subjects", [])]
    pairs += [("dcterms.spatial", p) for p in r.get("places", [])]
    if r.get("source", {}).get("url"):  # a source may hold only original_name
        pairs.append(("dc.source", r["source"]["url"]))
    pairs += [("dcterms.hasVersion", v) for v in r.get("versions", [])]
    if r.get("translation_of"):
        pairs.append(("dcterms.isVersionOf", r["translation_of"]))
    if r.get("rights"):
        pairs.append(("dc.rights", r["rights"]))
    pairs.append(("dc.type", r["type"]))
    return pairs


# --------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class FileValidation:
    """The outcome of validating one input file."""

    file: str
    record: Mapping[str, Any] | None
    problems: tuple[FieldProblem, ...]
    #: What parsing noticed (coded), shown with the record.
    notes: tuple[Note, ...] = ()
    #: Set when the file could not be used at all (bad encoding, not JSON, unreadable).
    error: str | None = None
    exit_code: ExitCode = ExitCode.ok

    @property
    def valid(self) -> bool:
        return self.exit_code == ExitCode.ok

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "valid": self.valid,
            "record": None if self.record is None else dict(self.record),
            "problems": [p.as_dict() for p in self.problems],
            "notes": [n.as_dict() for n in self.notes],
            "error": self.error,
        }

    def as_text(self) -> str:
        if self.error:
            return f"{self.file}: {self.error}"
        if self.problems:
            lines = [f"{self.file}: INVALID ({len(self.problems)} problem(s))"]
            lines += [f"{self.file}: {p.one_line()}" for p in self.problems]
            lines += [f"  note: {n.code}: {n.message}" for n in self.notes]
            return "\n".join(lines)
        body = json.dumps(self.record, ensure_ascii=False, indent=2)
        notes = "".join(f"\n  note: {n.code}: {n.message}" for n in self.notes)
        return f"{self.file}: valid{notes}\n{body}"


@dataclass(frozen=True)
class ValidationReport:
    """Results for several files; the worst outcome decides the exit status."""

    results: tuple[FileValidation, ...]

    @property
    def exit_code(self) -> ExitCode:
        return max((r.exit_code for r in self.results), default=ExitCode.ok)

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.exit_code == ExitCode.ok,
            "files": [r.as_dict() for r in self.results],
        }


def validate_file(
    path: Path, metadata_file: Path | None = None, encoding: str | None = None
) -> FileValidation:
    """Validate one input, turning its errors into a result instead of raising."""
    try:
        prepared = prepare_file(path, metadata_file, encoding)
    except PreserveError as error:
        message = error.message if error.path in {None, str(path)} else error.one_line()
        return FileValidation(str(path), None, (), error=message, exit_code=error.exit_code)
    notes = prepared.statement.notes if prepared.statement else ()
    code = ExitCode.bad if prepared.problems else ExitCode.ok
    return FileValidation(str(path), prepared.record, prepared.problems, notes, exit_code=code)


def validate_files(
    paths: list[Path], metadata_file: Path | None = None, encoding: str | None = None
) -> ValidationReport:
    """Validate each input; one bad file does not stop the others."""
    return ValidationReport(tuple(validate_file(p, metadata_file, encoding) for p in paths))
