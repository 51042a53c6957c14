"""Contact lookup benchmark: the fuzzy index vs a plain rapidfuzz WRatio scan.

Generates N synthetic Indonesian-style contact names (seeded), builds core.contact_index
in memory, and runs realistic typo'd queries (one typo, swapped word order, missing or
extra diacritics, first name + partial last name, upper/lower case). For each size it
measures: query latency (median, p95, p99), top-1 accuracy, index memory (tracemalloc),
incremental update time of one contact, and the same queries against
`rapidfuzz.process.extract(query, names, scorer=WRatio)` over all names.

Usage: .venv/bin/python benchmarks/contact_lookup.py [--sizes 100000,1000000]
       [--queries 1000] [--scan-queries 100]
Writes benchmarks/results/contact_lookup.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

from rapidfuzz import fuzz, process, utils

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.contact_index import CONTACT, ContactIndex  # noqa: E402

FIRST = ("Budi", "Siti", "Agus", "Dewi", "Andi", "Rina", "Joko", "Sri", "Hendra", "Lina",
         "Wahyu", "Fitri", "Dedi", "Yanti", "Eko", "Nur", "Bambang", "Ratna", "Irfan", "Wulan",
         "Michael", "Jessica", "David", "Linda", "Steven", "Grace", "Kevin", "Angela", "Rudi",
         "Indah", "Taufik", "Mega", "Yusuf", "Ani", "Fajar", "Citra", "Gita", "Hadi", "Intan",
         "Kartika", "Hendro", "Slamet", "Sutrisno", "Putu", "Made", "Ketut", "Nyoman", "Wayan",
         "Rizky", "Putri", "Ayu", "Bayu", "Dimas", "Eka", "Fransiska", "Gilang", "Hana",
         "Ilham", "Jaya", "Kurnia", "Lestari", "Maria", "Novi", "Oki", "Prasetyo", "Rahmat",
         "Sinta", "Teguh", "Umar", "Vina", "Wawan", "Yoga", "Zainal", "Arif", "Bagus", "Cahya",
         "Dian", "Erwin", "Farah", "Galih", "Hesti", "Imam", "Johan", "Krisna", "Lukman")
SYLLABLES = ("su", "har", "to", "wi", "bo", "wo", "san", "ti", "ka", "ra", "ma", "nu", "di",
             "ja", "ya", "pu", "tra", "set", "ia", "wan", "gu", "na", "ha", "li", "mi", "ri",
             "sa", "ko", "ta", "no", "pra", "sty", "hen", "dra", "lim", "tan", "si", "re",
             "gar", "nas", "ion", "lu", "bis", "hom", "bing", "ef", "fen", "ku", "su", "ma",
             "ni", "dar", "yo", "tam", "bun", "an", "rah", "man", "kus", "win")
ACCENTS = {"a": "á", "e": "é", "i": "í", "o": "ö", "u": "ü"}


def make_names(n: int, rng: random.Random) -> list[str]:
    names: list[str] = []
    seen: set[frozenset[str]] = set()
    while len(names) < n:
        last = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3, 3, 4))))
        parts = [rng.choice(FIRST)]
        if rng.random() < 0.25:
            parts.append("".join(rng.choice(SYLLABLES) for _ in range(2)).capitalize())
        parts.append(last.capitalize())
        key = frozenset(p.lower() for p in parts)
        if key in seen:
            continue
        seen.add(key)
        if rng.random() < 0.03:  # a few names are stored with diacritics
            i = rng.randrange(len(parts))
            parts[i] = "".join(ACCENTS.get(c, c) if rng.random() < 0.3 else c
                               for c in parts[i])
        names.append(" ".join(parts))
    return names


def typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    op = rng.choice(("sub", "del", "ins", "swap"))
    letters = "aeioubdghkmnrst"
    if op == "sub":
        return word[:i] + rng.choice(letters) + word[i + 1:]
    if op == "del":
        return word[:i] + word[i + 1:]
    if op == "ins":
        return word[:i] + rng.choice(letters) + word[i:]
    return word[:i - 1] + word[i] + word[i - 1] + word[i + 1:]


def strip_accents(text: str) -> str:
    import unicodedata
    return "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c))


def make_query(name: str, rng: random.Random) -> tuple[str, str]:
    parts = strip_accents(name).split()
    kind = rng.choices(("typo", "order", "diacritics", "partial", "case"),
                       (45, 15, 15, 15, 10))[0]
    if kind == "typo":
        i = max(range(len(parts)), key=lambda k: len(parts[k]))
        parts[i] = typo(parts[i], rng)
        q = " ".join(parts)
    elif kind == "order":
        parts = parts[::-1]
        parts[0] = typo(parts[0], rng) if rng.random() < 0.5 else parts[0]
        q = " ".join(parts)
    elif kind == "diacritics":
        q = " ".join("".join(ACCENTS.get(c, c) if rng.random() < 0.25 else c for c in p)
                     for p in parts)
    elif kind == "partial":
        last = parts[-1]
        q = f"{parts[0]} {last[:max(4, len(last) - 2)]}"
    else:
        q = " ".join(parts).lower() if rng.random() < 0.5 else " ".join(parts).upper()
    return kind, q


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run_size(n: int, queries: int, scan_queries: int, seed: int) -> dict:
    rng = random.Random(seed + n)
    print(f"\n== {n:,} contacts: generating names ...", flush=True)
    names = make_names(n, rng)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    index = ContactIndex(min_sync_interval=1e9)
    index.loaded = True  # built in memory, no database
    for i, name in enumerate(names, 1):
        index.upsert_contact(i, name, company_id=1 + i % 5000)
    build_s = time.perf_counter() - t0
    gc.collect()
    gc.freeze()  # as ContactIndex.load() does after loading from the database
    memory_mb = (tracemalloc.get_traced_memory()[0] - before) / 1_048_576
    tracemalloc.stop()
    print(f"   built in {build_s:.1f} s, {memory_mb:.1f} MB, vocabulary "
          f"{index.vocabulary_size:,} tokens", flush=True)

    targets = [rng.randrange(n) for _ in range(queries)]
    qs = [make_query(names[t], rng) for t in targets]
    for _kind, q in qs[:20]:  # warm up
        index.search(q, kinds=(CONTACT,))
    lat: list[float] = []
    cpu: list[float] = []  # CPU time of this thread: the machine is shared, wall time is noisy
    correct = 0
    by_kind: dict[str, list[int]] = {}
    for t, (kind, q) in zip(targets, qs, strict=True):
        s, c = time.perf_counter(), time.thread_time()
        hits = index.search(q, kinds=(CONTACT,), limit=5)
        lat.append((time.perf_counter() - s) * 1000)
        cpu.append((time.thread_time() - c) * 1000)
        ok = bool(hits) and hits[0].id == t + 1
        correct += ok
        by_kind.setdefault(kind, [0, 0])
        by_kind[kind][0] += ok
        by_kind[kind][1] += 1

    # The plain scan on a subset of the same queries (it is slow at this size).
    m = min(scan_queries, queries)
    scan_lat: list[float] = []
    scan_correct = 0
    index_correct_subset = 0
    for t, (_kind, q) in list(zip(targets, qs, strict=True))[:m]:
        s = time.perf_counter()
        res = process.extract(q, names, scorer=fuzz.WRatio, processor=utils.default_process,
                              limit=5)
        scan_lat.append((time.perf_counter() - s) * 1000)
        scan_correct += bool(res) and res[0][2] == t
        hits = index.search(q, kinds=(CONTACT,), limit=5)
        index_correct_subset += bool(hits) and hits[0].id == t + 1

    # Incremental update of one contact (rename), in place.
    upd: list[float] = []
    upd_cpu: list[float] = []
    for _ in range(500):
        i = rng.randrange(n)
        new = make_names(1, random.Random(rng.random()))[0]
        s, c = time.perf_counter(), time.thread_time()
        index.upsert_contact(i + 1, new, company_id=1 + (i + 1) % 5000)
        upd.append((time.perf_counter() - s) * 1000)
        upd_cpu.append((time.thread_time() - c) * 1000)
        index.upsert_contact(i + 1, names[i], company_id=1 + (i + 1) % 5000)

    result = {
        "contacts": n, "queries": queries, "build_seconds": round(build_s, 2),
        "index_memory_mb": round(memory_mb, 1), "vocabulary": index.vocabulary_size,
        "index_ms": {"median": round(statistics.median(lat), 2), "p95": round(pct(lat, 95), 2),
                     "p99": round(pct(lat, 99), 2)},
        "index_cpu_ms": {"median": round(statistics.median(cpu), 2),
                         "p95": round(pct(cpu, 95), 2), "p99": round(pct(cpu, 99), 2)},
        "index_top1_accuracy": round(correct / queries, 4),
        "accuracy_by_query_kind": {k: round(v[0] / v[1], 3) for k, v in by_kind.items()},
        "scan_queries": m,
        "scan_ms": {"median": round(statistics.median(scan_lat), 2),
                    "p95": round(pct(scan_lat, 95), 2), "p99": round(pct(scan_lat, 99), 2)},
        "scan_top1_accuracy": round(scan_correct / m, 4),
        "index_top1_accuracy_on_scan_subset": round(index_correct_subset / m, 4),
        "update_ms": {"median": round(statistics.median(upd), 4),
                      "p99": round(pct(upd, 99), 4), "max": round(max(upd), 4),
                      "cpu_median": round(statistics.median(upd_cpu), 4),
                      "cpu_p99": round(pct(upd_cpu, 99), 4)},
    }
    result["speedup_median"] = round(result["scan_ms"]["median"] /
                                     result["index_ms"]["median"], 1)
    result["speedup_p95"] = round(result["scan_ms"]["p95"] / result["index_ms"]["p95"], 1)
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--scan-queries", type=int, default=100)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    results = []
    for n in (int(x) for x in args.sizes.split(",")):
        scan_q = args.scan_queries if n <= 200_000 else max(10, args.scan_queries // 5)
        results.append(run_size(n, args.queries, scan_q, args.seed))
    print("\n contacts | idx med | idx p95 | idx p99 | top-1 | scan med | scan p95 | "
          "scan top-1 (idx same set) | speed-up med/p95 | memory | update med/p99")
    for r in results:
        print(f" {r['contacts']:>8,} | {r['index_ms']['median']:>5.2f}ms | "
              f"{r['index_ms']['p95']:>5.2f}ms | {r['index_ms']['p99']:>5.2f}ms | "
              f"{r['index_top1_accuracy']:.1%} | {r['scan_ms']['median']:>7.1f}ms | "
              f"{r['scan_ms']['p95']:>7.1f}ms | {r['scan_top1_accuracy']:.1%} "
              f"({r['index_top1_accuracy_on_scan_subset']:.1%}, n={r['scan_queries']}) | "
              f"x{r['speedup_median']}/x{r['speedup_p95']} | {r['index_memory_mb']} MB | "
              f"{r['update_ms']['median']:.3f}/{r['update_ms']['p99']:.3f} ms")
        print(f"          index CPU time (this thread) med/p95/p99: "
              f"{r['index_cpu_ms']['median']:.2f}/{r['index_cpu_ms']['p95']:.2f}/"
              f"{r['index_cpu_ms']['p99']:.2f} ms; update CPU med/p99: "
              f"{r['update_ms']['cpu_median']:.3f}/{r['update_ms']['cpu_p99']:.3f} ms")
        print(f"          accuracy by query kind: {r['accuracy_by_query_kind']}")
    out = ROOT / "benchmarks" / "results" / "contact_lookup.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten {out}")


if __name__ == "__main__":
    main()
