"""Merge the parsed draft with a sidecar, validate it, and map it to Dublin Core."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Metadata:
    """A validated metadata record (see ``schemas/statement.schema.json``).

    Only :func:`validate` makes one, so holding a ``Metadata`` means the record passed.
    """

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
        return self.record["creator"].get("role")

    @property
    def organization(self) -> str | None:
        return self.record["creator"].get("organization") or self.record.get("publisher")

    @property
    def date_issued(self) -> dt.date:
        return dt.date.fromisoformat(self.record["date_issued"])

    @property
    def language(self) -> str:
        return str(self.record["language"])
