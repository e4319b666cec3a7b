"""A statement sent by e-mail (``.eml``): the message kept whole, its statement read.

The message goes into the bag as received (MIME e-mail, PRONOM fmt/950); its
headers (From, Date, Message-ID, Subject) go into the record's ``email`` field.
The statement is the one attachment that is a text or HTML document when there
is one (the body is then a cover note), otherwise the body: ``text/plain``, or
``text/html`` through the page extractor (:mod:`preserve.inputs.html`). A message
with neither is refused in one line. Parsed with the standard library's
``email`` and ``policy.default`` (RFC 5322 and MIME, decoded headers).
"""

from __future__ import annotations

import datetime as dt
import email
import email.utils
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from preserve.bagging import PRONOM_TEXT, safe_original_name
from preserve.errors import InputError, UnreadableInput
from preserve.fsio import NotARegularFile, read_input
from preserve.inputs import Form, OriginalFile, Received, sniff
from preserve.inputs.html import EXTRACTION, Extraction, extract, extraction_event
from preserve.premis import Event
from preserve.statement import parse_statement

#: Whether a file is this form: decided in :mod:`preserve.inputs.sniff`, which
#: imports none of this module's libraries, so asking every form stays cheap.
accepts = sniff.eml

#: MIME e-mail in PRONOM.
PRONOM_EMAIL = "fmt/950"
#: A message larger than this is refused (attachments included).
MAX_EMAIL_BYTES = 25 * 1024 * 1024


def _read(path: Path) -> bytes:
    try:
        if path.is_dir():
            raise UnreadableInput("is a directory, not an e-mail", path)
        data = read_input(path, MAX_EMAIL_BYTES)
    except NotARegularFile:
        raise UnreadableInput("not a regular file (a FIFO, device or socket)", path) from None
    except OSError as exc:
        raise UnreadableInput(f"cannot read: {exc.strerror or exc}", path) from None
    if len(data) > MAX_EMAIL_BYTES:
        raise InputError(f"e-mail is over the limit of {MAX_EMAIL_BYTES:,} bytes", path)
    return data


def headers_record(message: EmailMessage) -> dict[str, str]:
    """From, Date, Message-ID and Subject as the record's ``email`` field (what is there)."""
    found: dict[str, str] = {}
    for field, name in (
        ("from", "From"),
        ("to", "To"),
        ("date", "Date"),
        ("message_id", "Message-ID"),
        ("subject", "Subject"),
    ):
        value = message.get(name)
        if value is not None and str(value).strip():
            found[field] = " ".join(str(value).split())
    if "date" in found:
        try:
            sent = email.utils.parsedate_to_datetime(found["date"])
        except (TypeError, ValueError):
            sent = None
        if sent is not None and sent.tzinfo is not None:
            found["sent"] = sent.isoformat(timespec="seconds")
    return found


def _statement_part(message: EmailMessage) -> tuple[EmailMessage | None, str]:
    """The part that holds the statement and how it was chosen."""
    documents = [
        part
        for part in message.iter_attachments()
        if isinstance(part, EmailMessage)
        and part.get_content_type() in {"text/plain", "text/html"}
        and part.get_filename()
    ]
    if len(documents) == 1:
        return documents[0], f"the attachment {documents[0].get_filename()!r}"
    body = message.get_body(preferencelist=("plain", "html"))
    if isinstance(body, EmailMessage):
        return body, f"the {body.get_content_type()} body"
    return None, ""


def read(path: Path) -> Received:
    """The message as received; the statement from its attachment or body."""
    data = _read(path)
    message = email.message_from_bytes(data, policy=policy.default)
    if not isinstance(message, EmailMessage) or not message.keys():
        raise InputError("not an e-mail message (no headers)", path)
    part, chosen = _statement_part(message)
    if part is None:
        raise InputError(
            "e-mail has no body and no text or HTML attachment to take as the statement; "
            "forward the statement as text, or save it as a .txt file",
            path,
        )
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError) as exc:
        raise InputError(f"cannot decode {chosen}: {exc}", path) from None
    extraction: Extraction | None = None
    if part.get_content_type() == "text/html":
        raw = part.get_payload(decode=True)
        data_html = raw if isinstance(raw, bytes) else str(content).encode("utf-8")
        extraction = extract(data_html, path, declared_charset=part.get_content_charset())
        text = extraction.text
    else:
        text = str(content)
    if not text.strip():
        raise InputError(
            f"e-mail's {chosen.removeprefix('the ')} is empty; forward the statement as text, "
            "or save it as a .txt file",
            path,
        )
    statement = parse_statement(text.encode("utf-8"), path)
    stored = safe_original_name(path.name)
    if stored == "statement.txt" or not stored.lower().endswith(".eml"):
        stored = "message.eml"
    original = OriginalFile(
        f"data/original/{stored}",
        data,
        "message/rfc822",
        PRONOM_EMAIL,
        path.name if path.name != stored else None,
    )
    extracted = OriginalFile(
        f"data/extracted/{safe_original_name(Path(stored).stem + '.txt')}",
        text.encode("utf-8"),
        "text/plain; charset=utf-8",
        PRONOM_TEXT,
    )
    now = dt.datetime.now(dt.UTC)
    if extraction is not None:
        event = extraction_event(extraction, now, original.path, extracted.path)
        event = Event(event.type, now, event.outcome, f"{chosen}: {event.detail}", event.objects)
    else:
        event = Event(
            EXTRACTION,
            now,
            "success",
            f"statement text taken from {chosen} of the e-mail, as sent",
            (original.path, extracted.path),
        )
    record: dict[str, Any] = {"email": headers_record(message)}
    return Received(
        Form.EMAIL,
        (original, extracted),
        statement,
        record=record,
        events=(event,),
        left_out=extraction.left_out if extraction else (),
    )
