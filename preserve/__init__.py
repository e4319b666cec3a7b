"""preserve: keep public statements safe for the long run.

The pipeline, one module per stage: statement → metadata → render → bagging →
archive → verify/audit. The command line (``preserve.cli``) is a thin layer over
these functions.
"""

from __future__ import annotations

__version__ = "0.1.0"
