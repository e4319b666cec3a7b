"""Exports: a bag serialized as it is, or rewritten into what one repository takes.

:mod:`~preserve.export.serialize` writes a bag folder as one deterministic tar,
tar.gz or zip; :mod:`~preserve.export.staging` reads an archived bag and writes a
rewritten copy (new manifests, tag files, signatures); one module per repository
(:mod:`~preserve.export.aptrust`, :mod:`~preserve.export.btr`,
:mod:`~preserve.export.archivematica`, :mod:`~preserve.export.dspace_saf`,
:mod:`~preserve.export.chronopolis`) says what that repository needs, and
:mod:`~preserve.export.profiles` names them.
"""

from __future__ import annotations

from preserve.export.serialize import EARLIEST, ExportFormat, ExportResult, export_bag

__all__ = ["EARLIEST", "ExportFormat", "ExportResult", "export_bag"]
