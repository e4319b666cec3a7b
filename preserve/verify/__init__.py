"""Verify one BagIt bag — ours or anyone's — and report every problem it has.

:func:`verify_bag` is a pure function of a path: it never writes, never follows a
symlink, never opens anything it did not first list inside the bag, and works on
read-only storage, so it can run on any worker. A bag is a directory or a serialized
bag (tar, tar.gz/bz2/xz, zip) read by streaming its members, never extracted.

Every problem has a stable code, the bag-relative path it concerns and a message, and
the checks go on after the first one: a corrupt file is named as corrupt (and the
Payload-Oxum problem it causes points at it). Fail closed: whatever could not be
checked (unreadable file, unknown algorithm, crashed extra check) is an error.

One job per module, data flowing one way (:mod:`~preserve.verify.run` uses the others,
none of them uses it, and none imports this package's ``__init__``):
:mod:`~preserve.verify.result` (:class:`BagResult`, :data:`ExtraCheck`, codes),
:mod:`~preserve.verify.tree` (the view of a bag the checks run on), read from a
directory by :mod:`~preserve.verify.tree_dir` or from a tar/zip by
:mod:`~preserve.verify.tree_archive`, and :mod:`~preserve.verify.checker` (with
:mod:`~preserve.verify.checker_base`), the rules of RFC 8493.
:mod:`~preserve.verify.access` is the face the trees show to checks beyond RFC 8493
(profile, metadata, PDF/A), so those run on a tar or zip as on a directory.
"""

from __future__ import annotations

from preserve.bagit_format import Limits, Problem, Severity
from preserve.verify.result import CANNOT_OPEN, BagResult, ExtraCheck
from preserve.verify.run import verify_bag, verify_bags
from preserve.verify.tree_dir import _SLICE as _SLICE
from preserve.verify.tree_dir import PARALLEL_MIN_BYTES as PARALLEL_MIN_BYTES

__all__ = [
    "CANNOT_OPEN",
    "BagResult",
    "ExtraCheck",
    "Limits",
    "Problem",
    "Severity",
    "verify_bag",
    "verify_bags",
]
