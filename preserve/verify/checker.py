"""The rules of RFC 8493 applied to a :class:`~preserve.verify.tree._Tree`.

Every problem has a stable code, the bag-relative path it concerns and a message, and
the checks go on after the first one: a corrupt file is named as corrupt (and the
Payload-Oxum problem it causes points at it). Fail closed: whatever could not be
checked (unreadable file, unknown algorithm) is an error.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import NamedTuple

from preserve.bagit_format import (
    BAG_INFO_TXT,
    BAGIT_TXT,
    PAYLOAD_DIR,
    DigestAlgorithm,
    ManifestKind,
    ParsedManifest,
    nfc,
    parse_bagit_txt,
    parse_manifest,
    parse_manifest_name,
    safe_relpath,
    version_tuple,
)
from preserve.hashing import NEW
from preserve.verify.checker_base import _CheckerBase


class _Expect(NamedTuple):
    """One manifest's claim about one file (a NamedTuple: built per entry, hot path)."""

    alg: DigestAlgorithm
    digest: str
    manifest: str
    listed_as: str
    #: "", "normalization" or "case": matched a differently spelled name on disk.
    twin: str = ""


def _hash_bytes(data: bytes, exps: list[_Expect]) -> tuple[dict[DigestAlgorithm, str], int]:
    digests: dict[DigestAlgorithm, str] = {}
    for e in exps:
        if e.alg not in digests:
            digests[e.alg] = NEW[e.alg](data).hexdigest()
    return digests, len(data)


class _Checker(_CheckerBase):
    # ------------------------------------------------------------------ run

    def run(self) -> None:
        tree = self.tree
        if tree.over_limit:
            return  # limit.files is reported; checking a partial listing would mislead
        self.check_bagit_txt()
        if PAYLOAD_DIR not in tree.dirs:
            if PAYLOAD_DIR in tree.files or PAYLOAD_DIR in tree.others:
                self.error("payload.no-data-dir", PAYLOAD_DIR, "'data' is not a directory")
            else:
                self.error("payload.no-data-dir", PAYLOAD_DIR, "payload directory missing")
        payload_m, tag_m = self.load_manifests()
        fetch = self.load_fetch()
        expect: dict[str, list[_Expect]] = defaultdict(list)
        payload = {r: s for r, s in tree.files.items() if r.startswith(PAYLOAD_DIR + "/")}
        missing: dict[str, list[str]] = defaultdict(list)
        covered = self.match_payload(payload_m, payload, expect, missing)
        self.match_tags(tag_m, expect)
        fetch_paths = {e.path for e in fetch.entries} if fetch else set()
        for rel, manifests in sorted(missing.items()):
            names = ", ".join(manifests)
            if rel in tree.others:
                continue  # already reported as a symlink / special file
            if rel in fetch_paths:
                self.error(
                    "payload.not-fetched",
                    rel,
                    f"listed in fetch.txt and {names} but not present: the bag is incomplete",
                )
            else:
                self.error("payload.missing", rel, f"listed in {names} but not in the bag")
        unlisted: list[str] = []
        for rel in sorted(payload):
            lacking = [m.name for m in payload_m.values() if rel not in covered[m.name]]
            if lacking:
                unlisted.append(rel)
                self.error("payload.not-in-manifest", rel, f"not listed in {', '.join(lacking)}")
        if BAG_INFO_TXT in tree.files:
            self.read(BAG_INFO_TXT)  # now, so the tag manifests hash it from memory
        mismatched = self.hash_and_compare(expect)
        self.check_fetch(fetch, payload_m)
        self.check_bag_info(payload, sorted(missing), unlisted, mismatched)
        self.check_names(payload)

    # ------------------------------------------------------------------ bagit.txt

    def check_bagit_txt(self) -> None:
        if BAGIT_TXT not in self.tree.files:
            self.error("bagit.missing", BAGIT_TXT, "bagit.txt is missing: not a bag")
            return
        data = self.read(BAGIT_TXT)
        if data is None:
            return
        version, encoding, problems = parse_bagit_txt(data)
        self.problems.extend(problems)
        self.version = version
        if encoding is not None:
            self.encoding = encoding

    # ------------------------------------------------------------------ manifests

    def load_manifests(
        self,
    ) -> tuple[dict[DigestAlgorithm, ParsedManifest], dict[DigestAlgorithm, ParsedManifest]]:
        payload: dict[DigestAlgorithm, ParsedManifest] = {}
        tags: dict[DigestAlgorithm, ParsedManifest] = {}
        for rel in sorted(r for r in self.tree.files if "/" not in r):
            parsed_name = parse_manifest_name(rel)
            if parsed_name is None:
                continue
            kind, alg_name = parsed_name
            alg = DigestAlgorithm.from_name(alg_name)
            if alg is None:
                self.error(
                    "manifest.unsupported-algorithm",
                    rel,
                    f"cannot check digests of algorithm {alg_name!r}",
                )
                continue
            data = self.read(rel)
            if data is None:
                continue
            parsed = parse_manifest(
                data, rel, encoding=self.encoding, version=self.version, limits=self.tree.limits
            )
            self.problems.extend(parsed.problems)
            (payload if kind is ManifestKind.payload else tags)[alg] = parsed
        if not payload:
            self.error("manifest.none", "", "no payload manifest (manifest-<algorithm>.txt)")
        elif all(alg.weak for alg in payload):
            self.warn(
                "manifest.weak-algorithm",
                "",
                "only weak algorithms ("
                + ", ".join(a.value for a in payload)
                + "): accidental damage is caught, deliberate tampering is not",
            )
        self.algorithms = sorted({a.value for a in payload} | {a.value for a in tags})
        for label, group in (("payload", payload), ("tag", tags)):
            if len(group) < 2:
                continue
            sets = {m.name: {e.path for e in m.entries} for m in group.values()}
            if len({frozenset(s) for s in sets.values()}) > 1:
                self.warn(
                    "manifest.file-sets-differ",
                    "",
                    f"{label} manifests {', '.join(sorted(sets))} do not list the same files",
                )
        return payload, tags

    def _entries(self, manifest: ParsedManifest) -> list[tuple[str, str, int]]:
        """(safe path, digest, line) of a manifest; unsafe and duplicate lines reported."""
        seen: dict[str, str] = {}
        out: list[tuple[str, str, int]] = []
        strict = version_tuple(self.version) >= (1, 0)
        limits = self.tree.limits
        for entry in manifest.entries:
            over = limits.path_problem(entry.path)
            if over is not None:
                where = f"{manifest.name} line {entry.line}"
                self.error(over.code, over.path, f"{where}: {over.message}")
                continue
            safe = safe_relpath(entry.path)
            if safe is None:
                self.error(
                    "path.unsafe",
                    entry.path,
                    f"{manifest.name} line {entry.line}: path could point outside the bag",
                )
                continue
            if safe in seen:
                where = f"{manifest.name} line {entry.line}"
                if seen[safe] != entry.digest:
                    self.error(
                        "manifest.conflicting-entry", safe, f"{where}: listed again, other digest"
                    )
                elif strict:
                    self.error("manifest.duplicate-entry", safe, f"{where}: listed twice")
                else:
                    self.warn("manifest.duplicate-entry", safe, f"{where}: listed twice")
                continue
            seen[safe] = entry.digest
            out.append((safe, entry.digest, entry.line))
        return out

    def match_payload(
        self,
        manifests: dict[DigestAlgorithm, ParsedManifest],
        payload: dict[str, int],
        expect: dict[str, list[_Expect]],
        missing: dict[str, list[str]],
    ) -> dict[str, set[str]]:
        by_nfc, by_fold = self.name_index(payload)
        covered: dict[str, set[str]] = defaultdict(set)
        for alg, manifest in manifests.items():
            for path, digest, line in self._entries(manifest):
                if not path.startswith(PAYLOAD_DIR + "/"):
                    self.error(
                        "manifest.outside-payload",
                        path,
                        f"{manifest.name} line {line}: a payload manifest lists a path "
                        "outside data/",
                    )
                    continue
                if path in self.tree.dirs:
                    self.error(
                        "manifest.lists-directory",
                        path,
                        f"{manifest.name} line {line}: a directory, not a file",
                    )
                    continue
                if path in payload:
                    target: str | None = path
                    twin = ""
                else:
                    target, twin = self._find(path, payload, by_nfc, by_fold)
                if target is None:
                    missing[path].append(manifest.name)
                    continue
                covered[manifest.name].add(target)
                expect[target].append(_Expect(alg, digest, manifest.name, path, twin))
        return covered

    @staticmethod
    def _find(
        path: str,
        payload: dict[str, int],
        by_nfc: dict[str, list[str]],
        by_fold: dict[str, list[str]],
    ) -> tuple[str | None, str]:
        if path in payload:
            return path, ""
        stripped = path.lstrip(" \t")
        if stripped != path and stripped in payload:
            # "digest   path": RFC 8493 allows any run of whitespace as the separator.
            return stripped, ""
        same = by_nfc.get(nfc(path), [])
        if len(same) == 1:
            return same[0], "normalization"
        folded = by_fold.get(nfc(path).casefold(), [])
        if len(folded) == 1:
            return folded[0], "case"
        return None, ""

    def match_tags(
        self, manifests: dict[DigestAlgorithm, ParsedManifest], expect: dict[str, list[_Expect]]
    ) -> None:
        for alg, manifest in manifests.items():
            for path, digest, line in self._entries(manifest):
                if path.startswith(PAYLOAD_DIR + "/"):
                    where = f"{manifest.name} line {line}"
                    self.error("tagmanifest.lists-payload", path, f"{where}: a payload file")
                    continue
                named = parse_manifest_name(path)
                if named is not None and named[0] is ManifestKind.tag:
                    where = f"{manifest.name} line {line}"
                    self.error("tagmanifest.lists-tagmanifest", path, f"{where}: a tag manifest")
                    continue
                if path in self.tree.dirs:
                    where = f"{manifest.name} line {line}"
                    self.error("manifest.lists-directory", path, f"{where}: a directory")
                    continue
                if path not in self.tree.files:
                    if path not in self.tree.others:
                        self.error(
                            "tag.missing", path, f"listed in {manifest.name}, not in the bag"
                        )
                    continue
                expect[path].append(_Expect(alg, digest, manifest.name, path))

    # ------------------------------------------------------------------ digests

    def hash_and_compare(self, expect: dict[str, list[_Expect]]) -> list[str]:
        wanted = {rel: {e.alg for e in exps} for rel, exps in expect.items()}
        in_memory = [(rel, self.cache[rel]) for rel in wanted if rel in self.cache]
        for rel, _ in in_memory:
            del wanted[rel]
        bad: list[str] = []
        results = itertools.chain(
            ((rel, *_hash_bytes(data, expect[rel])) for rel, data in in_memory),
            self.tree.hash_files(wanted),
        )
        for rel, digests, size in results:
            if isinstance(digests, str):
                self.error("file.unreadable", rel, digests)
                bad.append(rel)
                continue
            self.files_checked += 1
            self.bytes_checked += size
            listed = self.tree.files.get(rel, -1)
            if listed >= 0 and listed != size:
                self.error("file.changed", rel, f"size changed while checking ({listed} → {size})")
            file_bad = False
            for e in expect[rel]:
                found = digests[e.alg]
                if found != e.digest:
                    file_bad = True
                    self.error(
                        "manifest.digest-mismatch",
                        rel,
                        f"{e.manifest}: expected {e.alg.value} {e.digest}, file has {found}"
                        + (f" (listed as {e.listed_as!r})" if e.listed_as != rel else ""),
                    )
                elif e.twin:
                    code = {"normalization": "path.normalization-twin"}.get(
                        e.twin, "path.case-collision"
                    )
                    self.warn(
                        code,
                        rel,
                        f"{e.manifest} lists it as {e.listed_as!r}, which differs only in "
                        f"{'Unicode normalization' if e.twin == 'normalization' else 'case'}",
                    )
            if file_bad:
                bad.append(rel)
        return bad
