"""Page images of the PDF/A copy, rendered on the server with PDFium (pypdfium2).

So the copy can be seen in the page with no PDF viewer and no script. Images
are cached on disk outside the bags (``ARCHIVE/cache/pages/``, keyed by the
PDF's manifest digest, so a changed copy is never shown from an old image) or,
where the archive is read-only, in a bounded memory cache.
"""

from __future__ import annotations

import io
import os
import threading
from collections import OrderedDict
from pathlib import Path

from preserve.fsio import atomic_write

#: 110 dpi: an A4 page is 910 x 1286 pixels, sharp enough to read, ~150 KB.
SCALE = 110 / 72
MEMORY_ENTRIES = 64
MAX_PDF_BYTES = 256 << 20


class PageImages:
    """PNG images of PDF pages, rendered once and cached."""

    def __init__(self, cache_dir: Path | None) -> None:
        self.cache_dir = cache_dir
        self._memory: OrderedDict[str, bytes] = OrderedDict()
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._pdfium_lock = threading.Lock()  # PDFium is not thread-safe

    def _disk(self, key: str, page: int) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / key[:2] / f"{key}-{page}.png"

    def known_count(self, key: str) -> int | None:
        """The page count of a PDF already opened, without reading it again."""
        with self._lock:
            return self._counts.get(key)

    def page_count(self, key: str, pdf: bytes) -> int:
        with self._lock:
            if key in self._counts:
                return self._counts[key]
        import pypdfium2 as pdfium

        with self._pdfium_lock:
            doc = pdfium.PdfDocument(pdf)
            try:
                count = len(doc)
            finally:
                doc.close()
        with self._lock:
            if len(self._counts) > 10_000:
                self._counts.clear()
            self._counts[key] = count
        return count

    def cached(self, key: str, page: int) -> bytes | None:
        name = f"{key}-{page}"
        with self._lock:
            if name in self._memory:
                self._memory.move_to_end(name)
                return self._memory[name]
        path = self._disk(key, page)
        if path is not None:
            try:
                return path.read_bytes()
            except OSError:
                return None
        return None

    def render(self, key: str, pdf: bytes, page: int) -> bytes | None:
        """Page ``page`` (1-based) as PNG, or None when the PDF has no such page."""
        hit = self.cached(key, page)
        if hit is not None:
            return hit
        import pypdfium2 as pdfium

        with self._pdfium_lock:
            doc = pdfium.PdfDocument(pdf)
            try:
                if not 1 <= page <= len(doc):
                    return None
                bitmap = doc[page - 1].render(scale=SCALE)
                image = bitmap.to_pil()
            finally:
                doc.close()
        buffer = io.BytesIO()
        image.save(buffer, "PNG", optimize=False)
        png = buffer.getvalue()
        self._store(key, page, png)
        return png

    def _store(self, key: str, page: int, png: bytes) -> None:
        path = self._disk(key, page)
        if path is not None:
            try:
                os.makedirs(path.parent, exist_ok=True)
                atomic_write(path, png)
                return
            except OSError:
                self.cache_dir = None  # a read-only archive: keep images in memory instead
        with self._lock:
            self._memory[f"{key}-{page}"] = png
            while len(self._memory) > MEMORY_ENTRIES:
                self._memory.popitem(last=False)
