"""preserve.compiled_schema: the compiled statement schema says "valid" only when
jsonschema would, and is read from the cache folder after its first use."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from preserve import compiled_schema, metadata

SCHEMA = metadata.load_schema()
REFERENCE = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)

VALID: dict[str, Any] = {
    "identifier": "town-library-2024-03-05-new-opening-hours",
    "title": "New opening hours for the town library",
    "creator": {"name": "Mara Quill", "role": "Head Librarian", "organization": "Town Library"},
    "creators": [{"name": "Mara Quill"}, {"name": "Olek Brand", "role": "Treasurer"}],
    "publisher": "Town Library",
    "date_issued": "2024-03-05",
    "language": "en",
    "subjects": ["libraries", "opening hours"],
    "places": ["Northfield"],
    "source": {
        "url": "https://library.example.org/news/hours",
        "original_name": "hours.html",
        "retrieved": "2024-03-06T09:15:00Z",
    },
    "email": {"from": "a@example.org", "sent": "2024-03-05T08:00:00+01:00"},
    "versions": ["town-library-2024-03-05-new-opening-hours-fr"],
    "encoding": {"name": "windows-1252", "confidence": 0.93},
    "left_out": ["Share this page"],
    "type": "statement",
}

#: Where a value may be put: top-level fields and the nested ones.
PATHS = [(key,) for key in (*SCHEMA["properties"], "unknown")] + [
    ("creator", "name"),
    ("creator", "role"),
    ("creator", "extra"),
    ("source", "url"),
    ("source", "retrieved"),
    ("source", "original_name"),
    ("email", "sent"),
    ("encoding", "confidence"),
    ("encoding", "name"),
]

#: Strings near the edges of the schema's patterns and formats.
EDGE_STRINGS = [
    "",
    " ",
    "\x1c",
    "\u00a0",
    "\u2028",
    "x\n",
    "2024-02-29",
    "2023-02-29",
    "2024-1-05",
    "2024-01-05\n",
    "２０２４-01-05",
    "2024-01-05T10:00:00",
    "2024-01-05T10:00:00z",
    "2024-01-05t10:00:00+01:00",
    "2024-01-05T25:00:00Z",
    "https://example.org/a b",
    "https://exa mple.org/",
    "http://[::1]/",
    "https://",
    "ftp://example.org/",
    "abc",
    "ab",
    "a--b",
    "a.b_c-d",
    "UPPER",
    "utf-8",
    "utf 8",
    "statement",
    "letter\n",
]
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(-2, 2, allow_nan=False)
    | st.sampled_from(EDGE_STRINGS)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _reference_valid(record: Any) -> bool:
    return not any(True for _ in REFERENCE.iter_errors(record))


def _put(record: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    target = record
    for key in path[:-1]:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    target[path[-1]] = value


@pytest.fixture(scope="module")
def fast() -> Any:
    check = compiled_schema.fast_validator(SCHEMA)
    assert check is not None, "the statement schema is compilable"
    return check


def test_a_valid_record_passes_both(fast: Any) -> None:
    assert _reference_valid(VALID)
    assert fast(copy.deepcopy(VALID))


@settings(max_examples=400, deadline=None)
@given(
    changes=st.lists(
        st.tuples(st.sampled_from(PATHS), JSON_VALUES | st.sampled_from(EDGE_STRINGS)),
        min_size=1,
        max_size=3,
    )
)
@example(changes=[(("title",), "\x1c")])
@example(changes=[(("date_issued",), "２０２４-01-05")])
@example(changes=[(("source", "url"), "https://exa mple.org/")])
@example(changes=[(("encoding", "confidence"), True)])
@example(changes=[(("identifier",), "a--b")])
def test_the_compiled_check_is_never_looser_than_jsonschema(
    fast: Any, changes: list[tuple[tuple[str, ...], Any]]
) -> None:
    record = copy.deepcopy(VALID)
    for path, value in changes:
        _put(record, path, value)
    if fast(copy.deepcopy(record)):
        assert _reference_valid(record), record


@pytest.mark.parametrize("value", EDGE_STRINGS)
@pytest.mark.parametrize(
    "path", [("date_issued",), ("source", "retrieved"), ("source", "url"), ("title",)]
)
def test_edge_strings_get_jsonschemas_answer(fast: Any, path: tuple[str, ...], value: str) -> None:
    """Formats and patterns: the same answer as jsonschema on every edge listed."""
    record = copy.deepcopy(VALID)
    _put(record, path, value)
    assert fast(copy.deepcopy(record)) == _reference_valid(record)


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#/$defs/x", "$defs": {"x": {"type": "string"}}},
        {"type": "array", "prefixItems": [{"type": "string"}]},
        {"type": "string", "format": "email"},
        {"properties": {"a": {"type": "object", "unevaluatedProperties": False}}},
        {"anyOf": {"type": "string"}},
    ],
)
def test_a_schema_it_might_read_differently_is_not_compiled(schema: dict[str, Any]) -> None:
    assert not compiled_schema.compilable(schema)
    assert compiled_schema.fast_validator(schema) is None


def test_compiled_once_then_read_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compiled_schema.fast_validator(SCHEMA) is not None
    kept = sorted((tmp_path / "preserve").glob("schema_*.py"))
    assert len(kept) == 1
    written = kept[0].stat().st_mtime_ns
    check = compiled_schema.fast_validator(SCHEMA)
    assert check is not None and check(copy.deepcopy(VALID))
    assert not check({**VALID, "type": "poem"})
    assert kept[0].stat().st_mtime_ns == written  # read, not written again
    other = compiled_schema.fast_validator({**SCHEMA, "required": ["identifier"]})
    assert other is not None and len(list((tmp_path / "preserve").glob("schema_*.py"))) == 2


def test_works_without_a_writable_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    check = compiled_schema.fast_validator(SCHEMA)
    assert check is not None and check(copy.deepcopy(VALID))
    assert not check({**VALID, "date_issued": "2023-02-29"})


def test_check_record_still_lists_every_problem_of_an_invalid_record() -> None:
    record = {**VALID, "date_issued": "2023-02-29", "title": " ", "type": "poem"}
    fields = [p.field for p in metadata.check_record(record)]
    assert fields == ["date_issued", "title", "type"]
