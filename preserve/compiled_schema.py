"""A JSON Schema compiled once into Python: the quick "valid" for a record that is.

jsonschema costs ~0.1 s to import and ~0.03 s to check the schema on every
``validate``, ``render`` and ``ingest``, though most records are valid and need no
error messages. fastjsonschema turns a schema into the source of one Python
function; that source is kept in the user's cache folder, named by the SHA-256 of
the schema and the fastjsonschema version, and imported from there (Python keeps
its byte code beside it), so loading it costs about a millisecond. Without a
writable cache of the user's own (:mod:`preserve.user_cache`: owned by the user,
writable by no one else) the schema is compiled in memory (~0.03 s).

The compiled function only ever answers *valid*. Anything else (an error, an
exception, a keyword or a format it might read differently) answers *not known
valid*, and the caller asks jsonschema, whose errors it reports. So this check may
be stricter than jsonschema, never looser: a record jsonschema would refuse is
never let through here. The formats are checked with the functions jsonschema's
``FORMAT_CHECKER`` uses, and where their library is missing the answer is *not
known valid*.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from preserve.user_cache import cache_folder, trusted

#: Schema keywords fastjsonschema checks as JSON Schema 2020-12 does (for a schema
#: without ``$ref``); a schema with any other keyword is never compiled.
KEYWORDS = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "title",
        "description",
        "examples",
        "type",
        "enum",
        "const",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "anyOf",
        "allOf",
        "oneOf",
        "not",
    }
)

_RE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)  # jsonschema's, verbatim


def is_date(value: str) -> bool:
    """jsonschema's ``date``: YYYY-MM-DD and a real calendar date."""
    try:
        return bool(_RE_DATE.fullmatch(value) and dt.date.fromisoformat(value))
    except ValueError:
        return False


def is_date_time(value: str) -> bool:
    """jsonschema's ``date-time``: RFC 3339 by rfc3339-validator (upper-cased first)."""
    try:
        from rfc3339_validator import validate_rfc3339  # type: ignore[import-untyped]
    except ImportError:
        return False  # jsonschema would not check it: not known valid, so it decides
    return bool(validate_rfc3339(value.upper()))


def is_uri(value: str) -> bool:
    """jsonschema's ``uri``: rfc3987 when installed, else rfc3986-validator."""
    try:
        import rfc3987  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        pass
    else:
        return False  # jsonschema parses with rfc3987 then: leave the answer to it
    try:
        from rfc3986_validator import validate_rfc3986  # type: ignore[import-untyped]
    except ImportError:
        return False
    return bool(validate_rfc3986(value, rule="URI"))


#: The formats checked here, each as jsonschema checks it.
FORMATS: dict[str, Callable[[str], bool]] = {
    "date": is_date,
    "date-time": is_date_time,
    "uri": is_uri,
}


def compilable(schema: Any) -> bool:
    """True when every keyword and format of ``schema`` is one checked here as
    jsonschema checks it (no ``$ref``, no 2020-12-only keyword)."""
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, Mapping) or not set(schema) <= KEYWORDS:
        return False
    if "format" in schema and schema["format"] not in FORMATS:
        return False
    subschemas: list[Any] = []
    if isinstance(schema.get("properties"), Mapping):
        subschemas += schema["properties"].values()
    elif "properties" in schema:
        return False
    for key in ("items", "additionalProperties", "not"):
        if key in schema:
            subschemas.append(schema[key])
    for key in ("anyOf", "allOf", "oneOf"):
        if key in schema:
            if not isinstance(schema[key], list):
                return False
            subschemas += schema[key]
    return all(compilable(sub) for sub in subschemas)


def fast_validator(schema: Mapping[str, Any]) -> Callable[[Any], bool] | None:
    """A function that answers True only for an instance valid under ``schema``;
    None when the schema cannot be compiled here (every answer then comes from
    jsonschema)."""
    if not compilable(schema):
        return None
    try:
        import fastjsonschema
    except ImportError:
        return None
    plain = {k: v for k, v in schema.items() if k != "$id"}  # the root is then 'validate'
    try:
        validate = _load_cached(plain, fastjsonschema.VERSION)
    except (OSError, ImportError, SyntaxError, AttributeError):
        validate = None
    if validate is None:
        compiled = fastjsonschema.compile(
            plain, formats=FORMATS, use_default=False, detailed_exceptions=False
        )

        def validate(instance: Any, custom_formats: Any = None) -> Any:
            return compiled(instance)

    def valid(instance: Any) -> bool:
        try:
            validate(instance, custom_formats=FORMATS)
        except Exception:  # a refusal, or anything unforeseen: jsonschema decides
            return False
        return True

    return valid


def _bytecode_trusted(source: Path) -> bool:
    """Python may run ``__pycache__/<name>.*.pyc`` instead of the source it checked
    (a byte code file matching the source's time and size): those must be the
    user's own too."""
    cached = source.parent / "__pycache__"
    if not os.path.lexists(cached):
        return True
    if not trusted(cached, folder=True):
        return False
    return all(trusted(pyc) for pyc in cached.glob(f"{source.stem}.*"))


def _load_cached(schema: Mapping[str, Any], version: str) -> Callable[..., Any] | None:
    """The compiled ``validate`` from the cache folder, written there first if new."""
    text = json.dumps(schema, sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(f"{version}\n{text}".encode()).hexdigest()[:16]
    folder = cache_folder()
    if folder is None:
        return None  # no cache of our own: compiled in memory by the caller
    source = folder / f"schema_{digest}.py"
    if not os.path.lexists(source):
        import fastjsonschema

        code = fastjsonschema.compile_to_code(
            dict(schema), formats=FORMATS, use_default=False, detailed_exceptions=False
        )
        with tempfile.NamedTemporaryFile(
            "w", dir=folder, suffix=".part", delete=False, encoding="utf-8"
        ) as tmp:
            tmp.write(code)
        os.replace(tmp.name, source)
    if not trusted(source) or not _bytecode_trusted(source):
        return None  # code someone else could have written is never imported
    spec = importlib.util.spec_from_file_location(f"_preserve_schema_{digest}", source)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    validate: Callable[..., Any] = module.validate
    return validate
