"""The user's cache is used only when it is the user's own (preserve/user_cache.py).

The compiled statement schema is imported from there and py3langid's model is
memory-mapped from there: a planted validator that accepts everything, or a
planted model, would change what ``validate`` and the audit accept and what
language a statement gets. Planted where someone else could have written it
(a group- or world-writable file or folder, a symbolic link), it is never loaded;
the same file in the user's own ``0700`` folder is (the positive control: the
check, not luck, is what keeps it out).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from preserve import compiled_schema
from preserve.statement import language
from preserve.user_cache import cache_folder, trusted

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}

#: What an attacker would plant: a "validator" that accepts anything and says so.
PLANTED = "PLANTED = True\ndef validate(data, custom_formats=None):\n    return data\n"


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "cache"
    home.mkdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    yield home / "preserve"


def _planted_schema(cache: Path) -> Path:
    """The cached compiled schema, written by a first call, then replaced by PLANTED."""
    assert compiled_schema.fast_validator(SCHEMA) is not None
    (source,) = cache.glob("schema_*.py")
    source.write_text(PLANTED)
    for stale in cache.rglob("*.pyc"):
        stale.unlink()
    return source


def test_the_folder_is_made_private(cache_home: Path) -> None:
    folder = cache_folder("x")
    assert folder == cache_home / "x"
    assert (cache_home.stat().st_mode & 0o777) == 0o700
    assert (folder.stat().st_mode & 0o777) == 0o700


def test_own_cached_code_is_used(cache_home: Path) -> None:
    """Positive control: in a folder of the user's own, the cached code is imported."""
    _planted_schema(cache_home)
    valid = compiled_schema.fast_validator(SCHEMA)
    assert valid is not None
    assert valid({"n": "not a number"})  # the planted validator answered


@pytest.mark.parametrize("where", ["file", "folder"])
def test_writable_by_others_is_never_imported(cache_home: Path, where: str) -> None:
    source = _planted_schema(cache_home)
    target = source if where == "file" else cache_home
    target.chmod(target.stat().st_mode | 0o020)  # group-writable
    valid = compiled_schema.fast_validator(SCHEMA)
    assert valid is not None
    assert not valid({"n": "not a number"})  # compiled in memory: the real schema
    assert valid({"n": 3})
    assert source.read_text() == PLANTED  # left alone, not deleted


def test_a_linked_cache_file_is_never_imported(cache_home: Path, tmp_path: Path) -> None:
    source = _planted_schema(cache_home)
    elsewhere = tmp_path / "elsewhere.py"
    elsewhere.write_text(PLANTED)
    source.unlink()
    source.symlink_to(elsewhere)
    valid = compiled_schema.fast_validator(SCHEMA)
    assert valid is not None and not valid({"n": "x"})
    assert not trusted(source)


def test_a_writable_language_model_is_never_mapped(
    cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("numpy")
    text = "The library opens on Saturday mornings from the first of the month. " * 6
    language._identifier.cache_clear()
    assert language._langid(text)[0] == "en"  # unpacks the model into the cache
    (folder,) = cache_home.glob("py3langid-*")
    planted = folder / "pc.npy"
    planted.chmod(planted.stat().st_mode | 0o002)  # world-writable: anyone's
    language._identifier.cache_clear()
    loaded: list[Path] = []
    real = language._from_cached_model

    def spy(identifier: object, packed: Path) -> object:
        try:
            return real(identifier, packed)
        except OSError as exc:
            loaded.append(Path(str(exc).split(" is not")[0]))
            raise

    monkeypatch.setattr(language, "_from_cached_model", spy)
    try:
        assert language._langid(text)[0] == "en"  # read from the package's model instead
    finally:
        language._identifier.cache_clear()
    assert loaded == [folder]
    os.chmod(planted, 0o644)


def test_planted_byte_code_is_never_run(cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A .pyc beside the checked source, writable by others, is refused too."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.setattr(sys, "pycache_prefix", None)
    assert compiled_schema.fast_validator(SCHEMA) is not None  # writes and imports it
    pycs = list(cache_home.glob("__pycache__/schema_*.pyc"))
    assert pycs
    assert compiled_schema._bytecode_trusted(next(cache_home.glob("schema_*.py")))
    pycs[0].chmod(pycs[0].stat().st_mode | 0o002)
    (source,) = cache_home.glob("schema_*.py")
    assert not compiled_schema._bytecode_trusted(source)
