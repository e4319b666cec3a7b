"""The archive's settings file, ``ARCHIVE/settings.toml``: who keeps the archive, and how.

One small TOML file beside the ledger, read with :mod:`tomllib` and validated by
``schemas/settings.schema.json``, so that a typo is one clear line instead of a
setting silently ignored. Sections:

``[institution]``
    The organization that keeps the archive and transfers its bags: ``name``,
    ``address``, ``contact_name``, ``contact_email``, ``identifiers`` (a table such
    as ``{isil = "AZ-BA-123"}``). bag-info's Source-Organization, Organization-Address,
    Contact-Name and Contact-Email come from here.
``[limits]``
    The verifier's limits for this archive (:class:`preserve.bagit_format.Limits`).
``[signing]``
    ``required = true``: every bag must carry a signature.
``[replicas]``
    ``copies`` (how many good copies each bag needs) and ``[replicas.targets.NAME]``
    tables with a ``url`` (a folder or ``ssh://user@host[:port]/path``).

A missing file means every default. Keys are addressed as ``section.key``
(``institution.name``) by :func:`get_value` and :func:`set_value`, which the
``preserve settings`` command uses.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from preserve.bagit_format import Limits
from preserve.errors import ExitCode, PreserveError, UnreadableInput
from preserve.fsio import NotARegularFile, atomic_write, read_input

SETTINGS_FILE = "settings.toml"
#: Far above any real settings file; a larger one is refused, never read whole.
MAX_SETTINGS_BYTES = 256 * 1024


class SettingsError(PreserveError):
    """The settings file or a requested change is not valid: nothing can run on it (exit 2)."""

    exit_code = ExitCode.cannot_run


@dataclass(frozen=True)
class Institution:
    """The organization that keeps the archive (not the issuer of any statement)."""

    name: str | None = None
    address: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    identifiers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    """An archive's settings, every default filled in."""

    institution: Institution = field(default_factory=Institution)
    limits: Limits = field(default_factory=Limits)
    signing_required: bool = False
    replica_copies: int = 1
    #: Replica targets by name: a folder path or an ``ssh://`` URL.
    replica_targets: Mapping[str, str] = field(default_factory=dict)


def settings_path(archive: Path) -> Path:
    return archive / SETTINGS_FILE


@cache
def _schema() -> dict[str, Any]:
    text = resources.files("preserve.schemas").joinpath("settings.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def read_raw(archive: Path) -> dict[str, Any]:
    """The settings file as a dict, validated; ``{}`` when the archive has none."""
    path = settings_path(archive)
    if not path.exists() and not path.is_symlink():
        return {}
    try:
        data = read_input(path, MAX_SETTINGS_BYTES)
    except NotARegularFile:
        raise UnreadableInput("not a regular file (a link, FIFO or device)", path) from None
    except OSError as exc:
        raise UnreadableInput(f"cannot read: {exc.strerror or exc}", path) from None
    if len(data) > MAX_SETTINGS_BYTES:
        raise SettingsError(f"larger than {MAX_SETTINGS_BYTES:,} bytes", path)
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise SettingsError("not UTF-8 text", path) from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"not valid TOML: {exc}", path) from None
    _validate(raw, path)
    return raw


def _validate(raw: Mapping[str, Any], path: Path) -> None:
    import jsonschema  # only the settings command and ingest pay for it

    validator = jsonschema.Draft202012Validator(
        _schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(raw), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        problem = error.schema.get("x-problem") if isinstance(error.schema, dict) else None
        message = f"{error.instance!r} {problem}" if problem else error.message
        raise SettingsError(f"{where}: {message}", path)


def load_settings(archive: Path) -> Settings:
    """The archive's settings with defaults; SettingsError naming the file and key if bad."""
    raw = read_raw(archive)
    institution = raw.get("institution", {})
    replicas = raw.get("replicas", {})
    try:
        limits = Limits(**raw.get("limits", {}))
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"limits: {exc}", settings_path(archive)) from None
    return Settings(
        institution=Institution(
            name=institution.get("name"),
            address=institution.get("address"),
            contact_name=institution.get("contact_name"),
            contact_email=institution.get("contact_email"),
            identifiers=dict(institution.get("identifiers", {})),
        ),
        limits=limits,
        signing_required=bool(raw.get("signing", {}).get("required", False)),
        replica_copies=int(replicas.get("copies", 1)),
        replica_targets={
            name: str(target["url"]) for name, target in replicas.get("targets", {}).items()
        },
    )


def known_keys() -> list[str]:
    """Every ``section.key`` the schema defines (tables such as targets as ``section.key``)."""
    keys = []
    for section, spec in _schema()["properties"].items():
        keys += [f"{section}.{key}" for key in spec.get("properties", {})]
    return keys


def get_value(raw: Mapping[str, Any], key: str) -> Any:
    """The value at ``section.key`` (or a whole section); None when unset."""
    node: Any = raw
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _key_schema(key: str) -> dict[str, Any]:
    node: dict[str, Any] = _schema()
    for part in key.split("."):
        properties = node.get("properties", {})
        if part in properties:
            node = properties[part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            raise SettingsError(
                f"unknown setting '{key}'; known settings: {', '.join(known_keys())}"
            )
    return node


def check_key(key: str) -> None:
    """Raise SettingsError, listing the known settings, unless ``key`` is one of them."""
    _key_schema(key)


def parse_value(key: str, text: str) -> Any:
    """A value typed as the schema says: integers, booleans (true/false) or text."""
    kind = _key_schema(key).get("type")
    if kind == "integer":
        try:
            return int(text.replace("_", ""), 10)
        except ValueError:
            raise SettingsError(f"{key} takes a whole number, not {text!r}") from None
    if kind == "boolean":
        if text.lower() in ("true", "yes", "1"):
            return True
        if text.lower() in ("false", "no", "0"):
            return False
        raise SettingsError(f"{key} takes true or false, not {text!r}")
    if kind == "object":
        raise SettingsError(f"{key} is a table: set its keys one by one ({key}.NAME)")
    return text


def set_value(archive: Path, key: str, text: str) -> dict[str, Any]:
    """Set ``section.key`` to ``text`` (typed by the schema); validate; write atomically."""
    import tomli_w

    if not archive.is_dir():
        raise UnreadableInput("not an archive folder", archive)
    raw = read_raw(archive)
    value = parse_value(key, text)
    parts = key.split(".")
    node = raw
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise SettingsError(f"{key}: '{part}' is not a table")
    node[parts[-1]] = value
    path = settings_path(archive)
    _validate(raw, path)
    try:
        atomic_write(path, tomli_w.dumps(raw).encode("utf-8"))
    except OSError as exc:
        raise PreserveError(f"cannot write: {exc.strerror or exc}", path) from None
    return raw


def limit_keys() -> list[str]:
    """The ``[limits]`` keys: one for each field of Limits."""
    return [f.name for f in fields(Limits)]
