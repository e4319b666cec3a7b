"""BagIt Profiles 1.4.0: load a profile and check a bag against every key it defines.

The profile says what *our* bags must look like beyond RFC 8493 (which fields in
bag-info.txt, which manifests, which tag and payload files). The ``bagit-profile``
package skips Data-Empty, Fetch.txt-Required and Payload-Files-*, so this module
checks all of them itself. The specification publishes no JSON Schema for profiles,
so the profile document is checked here, key by key, when it is loaded: a typo such
as ``Tag-File-Allowed`` must not silently switch a constraint off.

Reading the bag is read-only and never follows a symlink; BagIt syntax comes from
:mod:`preserve.bagit_format`. Structural faults that are not the profile's business
(bad digests, missing payload listed in a manifest) are :mod:`preserve.verify`'s.

Glob semantics: the specification defines only ``*``, "zero or more characters"
(glob(7)), and says an absent ``*-Allowed`` list means ``["*"]``, i.e. *every* tag
or payload file, including those in subfolders. So ``*`` here also matches ``/``
(as in the reference validator, which uses ``fnmatch``); every other character,
``?`` and ``[`` included, is literal.
"""

from __future__ import annotations

from preserve.bagit_format import Problem, Severity
from preserve.profile.checking import check_profile, check_serialization
from preserve.profile.loading import load_profile, parse_profile, profile_document_problems
from preserve.profile.model import (
    DEFAULT_PROFILE,
    NAMED_PROFILES,
    OUR_PROFILES,
    SPEC_VERSION,
    Profile,
    Serialization,
    TagRule,
    claimed_profile,
)

__all__ = [
    "DEFAULT_PROFILE",
    "NAMED_PROFILES",
    "OUR_PROFILES",
    "SPEC_VERSION",
    "Problem",
    "Profile",
    "Serialization",
    "Severity",
    "TagRule",
    "check_profile",
    "check_serialization",
    "claimed_profile",
    "load_profile",
    "parse_profile",
    "profile_document_problems",
]
