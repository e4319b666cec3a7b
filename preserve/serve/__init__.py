"""The reading room: a read-only web face over an archive (``preserve serve``).

Browse and search the statements, read each one beside the proof that it is
intact (manifests, PREMIS history, signatures, audits), download bags, copies
and originals, and harvest the catalogue over OAI-PMH 2.0. It opens the ledger
read-only and names files only through identifiers found in the ledger.

Starlette, Jinja2 and uvicorn are imported only here, never by the pipeline, so
``preserve ingest`` and the rest pay nothing for them.
"""

from __future__ import annotations

from preserve.serve.app import ServeConfig, create_app, run

__all__ = ["ServeConfig", "create_app", "run"]
