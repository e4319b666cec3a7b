"""Shared test helpers: paths to the repository's fixtures and to ../shared/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
SHARED = REPO.parent / "shared"


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
