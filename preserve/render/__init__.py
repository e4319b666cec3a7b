"""Render a statement as a PDF/A preservation copy (layout, fonts, shaping)."""

from __future__ import annotations
