"""A statement in whatever form it came, read and its metadata validated: the step
before rendering or bagging, shared by ``preserve render`` and ingest (so rendering
one statement imports nothing of the archive: no ledger, no signing keys).
"""

from __future__ import annotations

from pathlib import Path

from preserve.errors import InputError
from preserve.inputs import Received, module_for, recorded
from preserve.metadata import Prepared, merge, prepare, prepare_file, read_sidecar, sidecar_path


def prepare_input(
    path: Path, metadata_file: Path | None = None, encoding: str | None = None
) -> tuple[Received, Prepared]:
    """Read a statement in whatever form it came (:mod:`preserve.inputs`) and validate it.

    What the form states (a page's address, an e-mail's sender) completes the
    parsed draft; a sidecar (``--metadata`` or ``<name>.json`` beside the file)
    overrides both, field by field. Plain text takes exactly the path it always has.
    Whatever the form left out of its text or noted is put in the statement here,
    for every form (:func:`preserve.inputs.recorded`): a form that forgets loses nothing.
    """
    module = module_for(path)
    if module.__name__ == "preserve.inputs.text":
        from preserve.inputs.text import received_from

        prepared = prepare_file(path, metadata_file, encoding)
        if prepared.statement is None:
            raise InputError("a metadata file alone is not a statement; give the statement", path)
        return received_from(prepared.statement, path), prepared
    received = recorded(module.read(path))
    sidecar_file = metadata_file
    if sidecar_file is None and sidecar_path(path).is_file():
        sidecar_file = sidecar_path(path)
    sidecar = read_sidecar(sidecar_file) if sidecar_file else {}
    record = merge(received.record, sidecar)
    prepared = prepare(received.statement, record, sidecar_file=sidecar_file)
    return received, prepared
