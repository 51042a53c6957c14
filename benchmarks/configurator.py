"""The guided configurator over a 2,000-product catalogue with 5,000 rules (target: p95 <=
50 ms per answered question).

Generates a seeded catalogue: 1,800 products filling the six components of one family (with
numeric and text attributes) and 200 accessories, every product priced on one IDR list, and
5,000 rules between them (1,500 requires, 1,500 excludes, 1,000 options, 200 bundles, 800
suggests); a family of eight questions (fits, conditions, quantities, a budget band). Then a
rep configures it through the conversation engine, many times, pressing a random offered
answer each time: every press is one answered question (the last one also builds, prices
and saves the two alternatives). Timed side by side:

- each answered question through the engine (state, the step, the reply);
- the same decisions through core.configurator alone (the cached, numpy model);
- a brute-force peer: the same decisions by scanning every product and every rule in plain
  Python at each answer (the catalogue read once, no index, no arrays); its answers are
  checked to equal the service's.

    .venv/bin/python benchmarks/configurator.py [--products 2000] [--rules 5000] [--walks 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select

from bot.app import build_app
from bot.conversations.messages import Incoming, Reply
from core import config_families as families
from core import configurator as cfg
from core.clock import ManualClock
from core.db import Database
from core.models import Base, ChatIdentity, Company, Role, Team, Territory, TerritoryRep, User
from core.models.configurator import ProductSpec
from core.models.quotes import PriceList, PriceListItem, Product, ProductRule
from core.settings import Settings
from core.stamped_cache import StampedCache

RESULTS = Path(__file__).resolve().parent / "results"
NOW = datetime(2026, 5, 20, 3, 0, tzinfo=UTC)
ROLES = ("base", "storage", "network", "power", "backup", "support")
TIERS = ("economy", "standard", "premium")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def stats(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "median_ms": round(statistics.median(values), 2),
            "p95_ms": round(percentile(values, 95), 2),
            "p99_ms": round(percentile(values, 99), 2), "max_ms": round(max(values), 2)}


FAMILY: dict[str, Any] = {
    "code": "bench", "name": "Bench solution", "words": ["bench"],
    "questions": [
        {"attr": "users", "text": "Users?", "options": [
            {"value": v, "label": str(v)} for v in (10, 50, 100, 250, 500, 800)]},
        {"attr": "sites", "text": "Sites?", "options": [
            {"value": v, "label": str(v)} for v in (1, 2, 3, 5)], "default": 1},
        {"attr": "speed", "text": "Speed?", "options": [
            {"value": v, "label": str(v)} for v in (1, 10, 40, 100)]},
        {"attr": "size_tb", "text": "Storage?", "ask_if": {"users": {">=": 50}},
         "options": [{"value": v, "label": str(v)} for v in (1, 4, 16, 64)]},
        {"attr": "env", "text": "Where?", "options": [
            {"value": "indoor", "label": "Indoor"}, {"value": "outdoor", "label": "Outdoor"}]},
        {"attr": "backup", "text": "Backup?", "options": [
            {"value": "no", "label": "No"}, {"value": "yes", "label": "Yes"}]},
        {"attr": "support", "text": "Support?", "options": [
            {"value": "none", "label": "None"}, {"value": "8x5", "label": "8x5"},
            {"value": "24x7", "label": "24x7"}]},
        {"attr": "budget", "text": "Budget?", "options": [
            {"value": t, "label": t} for t in TIERS]},
    ],
    "components": [
        {"role": "base", "fit": [{"attr": "cap", "op": ">=", "answer": "users"},
                                 {"attr": "speed", "op": ">=", "answer": "speed"}],
         "quantity": {"per": "sites"}, "prefer": {"attr": "tier", "answer": "budget"}},
        {"role": "storage", "fit": [{"attr": "tb", "op": ">=", "answer": "size_tb"}],
         "when": {"users": {">=": 50}}, "quantity": {"per": "sites"},
         "prefer": {"attr": "tier", "answer": "budget"}},
        {"role": "network", "fit": [{"attr": "speed", "op": ">=", "answer": "speed"},
                                    {"attr": "env", "op": "==", "answer": "env"}],
         "quantity": {"per": "sites"}},
        {"role": "power", "fit": [{"attr": "cap", "op": ">=", "answer": "users"}],
         "when": {"env": "outdoor"}},
        {"role": "backup", "fit": [{"attr": "tb", "op": ">=", "answer": "size_tb"}],
         "when": {"backup": "yes"}},
        {"role": "support", "fit": [{"attr": "level", "op": "==", "answer": "support"}],
         "when": {"support": ["8x5", "24x7"]}, "prefer": {"attr": "tier", "answer": "budget"}},
    ],
}


def build(db: Database, n_products: int, n_rules: int, seed: int) -> None:
    rng = random.Random(seed)
    Base.metadata.create_all(db.engine)
    per_role = (n_products - 200) // len(ROLES)
    products, specs, items = [], [], []
    pid = 0
    role_ids: dict[str, list[int]] = {r: [] for r in ROLES}
    accessories: list[int] = []
    for role in ROLES:
        for _ in range(per_role):
            pid += 1
            attrs: dict[str, Any] = {"role": role, "tier": rng.choice(TIERS),
                                     "cap": rng.choice((20, 60, 120, 300, 600, 1000)),
                                     "speed": rng.choice((1, 10, 40, 100)),
                                     "tb": rng.choice((2, 8, 32, 128)),
                                     "env": rng.choice(("indoor", "outdoor")),
                                     "level": rng.choice(("8x5", "24x7"))}
            products.append(pid)
            role_ids[role].append(pid)
            specs.append({"product_id": pid, "family": "bench", "attrs": attrs,
                          "updated_at": NOW})
    while pid < n_products:
        pid += 1
        products.append(pid)
        accessories.append(pid)
    component_ids = [p for r in ROLES for p in role_ids[r]]
    rules: set[tuple[str, int, int]] = set()
    plan = (("requires", int(n_rules * 0.30)), ("excludes", int(n_rules * 0.30)),
            ("option", int(n_rules * 0.20)), ("bundle", int(n_rules * 0.04)),
            ("suggests", n_rules - int(n_rules * 0.84)))
    bundle_heads = set(rng.sample(component_ids, 60))
    for kind, count in plan:
        made = 0
        while made < count:
            if kind == "excludes":
                a, b = rng.sample(component_ids, 2)
            elif kind == "bundle":
                a, b = rng.choice(sorted(bundle_heads)), rng.choice(accessories)
            else:
                a, b = rng.choice(component_ids), rng.choice(accessories)
            if (kind, a, b) not in rules and a != b:
                rules.add((kind, a, b))
                made += 1
    with db.engine.begin() as conn:
        conn.execute(insert(Product), [
            {"id": p, "sku": f"SKU-{p:05d}", "name": f"Product {p}", "category": "bench",
             "unit": "unit", "tax_rate": Decimal(11), "active": True, "created_at": NOW,
             "updated_at": NOW} for p in products])
        conn.execute(insert(ProductSpec), specs)
        conn.execute(insert(ProductRule), [
            {"kind": k, "product_id": a, "target_id": b, "quantity": 1}
            for k, a, b in sorted(rules)])
        conn.execute(insert(PriceList), [{"id": 1, "code": "IDR", "name": "IDR",
                                          "currency": "IDR", "segment": None,
                                          "valid_from": date(2026, 1, 1), "valid_to": None,
                                          "active": True}])
        for p in products:
            if p in bundle_heads:
                continue  # priced by its parts
            price = Decimal(rng.randrange(100, 50_000)) * 1000
            items.append({"price_list_id": 1, "product_id": p, "unit_price": price,
                          "floor_price": price * Decimal("0.8")})
        conn.execute(insert(PriceListItem), items)
        conn.execute(insert(Team), [{"id": 1, "name": "Bench", "approval_threshold": 0,
                                     "currency": "IDR"}])
        conn.execute(insert(Territory), [{"id": 1, "name": "Bench", "region": "Bench",
                                          "team_id": 1}])
        conn.execute(insert(User), [{"id": 1, "login": "rep", "name": "Bench Rep",
                                     "role": Role.REP.value, "team_id": 1,
                                     "timezone": "Asia/Jakarta", "locale": "en",
                                     "active": True, "created_at": NOW}])
        conn.execute(insert(TerritoryRep), [{"territory_id": 1, "user_id": 1}])
        conn.execute(insert(Company), [{"id": 1, "name": "Bench Customer",
                                        "territory_id": 1, "owner_id": 1, "city": "Bench",
                                        "created_at": NOW, "updated_at": NOW}])
        conn.execute(insert(ChatIdentity), [{"platform": "console", "external_id": "rep",
                                             "chat_id": "rep", "user_id": 1,
                                             "linked_at": NOW}])
    with db.session() as s:
        families.load_families(s, {"families": [FAMILY]}, NOW)


# -- the brute-force peer: every product and rule scanned in plain Python -------------------
class Brute:
    def __init__(self, db: Database) -> None:
        with db.session() as s:
            self.specs = [(pid, dict(attrs)) for pid, attrs in s.execute(
                select(ProductSpec.product_id, ProductSpec.attrs).where(
                    ProductSpec.family == "bench").order_by(ProductSpec.product_id))]
            self.rules = [tuple(r) for r in s.execute(select(
                ProductRule.kind, ProductRule.product_id, ProductRule.target_id,
                ProductRule.quantity))]
            self.prices = {pid: Decimal(price) for pid, price in s.execute(
                select(PriceListItem.product_id, PriceListItem.unit_price))}
        self.spec = FAMILY

    def fits(self, comp: dict[str, Any], attrs: dict[str, Any], answers: dict[str, Any]
             ) -> bool:
        if attrs.get("role") != comp["role"]:
            return False
        for fit in comp.get("fit", []):
            if fit["answer"] not in answers:
                continue
            value, need = attrs.get(fit["attr"]), answers[fit["answer"]]
            if value is None or not cfg._compare(value, fit["op"], need):
                return False
        return True

    def candidates(self, comp: dict[str, Any], answers: dict[str, Any]) -> list[int]:
        return [pid for pid, attrs in self.specs if self.fits(comp, attrs, answers)]

    def next_question(self, answers: dict[str, Any]) -> tuple[str | None, list[int]]:
        known = dict(answers)
        for q in self.spec["questions"]:
            attr = q["attr"]
            if attr in known or cfg.condition(q.get("ask_if"), known) is False:
                continue
            users = [c for c in self.spec["components"] if self._depends(c, attr)
                     and cfg.condition(c.get("when"), known) is not False]
            if not users:
                continue
            feasible = []
            signatures = []
            quantity = False
            for i, opt in enumerate(q["options"]):
                trial = {**known, attr: opt["value"]}
                ok = True
                sig = []
                for comp in self.spec["components"]:
                    state = cfg.condition(comp.get("when"), trial)
                    cands = self.candidates(comp, trial) if state is not False else []
                    if comp.get("required", True) and state is True and not cands:
                        ok = False
                    how = self._depends(comp, attr)
                    if how is None:
                        continue
                    if how == "quantity" and state is not False:
                        quantity = True
                    if how == "prefer" and state is not False and len(
                            {a.get("tier") for p, a in self.specs if p in set(cands)}) > 1:
                        quantity = True
                    sig.append((state, tuple(cands) if state is not False else ()))
                if ok:
                    feasible.append(i)
                signatures.append(sig)
            if not feasible:
                return attr, []
            if not quantity and all(s == signatures[0] for s in signatures[1:]) \
                    and len(feasible) == len(q["options"]):
                continue
            if len(feasible) == 1:
                known[attr] = q["options"][feasible[0]]["value"]
                continue
            return attr, feasible
        return None, []

    @staticmethod
    def _depends(comp: dict[str, Any], attr: str) -> str | None:
        if comp.get("when") and attr in comp["when"]:
            return "when"
        if (comp.get("quantity") or {}).get("per") == attr:
            return "quantity"
        if any(f["answer"] == attr for f in comp.get("fit", [])):
            return "fit"
        if (comp.get("prefer") or {}).get("answer") == attr:
            return "prefer"
        return None

    def budget(self, answers: dict[str, Any]) -> dict[int, int]:
        """The budget bill of materials, every rule looked up by scanning the rule list."""
        chosen: dict[int, int] = {}

        def price(pid: int) -> Decimal | None:
            if pid in self.prices:
                return self.prices[pid]
            parts = [(t, q) for k, p, t, q in self.rules if k == "bundle" and p == pid]
            if not parts or any(t not in self.prices for t, _q in parts):
                return None
            return sum((self.prices[t] * q for t, q in parts), Decimal(0))

        def blocked(pid: int) -> bool:
            group = {pid} | {t for k, p, t, _q in self.rules if k == "requires" and p == pid}
            for k, a, b, _q in self.rules:
                if k == "excludes" and ((a in group and (b in chosen or b in group))
                                        or (b in group and (a in chosen or a in group))):
                    return True
            return False

        def add(pid: int, qty: int, depth: int = 0) -> None:
            chosen[pid] = max(chosen.get(pid, 0), qty)
            if depth > 4:
                return
            for k, p, t, q in self.rules:
                if k == "requires" and p == pid and chosen.get(t, 0) < qty * q:
                    add(t, qty * q, depth + 1)

        for comp in self.spec["components"]:
            if cfg.condition(comp.get("when"), answers) is not True:
                continue
            cands = [(price(p), p) for p in self.candidates(comp, answers)]
            for _price, pid in sorted((c for c in cands if c[0] is not None),
                                      key=lambda c: (c[0], c[1])):
                if not blocked(pid):
                    per = (comp.get("quantity") or {}).get("per")
                    add(pid, max(1, int(answers.get(per, 1))) if per else 1)
                    break
        return chosen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--rules", type=int, default=5000)
    parser.add_argument("--walks", type=int, default=40)
    parser.add_argument("--seed", type=int, default=25)
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    db = Database(f"sqlite:///{Path(tmp.name) / 'configurator.db'}")
    started = time.perf_counter()
    build(db, args.products, args.rules, args.seed)
    built = time.perf_counter() - started
    settings = Settings(_env_file=None, database_url=db.url,  # type: ignore[call-arg]
                        data_dir=Path(tmp.name) / "data", rate_limit_messages=0)
    app = build_app(settings, clock=ManualClock(NOW), db=db, upgrade=False)
    rng = random.Random(args.seed)
    counter = iter(range(10**9))
    engine_ms: list[float] = []
    proposal_ms: list[float] = []
    walks: list[list[tuple[str, Any]]] = []

    async def send(**kw: Any) -> tuple[list[Reply], float]:
        inc = Incoming(platform="console", chat_id="rep", user_id="rep",
                       update_id=f"c{next(counter)}", **kw)
        t0 = time.perf_counter()
        replies = await app.engine.handle(inc)
        return replies, (time.perf_counter() - t0) * 1000

    async def walk(record: bool) -> None:
        replies, _ms = await send(text="/configure Bench Customer")
        again = [b for r in replies for row in r.buttons for b in row if b.value == "new"]
        if again:  # the customer's earlier configuration: start over
            replies, _ms = await send(button=again[0].payload)
        path: list[tuple[str, Any]] = []
        while True:
            buttons = [b for r in replies for row in r.buttons for b in row]
            answers = [b for b in buttons if b.value.startswith("o")]
            if not answers:
                assert any(b.value.startswith("q:") for b in buttons), replies[-1].text[:300]
                break
            pick = rng.choice(answers)
            replies, ms = await send(button=pick.payload)
            path.append((pick.label, pick.value))
            if record:
                done = any(b.value.startswith("q:") for r in replies for row in r.buttons
                           for b in row)
                (proposal_ms if done else engine_ms).append(ms)
        if record:
            walks.append(path)
        await send(text="/cancel")

    async def all_walks() -> None:
        for _ in range(3):
            await walk(False)  # warm up: imports, the compiled family, statement caches
        for _ in range(args.walks):
            await walk(True)

    asyncio.run(all_walks())

    # The same decisions, replayed: the service (cached model) and the brute-force peer.
    brute = Brute(db)
    service_ms: list[float] = []
    brute_ms: list[float] = []
    checked = 0
    cache = StampedCache()  # as the app's (Services.configurator)
    with db.session() as s:
        company = s.get(Company, 1)
        assert company is not None
        model = families.load_model(s, "bench", cache)
        for path in walks:
            answers: dict[str, Any] = {}
            ask = cfg.next_question(model, answers)
            answers.update(ask.auto)
            for _label, value in path:
                assert ask.question is not None
                t0 = time.perf_counter()
                answers[ask.question.attr] = ask.question.options[int(value[1:])].value
                nxt = cfg.next_question(families.load_model(s, "bench", cache), answers)
                if nxt.question is None:
                    answers.update(nxt.auto)
                    cfg.build(s, model, company, answers, NOW.date(), cache)
                service_ms.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                b_attr, _b_options = brute.next_question(answers)
                if b_attr is None:
                    b_items = brute.budget(answers)
                brute_ms.append((time.perf_counter() - t0) * 1000)
                # the peer decides the same
                assert b_attr == (nxt.question.attr if nxt.question else None), (b_attr, nxt)
                if nxt.question is None:
                    service = cfg.build(s, model, company, answers, NOW.date(), cache)
                    assert service.alternatives[0].items == b_items, answers
                    checked += 1
                else:
                    answers.update(nxt.auto)
                ask = nxt
    load = os.getloadavg()
    rows = (("answer via the engine (next question)", engine_ms),
            ("answer via the engine (last: proposal)", proposal_ms),
            ("all answers via the engine", engine_ms + proposal_ms),
            ("core.configurator (cached model)", service_ms),
            ("brute force peer (Python scans)", brute_ms))
    print(f"configurator benchmark: {args.products:,} products, {args.rules:,} rules, "
          f"{args.walks} walks, {len(engine_ms) + len(proposal_ms)} answers; built in "
          f"{built:.1f} s; {checked} proposals equal to the peer's; load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'what':<42}{'n':>5}{'median ms':>11}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    result: dict[str, Any] = {"products": args.products, "rules": args.rules,
                              "walks": args.walks, "loadavg": load, "target_p95_ms": 50}
    for name, values in rows:
        st = stats(values)
        result[name] = st
        print(f"{name:<42}{st['n']:>5}{st['median_ms']:>11.2f}{st['p95_ms']:>9.2f}"
              f"{st['p99_ms']:>9.2f}{st['max_ms']:>9.2f}")
    p95 = result["all answers via the engine"]["p95_ms"]
    ratio = result[rows[4][0]]["median_ms"] / max(result[rows[3][0]]["median_ms"], 1e-9)
    result["ok"] = p95 <= 50
    result["peer_over_service"] = round(ratio, 1)
    print(f"target: p95 per answered question through the engine <= 50 ms ({p95:.1f} ms: "
          f"{'ok' if result['ok'] else 'MISSED'}); brute force / service = {ratio:.1f}x")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "configurator.json").write_text(json.dumps(result, indent=2))
    print(f"written {RESULTS / 'configurator.json'}")
    db.dispose()
    tmp.cleanup()


if __name__ == "__main__":
    main()
