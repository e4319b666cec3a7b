"""Benchmark: the reading room's latency and throughput on a 100,000-statement archive.

    python bench/bench_serve.py [--count 100000] [--requests 200] [--load-seconds 20]
                                [--concurrency 8] [--dir DIR] [--keep] [--archive A]
                                [--no-facets]

The archive: a few real bags (every fixture in fixtures/ that validates, ingested
with ``preserve.archive.ingest`` and audited), then ``--count`` statements added
as ledger rows directly, the rows publishing writes (``bags``, the text index, the
catalog whose triggers keep the facet counts) with generated titles, signers,
organizations, languages, dates and 60-word bodies drawn with Zipf frequencies
from 4,096 made-up words (fixed seed),
plus a year of weekly audit events (fixity checks, 2% failures) for the
dashboard. Only the real bags have files, so statement pages are measured on them.

The server: ``preserve serve --workers 2`` in its own processes (uvicorn) on
127.0.0.1; the client: httpx with keep-alive, in this process. Latency: median
and p95 of ``--requests`` sequential requests per page (a statement page after its
first page image is cached). Throughput: ``--concurrency`` threads requesting a mix
of the pages for ``--load-seconds`` (bounded in count and time, 127.0.0.1 only), then
the same mix from ``wrk`` where it is installed (Debian's ``wrk``: a client in C, one
thread, so the server is measured rather than a Python client sharing its cores).
The server's CPU time per page is printed too: on a machine other work shares,
latency measures the queue for the cores, CPU time what a page costs.
Before the server starts, the facet counts under filters and queries are computed in
this process with nothing cached (what the first view of a filter set costs after each
change of the ledger), with their query plans (``--no-facets`` skips them).
Prints numbers and the goals; asserts nothing but HTTP 200.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LANGUAGES = ["en", "az-Latn", "ru", "ar", "hy", "ka", "fr", "de", "tr", "he", "fa", "es"]
TYPES = ["statement", "press-release", "appeal", "report", "speech", "letter"]
SYLLABLES = "ba ko ri sa mu te lo vi na de po ga fi zu ke ma".split()
#: 4,096 made-up words used with Zipf frequencies (s = 1.1), as words are in real text:
#: a few in most statements, most in a few.
WORDS = [a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES]
ZIPF = [1 / (rank + 1) ** 1.1 for rank in range(len(WORDS))]


def build(archive: Path, count: int) -> float:
    """Real bags from the fixtures, then ``count`` statements as ledger rows (see above)."""
    from preserve import ledger
    from preserve.archive import ingest
    from preserve.audit import audit

    started = time.perf_counter()
    ingest(sorted((REPO / "fixtures").glob("*.txt")), archive)
    audit(archive)
    rng = random.Random(16)
    organizations = [f"Office of the Ombudsman of Region {i}" for i in range(40)]
    signers = [f"Signer {a} {b}" for a in "ABCDEFGHIJ" for b in range(30)]
    db = ledger.connect(archive)
    now = dt.datetime.now(dt.UTC)
    with ledger.write(db):
        for i in range(count):
            ident = f"synthetic-{i:06d}"
            day = dt.date(2000, 1, 1) + dt.timedelta(days=rng.randrange(9000))
            title = " ".join(rng.choices(WORDS, ZIPF, k=6)).capitalize()
            body = " ".join(rng.choices(WORDS, ZIPF, k=60))
            signer = rng.choice(signers)
            verified = now - dt.timedelta(days=rng.randrange(120))
            ok = rng.random() > 0.02
            db.execute(
                "INSERT INTO bags (identifier, path, state, ingested_at, payload_oxum,"
                " statement_sha256, metadata_sha256, software, date_issued, title,"
                " last_verified_at, last_result) VALUES (?, ?, 'published', ?, '1.1', '', '',"
                " 'bench', ?, ?, ?, ?)",
                (
                    ident,
                    f"bags/{ident}",
                    (now - dt.timedelta(seconds=count - i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    day.isoformat(),
                    title,
                    verified.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "success" if ok else "failure",
                ),
            )
            db.execute(
                "INSERT INTO statements_fts (identifier, date_issued, title, body, signer,"
                " subjects) VALUES (?, ?, ?, ?, ?, '')",
                (ident, day.isoformat(), title, body, signer),
            )
            record = {
                "identifier": ident,
                "title": title,
                "date_issued": day.isoformat(),
                "creator": {"name": signer, "organization": rng.choice(organizations)},
                "language": rng.choice(LANGUAGES),
                "type": rng.choice(TYPES),
            }
            db.execute(ledger.CATALOG_INSERT, ledger.catalog_values(record))
            if i % 4 == 0:  # a fixity-check event for a quarter of them, chained as audits do
                ledger.record_event(
                    db,
                    identifier=ident,
                    type="fixity check",
                    outcome="success" if ok else "failure",
                    detail={"problems": [] if ok else ["manifest.digest-mismatch"]},
                    agent="bench",
                    at=verified.strftime("%Y-%m-%dT%H:%M:%SZ"),
                )
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(archive: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "preserve", "serve", str(archive), "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            if proc.poll() is not None:
                message = proc.stderr.read().decode() if proc.stderr else "server died"
                raise SystemExit(message) from None
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start")


def server_cpu(pid: int) -> float:
    """User + system CPU seconds of a process and its children (Linux /proc; 0 elsewhere)."""
    total = 0.0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    for one in (pid, *map(int, children)):
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def latency(client: object, url: str, n: int) -> tuple[float, float]:
    import httpx

    assert isinstance(client, httpx.Client)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        r = client.get(url)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (url, r.status_code)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def load(port: int, urls: list[str], seconds: float, threads: int, cap: int) -> tuple[int, float]:
    """Pages served in ``seconds`` by ``threads`` keep-alive connections (at most ``cap``).

    The client is http.client, the lightest there is, because it shares the cores.
    """
    import http.client

    done = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = k
        while time.monotonic() < stop:
            with lock:
                if done[0] >= cap:
                    break
            conn.request("GET", urls[i % len(urls)])
            response = conn.getresponse()
            response.read()
            assert response.status == 200
            i += 1
            with lock:
                done[0] += 1
        conn.close()

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return done[0], time.perf_counter() - started


def load_wrk(
    port: int, urls: list[str], seconds: float, connections: int, folder: Path
) -> tuple[int, float, str] | None:
    """The same mix driven by ``wrk`` (Debian's, in C: one thread, ``connections`` keep-alive
    connections, for ``seconds``; 127.0.0.1 only), which leaves the cores to the server.

    Returns (pages, seconds, wrk's latency lines), or None where wrk is not installed.
    """
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    script = folder / "mix.lua"
    quoted = ", ".join('"' + u.replace("\\", "\\\\").replace('"', '\\"') + '"' for u in urls)
    script.write_text(
        f"local urls = {{{quoted}}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i + 1\n"
        '  return wrk.format("GET", urls[(i % #urls) + 1])\n'
        "end\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{seconds:.0f}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    out = done.stdout
    if done.returncode != 0 or "requests in" not in out:
        raise SystemExit(f"wrk failed: {done.stderr or out}")
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw errors:\n{out}")
    words = out.split(" requests in ", 1)
    count = int(words[0].split()[-1])
    took = words[1].split(",", 1)[0]
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0}
    unit = next(u for u in ("ms", "s", "m") if took.endswith(u))
    seconds_taken = float(took[: -len(unit)]) * scale[unit]
    latency = "\n".join(
        line for line in out.splitlines() if line.strip().startswith(("50%", "90%", "99%"))
    )
    return count, seconds_taken, latency


def facet_costs(archive: Path, repeats: int = 5) -> None:
    """The facet counts under filters and queries, computed in this process with nothing
    cached (what the first view of a filter set costs after each change of the ledger;
    later views are served from the per-change cache), with the query plans."""
    from preserve import ledger
    from preserve import search as fulltext
    from preserve.serve import catalog

    db = ledger.connect(archive, readonly=True)
    signer = db.execute(
        "SELECT value FROM facet_counts WHERE facet = 'signer' ORDER BY count DESC LIMIT 1"
    ).fetchone()[0]

    def median_ms(call: object) -> float:
        assert callable(call)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            call()
            times.append((time.perf_counter() - t) * 1000)
        return statistics.median(times)

    print(f"\n{'facet counts, computed cold (in process)':62} {'median ms':>10}")
    browse_sets: list[dict[str, str]] = [
        {},
        {"language": "fr"},
        {"type": "statement"},
        {"signer": signer},
        {"language": "fr", "type": "statement"},
        {"language": "fr", "type": "statement", "year": "2010"},
    ]
    for filters in browse_sets:
        ms = median_ms(lambda f=filters: catalog.facets(db, f))  # type: ignore[misc]
        print(f"{'browse sidebar ' + (str(filters) if filters else '(no filter)'):62} {ms:10.1f}")
    for words in (WORDS[40] + " " + WORDS[90], WORDS[2]):
        expression = fulltext.parse_query(words).expression
        for filters in ({}, {"language": "fr"}, {"language": "fr", "type": "statement"}):
            ms = median_ms(
                lambda e=expression, f=filters: catalog.search_facets(  # type: ignore[misc]
                    db, e, f, ("language", "type", "year")
                )
            )
            print(f"{'search choices ' + repr(words) + ' ' + str(filters):62} {ms:10.1f}")
    print("query plans:")

    def plan(sql: str, params: list[str]) -> str:
        rows = db.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        return " | ".join(str(r[3]) for r in rows)

    for filters in browse_sets[1:]:
        print(f"  browse {filters}: {plan(*catalog.facet_query(db, filters))}")
    for words in (WORDS[40] + " " + WORDS[90], WORDS[2]):
        expression = fulltext.parse_query(words).expression
        assert expression is not None
        sql, params, _ = catalog.search_facet_query(db, expression, {}, ("language",))
        print(f"  search {words!r}: {plan(sql, params)}")
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--load-seconds", type=float, default=20.0)
    parser.add_argument("--load-max", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--archive", type=Path, help="reuse an archive a --keep run built")
    parser.add_argument(
        "--no-facets", action="store_true", help="skip the in-process facet count timings"
    )
    args = parser.parse_args()
    import httpx

    root = Path(tempfile.mkdtemp(prefix="bench-serve-", dir=args.dir))
    archive = args.archive or root / "archive"
    try:
        seconds = 0.0 if args.archive else build(archive, args.count)
        print(
            f"archive: {args.count:,} ledger statements + real fixture bags,"
            f" built in {seconds:.1f} s"
        )
        from preserve import ledger

        db = ledger.connect(archive, readonly=True)
        real = db.execute(
            "SELECT identifier FROM bags WHERE identifier NOT LIKE 'synthetic-%' AND"
            " identifier IN (SELECT identifier FROM catalog WHERE language = 'az-Latn') LIMIT 1"
        ).fetchone()[0]
        db.close()
        if not args.no_facets:
            facet_costs(archive)
        port = free_port()
        proc = start_server(archive, port, args.workers)
        base = f"http://127.0.0.1:{port}"
        pages = {
            "browse with facets (page 3, language filter)": "/?language=fr&page=3",
            "browse, first page": "/",
            "search, two mid-frequency words (ranked)": f"/search?q={WORDS[40]}+{WORDS[90]}",
            "search, one common word (newest first)": f"/search?q={WORDS[2]}",
            "search, two words + language filter": f"/search?q={WORDS[40]}+{WORDS[90]}&language=fr",
            "statement page (image cached)": f"/statements/{real}",
            "audit dashboard": "/audit",
        }
        #: Measured for latency, left out of the load mix (which stays comparable with
        #: earlier runs): the slowest search, a common word with a language filter.
        latency_only = {
            "search, common word + language filter": f"/search?q={WORDS[2]}&language=fr",
            "browse, two filters (language + type)": "/?language=fr&type=statement",
        }
        try:
            with httpx.Client(base_url=base, timeout=30) as c:
                assert c.get(f"/statements/{real}/pages/1.png").status_code == 200
                print(f"\n{'page':48} {'median ms':>10} {'p95 ms':>8} {'server CPU ms':>14}")
                for name, url in {**pages, **latency_only}.items():
                    c.get(url)
                    before = server_cpu(proc.pid)
                    median, p95 = latency(c, url, args.requests)
                    cpu_ms = (server_cpu(proc.pid) - before) / args.requests * 1000
                    print(f"{name:48} {median:10.1f} {p95:8.1f} {cpu_ms:14.1f}")
            urls = list(pages.values())
            cpu_before = server_cpu(proc.pid)
            count, took = load(port, urls, args.load_seconds, args.concurrency, args.load_max)
            cpu = server_cpu(proc.pid) - cpu_before
            print(
                f"\nload ({args.workers} server processes): {count:,} pages in {took:.1f} s"
                f" with {args.concurrency} connections"
                f" = {count / took:.0f} pages/s"
                f" ({os.cpu_count()} cores, server and client share them)"
            )
            if cpu > 0:
                print(
                    f"server CPU: {cpu:.1f} s for {count:,} pages = {count / cpu:.0f} pages per"
                    f" CPU-second, so {2 * count / cpu:.0f} pages/s on 2 cores left to it"
                )
            cpu_before = server_cpu(proc.pid)
            driven = load_wrk(port, urls, args.load_seconds, args.concurrency, root)
            if driven is None:
                print("wrk is not installed (apt-get install wrk): no load measured with it")
            else:
                count, took, spread = driven
                cpu = server_cpu(proc.pid) - cpu_before
                print(
                    f"\nload with wrk (1 thread, {args.concurrency} connections, the same mix):"
                    f" {count:,} pages in {took:.1f} s = {count / took:.0f} pages/s;"
                    f" server CPU {cpu:.1f} s"
                )
                print("latency under that load:\n" + spread)
            print("goals: p95 <= 50 ms search and statement, <= 100 ms browse; >= 200 pages/s")
            print(f"load average during the run (other work on this machine): {os.getloadavg()}")
        finally:
            proc.terminate()
            proc.wait(10)
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
