"""A real archive for the reading-room tests, built once per test session.

Every fixture statement that validates (fixtures/ and fixtures/shapes/) is
ingested, with one invented statement in three language versions (English, and
Arabic and Azerbaijani translations of it, linked by their sidecars); the
archive is audited (so badges and the dashboard have history), one Azerbaijani
bag is signed with a key the archive trusts and countersigned by a second trusted
key, and one statement is withdrawn with the ledger event `preserve withdraw` records.
"""

from __future__ import annotations

import atexit
import json
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
#: Who countersigns the Azerbaijani bag (with a second key the archive trusts).
COSIGNER = "Second Archivist of the Reading Room"
WITHDRAWAL_REASON = "withdrawn at the issuer's request: superseded by a corrected notice"

#: One invented statement in three languages: (language, text); identifiers end in -LANG.
VERSION_PREFIX = "botanical-garden-2025-03-03-greenhouse-"
VERSION_TEXTS = {
    "en": (
        "Botanical garden opens a new greenhouse\n\n"
        "The municipal botanical garden opened a new greenhouse for tropical plants on Monday. "
        "Visitors can see more than two hundred species, among them ferns, orchids and palms.\n\n"
        "Entry to the greenhouse is free with a garden ticket, and guided tours start every "
        "Saturday morning at ten.\n\n"
        "Karim Example\nDirector of the Botanical Garden\n\n3 March 2025\n"
    ),
    "ar": (
        "الحديقة النباتية تفتتح دفيئة جديدة\n\n"
        "افتتحت الحديقة النباتية البلدية يوم الاثنين دفيئة جديدة للنباتات الاستوائية. "
        "يمكن للزوار مشاهدة أكثر من مئتي نوع، منها السرخس والأوركيد والنخيل.\n\n"
        "الدخول إلى الدفيئة مجاني مع تذكرة الحديقة، وتبدأ الجولات الإرشادية "
        "كل يوم سبت في العاشرة صباحاً.\n\n"
        "كريم المثال\nمدير الحديقة النباتية\n\n3 مارس 2025\n"
    ),
    "az": (
        "Botanika bağı yeni istixana açır\n\n"
        "Bələdiyyə botanika bağı bazar ertəsi tropik bitkilər üçün yeni istixana açdı. "
        "Ziyarətçilər qıjı, orxideya və palma da daxil olmaqla iki yüzdən çox növü görə "
        "bilərlər.\n\n"
        "İstixanaya giriş bağ bileti ilə pulsuzdur, bələdçili turlar hər şənbə səhəri saat "
        "onda başlayır.\n\n"
        "Kərim Nümunəov\nBotanika bağının direktoru\n\n3 mart 2025\n"
    ),
}

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


def version_identifiers() -> dict[str, str]:
    """The version group's identifiers by language code (en, ar, az)."""
    return {lang: VERSION_PREFIX + lang for lang in VERSION_TEXTS}


def write_versions(folder: Path) -> list[Path]:
    """The three versions as statement files with sidecars (the translations name the
    English one), English first."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for lang, text in VERSION_TEXTS.items():
        path = folder / f"greenhouse-{lang}.txt"
        path.write_text(text, encoding="utf-8")
        sidecar: dict[str, object] = {
            "identifier": VERSION_PREFIX + lang,
            "creator": {"organization": "Botanical Garden"},
        }
        if lang != "en":
            sidecar["translation_of"] = VERSION_PREFIX + "en"
        path.with_suffix(".json").write_text(json.dumps(sidecar), encoding="utf-8")
        paths.append(path)
    return paths


def reading_room_archive() -> Path:
    """The archive (shared: tests must not change it; copy it to change it)."""
    if "archive" in _built:
        return _built["archive"]
    root = Path(tempfile.mkdtemp(prefix="serve-archive-"))
    atexit.register(shutil.rmtree, root, True)  # gone when the test session ends
    archive = root / "archive"
    inputs = sorted(FIXTURES.glob("*.txt")) + sorted((FIXTURES / "shapes").glob("*.txt"))
    inputs += write_versions(root / "versions")
    report = ingest(inputs, archive)
    for result in report.results:
        if result.identifier and result.bag:
            _identifiers[Path(result.source).name] = result.identifier
    for source in (AZ_SOURCE, AR_SOURCE, WITHDRAWN_SOURCE, "greenhouse-ar.txt"):
        assert source in _identifiers, f"{source} was not ingested: {report.as_dict()}"
    az, withdrawn = _identifiers[AZ_SOURCE], _identifiers[WITHDRAWN_SOURCE]
    audit(archive)
    runner = CliRunner()
    key = root / "archivist.key"
    result = runner.invoke(cli, ["keys", "init", str(key), "--archive", str(archive)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["sign", "--key", str(key), str(archive / "bags" / az)])
    assert result.exit_code == 0, result.output
    # a countersignature by a second trusted key, with the signer's name
    second = root / "second.key"
    result = runner.invoke(cli, ["keys", "init", str(second), "--archive", str(archive)])
    assert result.exit_code == 0, result.output
    bag = str(archive / "bags" / az)
    result = runner.invoke(cli, ["sign", "--key", str(second), "--signer", COSIGNER, bag])
    assert result.exit_code == 0 and "countersigned" in result.output, result.output
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
