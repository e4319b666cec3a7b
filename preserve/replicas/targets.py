"""Targets by name or URL: ``--to`` and the ``[replicas.targets]`` settings."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote

from preserve.replicas.base import (
    ReplicaError,
    Target,
)
from preserve.replicas.local import LocalTarget
from preserve.replicas.ssh import SshTarget
from preserve.settings import read_raw


def make_target(
    name: str, url: str, *, identity: str | None = None, known_hosts: str | None = None
) -> Target:
    """A target from its URL: ``ssh://…`` or a folder path (``file://`` allowed)."""
    if url.startswith("ssh://"):
        return SshTarget(name, url, identity=identity, known_hosts=known_hosts)
    if "://" in url and not url.startswith("file://"):
        raise ReplicaError(f"unknown kind of target (a folder or ssh://…): {url}")
    return LocalTarget(name, Path(unquote(url.removeprefix("file://"))))


def resolve_target(archive: Path, spec: str) -> Target:
    """``--to``: the name of a target in ``[replicas.targets]``, a folder or an ssh URL."""
    raw = read_raw(archive).get("replicas", {}).get("targets", {})
    if spec in raw:
        entry = raw[spec]
        return make_target(
            spec,
            str(entry["url"]),
            identity=entry.get("identity"),
            known_hosts=entry.get("known_hosts"),
        )
    if "/" not in spec and not Path(spec).is_dir():
        known = ", ".join(sorted(raw)) or "none"
        raise ReplicaError(
            f"no target named '{spec}' in settings.toml (registered: {known}); "
            f"a new folder is given as a path (./{spec})"
        )
    return make_target(spec, spec)


def registered_targets(archive: Path) -> list[Target]:
    """Every target in the archive's settings, in name order."""
    raw = read_raw(archive).get("replicas", {}).get("targets", {})
    return [
        make_target(
            name, str(e["url"]), identity=e.get("identity"), known_hosts=e.get("known_hosts")
        )
        for name, e in sorted(raw.items())
    ]


def check_apart(archive: Path, targets: Sequence[Target]) -> None:
    """Refuse a folder target inside the archive (a copy in the same place, and bags
    planted in the primary's own ``bags/``) and two targets naming one folder (one copy
    counted twice). Nothing is written before this passes."""
    home = os.path.realpath(archive)
    seen: dict[str, str] = {}
    for target in targets:
        if not isinstance(target, LocalTarget):
            continue
        real = os.path.realpath(target.root)
        if real == home or real.startswith(home + os.sep):
            raise ReplicaError(
                "the target is inside the archive: a copy must be in another place", target.root
            )
        if home.startswith(real + os.sep):
            raise ReplicaError("the archive is inside the target", target.root)
        if real in seen:
            raise ReplicaError(
                f"targets '{seen[real]}' and '{target.name}' are the same folder: "
                "one copy would count twice",
                target.root,
            )
        seen[real] = target.name
