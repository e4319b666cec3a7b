"""The independent PDF tools the tests check our copies with: PDFBox Preflight, qpdf, poppler.

Each helper skips the calling test, with the Debian package to install, where its
tool is absent (``.ci/run`` installs them all).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

JAVA_DIR = Path("/usr/share/java")
#: PDFBox 2's Preflight and what it needs, as Debian installs them.
PREFLIGHT_JARS = (
    "preflight.jar",
    "pdfbox2.jar",
    "fontbox2.jar",
    "xmpbox.jar",
    "commons-logging.jar",
    "javax.activation.jar",
    "jaxb-api.jar",
)


def preflight_command() -> list[str]:
    """The command that runs PDFBox Preflight (PDF/A-1b); skips when it is not installed."""
    java = shutil.which("java")
    missing = [j for j in PREFLIGHT_JARS if not (JAVA_DIR / j).is_file()]
    if java is None or missing:
        pytest.skip(
            "PDFBox Preflight is not installed (apt: libpdfbox2-java libactivation-java "
            f"libjaxb-api-java); missing: {', '.join(missing) or 'java'}"
        )
    classpath = ":".join(str(JAVA_DIR / j) for j in PREFLIGHT_JARS)
    return [java, "-cp", classpath, "org.apache.pdfbox.preflight.Validator_A1b"]


def run_preflight(cmd: list[str], pdf: bytes, tmp_path: Path, name: str = "x") -> tuple[int, str]:
    """Preflight's exit code and report for ``pdf`` (written to ``tmp_path/name.pdf``)."""
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    done = subprocess.run([*cmd, str(path)], capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout + done.stderr


def qpdf_check(pdf: bytes, tmp_path: Path) -> None:
    """Assert that ``qpdf --check`` finds the file's structure sound."""
    if shutil.which("qpdf") is None:
        pytest.skip("qpdf (apt: qpdf) is not installed")
    path = tmp_path / "q.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
