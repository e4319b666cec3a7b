"""RFC 8493 syntax: what the writer emits, the reader takes back, and nothing escapes."""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from preserve.bagit_format import (
    FOLD_WIDTH,
    DigestAlgorithm,
    ManifestKind,
    Severity,
    decode_path,
    encode_path,
    format_bag_info,
    format_bagit_txt,
    format_fetch,
    format_manifest,
    manifest_name,
    parse_bag_info,
    parse_bagit_txt,
    parse_fetch,
    parse_manifest,
    parse_manifest_name,
    resolve_inside,
    safe_relpath,
    tagmanifest_name,
)


def codes(problems: tuple[object, ...] | list[object]) -> set[str]:
    return {p.code for p in problems}  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- algorithms


def test_algorithms_match_hashlib_and_names() -> None:
    for alg in DigestAlgorithm:
        h = alg.new()
        h.update(b"abc")
        assert h.hexdigest() == hashlib.new(alg.value, b"abc").hexdigest()
        assert len(h.hexdigest()) == alg.hex_length
        assert parse_manifest_name(manifest_name(alg)) == (ManifestKind.payload, alg.value)
        assert parse_manifest_name(tagmanifest_name(alg)) == (ManifestKind.tag, alg.value)
    assert {a for a in DigestAlgorithm if a.weak} == {DigestAlgorithm.md5, DigestAlgorithm.sha1}
    assert DigestAlgorithm.from_name("whirlpool") is None
    assert parse_manifest_name("manifest-whirlpool.txt") == (ManifestKind.payload, "whirlpool")
    assert parse_manifest_name("data/manifest-md5.txt") is None
    assert parse_manifest_name("manifest.txt") is None


# --------------------------------------------------------------------------- paths


def test_percent_encoding() -> None:
    assert encode_path("a%b\rc\nd") == "a%25b%0Dc%0Ad"
    assert decode_path("a%25b%0Dc%0Ad") == "a%b\rc\nd"
    assert decode_path("%0d%0a") == "\r\n"  # any case when reading
    assert decode_path("%250A") == "%0A"  # one pass: no double decoding
    assert decode_path("%7Edir/%test") == "%7Edir/%test"  # other escapes are literal
    assert decode_path("100%25", percent=False) == "100%25"  # before 1.0 only CR, LF
    assert decode_path("a%0Ab", percent=False) == "a\nb"


UNSAFE = [
    "",
    "/etc/passwd",
    "../x",
    "data/../../x",
    "data/./x",
    "../bag-evil/data/x",
    "data//x",
    "data/x/",
    "~/x",
    "~root/x",
    "C:\\Windows\\x",
    "C:/Windows/x",
    "data/c:evil",
    "\\\\server\\share\\x",
    "\\\\?\\UNC\\server\\x",
    "data\\x",
    "%HomeDrive%/x",
    "data/%ProgramFiles(x86)%/x",
    "data/nul\x00byte",
    "data/esc\x1b[31m",
    "data/tab\tname",
    ".",
    "..",
]
SAFE = [
    "data/x",
    "data/dir1/~test3.txt",
    "data/%7Edir2/test4.txt",
    "data/%test2.txt",
    "data/ spaced name ",
    "data/N\u00fa\u00f1ez",
    "data/line\nbreak",
    "data/12:30.txt",
    "bag-info.txt",
    "data/..hidden",
]


@pytest.mark.parametrize("path", UNSAFE)
def test_unsafe_paths_refused(path: str, tmp_path: Path) -> None:
    assert safe_relpath(path) is None
    assert resolve_inside(tmp_path, path) is None


@pytest.mark.parametrize("path", SAFE)
def test_safe_paths_accepted(path: str, tmp_path: Path) -> None:
    assert safe_relpath(path) == path
    assert resolve_inside(tmp_path, path) == tmp_path.joinpath(*path.split("/"))


def test_dot_slash_is_dropped() -> None:
    assert safe_relpath("./data/x") == "data/x"


def test_resolve_inside_refuses_symlinked_component(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    bag = tmp_path / "bag"
    bag.mkdir()
    (bag / "data").symlink_to(outside, target_is_directory=True)
    assert resolve_inside(bag, "data/x") is None
    assert resolve_inside(bag, "bagit.txt") == bag / "bagit.txt"


# --------------------------------------------------------------------------- bagit.txt


def test_bagit_txt_written_and_read() -> None:
    data = format_bagit_txt()
    assert data == b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    assert parse_bagit_txt(data) == ("1.0", "UTF-8", ())


@pytest.mark.parametrize(
    "data",
    [
        b"BagIt-Version: 0.97\r\nTag-File-Character-Encoding: UTF-8\r\n",
        b"BagIt-Version: 0.97\rTag-File-Character-Encoding: UTF-8\r",
        b"BagIt-Version: 0.97\r\nTag-File-Character-Encoding: UTF-8",  # no final newline
    ],
)
def test_bagit_txt_line_endings(data: bytes) -> None:
    version, encoding, problems = parse_bagit_txt(data)
    assert (version, encoding, problems) == ("0.97", "UTF-8", ())


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\xef\xbb\xbfBagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n", "bagit.bom"),
        (b"BagIt-Version : 1.0\nTag-File-Character-Encoding: UTF-8\n", "bagit.malformed"),
        (b"BagIt-Version: 1.0 \nTag-File-Character-Encoding: UTF-8\n", "bagit.malformed"),
        (b"BagIt-Version: 1.0\n", "bagit.malformed"),
        (b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\nExtra: x\n", "bagit.malformed"),
        (b"Tag-File-Character-Encoding: UTF-8\nBagIt-Version: 1.0\n", "bagit.malformed"),
        (b"BagIt-Version: .97\nTag-File-Character-Encoding: UTF-8\n", "bagit.version"),
        (b"BagIt-Version: 9.9\nTag-File-Character-Encoding: UTF-8\n", "bagit.version"),
        (b"BagIt-Version: 1.0\nTag-File-Character-Encoding: KLINGON\n", "encoding.unknown"),
        (b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\xff\n", "bagit.encoding"),
    ],
)
def test_bagit_txt_errors(data: bytes, code: str) -> None:
    _, _, problems = parse_bagit_txt(data)
    assert code in codes(problems)
    assert all(p.severity is Severity.error for p in problems if p.code == code)


# --------------------------------------------------------------------------- manifests


def test_manifest_format() -> None:
    data = format_manifest([("BB" * 32, "data/b"), ("aa" * 32, "data/a")])
    assert data == f"{'aa' * 32}  data/a\n{'bb' * 32}  data/b\n".encode()
    with pytest.raises(ValueError):
        format_manifest([("zz", "data/a")])
    with pytest.raises(ValueError):
        format_manifest([("aa", "data/a"), ("bb", "data/a")])


def test_manifest_reading_variants() -> None:
    d = "a" * 32
    data = (
        f"{d} data/one\r\n{d}  data/two\r{d}\tdata/three\n{d} *data/four\n"
        f"{d}  ./data/five\n\nnot-a-digest data/x\n{'a' * 31}  data/short\n"
    ).encode()
    parsed = parse_manifest(data, "manifest-md5.txt")
    assert [e.path for e in parsed.entries] == [
        "data/one",
        "data/two",
        "data/three",
        "data/four",
        "./data/five",
    ]
    assert [e.line for e in parsed.entries] == [1, 2, 3, 4, 5]
    assert {(p.code, p.severity) for p in parsed.problems} == {
        ("manifest.md5sum-star", Severity.warning),
        ("path.dot-slash", Severity.warning),
        ("manifest.blank-line", Severity.warning),
        ("manifest.malformed", Severity.error),
    }
    assert sum(p.code == "manifest.malformed" for p in parsed.problems) == 2


def test_manifest_in_utf16() -> None:
    text = f"{'a' * 32}  data/\u00e9\n"
    parsed = parse_manifest(text.encode("utf-16"), "manifest-md5.txt", encoding="UTF-16")
    assert [e.path for e in parsed.entries] == ["data/\u00e9"]
    assert parsed.problems == ()


def test_manifest_bad_encoding_reported() -> None:
    parsed = parse_manifest(b"aa  data/\xff\n", "manifest-md5.txt")
    assert "encoding.invalid" in codes(parsed.problems)


# Any file name a file system could hold, plus the awkward ones on purpose.
names = st.one_of(
    st.text(min_size=1, max_size=40),
    st.sampled_from([" lead", "trail ", " both ", "*star", "100%", "%25", "%0A", "a\rb", "a\nb"]),
    st.text(min_size=1, max_size=10).map(lambda s: unicodedata.normalize("NFD", s + "\u00e9")),
)


@settings(max_examples=300)
@given(st.lists(names, min_size=1, max_size=8, unique=True))
def test_manifest_round_trip(files: list[str]) -> None:
    # Every manifest path starts with data/ (or a tag file's name), never with a blank.
    files = [f"data/{f}" for f in files]
    entries = [(hashlib.sha256(f.encode("utf-8", "surrogatepass")).hexdigest(), f) for f in files]
    data = format_manifest(entries)
    assert data.count(b"\n") == len(files) and b"\r" not in data
    parsed = parse_manifest(data, "manifest-sha256.txt")
    assert not [p for p in parsed.problems if p.severity is Severity.error]
    assert sorted((e.digest, e.path) for e in parsed.entries) == sorted(entries)


def test_manifest_separator_is_one_or_more_blanks() -> None:
    """Regression (D27): RFC 8493 §2.1.3 allows one or more spaces or tabs between the
    digest and the path, as bagit-python reads them; preserve took only one or two."""
    digest = hashlib.sha256(b"x").hexdigest()
    for blanks in (" ", "  ", "   ", "\t", " \t  ", "\t\t"):
        data = f"{digest}{blanks}data/a b.txt\n".encode()
        parsed = parse_manifest(data, "manifest-sha256.txt")
        assert not parsed.problems, (blanks, parsed.problems)
        assert [(e.digest, e.path) for e in parsed.entries] == [(digest, "data/a b.txt")]


@pytest.mark.parametrize("path", [" lead", "\tlead", "*star"])
def test_manifest_writer_refuses_a_path_no_reader_could_split(path: str) -> None:
    with pytest.raises(ValueError, match="starts with a blank"):
        format_manifest([(hashlib.sha256(b"x").hexdigest(), path)])


@given(st.binary(max_size=300))
def test_readers_never_raise(data: bytes) -> None:
    parse_manifest(data, "manifest-sha256.txt")
    parse_manifest(data, "manifest-sha256.txt", encoding="UTF-16", version="0.97")
    parse_bag_info(data)
    parse_bagit_txt(data)
    parse_fetch(data)


# --------------------------------------------------------------------------- bag-info


def test_bag_info_not_folded_by_default() -> None:
    long = "word " * 40 + "end"
    assert format_bag_info([("Note", long)]) == f"Note: {long}\n".encode()


def test_bag_info_round_trip_with_folding() -> None:
    long = "word " * 40 + "end  with   runs"
    fields = [("Source-Organization", "Org"), ("Note", long), ("Note", "second")]
    data = format_bag_info(fields, fold_width=FOLD_WIDTH)
    lines = data.decode().split("\n")[:-1]
    assert all(len(line) <= FOLD_WIDTH for line in lines)
    assert sum(line.startswith(" ") for line in lines) >= 2  # continuation lines
    assert not any(line.endswith(" ") for line in lines)
    parsed = parse_bag_info(data)
    assert parsed.fields == tuple(fields)
    assert parsed.get_all("note") == [long, "second"]
    assert parsed.problems == ()


def test_bag_info_folding_read_like_bagit_python(tmp_path: Path) -> None:
    """bagit-python, the reference reader, gets our values back (one fold it handles)."""
    import bagit

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a").write_bytes(b"a")
    bagit.make_bag(str(tmp_path), checksums=["sha256"])
    value = "A statement title that is long enough to need exactly one fold, at about here"
    fields = [("Title", value), ("Short", "x  y")]
    (tmp_path / "bag-info.txt").write_bytes(format_bag_info(fields, fold_width=60))
    assert b"\n " in (tmp_path / "bag-info.txt").read_bytes()
    info = bagit.Bag(str(tmp_path)).info
    assert (info["Title"], info["Short"]) == (value, "x  y")
    assert parse_bag_info((tmp_path / "bag-info.txt").read_bytes()).fields == tuple(fields)


@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True),
            st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=200).map(
                str.strip
            ),
        ),
        max_size=6,
    ),
    st.sampled_from([None, 20, FOLD_WIDTH]),
)
def test_bag_info_round_trip_any_value(fields: list[tuple[str, str]], width: int | None) -> None:
    parsed = parse_bag_info(format_bag_info(fields, fold_width=width))
    assert parsed.fields == tuple(fields)


@pytest.mark.parametrize("value", ["a\nInjected: yes", "a\rb", "a\x00b", " padded", "x "])
def test_bag_info_refuses_injection(value: str) -> None:
    with pytest.raises(ValueError):
        format_bag_info([("Label", value)])


@pytest.mark.parametrize("label", ["", "Has: colon", " lead", "new\nline"])
def test_bag_info_refuses_bad_labels(label: str) -> None:
    with pytest.raises(ValueError):
        format_bag_info([(label, "v")])


def test_bag_info_reading() -> None:
    data = b"A: 1\r\nA :  2\nB: long\n  continued\n\tand more\nno colon here\n  \n"
    parsed = parse_bag_info(data)
    assert parsed.fields == (("A", "1"), ("A", "2"), ("B", "long  continued\tand more"))
    assert codes(parsed.problems) == {"baginfo.malformed", "baginfo.blank-line"}


def test_bag_info_latin1() -> None:
    parsed = parse_bag_info("Contact-Name: Jos\u00e9\n".encode("latin-1"), encoding="ISO-8859-1")
    assert parsed.fields == (("Contact-Name", "Jos\u00e9"),)


# --------------------------------------------------------------------------- fetch


def test_fetch_round_trip_and_errors() -> None:
    data = format_fetch(
        [("https://example.org/a%20b", 12, "data/a b"), ("file:///x", None, "data/%")]
    )
    parsed = parse_fetch(data)
    assert [(e.url, e.length, e.path) for e in parsed.entries] == [
        ("https://example.org/a%20b", 12, "data/a b"),
        ("file:///x", None, "data/%"),
    ]
    bad = parse_fetch(b"example.org 1 data/a\nhttps://x.org/a ten data/b\nonly-two fields\n")
    assert codes(bad.problems) == {"fetch.bad-url", "fetch.malformed"}
    with pytest.raises(ValueError):
        format_fetch([("not a url", 1, "data/a")])
