"""A real archive for the reading-room tests, built once per test session.

Every fixture statement that validates (fixtures/ and fixtures/shapes/) is
ingested; the archive is audited (so badges and the dashboard have history),
one Azerbaijani bag is signed with a key the archive trusts, and one statement
is withdrawn with a ledger event (the withdrawal command is not written yet;
the reading room reads the event).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from click.testing import CliRunner

from preserve import ledger
from preserve.archive import ingest
from preserve.audit import audit
from preserve.cli import cli
from preserve.serve.catalog import WITHDRAWAL
from tests.conftest import FIXTURES

#: The fixtures the tests look at (their identifiers are whatever the parser derives).
AZ_SOURCE = "az-letter-hormetle.txt"
AR_SOURCE = "ar-blood-donors.txt"
WITHDRAWN_SOURCE = "az-hotline.txt"
WITHDRAWAL_REASON = "withdrawn at the issuer's request: superseded by a corrected notice"

_built: dict[str, Path] = {}
_identifiers: dict[str, str] = {}


def identifiers() -> tuple[str, str, str]:
    """The identifiers of the Azerbaijani, the Arabic and the withdrawn statement."""
    reading_room_archive()
    return (
        _identifiers[AZ_SOURCE],
        _identifiers[AR_SOURCE],
        _identifiers[WITHDRAWN_SOURCE],
    )


def reading_room_archive() -> Path:
    """The archive (shared: tests must not change it; copy it to change it)."""
    if "archive" in _built:
        return _built["archive"]
    root = Path(tempfile.mkdtemp(prefix="serve-archive-"))
    atexit.register(shutil.rmtree, root, True)  # gone when the test session ends
    archive = root / "archive"
    inputs = sorted(FIXTURES.glob("*.txt")) + sorted((FIXTURES / "shapes").glob("*.txt"))
    report = ingest(inputs, archive)
    for result in report.results:
        if result.identifier and result.bag:
            _identifiers[Path(result.source).name] = result.identifier
    for source in (AZ_SOURCE, AR_SOURCE, WITHDRAWN_SOURCE):
        assert source in _identifiers, f"{source} was not ingested: {report.as_dict()}"
    az, withdrawn = _identifiers[AZ_SOURCE], _identifiers[WITHDRAWN_SOURCE]
    audit(archive)
    runner = CliRunner()
    key = root / "archivist.key"
    result = runner.invoke(cli, ["keys", "init", str(key), "--archive", str(archive)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["sign", "--key", str(key), str(archive / "bags" / az)])
    assert result.exit_code == 0, result.output
    db = ledger.connect(archive)
    try:
        with ledger.write(db):
            ledger.record_event(
                db,
                identifier=withdrawn,
                type=WITHDRAWAL,  # what `preserve withdraw` records (test_serve_withdraw.py)
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
