"""Product families of the guided configurator, compiled from data.

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

Compiled families are cached per process and rebuilt when the family, its products' specs,
the products or the rules change (one stamp query per use).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import DomainError, NotFound
from core.models.configurator import ConfigFamily, ProductSpec
from core.models.quotes import Product, ProductRule
from core.stamped_cache import StampedCache

OPS = (">=", "<=", "==", ">", "<")

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


def load_model(session: Session, code: str, cache: StampedCache | None = None) -> Model:
    """The compiled family; with `cache` (the database's: Services.configurator) compiled
    again only when something it depends on changed."""
    if cache is None:
        return _compile(session, code)
    key = ("family", code)
    stamp = _stamp(session, code)
    model = cache.get(key, stamp)
    if model is None:
        model = _compile(session, code)
        cache.put(key, stamp, model)
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
