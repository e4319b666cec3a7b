"""The user's cache folder, trusted only as far as ssh trusts a user's own files.

Two things are kept there to start fast: the statement schema compiled to Python
(imported: it is code) and py3langid's model as arrays (memory-mapped: it decides
a statement's language). Whoever can write them decides what ``validate`` and the
audit's metadata check accept and what language a statement gets, so, as ssh does
with ``~/.ssh`` (StrictModes), a cached file is used only if it and every folder
from the cache folder down to it are owned by the user running preserve and
writable by no one else, and is not a symbolic link. Anything else is ignored
(never deleted: it may be someone else's), and the caller builds what it needs in
memory, a little slower. The folder is created ``0700``.

A user can always change their own files; this keeps a shared or misconfigured
``XDG_CACHE_HOME`` (``/tmp``, a group-writable home) from becoming a way in.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def cache_folder(*parts: str, create: bool = True) -> Path | None:
    """``$XDG_CACHE_HOME/preserve/<parts>`` (``~/.cache`` by default) if trusted, else None.

    Created (``0700``) when ``create`` and absent. None when it cannot be created
    or is not the user's own (see the module docstring).
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = Path(base) / "preserve"
    chain = [folder]
    for part in parts:
        chain.append(chain[-1] / part)
    try:
        for each in chain:
            if create and not os.path.lexists(each):
                os.makedirs(each, mode=0o700, exist_ok=True)
            if not _own(each, directory=True):
                return None
    except OSError:
        return None
    return chain[-1]


def trusted(path: Path, *, folder: bool = False) -> bool:
    """Whether the file (or ``folder``) ``path``, under :func:`cache_folder`, is the
    user's own and may be loaded."""
    try:
        return _own(path, directory=folder)
    except OSError:
        return False


def _own(path: Path, *, directory: bool) -> bool:
    info = os.lstat(path)
    kind = stat.S_ISDIR if directory else stat.S_ISREG
    euid = getattr(os, "geteuid", None)  # no owners to compare on Windows
    return (
        kind(info.st_mode)
        and (euid is None or info.st_uid == euid())
        and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )
