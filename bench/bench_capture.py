"""Benchmark: capture of a local page with its requisites to WARC, and the WARC to a statement.

    python bench/bench_capture.py [--requisites 20] [--rounds 9] [--rate-limit 0]

Serves an invented page with N requisites (stylesheets and images, 4-40 KB each)
from a real HTTP server on 127.0.0.1, then times, best of ``--rounds``:

1. fetch + WARC 1.1 written (``preserve.inputs.capture.capture``), with the rate
   limit as given (default 0: off). Goal: <= 1 s for 20 requisites, rate limit off.
2. reading that WARC back as a statement (``capture.read``: digests checked,
   page found, text extracted with trafilatura, parsed).
3. the whole ``preserve capture`` once (fetch, WARC, extraction, PDF/A, bag, ledger).
4. finding what a 200 KB stylesheet full of ``url()`` names (tinycss2).
5. with ``--polite``: the same capture with the default rate limit (1 s per host),
   once, to show what politeness costs: about one second per requisite on one host.

Prints numbers and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from preserve.inputs.capture import (
    CaptureOptions,
    Exchange,
    capture,
    capture_into_archive,
    read,
    stylesheet_urls,
)
from tests.webserver import Route, Site, page, serve


def build_site(requisites: int, seed: int = 7) -> Site:
    rng = random.Random(seed)
    site = Site()
    head = ""
    extra = ""
    for i in range(requisites):
        size = rng.randint(4_000, 40_000)
        if i % 4 == 0:
            path = f"/static/style{i}.css"
            head += f"<link rel='stylesheet' href='{path}'>"
            body = (b"p{margin:0 0 1em 0}\n" * (size // 20))[:size]
            site.routes[path] = Route(headers=("Content-Type: text/css",), body=body)
        else:
            path = f"/img/photo{i}.png"
            extra += f"<img src='{path}' alt='photo {i}'>"
            body = b"\x89PNG\r\n\x1a\n" + rng.randbytes(size)
            site.routes[path] = Route(headers=("Content-Type: image/png",), body=body)
    paragraphs = [
        "The city library opened a reading garden for visitors of all ages. "
        "The garden has benches, shade and a small collection of books for reading outdoors."
    ] * 12
    html = page("Library opens a reading garden", paragraphs, head=head, extra=extra)
    site.routes["/news/garden"] = Route(body=html.encode())
    return site


def best(rounds: int, action: object) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requisites", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--rate-limit", type=float, default=0.0)
    parser.add_argument("--polite", action="store_true", help="also time the default 1 s pause")
    args = parser.parse_args()
    site = build_site(args.requisites)
    with serve(site), tempfile.TemporaryDirectory() as tmp:
        url = site.url("/news/garden")
        options = CaptureOptions(rate_limit=args.rate_limit)
        folder = Path(tmp)
        made: list[Path] = []

        def one_capture() -> None:
            target = folder / str(len(made))
            target.mkdir()
            made.append(capture(url, target, options))

        seconds = best(args.rounds, one_capture)
        warc = made[-1]
        size = warc.stat().st_size
        print(
            f"capture: 1 page + {args.requisites} requisites, rate limit "
            f"{args.rate_limit:g} s: {seconds:.3f} s best of {args.rounds} "
            f"({size / 1e6:.2f} MB WARC; goal <= 1 s: {'met' if seconds <= 1 else 'NOT met'}, "
            f"{seconds / 1.0:.2f} of the budget)"
        )
        reading = best(args.rounds, lambda: read(warc))
        print(f"WARC -> statement (digests checked, extraction, parse): {reading:.3f} s")
        print(f"ratio read / capture: {reading / seconds:.2f}")
        start = time.perf_counter()
        report = capture_into_archive([url], folder / "archive", options)
        whole = time.perf_counter() - start
        print(
            f"preserve capture end to end (fetch, WARC, extract, render PDF/A, bag, ledger), "
            f"once: {whole:.2f} s, exit {int(report.exit_code)}"
        )
        # A framework-sized stylesheet that names images and fonts: tinycss2 reads it.
        rules = "".join(
            f".c{i} {{ margin: {i}px; background: url(/img/bg{i % 40}.png) no-repeat }}\n"
            for i in range(3000)
        ).encode()
        sheet = Exchange(url, dt.datetime.now(dt.UTC), b"", b"", rules, 200, "OK",
                         (("Content-Type", "text/css"),))  # fmt: skip
        css = best(args.rounds, lambda: stylesheet_urls(sheet, len(rules)))
        print(
            f"references in a {len(rules) / 1e3:.0f} KB stylesheet with url()s (tinycss2): "
            f"{css:.3f} s ({len(rules) / css / 1e6:.2f} MB/s); a sheet naming nothing is skipped"
        )
        if args.polite:
            polite = CaptureOptions()
            target = folder / "polite"
            target.mkdir()
            start = time.perf_counter()
            capture(url, target, polite)
            slow = time.perf_counter() - start
            print(
                f"capture with the default rate limit ({polite.rate_limit:g} s per host): "
                f"{slow:.2f} s ({slow / seconds:.0f}x the unpaced capture)"
            )


if __name__ == "__main__":
    main()
