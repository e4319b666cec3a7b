"""A real archive for the reading-room tests, built once per test session.

Every fixture statement that validates (fixtures/ and fixtures/shapes/) is
ingested; the archive is audited (so badges and the dashboard have history),
one Azerbaijani bag is signed with a key the archive trusts, and one statement
is withdrawn with a ledger event (the withdrawal command is not written yet;
the reading room reads the event).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from click.testing import CliRunner

from preserve import ledger
from preserve.archive import ingest
from preserve.audit import audit
from preserve.cli import cli
from tests.conftest import FIXTURES

AZ = "leyla-hesenova-2024-06-14-qan-donorlarina-muraciet"
AR = "dywn-lmzlm-2024-06-14-nd-l-lmwtnyn-lltbr-bldm"
WITHDRAWN = "kamran-nebiyev-2017-12-05-su-techizatinda-planli-fasile-barede-melumat"
WITHDRAWAL_REASON = "withdrawn at the issuer's request: superseded by a corrected notice"

_built: dict[str, Path] = {}


def reading_room_archive() -> Path:
    """The archive (shared: tests must not change it; copy it to change it)."""
    if "archive" in _built:
        return _built["archive"]
    root = Path(tempfile.mkdtemp(prefix="serve-archive-"))
    archive = root / "archive"
    inputs = sorted(FIXTURES.glob("*.txt")) + sorted((FIXTURES / "shapes").glob("*.txt"))
    ingest(inputs, archive)
    assert (archive / "bags" / AZ).is_dir() and (archive / "bags" / AR).is_dir()
    audit(archive)
    runner = CliRunner()
    key = root / "archivist.key"
    result = runner.invoke(cli, ["keys", "init", str(key), "--archive", str(archive)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["sign", "--key", str(key), str(archive / "bags" / AZ)])
    assert result.exit_code == 0, result.output
    db = ledger.connect(archive)
    try:
        with ledger.write(db):
            ledger.record_event(
                db,
                identifier=WITHDRAWN,
                type="withdrawal",
                outcome="success",
                detail={"reason": WITHDRAWAL_REASON},
                agent="test",
            )
    finally:
        db.close()
    _built["archive"] = archive
    return archive


def copy_archive(target: Path) -> Path:
    shutil.copytree(reading_room_archive(), target)
    return target
