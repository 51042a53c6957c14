"""The guided configurator: from the customer's need to a bill of materials.

A product family is data (table config_families, loaded with `sfa configurator load`):

    {"code": "server_room", "name": {"en": "Server room", "id": "Ruang server"},
     "words": ["server", "servers", "server room"],
     "questions": [
        {"attr": "users", "text": {"en": "How many people will use it?", "id": "..."},
         "options": [{"value": 25, "label": {"en": "Up to 25", "id": "Sampai 25"}}, ...],
         "ask_if": {"sites": {">=": 2}},           # optional: asked only then
         "default": 25},                           # optional: what "Not sure" means
        ...],
     "components": [
        {"name": "server", "role": "server", "label": {"en": "Server", "id": "Server"},
         "fit": [{"attr": "max_users", "op": ">=", "answer": "users"}],
         "when": {"uptime": "24x7"},               # optional: only then (a value, a list, or
                                                   #   {">=": n}); unasked counts as "no"
         "quantity": {"per": "sites", "divide": 1},  # optional: 1 by default
         "prefer": {"attr": "tier", "answer": "budget"},  # the recommended alternative's pick
         "required": true}]}

Each product of a family has a row in product_specs: its family and attributes, with "role"
naming the component it can fill ({"role": "server", "max_users": 100, "tier": "economy"}).

The bot asks only what it needs: a question is skipped when its `ask_if` is false, when no
component that may be needed depends on it, and when every one of its answers leaves the same
products in play; answers that leave a needed component with no product are not offered, and
a question with one possible answer is answered by itself. The compatibility rules of the
catalogue (core.catalog: requires, excludes, bundles, options) decide the bill of materials:
an excluded product is never picked next to the one excluding it, what a product requires is
added, a bundle is priced by its parts, and the recommended alternative carries the options.
Two alternatives are proposed: the budget one (the cheapest product that fits each
component) and the recommended one (the budget band asked, headroom, the options).

Compiled families are cached per process and rebuilt when the family, its products' specs,
the products or the rules change (one stamp query per use).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import DomainError, NotFound
from core.models import Company, Deal, User
from core.models.configurator import ConfigFamily, Configuration, ProductSpec
from core.models.quotes import PriceListItem, Product, ProductRule, Quote, QuoteVersion
from core.pricing import LineInput, price_quote
from core.quotes import price_list_for, save_quote, tiers_on

OPS = (">=", "<=", "==", ">", "<")
CHOICES = ("budget", "recommended")
MAX_QUESTIONS = 20
MAX_OPTIONS = 8


# -- the family, compiled -------------------------------------------------------------------
@dataclass(frozen=True)
class Option:
    value: Any
    label: Mapping[str, str]


@dataclass(frozen=True)
class Question:
    attr: str
    text: Mapping[str, str]
    options: tuple[Option, ...]
    ask_if: Mapping[str, Any] | None = None
    default: Any = None


@dataclass(frozen=True)
class Fit:
    attr: str
    op: str
    answer: str


@dataclass(frozen=True)
class Component:
    name: str
    role: str
    label: Mapping[str, str]
    fits: tuple[Fit, ...]
    when: Mapping[str, Any] | None
    quantity: Mapping[str, Any]
    prefer: Mapping[str, str] | None
    required: bool


@dataclass
class Candidates:
    """The products that can fill one component, as arrays (one slot per product)."""

    ids: np.ndarray
    numbers: dict[str, np.ndarray]  # numeric attributes (NaN where absent)
    texts: dict[str, np.ndarray]  # text attributes (object arrays, "" where absent)


@dataclass(frozen=True)
class Info:
    sku: str
    name: str
    tax_rate: Decimal
    category: str


@dataclass
class Model:
    code: str
    name: Mapping[str, str]
    words: tuple[str, ...]
    questions: tuple[Question, ...]
    components: tuple[Component, ...]
    candidates: tuple[Candidates, ...]
    products: dict[int, Info]  # the family's products and every product a rule names
    requires: dict[int, list[tuple[int, int]]]
    excludes: dict[int, set[int]]  # both directions
    options: dict[int, list[tuple[int, int]]]
    bundles: dict[int, list[tuple[int, int]]]


def text_of(value: Mapping[str, str] | str | None, language: str) -> str:
    """A family's own words in the user's language (English when it has none)."""
    if isinstance(value, str):
        return value
    if not value:
        return ""
    return value.get(language) or value.get("en") or next(iter(value.values()), "")


def _words(value: Any, where: str) -> dict[str, str]:
    if isinstance(value, str) and value.strip():
        return {"en": value.strip()[:200]}
    if isinstance(value, Mapping) and value and all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in value.items()):
        return {k: v.strip()[:200] for k, v in value.items()}
    raise DomainError("config.bad_family", reason=f"{where}: give the words (en, id)")


def _condition(value: Any, where: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not value:
        raise DomainError("config.bad_family", reason=f"{where}: a condition is an object")
    for want in value.values():
        if isinstance(want, Mapping) and not all(op in OPS for op in want):
            raise DomainError("config.bad_family", reason=f"{where}: operators are "
                                                          + " ".join(OPS))
    return dict(value)


def compile_spec(spec: Mapping[str, Any]) -> tuple[tuple[Question, ...],
                                                   tuple[Component, ...]]:
    """Check a family's spec; DomainError "config.bad_family" says what is wrong."""
    questions: list[Question] = []
    raw_questions = spec.get("questions")
    if not isinstance(raw_questions, list) or not 0 < len(raw_questions) <= MAX_QUESTIONS:
        raise DomainError("config.bad_family", reason=f"questions: 1 to {MAX_QUESTIONS}")
    seen: set[str] = set()
    for n, raw in enumerate(raw_questions, start=1):
        where = f"question {n}"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("attr"), str):
            raise DomainError("config.bad_family", reason=f"{where}: needs an attr")
        attr = raw["attr"]
        if attr in seen:
            raise DomainError("config.bad_family", reason=f"{where}: {attr} asked twice")
        seen.add(attr)
        opts = raw.get("options")
        if not isinstance(opts, list) or not 1 < len(opts) <= MAX_OPTIONS:
            raise DomainError("config.bad_family",
                              reason=f"{where}: 2 to {MAX_OPTIONS} options")
        options = []
        for opt in opts:
            if not isinstance(opt, Mapping) or not isinstance(opt.get("value"),
                                                              int | float | str):
                raise DomainError("config.bad_family", reason=f"{where}: an option needs "
                                                              "a value")
            options.append(Option(opt["value"], _words(opt.get("label", str(opt["value"])),
                                                       where)))
        questions.append(Question(attr, _words(raw.get("text"), where), tuple(options),
                                  _condition(raw.get("ask_if"), where), raw.get("default")))
    components: list[Component] = []
    raw_components = spec.get("components")
    if not isinstance(raw_components, list) or not raw_components:
        raise DomainError("config.bad_family", reason="components: at least one")
    for n, raw in enumerate(raw_components, start=1):
        where = f"component {n}"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("role"), str):
            raise DomainError("config.bad_family", reason=f"{where}: needs a role")
        fits = []
        for fit in raw.get("fit") or []:
            if (not isinstance(fit, Mapping) or fit.get("op") not in OPS
                    or fit.get("answer") not in seen or not isinstance(fit.get("attr"), str)):
                raise DomainError("config.bad_family", reason=f"{where}: a fit is "
                                                              "{attr, op, answer (asked)}")
            fits.append(Fit(fit["attr"], fit["op"], fit["answer"]))
        quantity = raw.get("quantity") or {}
        if not isinstance(quantity, Mapping) or (
                quantity.get("per") is not None and quantity["per"] not in seen):
            raise DomainError("config.bad_family", reason=f"{where}: quantity per an "
                                                          "asked attr")
        prefer = raw.get("prefer")
        if prefer is not None and (not isinstance(prefer, Mapping)
                                   or prefer.get("answer") not in seen):
            raise DomainError("config.bad_family", reason=f"{where}: prefer names an asked "
                                                          "attr")
        components.append(Component(
            str(raw.get("name") or raw["role"]), raw["role"],
            _words(raw.get("label", raw["role"]), where), tuple(fits),
            _condition(raw.get("when"), where), dict(quantity),
            dict(prefer) if prefer else None, bool(raw.get("required", True))))
    return tuple(questions), tuple(components)


def _stamp(session: Session, code: str) -> tuple[Any, ...]:
    """What the compiled family depends on, in one query: the family, its products' specs,
    the products, the rules (rules are only added or deleted: count and highest id)."""
    row = session.execute(select(
        select(ConfigFamily.updated_at).where(ConfigFamily.code == code).scalar_subquery(),
        select(func.count()).select_from(ProductSpec).where(ProductSpec.family == code)
        .scalar_subquery(),
        select(func.max(ProductSpec.updated_at)).where(ProductSpec.family == code)
        .scalar_subquery(),
        select(func.count()).select_from(ProductRule).scalar_subquery(),
        select(func.max(ProductRule.id)).scalar_subquery(),
        select(func.count()).select_from(Product).scalar_subquery(),
        select(func.max(Product.updated_at)).scalar_subquery())).one()
    return tuple(row)


_CACHE: dict[tuple[str, str], tuple[tuple[Any, ...], Model]] = {}
_LOCK = threading.Lock()


def load_model(session: Session, code: str) -> Model:
    """The compiled family (cached per database while nothing it depends on changed)."""
    key = (str(session.get_bind().engine.url), code)
    stamp = _stamp(session, code)
    with _LOCK:
        cached = _CACHE.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    model = _compile(session, code)
    with _LOCK:
        _CACHE[key] = (stamp, model)
    return model


def _compile(session: Session, code: str) -> Model:
    family = session.scalar(select(ConfigFamily).where(ConfigFamily.code == code,
                                                       ConfigFamily.active))
    if family is None:
        raise NotFound("config.no_family", name=code[:40])
    questions, components = compile_spec(family.spec)
    rows = session.execute(
        select(Product.id, ProductSpec.attrs)
        .join(ProductSpec, ProductSpec.product_id == Product.id)
        .where(ProductSpec.family == code, Product.active).order_by(Product.id)).all()
    candidates = []
    for comp in components:
        mine = [r for r in rows if (r.attrs or {}).get("role") == comp.role]
        keys = {k for r in mine for k in (r.attrs or {}) if k != "role"}
        numbers: dict[str, np.ndarray] = {}
        texts: dict[str, np.ndarray] = {}
        for key in sorted(keys):
            values = [(r.attrs or {}).get(key) for r in mine]
            if all(v is None or (isinstance(v, int | float) and not isinstance(v, bool))
                   for v in values):
                numbers[key] = np.array([math.nan if v is None else float(v) for v in values],
                                        dtype=float)
            else:
                texts[key] = np.array(["" if v is None else str(v) for v in values],
                                      dtype=object)
        candidates.append(Candidates(np.array([r.id for r in mine], dtype=np.int64), numbers,
                                     texts))
    requires: dict[int, list[tuple[int, int]]] = {}
    excludes: dict[int, set[int]] = {}
    options: dict[int, list[tuple[int, int]]] = {}
    bundles: dict[int, list[tuple[int, int]]] = {}
    targets: set[int] = set()
    for kind, pid, target, qty in session.execute(
            select(ProductRule.kind, ProductRule.product_id, ProductRule.target_id,
                   ProductRule.quantity).where(
                ProductRule.kind.in_(("requires", "excludes", "option", "bundle")))):
        if kind == "excludes":
            excludes.setdefault(pid, set()).add(target)
            excludes.setdefault(target, set()).add(pid)
            continue
        table = {"requires": requires, "option": options, "bundle": bundles}[kind]
        table.setdefault(pid, []).append((target, int(qty)))
        targets.add(target)
    wanted = {r.id for r in rows} | targets | set(bundles)
    products = {pid: Info(sku, name, Decimal(tax), category) for pid, sku, name, tax, category
                in session.execute(select(Product.id, Product.sku, Product.name,
                                          Product.tax_rate, Product.category)
                                   .where(Product.id.in_(wanted)))}
    name = family.spec.get("name") or family.name
    words = tuple(str(w).lower() for w in family.spec.get("words") or () if str(w).strip())
    return Model(code, _words(name, "name"), words, questions, components, tuple(candidates),
                 products, requires, excludes, options, bundles)


# -- asking ---------------------------------------------------------------------------------
def _compare(left: Any, op: str, right: Any) -> bool:
    try:
        return bool({">=": left >= right, "<=": left <= right, "==": left == right,
                     ">": left > right, "<": left < right}[op])
    except TypeError:
        return False


def condition(cond: Mapping[str, Any] | None, answers: Mapping[str, Any]) -> bool | None:
    """True, False, or None (unknown: it names an attr not answered yet)."""
    if not cond:
        return True
    unknown = False
    for attr, want in cond.items():
        if attr not in answers:
            unknown = True
            continue
        value = answers[attr]
        if isinstance(want, list):
            ok = value in want
        elif isinstance(want, Mapping):
            ok = all(_compare(value, op, limit) for op, limit in want.items())
        else:
            ok = value == want
        if not ok:
            return False
    return None if unknown else True


def _mask(model: Model, index: int, answers: Mapping[str, Any]) -> np.ndarray:
    """The products of component `index` that fit the known answers."""
    comp, cand = model.components[index], model.candidates[index]
    mask = np.ones(len(cand.ids), dtype=bool)
    for fit in comp.fits:
        if fit.answer not in answers:
            continue
        need = answers[fit.answer]
        if fit.attr in cand.numbers and isinstance(need, int | float):
            column = cand.numbers[fit.attr]
            with np.errstate(invalid="ignore"):
                mask &= {">=": column >= need, "<=": column <= need, "==": column == need,
                         ">": column > need, "<": column < need}[fit.op]
        elif fit.attr in cand.texts and fit.op == "==":
            mask &= cand.texts[fit.attr] == str(need)
        else:
            mask[:] = False
    return mask


def _depends(comp: Component, attr: str) -> str | None:
    if comp.when and attr in comp.when:
        return "when"
    if comp.quantity.get("per") == attr:
        return "quantity"
    if any(f.answer == attr for f in comp.fits):
        return "fit"
    if comp.prefer and comp.prefer.get("answer") == attr:
        return "prefer"
    return None


@dataclass
class Ask:
    """What to do next: ask `question` offering `options` (indexes); `auto` holds the answers
    set without asking (one possible answer); `blocked` names a component nothing fits."""

    question: Question | None
    options: list[int] = field(default_factory=list)
    auto: dict[str, Any] = field(default_factory=dict)
    blocked: Component | None = None


def _feasible(model: Model, answers: Mapping[str, Any]) -> Component | None:
    """The first needed component no product fits, or None."""
    for i, comp in enumerate(model.components):
        if comp.required and condition(comp.when, answers) is True \
                and not _mask(model, i, answers).any():
            return comp
    return None


def _discriminates(model: Model, question: Question, answers: Mapping[str, Any],
                   options: list[int]) -> bool:
    """Whether the answer changes anything: which components are needed, how many, or
    which products fit them."""
    signatures = []
    for index in options:
        trial = {**answers, question.attr: question.options[index].value}
        sig: list[Any] = []
        for i, comp in enumerate(model.components):
            how = _depends(comp, question.attr)
            if how is None:
                continue
            state = condition(comp.when, trial)
            if how == "quantity" and state is not False:
                return True
            if how == "prefer" and state is not False and comp.prefer:
                # the band picks the recommended product when those in play differ in it
                column = model.candidates[i].texts.get(comp.prefer.get("attr", "tier"))
                if column is not None and len(set(column[_mask(model, i, trial)])) > 1:
                    return True
            sig.append(state)
            if state is not False:
                sig.append(_mask(model, i, trial).tobytes())
        signatures.append(sig)
    return any(s != signatures[0] for s in signatures[1:])


def next_question(model: Model, answers: Mapping[str, Any]) -> Ask:
    """The next question worth asking, with the answers worth offering."""
    known = dict(answers)
    auto: dict[str, Any] = {}
    for question in model.questions:
        if question.attr in known:
            continue
        if condition(question.ask_if, known) is False:
            continue
        users = [c for c in model.components if _depends(c, question.attr)
                 and condition(c.when, known) is not False]
        if not users:
            continue
        options = [i for i, opt in enumerate(question.options)
                   if _feasible(model, {**known, question.attr: opt.value}) is None]
        if not options:
            blocked = _feasible(model, {**known, question.attr: question.options[0].value})
            return Ask(question, [], auto, blocked)
        if not _discriminates(model, question, known, list(range(len(question.options)))) \
                and len(options) == len(question.options):
            continue
        if len(options) == 1:
            auto[question.attr] = question.options[options[0]].value
            known[question.attr] = auto[question.attr]
            continue
        return Ask(question, options, auto)
    return Ask(None, [], auto, _feasible(model, known))


def not_sure(model: Model, question: Question, answers: Mapping[str, Any],
             options: list[int]) -> Any:
    """"Not sure": the question's default when offered, else the answer that keeps the most
    products in play."""
    values = [question.options[i].value for i in options]
    if question.default in values:
        return question.default

    def room(value: Any) -> int:
        trial = {**answers, question.attr: value}
        return sum(int(_mask(model, i, trial).sum()) for i in range(len(model.components)))

    return max(values, key=room)


# -- the bill of materials ------------------------------------------------------------------
@dataclass
class Line:
    product_id: int
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    net: Decimal


@dataclass
class Alternative:
    choice: str  # budget, recommended
    items: dict[int, int]
    lines: list[Line]
    net_total: Decimal
    tax_total: Decimal
    total: Decimal
    currency: str
    added: list[tuple[str, str, str]]  # (why: requires/option, product, because of product)


@dataclass
class Proposal:
    alternatives: list[Alternative]
    missing: list[Component]  # needed components no compatible, priced product fits


def quantity(comp: Component, answers: Mapping[str, Any]) -> int:
    per = comp.quantity.get("per")
    base = answers.get(per, 1) if per else 1
    try:
        value = float(base) * float(comp.quantity.get("multiply", 1)) / float(
            comp.quantity.get("divide", 1))
    except (TypeError, ValueError, ZeroDivisionError):
        value = 1
    return max(1, min(10_000, math.ceil(value)))


_PRICES: dict[tuple[str, int], tuple[tuple[Any, ...], dict[int, tuple[Decimal, Decimal]]]] = {}


def _price_table(session: Session, price_list_id: int) -> dict[int, tuple[Decimal, Decimal]]:
    """product id -> (unit price, floor) on a price list (cached per database while its
    items keep their count, ids and sums)."""
    key = (str(session.get_bind().engine.url), price_list_id)
    stamp = tuple(session.execute(
        select(func.count(), func.max(PriceListItem.id),
               func.coalesce(func.sum(PriceListItem.unit_price + PriceListItem.floor_price
                                      + PriceListItem.product_id), 0))
        .where(PriceListItem.price_list_id == price_list_id)).one())
    with _LOCK:
        cached = _PRICES.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    table = {pid: (Decimal(price), Decimal(floor)) for pid, price, floor in session.execute(
        select(PriceListItem.product_id, PriceListItem.unit_price, PriceListItem.floor_price)
        .where(PriceListItem.price_list_id == price_list_id))}
    with _LOCK:
        _PRICES[key] = (stamp, table)
    return table


def _unit_prices(model: Model, table: dict[int, tuple[Decimal, Decimal]]
                 ) -> dict[int, Decimal]:
    """Each product's unit price, a bundle's the sum of its parts (None: not priceable)."""
    prices = {pid: price for pid, (price, _floor) in table.items() if pid in model.products}

    def of(pid: int, depth: int = 0) -> Decimal | None:
        if pid in prices:
            return prices[pid]
        parts = model.bundles.get(pid)
        if not parts or depth > 4:
            return None
        total = Decimal(0)
        for target, qty in parts:
            price = of(target, depth + 1)
            if price is None:
                return None
            total += price * qty
        return total

    for pid in model.bundles:
        if pid not in prices and (price := of(pid)) is not None:
            prices[pid] = price
    return prices


def _blocked(model: Model, pid: int, chosen: Mapping[int, int],
             prices: Mapping[int, Decimal]) -> bool:
    """`pid` (or what it requires) cannot sit next to what is chosen, or cannot be priced."""
    group = {pid} | {t for t, _q in model.requires.get(pid, ())}
    for member in group:
        if member not in prices:
            return True
        clash = model.excludes.get(member, set())
        if clash & set(chosen) or clash & group:
            return True
    return False


def _add(model: Model, chosen: dict[int, int], pid: int, qty: int,
         added: list[tuple[str, str, str]], prices: Mapping[int, Decimal], *, options: bool,
         depth: int = 0) -> None:
    chosen[pid] = max(chosen.get(pid, 0), qty)
    if depth > 4:
        return
    for target, per in model.requires.get(pid, ()):
        if chosen.get(target, 0) < qty * per:
            added.append(("requires", model.products[target].name, model.products[pid].name))
            _add(model, chosen, target, qty * per, added, prices, options=options,
                 depth=depth + 1)
    if options:
        for target, per in model.options.get(pid, ()):
            if target not in chosen and not _blocked(model, target, chosen, prices):
                added.append(("option", model.products[target].name,
                              model.products[pid].name))
                _add(model, chosen, target, qty * per, added, prices, options=False,
                     depth=depth + 1)


def _pick(model: Model, index: int, answers: Mapping[str, Any], prices: dict[int, Decimal],
          chosen: dict[int, int], choice: str) -> int | None:
    comp, cand = model.components[index], model.candidates[index]
    mask = _mask(model, index, answers)
    slots = [int(i) for i in np.flatnonzero(mask) if int(cand.ids[i]) in prices]
    if not slots:
        return None
    if choice == "budget":
        slots.sort(key=lambda i: (prices[int(cand.ids[i])], int(cand.ids[i])))
    else:
        band = None
        if comp.prefer and comp.prefer.get("answer") in answers:
            band = (comp.prefer.get("attr", "tier"), str(answers[comp.prefer["answer"]]))

        def headroom(i: int) -> bool:
            for fit in comp.fits:
                need = answers.get(fit.answer)
                if (fit.op in (">=", ">") and isinstance(need, int | float)
                        and fit.attr in cand.numbers
                        and not cand.numbers[fit.attr][i] >= 1.5 * need):
                    return False
            return True

        def rank(i: int) -> tuple[int, int, Decimal, int]:
            matches = band is not None and band[0] in cand.texts and \
                cand.texts[band[0]][i] == band[1]
            return (0 if matches else 1, 0 if headroom(i) else 1, prices[int(cand.ids[i])],
                    int(cand.ids[i]))

        slots.sort(key=rank)
    for i in slots:
        pid = int(cand.ids[i])
        if not _blocked(model, pid, chosen, prices):
            return pid
    return None


def _expand(model: Model, items: Mapping[int, int]) -> dict[int, int]:
    """Bundles replaced by their parts (as core.catalog.expand_bundles, from the model)."""
    result = dict(items)
    for _depth in range(5):
        if not any(pid in model.bundles for pid in result):
            return result
        expanded: dict[int, int] = {}
        for pid, qty in result.items():
            for target, per in model.bundles.get(pid, [(pid, 1)]):
                expanded[target] = expanded.get(target, 0) + qty * per
        result = expanded
    raise DomainError("catalog.bundle_loop")


def _check(model: Model, items: Mapping[int, int]) -> None:
    """The catalogue's requires / excludes over the expanded items (as
    core.catalog.check_configuration, from the model): the first broken rule is refused."""
    for pid, qty in items.items():
        for target, per in model.requires.get(pid, ()):
            if items.get(target, 0) < qty * per:
                raise DomainError("quote.config_requires", product=model.products[pid].name,
                                  target=model.products[target].name)
        for other in model.excludes.get(pid, ()):
            if other in items:
                raise DomainError("quote.config_excludes", product=model.products[pid].name,
                                  target=model.products[other].name)


def build(session: Session, model: Model, company: Company, answers: Mapping[str, Any],
          on: date) -> Proposal:
    """The budget and the recommended bill of materials, checked by the catalogue's rules and
    priced on the customer's price list (the quote prices them the same way)."""
    price_list = price_list_for(session, company, on)
    table = _price_table(session, price_list.id)
    prices = _unit_prices(model, table)
    tiers = tiers_on(session, on)
    alternatives: list[Alternative] = []
    missing: list[Component] = []
    for choice in CHOICES:
        chosen: dict[int, int] = {}
        added: list[tuple[str, str, str]] = []
        for index, comp in enumerate(model.components):
            if condition(comp.when, answers) is not True:
                continue
            pid = _pick(model, index, answers, prices, chosen, choice)
            if pid is None:
                if comp.required and comp not in missing:
                    missing.append(comp)
                continue
            _add(model, chosen, pid, quantity(comp, answers), added, prices,
                 options=choice == "recommended")
        if not chosen or missing:
            continue
        expanded = _expand(model, chosen)
        _check(model, expanded)
        lines = []
        for pid, qty in expanded.items():
            info = model.products[pid]
            if pid not in table:
                raise DomainError("quote.no_price", name=info.name,
                                  price_list=price_list.name, currency=price_list.currency)
            price, floor = table[pid]
            lines.append(LineInput(key=info.sku, name=info.name, quantity=qty,
                                   unit_price=price, floor_price=floor,
                                   tax_rate=info.tax_rate, category=info.category))
        priced = price_quote(lines, currency=price_list.currency, on=on, tiers=tiers)
        by_sku = {info.sku: pid for pid, info in model.products.items()}
        alternatives.append(Alternative(
            choice, chosen, [Line(by_sku[line.key], line.key, line.name, line.quantity,
                                  line.unit_price, line.net) for line in priced.lines],
            priced.net_total, priced.tax_total, priced.total, priced.currency, added))
    return Proposal(alternatives, missing)


# -- saving, reopening, quoting -------------------------------------------------------------
def families(session: Session) -> list[ConfigFamily]:
    return list(session.scalars(select(ConfigFamily).where(ConfigFamily.active)
                                .order_by(ConfigFamily.name)))


def find_family(session: Session, text: str) -> ConfigFamily | None:
    """The family whose code, name or words appear in `text`."""
    lowered = f" {(text or '').lower()} "
    for family in families(session):
        words = [family.code.replace("_", " "), family.name.lower(),
                 *(str(w).lower() for w in family.spec.get("words") or ())]
        if any(f" {w} " in lowered or f" {w}s " in lowered for w in words if w):
            return family
    return None


def latest(session: Session, deal_id: int | None, company_id: int | None = None
           ) -> Configuration | None:
    """The deal's latest configuration (or, without a deal, the customer's latest one made
    without a deal)."""
    query = select(Configuration)
    if deal_id is not None:
        query = query.where(Configuration.deal_id == deal_id)
    else:
        query = query.where(Configuration.deal_id.is_(None),
                            Configuration.company_id == company_id)
    return session.scalar(query.order_by(Configuration.revision.desc(),
                                         Configuration.id.desc()).limit(1))


def save(session: Session, user: User, company: Company, deal: Deal | None, model: Model,
         answers: Mapping[str, Any], proposal: Proposal, now: datetime) -> Configuration:
    """Keep this revision of the configuration (on the deal when there is one)."""
    last = latest(session, deal.id if deal is not None else None, company.id)
    revision = (last.revision + 1) if last is not None else 1
    row = Configuration(
        company_id=company.id, deal_id=deal.id if deal else None, family=model.code,
        revision=revision, answers=dict(answers),
        proposal={a.choice: {"items": {str(k): v for k, v in a.items.items()},
                             "total": str(a.total), "currency": a.currency}
                  for a in proposal.alternatives},
        created_by_id=user.id, created_at=now)
    session.add(row)
    session.flush()
    if deal is not None:
        deal.facts = {**(deal.facts or {}), "configuration_id": row.id}
        deal.updated_at = now
    return row


def to_quote(session: Session, user: User, configuration: Configuration, choice: str,
             now: datetime) -> QuoteVersion:
    """The chosen alternative as a quote (the quote service prices and checks it again)."""
    if choice not in configuration.proposal:
        raise DomainError("config.no_alternative")
    if configuration.quote_id is not None:
        raise DomainError("config.already_quoted")
    company = session.get(Company, configuration.company_id)
    if company is None:
        raise NotFound("config.gone")
    deal = session.get(Deal, configuration.deal_id) if configuration.deal_id else None
    items = {int(k): int(v) for k, v in
             cast(dict[str, int], configuration.proposal[choice]["items"]).items()}
    # A revision's quote is the next version of the previous revision's quote of the same
    # family (while that one is open), so the customer sees one quote evolve.
    earlier = session.scalar(
        select(Quote).join(Configuration, Configuration.quote_id == Quote.id).where(
            Configuration.company_id == configuration.company_id,
            Configuration.family == configuration.family,
            Configuration.deal_id.is_(None) if configuration.deal_id is None
            else Configuration.deal_id == configuration.deal_id,
            Configuration.id != configuration.id, Quote.status != "accepted")
        .order_by(Configuration.revision.desc()).limit(1))
    version = save_quote(session, user, company=company, items=items, now=now, deal=deal,
                         quote=earlier)
    configuration.chosen = choice
    configuration.quote_id = version.quote_id
    if deal is not None:
        family = session.scalar(select(ConfigFamily.name).where(
            ConfigFamily.code == configuration.family)) or configuration.family
        facts = dict(deal.facts or {})
        facts.setdefault("solution", f"{family} ({choice}), configuration "
                                     f"r{configuration.revision}")
        deal.facts = facts
    session.flush()
    return version


def load_families(session: Session, data: Mapping[str, Any], now: datetime) -> tuple[int, int]:
    """Families and product attributes from a document {"families": [...], "products":
    {SKU: {"family": code, "attrs": {...}}}}; returns (families, products) saved."""
    raw_families = data.get("families") or []
    raw_products = data.get("products") or {}
    if not isinstance(raw_families, list) or not isinstance(raw_products, Mapping):
        raise DomainError("config.bad_family", reason="families is a list, products an "
                                                      "object by SKU")
    saved_families = 0
    for raw in raw_families:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("code"), str) \
                or not raw["code"].strip() or len(raw["code"]) > 40:
            raise DomainError("config.bad_family", reason="each family needs a code")
        compile_spec(raw)
        name = text_of(_words(raw.get("name", raw["code"]), "name"), "en")[:120]
        row = session.scalar(select(ConfigFamily).where(ConfigFamily.code == raw["code"]))
        if row is None:
            session.add(ConfigFamily(code=raw["code"], name=name, spec=dict(raw),
                                     active=bool(raw.get("active", True)), updated_at=now))
        else:
            row.name, row.spec, row.updated_at = name, dict(raw), now
            row.active = bool(raw.get("active", True))
        saved_families += 1
    saved_products = 0
    for sku, raw in raw_products.items():
        product = session.scalar(select(Product).where(Product.sku == str(sku)))
        if product is None:
            raise DomainError("catalog.unknown_sku", sku=str(sku)[:40])
        if not isinstance(raw, Mapping) or not isinstance(raw.get("family"), str) \
                or not isinstance(raw.get("attrs"), Mapping):
            raise DomainError("config.bad_family", reason=f"{sku}: family and attrs")
        spec = session.get(ProductSpec, product.id)
        if spec is None:
            session.add(ProductSpec(product_id=product.id, family=raw["family"],
                                    attrs=dict(raw["attrs"]), updated_at=now))
        else:
            spec.family, spec.attrs, spec.updated_at = raw["family"], dict(raw["attrs"]), now
        saved_products += 1
    session.flush()
    return saved_families, saved_products
