"""Shared test helpers: paths to the repository's fixtures and to ../shared/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
SHARED = REPO.parent / "shared"


def ingest_one(tmp_path: Path, path: Path) -> Path:
    """Ingest one statement into a new archive through the command; the bag, verified."""
    from click.testing import CliRunner

    from preserve.cli import cli
    from preserve.verify import verify_bag

    archive = tmp_path / "archive"
    result = CliRunner().invoke(
        cli, ["ingest", str(path), "-a", str(archive), "--workers", "1", "--json"]
    )
    assert result.exit_code == 0, result.output
    (bag,) = (archive / "bags").iterdir()
    assert verify_bag(bag).valid, verify_bag(bag).problems
    return bag


@pytest.fixture
def shared_dir() -> Path:
    """``../shared`` beside the repository; tests that need it skip where it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (it holds the seed statement and the BagIt suite)")
    return SHARED


@pytest.fixture
def archive(pristine: Path, tmp_path: Path) -> Path:
    """A fresh copy of the module's ``pristine`` archive (built once per module)."""
    copy = tmp_path / "archive"
    shutil.copytree(pristine, copy)
    return copy


@pytest.fixture(scope="session")
def preflight() -> list[str]:
    """The PDFBox Preflight command (tests/pdf_tools.py); skips where it is absent."""
    from tests.pdf_tools import preflight_command

    return preflight_command()
