"""A statement withdrawn with `preserve withdraw` answers 410 in the reading room.

The command records PREMIS "deaccession" as a chained tombstone; the reading room
reads that same event, so what the archivist did is what the public sees.
"""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from click.testing import CliRunner

from preserve.cli import cli

pytest.importorskip("starlette")
pytest.importorskip("httpx")

STATEMENT = (
    "Reading rooms open on Saturdays\n\n"
    "From the first of April the reading rooms of the city library open on Saturdays "
    "from ten in the morning until six in the evening.\n\n"
    "Anna Example\nHead of the City Library\n\n12 March 2024\n"
)


def test_a_withdrawn_statement_is_a_tombstone(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from preserve.serve import ServeConfig, create_app

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notice.txt").write_text(STATEMENT, encoding="utf-8")
    archive = tmp_path / "archive"
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(tmp_path / "in"), "-a", str(archive)]).exit_code == 0
    (identifier,) = (p.name for p in (archive / "bags").iterdir())
    reason = "superseded by a corrected notice"
    result = runner.invoke(cli, ["withdraw", str(archive), identifier, "--reason", reason])
    assert result.exit_code == 0, result.output
    with TestClient(create_app(ServeConfig(archive))) as client:
        page = client.get(f"/statements/{identifier}")
        assert page.status_code == 410
        assert "was withdrawn" in page.text and reason in html.unescape(page.text)
        listed = client.get("/oai", params={"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"})
        assert identifier in listed.text and 'status="deleted"' in listed.text
        # the dashboard: gone from every copy, so neither a bag to audit nor overdue
        board = client.get("/audit").text
        assert "<strong>0</strong> bags" in board
        assert "<strong>0</strong> overdue" in board and "No bag is overdue." in board
        assert "<strong>1</strong> withdrawn" in board
        assert f"/statements/{identifier}" not in board
