"""What tagging costs: finishing with a structure tree, and checking a tagged file.

Run: ``python bench/bench_tagging.py`` (prints numbers and ratios; not a test). Draws
the same pages twice with ReportLab (untagged, and tagged with StructureBuilder: a
heading and 30 one-line paragraphs a page, header and footer as artifacts), finishes
them as 2u and as 2a, and times ``finish_pdfa`` and ``check_pdfa`` on each.
"""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from preserve.pdfa import PdfaLevel, PdfInfo, check_pdfa, finish_pdfa
from preserve.render.fonts import FAMILIES, ensure_registered
from preserve.render.tagging import StructNode, StructureBuilder

CREATED = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
INFO = PdfInfo(title="Bench", author="Bench", language="en", identifier="bench-tagging")
LINE = "The committee thanks every volunteer who kept the garden open this year."


def draw(pages: int, tagged: bool) -> tuple[bytes, StructNode]:
    font = ensure_registered(FAMILIES[0], False)
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, invariant=1, pageCompression=1, initialFontName=font)
    tree = StructureBuilder("en")

    def mark(node: StructNode | None) -> AbstractContextManager[None]:
        if not tagged:
            return nullcontext()
        return tree.marked(canvas, node) if node else tree.artifact(canvas)

    for page in range(pages):
        with mark(None):
            canvas.setFont(font, 8)
            canvas.drawString(72, 800, f"Bench, page {page + 1}")
            canvas.line(72, 795, 523, 795)
        with mark(tree.add("H2")):
            canvas.setFont(font, 14)
            canvas.drawString(72, 760, f"Section {page + 1}")
        canvas.setFont(font, 10)
        for i in range(30):
            with mark(tree.add("P")):
                canvas.drawString(72, 730 - 20 * i, LINE)
        canvas.showPage()
        tree.next_page()
    canvas.save()
    return out.getvalue(), tree.root


def best(func: Callable[[], object], repeat: int = 9) -> float:
    """The fastest of ``repeat`` runs: the machine is shared, so the minimum is the
    least disturbed measurement."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    for pages in (1, 10, 40):
        plain, _ = draw(pages, tagged=False)
        raw, root = draw(pages, tagged=True)
        untagged = finish_pdfa(plain, PdfaLevel.A2U, INFO, CREATED)
        tagged = finish_pdfa(raw, PdfaLevel.A2A, INFO, CREATED, structure=root)
        assert check_pdfa(tagged) == [], check_pdfa(tagged)
        f_plain = best(lambda p=plain: finish_pdfa(p, PdfaLevel.A2U, INFO, CREATED))
        f_tagged = best(
            lambda r=raw, t=root: finish_pdfa(r, PdfaLevel.A2A, INFO, CREATED, structure=t)
        )
        c_plain = best(lambda u=untagged: check_pdfa(u))
        c_tagged = best(lambda t=tagged: check_pdfa(t))
        print(
            f"{pages:>2} pages ({31 * pages} elements): finish 2u {f_plain * 1000:.1f} ms, "
            f"2a {f_tagged * 1000:.1f} ms (x{f_tagged / f_plain:.2f}); "
            f"check 2u {c_plain * 1000:.1f} ms, 2a {c_tagged * 1000:.1f} ms "
            f"(x{c_tagged / c_plain:.2f}); size {len(untagged):,} -> {len(tagged):,} bytes"
        )


if __name__ == "__main__":
    main()
