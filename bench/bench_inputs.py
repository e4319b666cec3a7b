"""Speed of the document inputs: DOCX/ODT reading and ingest preparation, OCR of a scan.

Prints numbers and the ratio to each goal; never fails on time (no timed tests):

- DOCX: read (python-docx) alone, and read + validate + render the PDF/A copy
  (what ingest does before bagging), statements per second; goal >= 20/s.
- PDF text: a tagged 7-page copy (structure tree) and an untagged letter (layout),
  milliseconds a document (no goal; reported before/after changes to the reader).
- OCR: one noisy A4 page at 300 dpi in English through OCRmyPDF + Tesseract on
  one core (``OMP_THREAD_LIMIT=1``, ``--jobs 1``), wall seconds; goal <= 10 s; and
  the same page without noise, for comparison.

    python bench/bench_inputs.py [--docx N] [--ocr N] [--pdf N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from preserve.inputs import docx as docx_input  # noqa: E402
from preserve.inputs import odt as odt_input  # noqa: E402
from preserve.inputs import scan as scan_input  # noqa: E402
from preserve.metadata import prepare  # noqa: E402
from preserve.render import render_statement  # noqa: E402

DOCX_GOAL_PER_S = 20.0
OCR_GOAL_S = 10.0


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else float("inf")


def bench_word(folder: Path, count: int) -> None:
    from test_inputs_docx import make_docx, make_odt

    for name, make, module in (("DOCX", make_docx, docx_input), ("ODT", make_odt, odt_input)):
        path = make(folder / f"statement.{name.lower()}")
        module.read(path)  # warm: imports, fonts
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            module.read(path)
        read_s, read_cpu = time.perf_counter() - start, time.process_time() - cpu
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            received = module.read(path)
            metadata = prepare(received.statement, {}).metadata()
            render_statement(received.statement, metadata)
        full_s, full_cpu = time.perf_counter() - start, time.process_time() - cpu
        # CPU time is what one core gives when the machine is not shared; wall time is today's.
        print(
            f"{name} read:                 {_rate(count, read_cpu):6.1f} /s per CPU second, "
            f"{_rate(count, read_s):6.1f} /s wall ({count} documents)"
        )
        full = _rate(count, full_cpu)
        print(
            f"{name} read+validate+render: {full:6.1f} /s per CPU second, "
            f"{_rate(count, full_s):6.1f} /s wall; "
            f"goal >= {DOCX_GOAL_PER_S:.0f}/s: {full / DOCX_GOAL_PER_S:.2f}x the goal (one core)"
        )


def bench_ocr(folder: Path, count: int) -> None:
    from test_ocr import FIXTURE, noisy, rendered_page

    page = rendered_page(FIXTURE)
    clean = folder / "clean.png"
    page.save(clean, dpi=(300, 300))
    dirty = folder / "noisy.png"
    noisy(page).save(dirty, dpi=(300, 300))
    for label, path in (("noisy", dirty), ("clean", clean)):
        times, cpus = [], []
        confidence = ""
        for _ in range(count):
            start, before = time.perf_counter(), os.times()
            received = scan_input.read(path)
            after = os.times()
            times.append(time.perf_counter() - start)
            # OCRmyPDF and Tesseract run as child processes: their CPU is the children's.
            cpus.append(
                after.children_user
                - before.children_user
                + after.children_system
                - before.children_system
                + after.user
                - before.user
            )
            confidence = next((n for n in received.notes if n.startswith("ocr.")), "")
        best, worst, cpu = min(times), max(times), min(cpus)
        print(
            f"OCR one A4 page, 300 dpi, {label}: wall best {best:.2f} s, worst {worst:.2f} s; "
            f"CPU {cpu:.2f} s ({count} runs); goal <= {OCR_GOAL_S:.0f} s on one core: "
            f"{best / OCR_GOAL_S:.2f} (wall), {cpu / OCR_GOAL_S:.2f} (CPU) of the budget"
        )
        print(f"  {confidence}")


def bench_pdf_text(count: int) -> None:
    """Reading a PDF's text (what ingest parses): a tagged copy of 7 pages, an untagged letter."""
    import datetime as dt

    from test_inputs_pdf import fpdf2_pdf

    from preserve.inputs import pdf as pdf_input
    from preserve.metadata import prepare_file
    from preserve.pdfa import PdfaLevel

    prepared = prepare_file(REPO / "fixtures" / "en-annual-report-long.txt")
    assert prepared.statement is not None
    tagged = render_statement(
        prepared.statement,
        prepared.metadata(),
        PdfaLevel.A2A,
        created=dt.datetime(2024, 3, 29, tzinfo=dt.UTC),
    ).pdf
    for label, data, pages in (
        ("tagged, 7 pages", tagged, 7),
        ("untagged, 1 page", fpdf2_pdf(), 1),
    ):
        pdf_input.extract_text(data, Path("x.pdf"))  # warm
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            pdf_input.extract_text(data, Path("x.pdf"))
        wall = (time.perf_counter() - start) / count
        seconds = (time.process_time() - cpu) / count  # CPU: the machine is shared
        print(
            f"PDF text ({label}): {seconds * 1000:.1f} ms CPU a document "
            f"({pages / seconds:.0f} pages/s), {wall * 1000:.1f} ms wall"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docx", type=int, default=50, help="documents per measurement")
    parser.add_argument("--ocr", type=int, default=2, help="OCR runs per page")
    parser.add_argument("--pdf", type=int, default=20, help="PDF text reads per measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        if args.docx:
            bench_word(folder, args.docx)
        if args.pdf:
            bench_pdf_text(args.pdf)
        if args.ocr:
            bench_ocr(folder, args.ocr)


if __name__ == "__main__":
    main()
