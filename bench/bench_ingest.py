"""Benchmark: ingest throughput and peak memory; search latency on a large index.

    python bench/bench_ingest.py [--statements 1000] [--workers N] [--index 100000]

1. Ingests N generated one-page statements into a fresh archive (parse, validate,
   render PDF/A-2u, bag with sha256+sha512, publish, ledger) and prints
   statements per second and the peak memory of the ingesting process and its
   worker processes. Goal: >= 50 statements/s on 2 cores.
2. Fills a ledger's full-text index directly with N generated statements in
   English, Azerbaijani, Russian and Armenian words (as ingest would, without
   rendering), then times queries through ``preserve.search``. Goal: median
   <= 20 ms on 100,000 statements.

Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import itertools
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path

from preserve import ledger
from preserve.archive import IngestOptions, Status, ingest
from preserve.search import fts_query, search_db

WORDS = {
    "en": "library school water road safety children report hotline visit rights access "
    "public health hospital teachers families commission annual open service day".split(),
    "az": "kitabxana məktəb su yol təhlükəsizlik uşaqlar hesabat qaynar xətt hüquqları "
    "ictimai səhiyyə xəstəxana müəllimlər ailələr komissiya illik açıq xidmət gün".split(),
    "ru": "библиотека школа вода дорога безопасность дети доклад горячая линия права "
    "доступ здоровье больница учителя семьи комиссия ежегодный открытый служба".split(),
    "hy": "գրադարան դպրոց ջուր ճանապարհ անվտանգություն երեխաներ զեկույց իրավունքներ "
    "հանրային առողջություն հիվանդանոց ուսուցիչներ ընտանիքներ հանձնաժողով".split(),
}


def statement_text(i: int, rng: random.Random) -> str:
    lang = list(WORDS)[i % len(WORDS)]
    words = WORDS[lang]
    body = [
        " ".join(rng.choice(words) for _ in range(rng.randint(40, 70))).capitalize() + "."
        for _ in range(4)
    ]
    title = " ".join(rng.choice(words) for _ in range(6)).capitalize() + f" {i}"
    return (
        f"{title}\n\n" + "\n\n".join(body) + "\n\nJane Doe\nOmbudsman of Springfield\n\n"
        "1 March 2024\n\nSearch in archive\n"
    )


def peak_mib() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def bench_ingest(count: int, workers: int | None, root: Path) -> None:
    rng = random.Random(1)
    inputs = root / "in"
    inputs.mkdir()
    for i in range(count):
        (inputs / f"s{i:06d}.txt").write_text(statement_text(i, rng), encoding="utf-8")
    started = time.perf_counter()
    report = ingest([inputs], root / "archive", IngestOptions(workers=workers))
    seconds = time.perf_counter() - started
    own, children = peak_mib()
    ingested = report.count(Status.ingested)
    print(
        f"ingest: {count} one-page statements in {seconds:.1f} s = {count / seconds:.1f} /s "
        f"({ingested} ingested; workers={workers or 'all cores'})"
    )
    for result in report.results:
        if result.status is Status.failed:
            print(f"ingest: FAILED {result.source}: {result.message}")
    print(f"ingest: peak memory {own:.0f} MiB (main process), {children:.0f} MiB (largest worker)")


SYLLABLES = {
    "en": "ba be bi bo ka ke ki ko la le li lo ma me mi mo na ne ni no ra re ri ro sa se "
    "si so ta te ti to".split(),
    "az": "ba bə bi bo qa qə qı ka kə la lə lı ma mə mı na nə nı ra rə rı sa sə şa şə ta tə "
    "ğa ğı ça çə dü dö".split(),
    "ru": "ба бе би бо ка ке ки ко ла ле ли ло ма ме ми мо на не ни но ра ре ри ро са се "
    "си со та те ти то".split(),
    "hy": "բա բե բի բո կա կե կի կո լա լե լի լո մա մե մի մո նա նե նի նո րա րե րի րո սա "
    "սե սի սո տա տե".split(),
}


def vocabulary(lang: str, size: int, rng: random.Random) -> list[str]:
    """Real words first, then invented ones: a language-like vocabulary of ``size`` words."""
    words = list(dict.fromkeys(WORDS[lang]))
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES[lang]) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def bench_search(count: int, root: Path, queries: int = 300, vocab: int = 5000) -> None:
    """Words drawn by Zipf's law (rank r has weight 1/r), as in natural text."""
    rng = random.Random(2)
    zipf = list(itertools.accumulate(1 / rank for rank in range(1, vocab + 1)))
    vocabularies = {lang: vocabulary(lang, vocab, rng) for lang in WORDS}
    archive = root / "index"
    archive.mkdir()
    db = ledger.connect(archive)
    started = time.perf_counter()
    with ledger.write(db):
        rows = []
        for i in range(count):
            words = vocabularies[list(WORDS)[i % len(WORDS)]]
            title = " ".join(rng.choices(words, cum_weights=zipf, k=6))
            body = " ".join(rng.choices(words, cum_weights=zipf, k=300))
            rows.append((f"id-{i:06d}", "2024-03-01", title, body, "Jane Doe Ombudsman", ""))
            if len(rows) == 5000:
                db.executemany("INSERT INTO statements_fts VALUES (?, ?, ?, ?, ?, ?)", rows)
                rows.clear()
        db.executemany("INSERT INTO statements_fts VALUES (?, ?, ?, ?, ?, ?)", rows)
        db.execute("INSERT INTO statements_fts(statements_fts) VALUES ('optimize')")
    db.close()
    print(
        f"search: built an index of {count:,} statements ({vocab:,}-word vocabulary per "
        f"language, 300 words each) in {time.perf_counter() - started:.0f} s"
    )
    db = ledger.connect(archive, readonly=True)
    cases = {
        "1-2 words drawn like text": lambda words: rng.choices(
            words, cum_weights=zipf, k=rng.choice([1, 2])
        ),
        "the most common word (worst case)": lambda words: words[:1],
    }
    for name, pick in cases.items():
        timings = []
        for _ in range(queries):
            words = vocabularies[rng.choice(list(WORDS))]
            text = " ".join(pick(words))
            t = time.perf_counter()
            search_db(db, fts_query(text), limit=20)
            timings.append((time.perf_counter() - t) * 1000)
        timings.sort()
        print(
            f"search: {name}, {queries} queries on {count:,} statements: median "
            f"{statistics.median(timings):.1f} ms, p90 {timings[int(len(timings) * 0.9)]:.1f} ms,"
            f" max {timings[-1]:.1f} ms"
        )
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--index", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        if args.statements:
            bench_ingest(args.statements, args.workers, root)
        if args.index:
            bench_search(args.index, root)


if __name__ == "__main__":
    main()
