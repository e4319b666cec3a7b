"""Start-up: each command imports only what its work needs.

Each test imports a module in a fresh interpreter and lists the heavy libraries
that ended up in ``sys.modules``: PDF/A (pikepdf), rendering (reportlab), the
schema validator (jsonschema) and signing (cryptography) cost 0.1-0.3 s each, and
a plain bag never needs them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HEAVY = ("reportlab", "pikepdf", "jsonschema", "cryptography", "dateparser", "py3langid")


def _loaded_after(code: str, cwd: Path | None = None) -> list[str]:
    probe = (
        f"import json, sys\n{textwrap.dedent(code)}\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=cwd
    )
    loaded: list[str] = json.loads(out.stdout.splitlines()[-1])
    return loaded


def test_the_probe_sees_a_heavy_import() -> None:
    assert _loaded_after("import jsonschema") == ["jsonschema"]


@pytest.mark.parametrize("module", ["preserve.verify", "preserve.bag_checks", "preserve.cli"])
def test_import_pulls_in_no_heavy_library(module: str) -> None:
    assert _loaded_after(f"import {module}") == []


def test_verify_of_a_foreign_unsigned_bag_imports_nothing_heavy(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    (bag / "data").mkdir(parents=True)
    (bag / "data" / "a.txt").write_bytes(b"hello\n")
    (bag / "bagit.txt").write_bytes(b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    (bag / "manifest-sha256.txt").write_bytes(
        b"5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  data/a.txt\n"
    )
    code = f"""
        from preserve.bag_checks import PreserveChecks
        from preserve.verify import verify_bag
        result = verify_bag({str(bag)!r}, extra_checks=(PreserveChecks(),))
        assert result.valid, result.problems
    """
    assert _loaded_after(code) == []


def test_version_and_verify_help_import_nothing_heavy() -> None:
    for args in ("['--version']", "['verify', '--help']"):
        code = f"""
            from preserve.cli import cli
            try:
                cli.main({args}, standalone_mode=False)
            except SystemExit:
                pass
        """
        assert _loaded_after(code) == [], args


def test_verify_help_imports_only_the_verify_commands_module() -> None:
    """The command group is lazy: ``preserve verify --help`` builds one command."""
    code = """
        import sys
        from preserve.cli import cli
        try:
            cli.main(['verify', '--help'], standalone_mode=False)
        except SystemExit:
            pass
        print(sorted(m for m in sys.modules if m.startswith('preserve.cli.')))
    """
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )
    assert out.stdout.splitlines()[-1] == "['preserve.cli.checking', 'preserve.cli.options']"


#: What reading, checking and validating one plain-text statement never needs: the
#: schema library (a valid record passes the compiled schema), the PDF and signing
#: libraries, and the readers of other forms (pages, WARCs, PDFs, scans, DOCX).
NOT_FOR_VALIDATE = (
    *HEAVY,
    "langcodes",
    "trafilatura",
    "warcio",
    "docx",
    "odf",
    "PIL",
    "pypdfium2",
    "charset_normalizer",
    "uharfbuzz",
)


def _loaded_by_command(args: list[str], watched: tuple[str, ...], tmp_path: Path) -> list[str]:
    """Which of ``watched`` a ``preserve`` command (run from the repository, in a fresh
    interpreter, exit 0) has imported by its end."""
    code = f"""
        import json, os, sys
        os.environ["XDG_CACHE_HOME"] = {str(tmp_path)!r}
        from preserve.cli import cli
        try:
            cli.main({args!r}, standalone_mode=False)
        except SystemExit as exit:
            assert exit.code == 0, exit.code
        print(json.dumps(sorted(m for m in {watched!r} if m in sys.modules)))
    """
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[1],
    )
    loaded: list[str] = json.loads(out.stdout.splitlines()[-1])
    return loaded


def _loaded_by_validate(fixture: str, tmp_path: Path) -> list[str]:
    return _loaded_by_command(["validate", fixture], NOT_FOR_VALIDATE, tmp_path)


def test_validate_of_a_valid_statement_imports_no_schema_library_nor_form_reader(
    tmp_path: Path,
) -> None:
    """English: the script does not decide, so the language model is loaded; nothing else."""
    assert _loaded_by_validate("fixtures/en-letter-sincerely.txt", tmp_path) == ["py3langid"]


def test_a_script_that_decides_the_language_loads_no_language_model(tmp_path: Path) -> None:
    assert _loaded_by_validate("fixtures/hy-library-access.txt", tmp_path) == []


def test_the_repeated_constants_equal_their_originals() -> None:
    from preserve import bag_checks, signing
    from preserve.cli import options
    from preserve.pdfa import PdfaLevel

    assert tuple(level.value for level in PdfaLevel) == options.PDFA_LEVELS
    assert bag_checks.SIGNATURES_DIR == signing.SIGNATURES_DIR


def test_font_registration_does_not_search_afm_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """``pdfmetrics.getFont`` of an unregistered name parses every AFM file on the
    search path; ``ensure_registered`` must ask the registry instead."""
    from reportlab.pdfbase import pdfmetrics

    from preserve.render import fonts

    def refuse(name: str) -> object:
        raise AssertionError(f"getFont({name!r}) searches the AFM path")

    monkeypatch.setattr(pdfmetrics, "getFont", refuse)
    family = fonts.Family("NotoSerifLao", "NotoSerifLao-Regular.ttf", "NotoSerifLao-Bold.ttf")
    name = fonts.ensure_registered(family, bold=True)
    assert name in pdfmetrics._fonts
    assert fonts.ensure_registered(family, bold=True) == name


def test_cached_language_model_classifies_as_the_packaged_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The uncompressed copy kept in the cache (one memory-mapped ``.npy`` file per
    array) is py3langid's model, value for value."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    from preserve.statement import language

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cached = language._from_cached_model(LanguageIdentifier, MODEL_DIR / MODEL_FILE)
    kept = list((tmp_path / "preserve").iterdir())
    assert len(kept) == 1 and kept[0].is_dir() and kept[0].name.startswith("py3langid-")
    arrays = {f.name: f.stat().st_mtime_ns for f in kept[0].iterdir()}
    assert sorted(arrays) == sorted(f"{name}.npy" for name in language._ARRAYS)
    again = language._from_cached_model(LanguageIdentifier, MODEL_DIR / MODEL_FILE)
    assert list((tmp_path / "preserve").iterdir()) == kept  # read, not written again
    assert {f.name: f.stat().st_mtime_ns for f in kept[0].iterdir()} == arrays
    import numpy as np

    assert isinstance(again.nb_ptc, np.memmap)  # mapped, not read whole (28 MB)
    packaged = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    for text in (
        "The library will open on Saturdays from next month, the council said.",
        "La bibliothèque ouvrira le samedi à partir du mois prochain.",
        "Die Bibliothek öffnet ab nächstem Monat auch samstags.",
        "Kitabxana gələn aydan şənbə günləri də açıq olacaq.",
    ):
        assert cached.classify(text) == again.classify(text) == packaged.classify(text)


def test_language_model_loads_without_a_writable_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from preserve.statement import language

    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    language._identifier.cache_clear()
    try:
        lang, probability = language._langid("The library opens on Saturdays from next month.")
    finally:
        language._identifier.cache_clear()
    assert lang == "en" and probability > 0.5


def _pattern_with_lookarounds_per_word(words: str, extra: tuple[str, ...] = ()) -> re.Pattern[str]:
    """The vocabulary regex as it was built before: a lookbehind and lookahead per word."""
    from preserve.statement.signature import _is_rtl

    parts = []
    for word in words.split():
        core = re.escape(word.strip("*").casefold())
        if all("\u3400" <= ch <= "\u9fff" for ch in word.strip("*")):
            parts.append(core)
            continue
        prefix = r"(?:و|ف|ب|ل|لل|ال|وال|بال|ה|ו|ש|ל|ב|מ)?" if _is_rtl(word) else ""
        start = r"\w*" if word.startswith("*") else ""
        end = r"\w*" if word.endswith("*") else r"s?" if word.isascii() else ""
        parts.append(rf"(?<![\w\-]){prefix}{start}{core}{end}(?![\w\-])")
    parts += [rf"(?<!\w){re.escape(phrase.casefold())}" for phrase in extra]
    return re.compile("|".join(parts))


def test_grouped_vocabulary_pattern_finds_what_one_lookaround_per_word_found() -> None:
    """Role and organisation words share one pair of boundary checks (compiled in a
    quarter of the time); every line of the fixtures, and each vocabulary word with
    letters, hyphens, prefixes and suffixes glued on, gets the same answer."""
    import random

    from preserve.statement import signature

    roles = " ".join(signature.ROLE_VOCABULARY.values())
    pairs = [
        (
            _pattern_with_lookarounds_per_word(roles, signature.ROLE_PHRASES),
            signature._vocabulary_pattern(roles, signature.ROLE_PHRASES),
        ),
        (
            _pattern_with_lookarounds_per_word(signature.ORG_VOCABULARY),
            signature._vocabulary_pattern(signature.ORG_VOCABULARY),
        ),
    ]
    lines: set[str] = set()
    for path in (Path(__file__).parents[1] / "fixtures").rglob("*.txt"):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            lines.add(signature._fold(line))
            lines.update(signature._fold(line).split())
    vocabulary = [w.strip("*").casefold() for w in f"{roles} {signature.ORG_VOCABULARY}".split()]
    glue = ["", "s", "-", "x", "ال", "و", "ב", "ов", "ları", " ", "'", "1", "_", "é"]
    pick = random.Random(7).choice
    for word in vocabulary:
        for _ in range(3):
            lines.add(pick(glue) + word + pick(glue))
            lines.add(pick(vocabulary) + pick(glue) + word)
    for before, after in pairs:
        for line in lines:
            assert (before.search(line) is None) == (after.search(line) is None), line
            assert (before.match(line) is None) == (after.match(line) is None), line


def test_every_tag_the_detector_gives_is_valid_for_langcodes() -> None:
    """metadata.DETECTED_TAGS skips langcodes only for tags it calls valid."""
    import langcodes

    from preserve import metadata

    assert {"en", "az-Latn", "zh-Hant", "hy"} <= metadata.DETECTED_TAGS
    assert [t for t in sorted(metadata.DETECTED_TAGS) if not langcodes.tag_is_valid(t)] == []
    assert not metadata._tag_is_valid("jp") and not metadata._tag_is_valid("en-Latnx")
    assert metadata._tag_is_valid("en-GB-oxendict")


def test_checking_a_record_needs_no_statement_parser() -> None:
    """verify and audit check a bag's metadata.json: the parser's ~80 regexes and the
    schema library stay unloaded for a valid record."""
    code = """
        import sys
        from preserve.metadata import check_record
        record = {
            "identifier": "town-library-2024-03-05-hours", "title": "Opening hours",
            "creator": {"name": "Mara Quill"}, "date_issued": "2024-03-05",
            "language": "en", "type": "statement",
        }
        assert check_record(record) == []
        unwanted = ("preserve.statement", "jsonschema", "langcodes")
        print(sorted(m for m in unwanted if m in sys.modules))
    """
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )
    assert out.stdout.splitlines()[-1] == "[]"


def test_a_foreign_bag_does_not_import_the_profile_code(tmp_path: Path) -> None:
    """Telling a foreign bag (no profile claim) costs no import of preserve.profile."""
    bag = tmp_path / "bag"
    (bag / "data").mkdir(parents=True)
    (bag / "bagit.txt").write_bytes(b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    (bag / "bag-info.txt").write_bytes(b"Source-Organization: Elsewhere\n")
    code = f"""
        from preserve.bag_checks import PreserveChecks
        from preserve.verify import verify_bag
        verify_bag({str(bag)!r}, extra_checks=(PreserveChecks(),))
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("preserve.profile"))))
    """
    probe = f"import json, sys\n{textwrap.dedent(code)}"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.splitlines()[-1]) == []


@pytest.mark.parametrize(
    "line",
    [
        b"BagIt-Profile-Identifier: https://preserve.invalid/schemas/bagit-profile-0.2.0.json\n",
        b"bagit-PROFILE-identifier:   https://preserve.invalid/schemas/bagit-profile.json  \n",
        b"Source-Organization: X\nBAGIT-PROFILE-IDENTIFIER:\n"
        b"  https://preserve.invalid/schemas/bagit-profile.json\n",
    ],
)
def test_the_quick_claim_test_still_sees_every_claim(tmp_path: Path, line: bytes) -> None:
    from preserve.bag_checks import claims_our_profile

    (tmp_path / "bag-info.txt").write_bytes(line)
    assert claims_our_profile(tmp_path)
    (tmp_path / "bag-info.txt").write_bytes(line.replace(b"preserve.invalid", b"elsewhere.invalid"))
    assert not claims_our_profile(tmp_path)


def test_the_audit_imports_no_ingest_or_rendering_code() -> None:
    """An audit reads bags and the ledger: the ingest (``preserve.archive``), the form
    readers and the renderer (reportlab, pikepdf) cost it ~0.3 s of start-up."""
    code = """
        import sys
        import preserve.audit
        print("ingest:", sorted(m for m in ("preserve.archive", "preserve.inputs",
              "preserve.render") if m in sys.modules))
    """
    probe = (
        f"import json, sys\n{textwrap.dedent(code)}\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "ingest: []"
    # cryptography stays: the audit checks the ledger's trusted keys against the chain.
    assert json.loads(out[-1]) == ["cryptography"]


#: What ``preserve verify`` of clean bag directories never imports: logging (nothing
#: logs), json (no --json), the tar and zip readers (tarfile, zipfile and the lzma and
#: bz2 it brings) and queue (the threads that split a file of 16 MiB or more).
NOT_FOR_VERIFY = ("logging", "json", "tarfile", "zipfile", "lzma", "bz2", "queue")

#: Still imported, by modules not yet changed: each is a strict xfail, so the day the
#: import goes the test fails until its line here goes too.
_STILL_IMPORTED: dict[str, str] = {}

#: The command lines: one bag (checked in the process), two (forked workers), and an
#: option (through click).
_VERIFY_RUNS = {"one": ["B"], "two": ["B", "B"], "click": ["--workers", "1", "B"]}


@pytest.fixture(scope="module")
def verify_imports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """The modules each run of ``python -m preserve verify`` imports (``-X importtime``:
    forked workers report their own imports on the same stderr)."""
    import bagit

    bag = tmp_path_factory.mktemp("verify") / "bag"
    (bag / "docs").mkdir(parents=True)
    (bag / "hours.txt").write_bytes(b"Open from nine to five.\n")
    (bag / "docs" / "notes.txt").write_bytes(b"Closed on public holidays.\n")
    bagit.make_bag(str(bag), checksums=["sha256", "sha512"])
    imported = {}
    for name, args in [*_VERIFY_RUNS.items(), ("json", ["--json", "B"])]:
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "preserve", "verify"]
            + [str(bag) if a == "B" else a for a in args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        imported[name] = {
            line.rsplit("|", 1)[-1].strip()
            for line in done.stderr.splitlines()
            if line.startswith("import time:")
        }
    return imported


def test_the_import_probe_sees_what_a_run_imports(verify_imports: dict[str, set[str]]) -> None:
    assert "json" in verify_imports["json"] and "click" in verify_imports["click"]
    assert "preserve.verify.forked" in verify_imports["two"]
    assert "preserve.verify.run" in verify_imports["one"]


@pytest.mark.parametrize("run", list(_VERIFY_RUNS))
@pytest.mark.parametrize(
    "module",
    [
        pytest.param(m, marks=pytest.mark.xfail(reason=_STILL_IMPORTED[m], strict=True))
        if m in _STILL_IMPORTED
        else m
        for m in NOT_FOR_VERIFY
    ],
)
def test_verify_of_a_clean_bag_directory_does_not_import(
    verify_imports: dict[str, set[str]], run: str, module: str
) -> None:
    assert module not in verify_imports[run]


def test_verify_of_a_clean_bag_compiles_only_the_patterns_it_uses(tmp_path: Path) -> None:
    """bagit_format compiles at import only what a clean bag uses; the rest (writing,
    full manifest, fetch.txt and bagit.txt parsing) when first asked for."""
    import bagit

    bag = tmp_path / "bag"
    bag.mkdir()
    (bag / "a.txt").write_bytes(b"hello\n")
    bagit.make_bag(str(bag), checksums=["sha256"])
    code = f"""
        import functools
        from preserve import bagit_format
        from preserve.bag_checks import PreserveChecks
        from preserve.verify import verify_bag
        result = verify_bag({str(bag)!r}, extra_checks=(PreserveChecks(),))
        assert result.valid, result.problems
        lazy = [name for name, value in vars(bagit_format).items()
                if isinstance(value, functools._lru_cache_wrapper) and name.isupper()]
        print(json.dumps(sorted(lazy)))
        print(json.dumps(sorted(n for n in lazy if getattr(bagit_format, n).cache_info().currsize)))
    """
    probe = f"import json, sys\n{textwrap.dedent(code)}"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    lazy, compiled = (json.loads(line) for line in out.stdout.splitlines()[-2:])
    assert "_MANIFEST_LINE" in lazy and "_FETCH_LINE" in lazy
    assert compiled == []


def test_the_archive_errors_hold_what_a_damaged_archive_raises() -> None:
    """tree.archive_errors() and access.read_errors(), made when first asked for (they
    import zipfile and lzma), hold what a damaged tar or zip raises."""
    import lzma
    import zipfile

    from preserve.verify import access, tree

    assert access.read_errors() == (tree._TooLarge, *tree.archive_errors())
    assert zipfile.BadZipFile in access.read_errors() and lzma.LZMAError in tree.archive_errors()


#: What rendering one statement has no use for: the archive (its ledger, SQLite, the
#: process pool) and the signing keys' library.
NOT_FOR_RENDER = (
    "preserve.archive",
    "preserve.ledger",
    "sqlite3",
    "cryptography",
    "multiprocessing",
)


def test_render_imports_nothing_of_the_archive(tmp_path: Path) -> None:
    """``preserve render`` reads the statement as ingest does (inputs.prepare), without
    the archive: importing it had cost ~50 ms a call."""
    pdf = tmp_path / "x.pdf"
    args = ["render", "fixtures/en-letter-sincerely.txt", "-o", str(pdf)]
    assert _loaded_by_command(args, NOT_FOR_RENDER, tmp_path) == []
    assert pdf.read_bytes().startswith(b"%PDF-")
