"""``preserve verify BAG...`` without click (preserve.__main__) and through click
(preserve.cli.checking) run one function and end the same way, byte for byte."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import bagit
import pytest

from preserve.__main__ import plain_verify

#: The click route for the same words: the group as ``main`` runs it when it does not
#: take the plain route (``sys.argv`` after ``-c`` holds the same arguments).
_THROUGH_CLICK = (
    "import sys\n"
    "from preserve import process\n"
    "from preserve.cli import cli\n"
    "process.WHOLE_PROCESS = True\n"
    "cli(prog_name='preserve')\n"
)

#: The seconds a bag took are the one part of the report that differs between runs.
_SECONDS = re.compile(rb", [0-9]+\.[0-9]{2} s\)\n")


def _run(args: list[str], *, click: bool, cwd: Path) -> tuple[int, bytes, bytes]:
    start = ["-c", _THROUGH_CLICK] if click else ["-m", "preserve"]
    done = subprocess.run(
        [sys.executable, *start, *args], capture_output=True, cwd=cwd, timeout=120
    )
    return done.returncode, _SECONDS.sub(b", N s)\n", done.stdout), done.stderr


def _bag(root: Path, name: str) -> Path:
    bag = root / name
    (bag / "docs").mkdir(parents=True)
    (bag / "notes.txt").write_bytes(b"The reading room opens at nine.\n")
    (bag / "docs" / "hours.txt").write_bytes(b"Saturday: 10-14\n")
    bagit.make_bag(str(bag), {"Source-Organization": "Town Library"}, checksums=["sha256"])
    return bag


@pytest.fixture(scope="module")
def bags(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bags")
    valid = _bag(root, "valid")
    invalid = _bag(root, "invalid")
    (invalid / "data" / "notes.txt").write_bytes(b"The reading room opens at ten.\n")
    fifo = _bag(root, "fifo")  # a payload file swapped for a FIFO: never opened
    (fifo / "data" / "notes.txt").unlink()
    os.mkfifo(fifo / "data" / "notes.txt")
    link = root / "link"
    link.symlink_to(valid)
    not_a_bag = root / "notes.bin"
    not_a_bag.write_bytes(b"neither a directory nor a tar or zip\n")
    odd = _bag(root, "name with spaces, \u00e9 and \x1b[31m")
    undecodable = _bag(root, os.fsdecode(b"bag-\xff"))  # not UTF-8: printed as given
    archive = root / "archive"  # a bag in an archive whose settings cannot be used
    _bag(archive / "bags", "x")
    (archive / "ledger.sqlite").write_bytes(b"")
    (archive / "settings.toml").write_text("[limits]\nmax_files = 0\n", encoding="utf-8")
    return {
        "valid": valid,
        "invalid": invalid,
        "fifo": fifo,
        "link": link,
        "not-a-bag": not_a_bag,
        "missing": root / "missing",
        "odd": odd,
        "undecodable": undecodable,
        "bad-settings": archive / "bags" / "x",
    }


@pytest.mark.parametrize(
    ("names", "status"),
    [
        (["valid"], 0),
        (["invalid"], 1),
        (["fifo"], 1),
        (["link"], 2),
        (["not-a-bag"], 2),
        (["missing"], 2),
        (["odd"], 0),
        (["undecodable"], 0),
        (["valid", "invalid", "valid"], 1),
        (["valid", "missing", "invalid", "fifo", "link", "not-a-bag", "odd", "undecodable"], 2),
        (["bad-settings"], 2),
    ],
)
def test_the_plain_route_prints_and_ends_as_click_does(
    bags: dict[str, Path], names: list[str], status: int
) -> None:
    args = ["verify", *(str(bags[name]) for name in names)]
    assert plain_verify(args)
    plain = _run(args, click=False, cwd=bags["valid"].parent)
    assert plain == _run(args, click=True, cwd=bags["valid"].parent)
    assert plain[0] == status, plain
    if names == ["bad-settings"]:
        assert plain[2].startswith(b"preserve: error: ") and b"max_files" in plain[2]
    else:
        assert plain[2] == b""
        assert plain[1].count(b"VALID ") == len(names)


def test_relative_bag_paths_are_printed_as_given(bags: dict[str, Path]) -> None:
    args = ["verify", "valid", "invalid"]
    plain = _run(args, click=False, cwd=bags["valid"].parent)
    assert plain == _run(args, click=True, cwd=bags["valid"].parent)
    assert plain[1].startswith(b"VALID valid (") and b"\nINVALID invalid (" in plain[1]


def test_a_closed_pipe_ends_both_routes_alike(bags: dict[str, Path]) -> None:
    """click's main turns EPIPE into a quiet exit 1; the plain route ends through it."""
    args = ["verify", *(str(bags["valid"]) for _ in range(3))]
    ends = []
    for click in (False, True):
        start = ["-c", _THROUGH_CLICK] if click else ["-m", "preserve"]
        proc = subprocess.Popen(
            [sys.executable, *start, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # long before the child has started up and written
        ends.append((proc.wait(timeout=120), proc.stderr.read()))
        proc.stderr.close()
    assert ends[0] == ends[1] == (1, b"")


def test_the_plain_route_does_not_import_click(bags: dict[str, Path]) -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "preserve", "verify", str(bags["valid"])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "preserve.verify_command" in imported
    assert not {m for m in imported if m == "click" or m.startswith("preserve.cli")}


@pytest.mark.parametrize(
    "args",
    [
        ["verify"],
        ["verify", "--help"],
        ["verify", "-h"],
        ["verify", "bag", "--json"],
        ["verify", "--workers", "1", "bag"],
        ["verify", "--", "bag"],
        ["verify", "bag", "-x"],
        ["verify", "-"],
        ["-v", "verify", "bag"],
        ["--version"],
        ["audit", "archive"],
        [],
    ],
)
def test_anything_but_bag_paths_goes_to_click(args: list[str]) -> None:
    assert not plain_verify(args)


def test_shell_completion_goes_to_click(monkeypatch: pytest.MonkeyPatch) -> None:
    assert plain_verify(["verify", "bag"])
    monkeypatch.setenv("_PRESERVE_COMPLETE", "bash_complete")
    assert not plain_verify(["verify", "bag"])


@pytest.mark.parametrize(
    ("args", "expected", "status"),
    [
        (["verify", "--help"], b"Usage: preserve verify [OPTIONS] BAGS...", 0),
        (["verify", "-x", "bag"], b"No such option '-x'", 2),
        (["verify"], b"Missing argument 'BAGS...'", 2),
    ],
)
def test_options_and_usage_errors_are_clicks(
    tmp_path: Path, args: list[str], expected: bytes, status: int
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "preserve", *args], capture_output=True, cwd=tmp_path, timeout=120
    )
    assert done.returncode == status
    assert expected in done.stdout + done.stderr


def test_after_a_double_dash_a_dashed_name_is_a_bag(tmp_path: Path) -> None:
    """``--`` goes to click, which takes what follows for bag paths."""
    bag = _bag(tmp_path, "-odd")
    done = subprocess.run(
        [sys.executable, "-m", "preserve", "verify", "--", "-odd"],
        capture_output=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"VALID -odd (") and bag.is_dir()


@pytest.mark.parametrize(
    ("raised", "stderr", "status"),
    [
        ("UnreadableInput('cannot open', 'x.txt')", b"preserve: error: x.txt: cannot open\n", 2),
        ("KeyboardInterrupt()", b"preserve: interrupted\n", 2),
    ],
)
def test_an_error_outside_click_ends_as_a_commands_error(
    raised: str, stderr: bytes, status: int
) -> None:
    code = f"""
        from preserve.cli.options import end_as_command
        from preserve.errors import UnreadableInput
        end_as_command({raised})
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, timeout=120
    )
    assert (done.returncode, done.stdout, done.stderr) == (status, b"", stderr)
