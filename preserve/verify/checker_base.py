"""The checker's state, its reading of tag files, and the rules applied once the
manifests are matched: fetch.txt, bag-info.txt (Payload-Oxum) and payload names.

:class:`~preserve.verify.checker._Checker` builds on it with the run itself,
bagit.txt, the manifests and the digests; split so neither module grows too long.
"""

from __future__ import annotations

from collections import defaultdict

from preserve.bagit_format import (
    BAG_INFO_TXT,
    FETCH_TXT,
    PAYLOAD_DIR,
    DigestAlgorithm,
    ParsedFetch,
    ParsedManifest,
    Problem,
    Severity,
    is_system_file,
    nfc,
    parse_bag_info,
    parse_fetch,
    parse_oxum,
    safe_relpath,
)
from preserve.verify.result import _show
from preserve.verify.tree import _TooLarge, _Tree, archive_errors


class _CheckerBase:
    def __init__(self, tree: _Tree) -> None:
        self.tree = tree
        self.problems: list[Problem] = list(tree.problems)
        self.version: str | None = None
        self.encoding = "utf-8"
        self.algorithms: list[str] = []
        self.files_checked = 0
        self.bytes_checked = 0
        #: Tag files read whole so far (the tree's cache: each is read once).
        self.cache = tree.cache
        self._index: tuple[dict[str, list[str]], dict[str, list[str]]] | None = None

    def error(self, code: str, path: str, message: str) -> None:
        self.problems.append(Problem(code, path, message, Severity.error))

    def warn(self, code: str, path: str, message: str) -> None:
        self.problems.append(Problem(code, path, message, Severity.warning))

    def read(self, rel: str) -> bytes | None:
        """A tag file's bytes, kept: tag manifests then hash them without a second read.

        Never more than the file's limit (:meth:`Limits.file_limit`): a larger file
        is a ``limit.*`` error and is not read at all.
        """
        if rel in self.cache:
            return self.cache[rel]
        max_bytes, code = self.tree.limits.file_limit(rel)
        try:
            return self.tree.read(rel, max_bytes)
        except _TooLarge as exc:
            size = f"{exc.size:,} bytes" if exc.size is not None else "larger than that"
            self.error(code, rel, f"{rel} is {size}; the limit is {max_bytes:,} bytes (not read)")
            return None
        except archive_errors() as exc:
            self.error("file.unreadable", rel, f"cannot read: {exc}")
            return None

    # ------------------------------------------------------------------ fetch.txt

    def load_fetch(self) -> ParsedFetch | None:
        if FETCH_TXT not in self.tree.files:
            return None
        data = self.read(FETCH_TXT)
        if data is None:
            return None
        parsed = parse_fetch(
            data, encoding=self.encoding, version=self.version, limits=self.tree.limits
        )
        self.problems.extend(parsed.problems)
        return parsed

    def check_fetch(
        self, fetch: ParsedFetch | None, manifests: dict[DigestAlgorithm, ParsedManifest]
    ) -> None:
        if fetch is None:
            return
        # Each manifest's paths as a set, built once: not once per fetch.txt line (a
        # fetch.txt and manifests of n lines each cost n² steps: minutes at 100,000).
        listed = {m.name: {e.path for e in m.entries} for m in manifests.values()}
        for entry in fetch.entries:
            where = f"fetch.txt line {entry.line}"
            safe = safe_relpath(entry.path)
            if safe is None:
                self.error("path.unsafe", entry.path, f"{where}: path could point outside the bag")
                continue
            if not safe.startswith(PAYLOAD_DIR + "/"):
                self.error("fetch.outside-payload", safe, f"{where}: not a payload path")
                continue
            lacking = [name for name, paths in listed.items() if safe not in paths]
            if lacking:
                self.error("fetch.not-in-manifest", safe, f"{where}: not in {', '.join(lacking)}")
            size = self.tree.files.get(safe)
            if size is not None and entry.length is not None and size != entry.length:
                self.error(
                    "fetch.length-mismatch",
                    safe,
                    f"{where} says {entry.length} bytes, the file has {size}",
                )

    # ------------------------------------------------------------------ bag-info.txt

    def check_bag_info(
        self,
        payload: dict[str, int],
        missing: list[str],
        unlisted: list[str],
        mismatched: list[str],
    ) -> None:
        if BAG_INFO_TXT not in self.tree.files:
            return
        data = self.read(BAG_INFO_TXT)
        if data is None:
            return
        info = parse_bag_info(data, encoding=self.encoding)
        self.problems.extend(info.problems)
        oxums = info.get_all("Payload-Oxum")
        if not oxums:
            return
        if len(set(oxums)) > 1:
            self.error("oxum.repeated", BAG_INFO_TXT, f"Payload-Oxum given {len(oxums)} times")
            return
        parsed = parse_oxum(oxums[0])
        if parsed is None:
            self.error("oxum.malformed", BAG_INFO_TXT, f"Payload-Oxum {oxums[0]!r} is not N.N")
            return
        octets, count = parsed
        if self.tree.incomplete:
            return  # paths over a limit were not listed (reported): the sums cannot agree
        found_octets, found_count = sum(payload.values()), len(payload)
        if (octets, count) == (found_octets, found_count):
            return
        hints = []
        for label, paths in (
            ("missing", missing),
            ("not in manifests", unlisted),
            ("content differs", mismatched),
        ):
            if paths:
                shown = ", ".join(paths[:5]) + (" ..." if len(paths) > 5 else "")
                hints.append(f"{label}: {shown}")
        self.error(
            "oxum.mismatch",
            BAG_INFO_TXT,
            f"Payload-Oxum says {octets} bytes in {count} files; the payload has "
            f"{found_octets} bytes in {found_count} files"
            + (f" ({'; '.join(hints)})" if hints else ""),
        )

    # ------------------------------------------------------------------ names

    def name_index(
        self, payload: dict[str, int]
    ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """Payload names by NFC form and by case-folded NFC form (computed once)."""
        if self._index is None:
            by_nfc: dict[str, list[str]] = defaultdict(list)
            by_fold: dict[str, list[str]] = defaultdict(list)
            for rel in sorted(payload):
                key = nfc(rel)
                by_nfc[key].append(rel)
                by_fold[key.casefold()].append(rel)
            self._index = (by_nfc, by_fold)
        return self._index

    def check_names(self, payload: dict[str, int]) -> None:
        by_nfc, by_fold = self.name_index(payload)
        for rel in sorted(payload):
            if is_system_file(rel):
                self.warn("payload.system-file", _show(rel), "operating-system file in payload")
        for group in by_nfc.values():
            if len(group) > 1:
                self.warn(
                    "path.normalization-twin",
                    _show(group[0]),
                    "same name in another Unicode normalization: "
                    + ", ".join(map(repr, group[1:])),
                )
        for group in by_fold.values():
            if len(group) > 1 and len({nfc(g) for g in group}) > 1:
                self.warn(
                    "path.case-collision",
                    _show(group[0]),
                    "names differ only in case (collide on Windows and macOS): "
                    + ", ".join(map(repr, group[1:])),
                )
