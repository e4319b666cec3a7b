"""Every signer of a bag on its statement page: the first signer and each countersigner,
with name, key fingerprint, time, timestamps, and whether it is trusted, judged on its own."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the reading room needs starlette")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx")

from click.testing import CliRunner
from starlette.testclient import TestClient

from preserve.cli import cli
from preserve.serve import ServeConfig, create_app
from tests.serve_support import COSIGNER, copy_archive, identifiers, reading_room_archive


def _signers(bag: Path) -> list[dict[str, str]]:
    """Each signer's signature.json, first signer first (read from the bag itself)."""
    found = [bag / "signatures" / "signature.json"]
    found += sorted((bag / "signatures" / "signers").glob("*/signature.json"))
    return [json.loads(p.read_text()) for p in found]


def _section(page: str) -> str:
    """The page's "Signatures and timestamps" section, unescaped."""
    start = page.index('id="sig-h"')
    return html.unescape(page[start : page.index("</section>", start)])


def _text(section: str) -> str:
    return re.sub(r"<[^>]+>", "", section)


def _trusted_by_key(section: str) -> dict[str, bool]:
    """Each signing key shown, with whether the page says it is trusted (in page order)."""
    blocks = re.findall(
        r"<code>(sha256:[0-9a-f]+)</code>.*?<dt>Trusted</dt><dd>(.*?)</dd>", section, re.S
    )
    return {key: ">yes<" in said for key, said in blocks}


def test_every_signer_is_shown_with_key_time_and_trust(tmp_path: Path) -> None:
    archive = reading_room_archive()
    az = identifiers()[0]
    signers = _signers(archive / "bags" / az)
    assert len(signers) == 2  # the shared archive: signed, then countersigned
    with TestClient(create_app(ServeConfig(archive, cache_dir=tmp_path))) as c:
        page = c.get(f"/statements/{az}").text
    section = _section(page)
    assert _trusted_by_key(section) == {s["key_fingerprint"]: True for s in signers}
    for s in signers:
        assert s["signed_at"] in section
    assert f"Countersigned by {COSIGNER}" in _text(section)
    assert section.count("Timestamps</dt><dd>none (no timestamp authority was asked)") == 2
    assert "signed by 2 trusted keys" in page


def test_an_untrusted_countersigner_is_shown_untrusted_beside_the_trusted(tmp_path: Path) -> None:
    archive = copy_archive(tmp_path / "a")
    az = identifiers()[0]
    bag = archive / "bags" / az
    runner = CliRunner()
    stranger = tmp_path / "stranger.key"
    assert runner.invoke(cli, ["keys", "init", str(stranger)]).exit_code == 0  # not trusted
    result = runner.invoke(
        cli, ["sign", "--key", str(stranger), "--signer", "A Stranger", str(bag)]
    )
    assert result.exit_code == 0, result.output
    signers = _signers(bag)
    assert len(signers) == 3
    with TestClient(create_app(ServeConfig(archive, cache_dir=tmp_path / "c"))) as c:
        page = c.get(f"/statements/{az}").text
    section = _section(page)
    shown = _trusted_by_key(section)
    stranger_fp = next(s["key_fingerprint"] for s in signers if s.get("signer") == "A Stranger")
    assert shown == {s["key_fingerprint"]: s["key_fingerprint"] != stranger_fp for s in signers}
    assert (
        "Countersigned by A Stranger" in _text(section) and "signature.untrusted-signer" in section
    )
    assert "signatures not trusted" in page


def test_a_changed_tag_manifest_makes_every_signer_untrusted(tmp_path: Path) -> None:
    """A problem outside every signer's folder (a tag manifest rewritten after signing)
    is held against each signer: no signer stays "trusted" over a bag that changed."""
    archive = copy_archive(tmp_path / "a")
    az = identifiers()[0]
    bag = archive / "bags" / az
    manifest = bag / "tagmanifest-sha256.txt"
    manifest.write_text(manifest.read_text() + "\n")
    with TestClient(create_app(ServeConfig(archive, cache_dir=tmp_path / "c"))) as c:
        section = _section(c.get(f"/statements/{az}").text)
    shown = _trusted_by_key(section)
    assert len(shown) == 2 and not any(shown.values())
    assert "signature.stale" in section


def test_a_signatures_entry_that_is_no_folder_is_named_and_not_trusted(tmp_path: Path) -> None:
    archive = copy_archive(tmp_path / "a")
    az = identifiers()[0]
    bag = archive / "bags" / az
    shutil.rmtree(bag / "signatures")
    (bag / "signatures").write_text("not a folder")
    with TestClient(create_app(ServeConfig(archive, cache_dir=tmp_path / "c"))) as c:
        page = c.get(f"/statements/{az}").text
    section = _section(page)
    assert "No signer's signature can be read." in section
    assert "signature.malformed" in section and "signature not trusted" in page
