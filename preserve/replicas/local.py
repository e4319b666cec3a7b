"""A replica folder on this machine (or mounted); the primary archive is one too."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from preserve.bagit_format import safe_relpath
from preserve.fsio import BAGS_DIR, STAGING_DIR, atomic_write, fsync_dir, read_regular
from preserve.replicas.base import (
    LANDED_WRONG,
    MARKER,
    MAX_MANIFEST_BYTES,
    NO_SPACE,
    QUARANTINE_DIR,
    Inventory,
    ReplicaError,
    Target,
    _stamp,
    check_marker,
    marker_bytes,
)
from preserve.replicas.inventory import compare, local_inventory


class LocalTarget(Target):
    """A folder on this machine (or mounted). The primary archive is one too."""

    def __init__(self, name: str, root: Path, *, primary: bool = False) -> None:
        self.name = name
        self.root = root.absolute()
        self.url = str(self.root)
        self.primary = primary

    def prepare(self, *, create: bool, archive_id: str | None = None) -> None:
        if self.primary:
            return
        root = self.root
        if root.is_symlink() or (root.exists() and not root.is_dir()):
            raise ReplicaError("not a folder: not a preserve replica", root)
        marker = root / MARKER
        found = read_regular(marker, 1024) if root.is_dir() else None
        if check_marker(found, archive_id, root):
            for sub in (BAGS_DIR, STAGING_DIR, QUARANTINE_DIR):
                if (root / sub).is_symlink() or (
                    os.path.lexists(root / sub) and not (root / sub).is_dir()
                ):
                    # bags/ linked elsewhere (to the primary's, say) would count one copy twice
                    # and move another folder's bags aside: never written through.
                    raise ReplicaError(
                        f"{sub}/ is a link or not a folder: nothing was written", root
                    )
            try:
                for sub in (BAGS_DIR, STAGING_DIR, QUARANTINE_DIR):
                    (root / sub).mkdir(exist_ok=True)
                if archive_id and found != marker_bytes(archive_id):
                    atomic_write(marker, marker_bytes(archive_id))
            except OSError as exc:
                raise ReplicaError(f"cannot write: {exc.strerror or exc}", root) from None
            return
        if root.is_dir() and any(root.iterdir()):
            raise ReplicaError(
                f"not a preserve replica (no {MARKER}) and not empty: nothing was written", root
            )
        if not create:
            raise ReplicaError(f"not a preserve replica (no {MARKER})", root)
        if not root.parent.is_dir():
            raise ReplicaError("unreachable: its parent folder does not exist", root)
        try:
            root.mkdir(exist_ok=True)
            for sub in (BAGS_DIR, STAGING_DIR, QUARANTINE_DIR):
                (root / sub).mkdir(exist_ok=True)
            atomic_write(marker, marker_bytes(archive_id))
        except OSError as exc:
            raise ReplicaError(f"cannot make a replica here: {exc.strerror or exc}", root) from None

    def bag_names(self) -> list[str]:
        try:
            return sorted(os.listdir(self.root / BAGS_DIR))
        except OSError:
            return []

    def bag_dir(self, identifier: str) -> Path:
        return self.root / BAGS_DIR / identifier

    def inventories(self, identifiers: Sequence[str]) -> dict[str, Inventory | None]:
        return {i: local_inventory(self.bag_dir(i)) for i in identifiers}

    def read(self, identifier: str, rel: str) -> bytes | None:
        bag_dir = self.bag_dir(identifier)
        if bag_dir.is_symlink() or safe_relpath(rel) is None or "/" in rel:
            return None  # only a top-level tag file, never through a link
        return read_regular(bag_dir / rel, MAX_MANIFEST_BYTES)

    def free_bytes(self) -> int | None:
        try:
            return shutil.disk_usage(self.root).free
        except OSError:
            return None

    def put(self, bags: Mapping[str, Path], expected: Mapping[str, Inventory]) -> dict[str, str]:
        out: dict[str, str] = {}
        staging_root = self.root / STAGING_DIR
        staging_root.mkdir(exist_ok=True)
        staged: dict[str, Path] = {}
        full = False
        for identifier, source in bags.items():
            if full:
                out[identifier] = NO_SPACE
                continue
            staged[identifier] = staging_root / f"{identifier}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
            try:
                _copy_tree(source, staged[identifier])
            except OSError as exc:
                shutil.rmtree(staged.pop(identifier), ignore_errors=True)
                # A full disk stops the batch: no more half copies to clean up.
                full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
                out[identifier] = NO_SPACE if full else f"cannot write: {exc.strerror or exc}"
        # One flush of the whole batch to disk before any copy is verified and placed
        # (an fsync per file and folder costs more than the copying).
        os.sync()
        for identifier, path in staged.items():
            try:
                problems = compare(expected[identifier], local_inventory(path))
                if problems:
                    out[identifier] = f"{LANDED_WRONG}: {problems[0][1]}"
                    shutil.rmtree(path, ignore_errors=True)
                    continue
                target = self.bag_dir(identifier)
                if os.path.lexists(target):
                    self.quarantine(identifier, "replaced")
                os.rename(path, target)
                out[identifier] = ""
            except OSError as exc:
                shutil.rmtree(path, ignore_errors=True)
                out[identifier] = f"cannot write: {exc.strerror or exc}"
        fsync_dir(self.root / BAGS_DIR)
        return out

    def fetch(self, identifier: str, into: Path) -> None:
        _copy_tree(self.bag_dir(identifier), into)

    def quarantine(self, identifier: str, why: str) -> str | None:
        source = self.bag_dir(identifier)
        if not os.path.lexists(source):
            return None
        folder = self.root / QUARANTINE_DIR
        folder.mkdir(exist_ok=True)
        aside = folder / f"{identifier}.{why}.{_stamp()}"
        os.rename(source, aside)
        fsync_dir(folder)
        fsync_dir(source.parent)
        return str(aside.relative_to(self.root))


def _copy_tree(source: Path, dest: Path) -> None:
    """Copy a bag's regular files and folders (never a link, FIFO or device); the
    caller syncs, and verifies the copy (anything skipped shows as missing)."""
    os.mkdir(dest)
    stack = [(os.fspath(source), os.fspath(dest))]
    while stack:
        src, dst = stack.pop()
        with os.scandir(src) as entries:
            for entry in entries:
                target = os.path.join(dst, entry.name)
                if entry.is_dir(follow_symlinks=False):
                    os.mkdir(target)
                    stack.append((entry.path, target))
                elif entry.is_file(follow_symlinks=False):
                    _copy_file(entry.path, target)


#: Opened without following a link, and without blocking on a FIFO swapped in.
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL


def _copy_file(src: str, dst: str) -> None:
    """One regular file, by ``sendfile``: two opens and one ``fstat`` (``shutil.copyfile``
    makes five ``stat`` calls a file, which at 110,000 files cost more than the copying).
    A file that is no longer a regular one is skipped (the verification sees it missing)."""
    fd_in = os.open(src, _READ_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd_in).st_mode):
            return
        fd_out = os.open(dst, _WRITE_FLAGS, 0o666)
        try:
            while os.sendfile(fd_out, fd_in, None, 1 << 24):
                pass
        finally:
            os.close(fd_out)
    finally:
        os.close(fd_in)
