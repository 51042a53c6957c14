"""The guided configurator: from the customer's need to a bill of materials (the families
it asks about are core.config_families).

The bot asks only what it needs: a question is skipped when its `ask_if` is false, when no
component that may be needed depends on it, and when every one of its answers leaves the same
products in play; answers that leave a needed component with no product are not offered, and
a question with one possible answer is answered by itself. The compatibility rules of the
catalogue (core.catalog: requires, excludes, bundles, options) decide the bill of materials:
an excluded product is never picked next to the one excluding it, what a product requires is
added, a bundle is priced by its parts, and the recommended alternative carries the options.
Two alternatives are proposed: the budget one (the cheapest product that fits each
component) and the recommended one (the budget band asked, headroom, the options).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.config_families import Component, Model, Question
from core.errors import DomainError, NotFound
from core.models import Company, Deal, User
from core.models.configurator import ConfigFamily, Configuration
from core.models.quotes import PriceListItem, Quote, QuoteVersion
from core.pricing import LineInput, price_quote
from core.quotes import price_list_for, save_quote, tiers_on
from core.stamped_cache import StampedCache

CHOICES = ("budget", "recommended")


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


def _price_table(session: Session, price_list_id: int, cache: StampedCache | None
                 ) -> dict[int, tuple[Decimal, Decimal]]:
    """product id -> (unit price, floor) on a price list (with `cache`, read again only when
    its items changed count, ids or sums)."""
    key = ("prices", price_list_id)
    stamp = None
    if cache is not None:
        stamp = tuple(session.execute(
            select(func.count(), func.max(PriceListItem.id),
                   func.coalesce(func.sum(PriceListItem.unit_price + PriceListItem.floor_price
                                          + PriceListItem.product_id), 0))
            .where(PriceListItem.price_list_id == price_list_id)).one())
        cached: dict[int, tuple[Decimal, Decimal]] | None = cache.get(key, stamp)
        if cached is not None:
            return cached
    table = {pid: (Decimal(price), Decimal(floor)) for pid, price, floor in session.execute(
        select(PriceListItem.product_id, PriceListItem.unit_price, PriceListItem.floor_price)
        .where(PriceListItem.price_list_id == price_list_id))}
    if cache is not None:
        cache.put(key, stamp, table)
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
          on: date, cache: StampedCache | None = None) -> Proposal:
    """The budget and the recommended bill of materials, checked by the catalogue's rules and
    priced on the customer's price list (the quote prices them the same way). `cache`: the
    database's (Services.configurator), keeping the price table while it is unchanged."""
    price_list = price_list_for(session, company, on)
    table = _price_table(session, price_list.id, cache)
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
