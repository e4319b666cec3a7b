"""Legacy encodings from the command line to the bag: detected or given with --encoding,
recorded in the record and in PREMIS, the bytes kept as received."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from preserve.cli import cli

TEXT = (
    "Заявление о продлении часов работы библиотеки\n\n"
    "Городская библиотека будет открыта по субботам до восьми часов вечера, "
    "начиная с первого апреля.\n\nИ. Петров\nДиректор библиотеки\n\n1 марта 2025 г.\n"
)


def _statement(tmp_path: Path) -> Path:
    path = tmp_path / "zaiavlenie.txt"
    path.write_bytes(TEXT.encode("cp1251"))
    return path


def test_a_detected_encoding_is_in_the_record(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", "--json", str(_statement(tmp_path))])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)["files"][0]["record"]
    assert record["encoding"]["name"] == "cp1251"
    assert 0.8 <= record["encoding"]["confidence"] <= 1
    assert record["title"] == "Заявление о продлении часов работы библиотеки"


def test_a_given_encoding_decides(tmp_path: Path) -> None:
    path = _statement(tmp_path)
    given = CliRunner().invoke(cli, ["validate", "--json", "--encoding", "cp1251", str(path)])
    record = json.loads(given.stdout)["files"][0]["record"]
    assert record["encoding"] == {"name": "cp1251", "confidence": 1.0}
    # the wrong one is obeyed too (strictly): the text reads as other letters
    wrong = CliRunner().invoke(cli, ["validate", "--json", "--encoding", "koi8-r", str(path)])
    assert "Заявление" not in wrong.stdout
    unknown = CliRunner().invoke(cli, ["validate", "--encoding", "nonsense", str(path)])
    assert unknown.exit_code == 1 and "unknown encoding 'nonsense'" in unknown.output


def test_the_bag_keeps_the_bytes_and_premis_says_how_they_were_read(tmp_path: Path) -> None:
    path = _statement(tmp_path)
    archive = tmp_path / "archive"
    result = CliRunner().invoke(cli, ["ingest", str(path), "-a", str(archive), "--workers", "1"])
    assert result.exit_code == 0, result.output
    (bag,) = (archive / "bags").iterdir()
    assert (bag / "data/original/zaiavlenie.txt").read_bytes() == TEXT.encode("cp1251")
    premis = (bag / "premis.xml").read_text(encoding="utf-8")
    assert "text decoded from cp1251 (detector confidence" in premis
    record = json.loads((bag / "data/metadata/statement.json").read_text(encoding="utf-8"))
    assert record["encoding"]["name"] == "cp1251"
