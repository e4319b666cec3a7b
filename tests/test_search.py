"""Search: a query's size is bounded (words and bytes), refused in one line before FTS5."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from preserve.archive import ingest
from preserve.cli import cli
from preserve.errors import InputError
from preserve.search import MAX_QUERY_BYTES, MAX_QUERY_WORDS, fts_query, search

from .test_archive import make_statements


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("search")
    make_statements(root / "in", 2)
    assert ingest([root / "in"], root / "archive").exit_code == 0
    return root / "archive"


def test_a_query_at_the_word_limit_still_searches(archive: Path) -> None:
    words = ["library"] * MAX_QUERY_WORDS
    assert len(search(archive, " ".join(words))) == 2


def test_too_many_words_are_refused_before_searching(archive: Path) -> None:
    """D17: a 3,200-word query took 50 s; now it is refused at once, in one line."""
    query = " ".join(["library"] * 3200)
    with pytest.raises(InputError, match="at most"):
        fts_query(query)
    result = CliRunner().invoke(cli, ["search", str(archive), *query.split()])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "MAX_QUERY_BYTES" in result.stderr
    short_words = " ".join(["lib"] * (MAX_QUERY_WORDS + 1))  # under the byte limit
    with pytest.raises(InputError, match=f"{MAX_QUERY_WORDS + 1} words; at most"):
        fts_query(short_words)


def test_too_many_bytes_are_refused(archive: Path) -> None:
    query = "библиотека" * (MAX_QUERY_BYTES // 20 + 1)  # one long word, over the byte limit
    with pytest.raises(InputError, match="bytes; at most"):
        search(archive, query)
    assert fts_query("библиотека" * (MAX_QUERY_BYTES // 20 - 1))
