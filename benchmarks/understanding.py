"""Understanding benchmark: intents and slots of the labelled set, and the time it takes.

The real path of a message's understanding: the contact index (the demo's customers plus N
synthetic contacts and companies, seeded), the slot finder, the trained classifier. Runs the
labelled set of tests/understanding (held-out phrasings, English and Indonesian) and prints:
- intent and slot accuracy, per language and per labelled file, how often the message's
  language is told (undecided keeps the user's; told wrong is counted), the confusion table
  (which intent was taken for which; "__none__" = the bot asked or said it did not understand);
- understanding time per message, p50 / p95 / p99 (target p95 <= 3 ms at 100k contacts);
- the peer, side by side on the same set: the regex intents of commit 9dfedd4
  (benchmarks/baselines), scored by the flow they start (anything unmatched went to the
  customer lookup with the whole sentence), and their time per message.

Usage: .venv/bin/python benchmarks/understanding.py [--contacts 100000] [--runs 3]
Writes benchmarks/results/understanding.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from benchmarks.baselines.regex_intents_9dfedd4 import FALLBACK, INTENTS  # noqa: E402
from bot.conversations.registry import build_registry  # noqa: E402
from bot.conversations.understanding.understander import Understander  # noqa: E402
from core.contact_index import ContactIndex  # noqa: E402
from core.db import Database  # noqa: E402
from core.demo import SeedOptions, seed_demo  # noqa: E402
from core.models import Base  # noqa: E402
from tests.understanding.labelled import (  # noqa: E402
    ROLE_ORDER,
    asker_of,
    evaluate,
    load,
    predicted_intent,
)

FIRST = ("Budi", "Siti", "Agus", "Dewi", "Andi", "Rina", "Joko", "Sri", "Hendra", "Lina",
         "Wahyu", "Fitri", "Dedi", "Yanti", "Eko", "Nur", "Bambang", "Ratna", "Irfan", "Wulan",
         "Michael", "Jessica", "David", "Linda", "Steven", "Grace", "Kevin", "Angela", "Rudi",
         "Taufik", "Mega", "Yusuf", "Ani", "Fajar", "Citra", "Gita", "Hadi", "Intan", "Putu",
         "Made", "Ketut", "Wayan", "Rizky", "Putri", "Ayu", "Bayu", "Dimas", "Eka", "Gilang")
SYLLABLES = ("su", "har", "to", "wi", "bo", "wo", "san", "ti", "ka", "ra", "ma", "nu", "di",
             "ja", "ya", "pu", "tra", "set", "ia", "wan", "gu", "na", "ha", "li", "mi", "ri",
             "sa", "ko", "ta", "no", "pra", "hen", "dra", "lim", "tan", "si", "re", "gar")
PARTS = ("Sinar", "Jaya", "Maju", "Abadi", "Sentosa", "Makmur", "Mandiri", "Sejahtera",
         "Bintang", "Timur", "Nusantara", "Karya", "Prima", "Mulia", "Cahaya", "Agung",
         "Lestari", "Sumber", "Rejeki", "Harapan", "Indah", "Perkasa", "Global", "Mitra",
         "Utama", "Samudra", "Gemilang", "Berkah", "Putra", "Anugerah", "Teknik", "Logam")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def build(contacts: int, seed: int = 11) -> tuple[Database, ContactIndex, Understander, float]:
    """The demo world of the tests in SQLite, its index plus synthetic records, the model."""
    folder = Path(tempfile.mkdtemp(prefix="sfa-understanding-"))
    db = Database(f"sqlite:///{folder / 'bench.db'}")
    Base.metadata.create_all(db.engine)
    with db.session() as session:
        seed_demo(session, now=datetime(2026, 3, 2, 2, tzinfo=UTC),
                  options=SeedOptions(companies=40, contacts=100, seed=7, day_plan=False))
    # Trained before the index is loaded, as at the product's start-up (build_app trains it in
    # the engine; the index loads on the first message).
    phrasings = build_registry().phrasings
    started = time.perf_counter()
    understander = Understander(phrasings)
    train_seconds = time.perf_counter() - started
    index = ContactIndex(min_sync_interval=3600)
    with db.session() as session:
        index.load(session)
    rng = random.Random(seed)
    base = 10_000_000  # ids beyond the database's
    companies = max(1, contacts // 5)
    with db.session() as session:
        from core.models import Company

        demo = [frozenset(n.lower().split()) for n in session.scalars(select(Company.name))]
    i = 0
    while i < companies:
        parts = rng.sample(PARTS, rng.choice((2, 2, 3)))
        # A synthetic company must not be named like a demo one or a part of its name (a
        # real "Sinar Jaya" beside "Sinar Jaya Abadi" would be a real ambiguity to ask about).
        if any(frozenset(p.lower() for p in parts) <= name for name in demo):
            continue
        index.upsert_company(base + i, " ".join(parts), territory_id=1 + i % 6, owner_id=None)
        i += 1
    for i in range(contacts):
        last = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3, 3))))
        name = f"{rng.choice(FIRST)} {last.capitalize()}"
        index.upsert_contact(base + i, name, base + rng.randrange(companies),
                             phones=(f"0812{rng.randrange(10**8):08d}",))
    return db, index, understander, train_seconds


FLOW_OF_INTENT: dict[str, str] = {}


def regex_flow(text: str) -> str:
    """The flow the regex intents of 9dfedd4 started for `text` (else the lookup)."""
    for item in sorted(INTENTS, key=lambda i: i.priority):
        if item.match(text) is not None:
            return item.flow
    return FALLBACK


def run(contacts: int, runs: int) -> dict[str, object]:
    db, index, understander, train_seconds = build(contacts)
    registry = build_registry()
    gc.collect()
    gc.freeze()  # as the doors do after start-up (bot/handlers/telegram.py)
    items = load()
    flow_of = {p.name: p.flow for p in understander.phrasings.values()}
    flow_of["__none__"] = "__none__"
    times: list[float] = []
    cpu_times: list[float] = []
    regex_times: list[float] = []
    results = []
    with db.session() as session:
        understander.understand("warm up", session, index)
        for _ in range(runs):
            result = evaluate(understander, session, index, items, registry)
            times.extend(result.seconds)
            cpu_times.extend(result.cpu_seconds)
            results.append(result)
        regex_ok = flows_ok = 0
        per_intent: dict[str, Counter[str]] = defaultdict(Counter)
        allowed = {role: frozenset(n for n, p in understander.phrasings.items()
                                   if role in registry.flows[p.flow].roles)
                   for role in ROLE_ORDER}
        for item in items:
            role = asker_of(item.intent, understander, registry)
            u = understander.understand(item.text, session, index, allowed[role].__contains__)
            got = predicted_intent(u)
            per_intent[item.intent][got] += 1
            if flow_of.get(got) == flow_of.get(item.intent, item.intent):
                flows_ok += 1
            for _ in range(runs):
                started = time.perf_counter()
                flow = regex_flow(item.text)
                regex_times.append(time.perf_counter() - started)
            want = flow_of.get(item.intent, item.intent)
            if flow == want:
                regex_ok += 1
        by_language = {lang: evaluate(understander, session, index,
                                      [i for i in items if i.language == lang], registry)
                       for lang in ("en", "id")}
        files = sorted({i.line.split(":")[0] for i in items})
        by_file = {(name, lang): evaluate(
            understander, session, index,
            [i for i in items if i.line.split(":")[0] == name and lang in (None, i.language)],
            registry) for name in files for lang in (None, "en", "id")}
    result = results[-1]
    ms = [t * 1000 for t in times]
    cpu_ms = [t * 1000 for t in cpu_times]
    regex_ms = [t * 1000 for t in regex_times]
    n = len(items)
    report: dict[str, object] = {
        "contacts_indexed": len(index), "utterances": n, "runs": runs,
        "load_average": os.getloadavg(), "training_seconds": round(train_seconds, 3),
        "intent_accuracy": round(result.intent_accuracy, 4),
        "slot_accuracy": round(result.slot_accuracy, 4),
        "language_accuracy": round(result.language_accuracy, 4),
        "language_wrong": result.language_wrong,
        "intent_accuracy_en": round(by_language["en"].intent_accuracy, 4),
        "intent_accuracy_id": round(by_language["id"].intent_accuracy, 4),
        "per_file": {name: {"utterances": r.total, "intent_accuracy": round(r.intent_accuracy, 4),
                            "slot_accuracy": round(r.slot_accuracy, 4),
                            "language_accuracy": round(r.language_accuracy, 4),
                            "intent_accuracy_en": round(by_file[name, "en"].intent_accuracy, 4),
                            "intent_accuracy_id": round(by_file[name, "id"].intent_accuracy, 4)}
                     for (name, lang), r in by_file.items() if lang is None},
        "flow_accuracy": round(flows_ok / n, 4),
        "regex_flow_accuracy": round(regex_ok / n, 4),
        "flow_accuracy_ratio_to_regex": round((flows_ok / n) / max(regex_ok / n, 1e-9), 2),
        "p50_ms": round(statistics.median(ms), 3), "p95_ms": round(percentile(ms, 0.95), 3),
        "p99_ms": round(percentile(ms, 0.99), 3),
        "cpu_p50_ms": round(statistics.median(cpu_ms), 3),
        "cpu_p95_ms": round(percentile(cpu_ms, 0.95), 3),
        "regex_p50_ms": round(statistics.median(regex_ms), 4),
        "regex_p95_ms": round(percentile(regex_ms, 0.95), 4),
        "time_ratio_to_regex_p50": round(statistics.median(ms) / statistics.median(regex_ms), 1),
        "clarified": result.clarified,
        "confusion": {want: dict(got) for want, got in sorted(per_intent.items())},
        "errors": result.errors[:80],
    }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    report = run(args.contacts, args.runs)
    print(f"load average {report['load_average']}; {report['contacts_indexed']} records indexed;"
          f" {report['utterances']} labelled utterances x {report['runs']} runs;"
          f" training {report['training_seconds']} s")
    print()
    print(f"{'':28}{'ours':>12}{'regex 9dfedd4':>16}{'ratio':>8}")
    print(f"{'flow taken right':28}{report['flow_accuracy']:>12.1%}"
          f"{report['regex_flow_accuracy']:>16.1%}{report['flow_accuracy_ratio_to_regex']:>8}")
    print(f"{'intent right (ours only)':28}{report['intent_accuracy']:>12.1%}")
    print(f"{'  English / Indonesian':28}{report['intent_accuracy_en']:>11.1%}"
          f" / {report['intent_accuracy_id']:.1%}")
    print(f"{'slots right':28}{report['slot_accuracy']:>12.1%}")
    print(f"{'language told (wrong)':28}{report['language_accuracy']:>12.1%}"
          f" ({report['language_wrong']})")
    per_file = report["per_file"]
    assert isinstance(per_file, dict)
    for name, figures in per_file.items():
        print(f"{'  ' + name:28}{figures['intent_accuracy']:>12.1%}"
              f"  en {figures['intent_accuracy_en']:.1%} / id {figures['intent_accuracy_id']:.1%},"
              f" slots {figures['slot_accuracy']:.1%}, language {figures['language_accuracy']:.1%}"
              f" ({figures['utterances']})")
    print(f"{'time p50 (ms)':28}{report['p50_ms']:>12}{report['regex_p50_ms']:>16}"
          f"{report['time_ratio_to_regex_p50']:>8}")
    print(f"{'time p95 (ms)':28}{report['p95_ms']:>12}{report['regex_p95_ms']:>16}")
    print(f"{'time p99 (ms)':28}{report['p99_ms']:>12}")
    print(f"{'CPU p50 / p95 (ms)':28}{report['cpu_p50_ms']:>12} / {report['cpu_p95_ms']}")
    print()
    print("confusion (labelled intent: what was taken, count)")
    confusion = report["confusion"]
    assert isinstance(confusion, dict)
    for want, got in confusion.items():
        right = got.get(want, 0)
        wrong = ", ".join(f"{k} {v}" for k, v in sorted(got.items(), key=lambda kv: -kv[1])
                          if k != want)
        print(f"  {want:16} {right:>3}/{sum(got.values()):<3} {wrong}")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "understanding.json").write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
