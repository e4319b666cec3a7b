"""Statements built directly (not parsed) for the render tests: title, paragraphs, signer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from preserve.metadata import Metadata
from preserve.statement import Statement


def sample_statement(
    key: str,
    lang: str,
    title: str,
    paragraphs: Sequence[str],
    name: str,
    role: str,
    *,
    original: bytes | None = None,
    record: Mapping[str, object] | None = None,
) -> tuple[Statement, Metadata]:
    """A statement of 23 February 2024 and its record, the record updated by ``record``."""
    text = "\n\n".join([title, *paragraphs, name, role])
    statement = Statement(
        original=original if original is not None else text.encode(),
        text=text,
        title=title,
        paragraphs=tuple(paragraphs),
        signer_name=name,
        signer_role=role,
        date_issued=dt.date(2024, 2, 23),
        language=lang,
    )
    rec: dict[str, object] = {
        "identifier": f"sample-{key.lower()}-2024-02-23",
        "title": title,
        "creator": {"name": name, "role": role, "organization": "Office of the Ombudsman"},
        "date_issued": "2024-02-23",
        "language": lang,
        "type": "statement",
    }
    rec.update(record or {})
    return statement, Metadata(record=rec)
