"""Configure, price and approve quotes; PDF in the chat.

/quote [customer | Q-number] -> pick the customer (and deal) -> type items ("2 server x1,
10 laptop pro") -> rule check with a fix button -> priced summary with cross-sell buttons ->
optional discount (within the limit: applied; above: a reason, then the manager decides) ->
the PDF. Revising a quote makes the next version; accepting it makes the order.
Where the items are asked, one form also takes them at once (a "quantity SKU-or-name" line
per product, the discount and its reason): Slack shows it as a modal; other doors show its
button, and pressing it asks in text. The form's lines are read by the same core service
as typed items.

```mermaid
stateDiagram-v2
    [*] --> customer
    customer --> deal
    customer --> items
    deal --> items
    items --> items: typed items, buttons, the form
    items --> discount: Discount
    items --> reason: above the limit
    discount --> items
    discount --> reason
    items --> [*]: Create PDF quote / form with a reason
    reason --> [*]: saved, waiting for approval
```
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversations import progress
from bot.conversations.engine import encode_payload
from bot.conversations.flow import Action, Ctx, Flow, Step, done, goto, ongoing
from bot.conversations.messages import (
    Attachment,
    Button,
    Form,
    FormField,
    FormReply,
    Incoming,
    Reply,
    form_values,
)
from bot.conversations.phrasings import quote as quote_phrasings
from bot.conversations.registry import Registry
from bot.documents.quote_pdf import PdfLine, PdfQuote, render_quote_pdf
from bot.i18n import N_, Translator, register_errors
from core import approvals, organisation
from core import quotes as quote_service
from core.catalog import check_configuration, cross_sell, expand_bundles, resolve_items
from core.contacts import find_companies
from core.errors import DomainError, NotFound
from core.models import OPEN_STAGES, ApprovalRequest, Company, Deal, NoticeRow, Role, User
from core.models.quotes import Product, Quote, QuoteVersion
from core.pricing import check_discount
from core.scope import deal_visible

QUOTE_ROLES = frozenset({Role.REP, Role.MANAGER, Role.ADMIN})
_QUOTE_NO = re.compile(r"^\s*(Q-\d{4}-\d{3,})\s*$", re.IGNORECASE)
_CURRENCY = re.compile(r"(?:^|\s)(?:in|dalam|currency|mata uang)\s+([A-Za-z]{3})\s*$",
                       re.IGNORECASE)
_DISCOUNT = re.compile(r"^\s*(?:discount|diskon|disc\.?|potongan)?\s*(-?\d+(?:[.,]\d+)?)\s*%?\s*"
                       r"(?:discount|diskon|off)?\s*$", re.IGNORECASE)
_REMOVE = re.compile(r"^\s*(?:remove|delete|hapus|buang)\s+(.+)$", re.IGNORECASE)
_DONE_WORDS = {"done", "save", "pdf", "ok", "selesai", "simpan", "send", "kirim"}
FORM_VALUE = "form"
FORM_BUTTON = N_("📝 Items in a form")
MAX_FORM_LINES = 3000

register_errors({
    "quote.no_items": N_("Type the products to quote, e.g. \"2 server x1, 10 laptop pro\"."),
    "quote.bad_quantity": N_("The quantity of {name} must be a whole number above zero, not "
                             "{quantity}."),
    "quote.too_many": N_("{quantity} x {name} is more than one quote line can hold (at most "
                         "{max}). Split the order or check the number."),
    "quote.bad_price": N_("{name} has a negative price on the price list. Ask an admin to "
                          "fix the price list."),
    "quote.bad_discount": N_("A discount is a percentage from 0 to 100, not {pct}."),
    "quote.below_floor": N_("A {pct}% discount would take {name} below its floor price. Ask "
                            "for a smaller discount."),
    "quote.no_price_list": N_("There is no price list for this customer today. Ask an admin "
                              "to import one (sfa import pricelists)."),
    "quote.no_currency": N_("There is no price list in {currency}. Quote in IDR or USD "
                            "instead."),
    "quote.price_list_expired": N_("The price list {name} expired on {date}. Ask an admin "
                                   "for a current price list before quoting."),
    "quote.currency_mismatch": N_("This quote is in {quote_currency}; a new version cannot "
                                  "be in {currency}. Start a new quote for another currency."),
    "quote.no_price": N_("{name} has no price on {price_list} ({currency}). Remove it or "
                         "quote in another currency."),
    "quote.unknown_product": N_("Unknown product {name}."),
    "quote.config_requires": N_("{product} requires {target}. Add it first."),
    "quote.config_excludes": N_("{product} cannot be combined with {target}. Remove one."),
    "quote.config_unsatisfiable": N_("{product} needs {target}, which another item excludes. "
                                     "Remove {product} or the conflicting item."),
    "quote.already_accepted": N_("Quote {number} was already accepted; it cannot change."),
    "quote.discount_pending": N_("The discount on {number} is still waiting for approval; it "
                                 "can be accepted once the manager decides."),
    "quote.revise_pending": N_("Quote {number} has a discount waiting for approval; revise "
                               "it once the manager has decided."),
    "quote.expired": N_("Quote {number} expired on {date}. Revise it to make a current "
                        "version."),
    "quote.not_found": N_("No quote {ref} that you can see."),
    # The approvals area words these too; registered here so the quote buttons read well.
    "approval.not_found": N_("That approval request no longer exists."),
    "approval.not_approver": N_("Only the approver (or an admin) can decide this request."),
    "approval.already_decided": N_("This request was already decided ({status}, by {by}); "
                                   "nothing changed."),
    "catalog.bad_rule": N_("That rule ({kind}) is not valid."),
    "catalog.bundle_loop": N_("A bundle contains itself. Ask an admin to fix the catalogue."),
})


# -- helpers ---------------------------------------------------------------------------------
def _items(ctx: Ctx) -> dict[int, int]:
    return {int(k): int(v) for k, v in (ctx.data.get("items") or {}).items()}


def _set_items(ctx: Ctx, items: dict[int, int]) -> None:
    ctx.data["items"] = {str(k): v for k, v in items.items() if v > 0}


def _company(ctx: Ctx) -> Company:
    company = ctx.session.get(Company, int(ctx.data["company_id"]))
    if company is None:
        raise NotFound("quote.not_found", ref="?")
    return company


def _pct_text(value: Decimal) -> str:
    text = f"{Decimal(value):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _parse_pct(text: str) -> Decimal | None:
    m = _DISCOUNT.match(text)
    if not m or ("%" not in text and not re.search(r"discount|diskon|disc|potongan|off", text,
                                                   re.IGNORECASE)):
        return None
    try:
        return Decimal(m.group(1).replace(",", "."))
    except InvalidOperation:
        return None


def _summary(ctx: Ctx) -> Reply:
    """The priced summary (or the first configuration issue with its fix buttons)."""
    t = ctx.t
    items = _items(ctx)
    if not items:
        return _with_form(ctx, t("Which products? Type them with quantities, e.g. \"2 server "
                                 "x1, 10 laptop pro\"."))
    session = ctx.session
    issues = check_configuration(session, expand_bundles(session, items))
    if issues:
        issue = issues[0]
        p, target = issue.product, issue.target
        if issue.kind == "requires":
            return ctx.reply(
                t("{product} requires {target}: add it?", product=p.name, target=target.name),
                [Button(t("Add {qty} x {name}", qty=issue.quantity, name=target.name),
                        value=f"add:{target.id}:{issue.quantity}"),
                 Button(t("Remove {name}", name=p.name), value=f"rm:{p.id}")])
        if issue.kind == "excludes":
            return ctx.reply(
                t("{product} and {target} cannot be in the same quote: remove one.",
                  product=p.name, target=target.name),
                [Button(t("Remove {name}", name=p.name), value=f"rm:{p.id}"),
                 Button(t("Remove {name}", name=target.name), value=f"rm:{target.id}")])
        return ctx.reply(
            t("{product} needs {target}, but another item excludes it, so this cannot be "
              "configured. Remove {product}, or remove the item that excludes {target}.",
              product=p.name, target=target.name),
            [Button(t("Remove {name}", name=p.name), value=f"rm:{p.id}")])
    company = _company(ctx)
    price_list = quote_service.price_list_for(session, company, ctx.now.date(),
                                              ctx.data.get("currency"))
    discount = Decimal(ctx.data.get("discount") or "0")
    pricing = quote_service.price_items(session, price_list, items, ctx.now.date(), discount)
    priced = pricing.priced
    cur = priced.currency
    lines = [t("Quote for {customer} ({currency}, {price_list}):", customer=company.name,
               currency=cur, price_list=price_list.name)]
    for i, line in enumerate(priced.lines, start=1):
        extra = ""
        if line.discount_pct:
            extra = t(" ({pct}% off)", pct=_pct_text(line.discount_pct.normalize()))
        lines.append(f"{i}. {line.name} × {line.quantity} — {t.money(line.net, cur)}{extra}")
    lines.append(t("Subtotal {amount}", amount=t.money(priced.subtotal, cur)))
    if priced.discount_total:
        lines.append(t("Discounts −{amount}", amount=t.money(priced.discount_total, cur)))
    lines.append(t("Tax {amount}", amount=t.money(priced.tax_total, cur)))
    lines.append(t("Total {amount}", amount=t.money(priced.total, cur)))
    if discount:
        lines.append(t("Quote discount {pct}% applied.", pct=_pct_text(discount)))
    lines.append(t("Type more items, a discount like \"10%\", or \"remove NAME\"."))
    suggestions = cross_sell(session, items)
    sell = [Button(t("+ {name}", name=s.name), value=f"add:{s.id}:1") for s in suggestions]
    actions = [Button(t("Discount"), value="disc"),
               Button(t("Create PDF quote"), value="save")]
    if suggestions:
        lines.append(t("Customers buying these often add: {names}.",
                       names=", ".join(s.name for s in suggestions)))
    return _with_form(ctx, "\n".join(lines), sell, actions)


# -- the items form --------------------------------------------------------------------------
def _with_form(ctx: Ctx, text: str, *rows: list[Button],
               values: dict[str, str] | None = None) -> FormReply:
    """A reply of the items state with the items form's button as its last row."""
    form_row = (Button(ctx.t(FORM_BUTTON), value=FORM_VALUE),)
    return FormReply(text=text, buttons=(*(tuple(r) for r in rows if r), form_row),
                     form=_items_form(ctx, values))


def _items_form(ctx: Ctx, values: dict[str, str] | None) -> Form:
    """The quote's items as "quantity SKU" lines, the discount and the reason for one above
    the rep's limit; filled with the current quote, or with `values` after a refusal."""
    t = ctx.t
    if values is None:
        items = _items(ctx)
        skus = {p.id: p.sku for p in _products(ctx, items)}
        discount = Decimal(ctx.data.get("discount") or "0")
        values = {"items": "\n".join(f"{qty} {skus[pid]}" for pid, qty in items.items()
                                     if pid in skus),
                  "discount": _pct_text(discount) if discount else ""}
    limit = _pct_text(quote_service.discount_limit(ctx.user))
    return Form(title=t("Quote items"), submit_label=t("Price it"), value=FORM_VALUE, fields=(
        FormField("items", t("Products"), kind="long_text", max_length=MAX_FORM_LINES,
                  hint=t("One line per product: quantity, then SKU or name, e.g. 2 SRV-X1."),
                  initial=values.get("items", "")),
        FormField("discount", t("Discount on the whole quote (%)"), kind="number",
                  required=False, initial=values.get("discount", ""),
                  hint=t("Your limit is {limit}%; above it your manager decides.",
                         limit=limit)),
        FormField("reason", t("Reason for a discount above your limit"), required=False,
                  max_length=500, initial=values.get("reason", "")),
    ))


class _Refused(Exception):
    """A form value the data refuses; its message is shown with the form again."""


def _items_from_form(ctx: Ctx, values: dict[str, str]) -> Step:
    """Take the form's items (replacing the quote's) and its discount, checked by the same
    services as typed ones. A refusal (unknown product, bad quantity, a discount below the
    floor or above the limit without a reason) keeps the quote as it was and answers with
    the reason and the form again, filled in. Nothing is written before the quote is saved."""
    t = ctx.t
    before: dict[str, Any] = {k: ctx.data[k] for k in ("items", "discount", "requested")
                              if k in ctx.data}
    try:
        resolved = resolve_items(ctx.session, values.get("items", ""))
        if resolved.unknown:
            problems = []
            for typed, suggestions in resolved.unknown:
                if suggestions:
                    problems.append(t("I don't know a product \"{text}\". Did you mean: "
                                      "{names}?", text=typed[:60],
                                      names=", ".join(f"{p.name} ({p.sku})"
                                                      for p in suggestions[:3])))
                else:
                    problems.append(t("I don't know a product \"{text}\" and nothing looks "
                                      "like it. Check the name or the SKU.", text=typed[:60]))
            raise _Refused("\n".join(problems))
        items: dict[int, int] = {}
        for product, qty in resolved.found:
            items[product.id] = items.get(product.id, 0) + qty
        _set_items(ctx, items)
        step = _ask_discount(ctx, Decimal(values.get("discount") or "0"))
    except DomainError as exc:
        return _refuse(ctx, values, before, t.error(exc.code, exc.params))
    except _Refused as exc:
        return _refuse(ctx, values, before, str(exc))
    if step.next != "reason":
        return step
    reason = (values.get("reason") or "").strip()
    if len(reason) < 3:
        limit = _pct_text(quote_service.discount_limit(ctx.user))
        return _refuse(ctx, values, before, t(
            "{pct}% is above your limit of {limit}%: give your manager a reason in the form, "
            "or ask for less.", pct=_pct_text(Decimal(ctx.data["requested"])), limit=limit))
    return _save(ctx, reason=reason[:500])


def _refuse(ctx: Ctx, values: dict[str, str], before: Mapping[str, Any], problem: str
            ) -> Step:
    for key in ("items", "discount", "requested"):
        ctx.data.pop(key, None)
    ctx.data.update(before)
    text = "\n".join([problem, ctx.t("Correct it in the form, or type the items here.")])
    # The quote as it stands keeps its buttons (add, remove, discount, PDF) under the message.
    current = _summary(ctx)
    rows = [list(row) for row in current.buttons if all(b.value != FORM_VALUE for b in row)]
    return goto("items", _with_form(ctx, text, *rows, values=values))


# -- start -------------------------------------------------------------------------------------
async def begin(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    if ctx.args.get("ref"):
        return await _open_quote(ctx, ctx.args["ref"], revise=bool(ctx.args.get("revise")))
    if ctx.args.get("deal_id"):
        deal = ctx.session.scalar(select(Deal).where(
            Deal.id == int(ctx.args["deal_id"]), deal_visible(ctx.session, ctx.user)))
        if deal is None:
            raise NotFound("quote.not_found", ref=ctx.args["deal_id"])
        ctx.data.update(company_id=deal.company_id, deal_id=deal.id, items={})
        return goto("items", _summary(ctx))
    text = (ctx.args.get("text") or ctx.args.get("customer") or "").strip()
    m = _CURRENCY.search(text)
    if m:
        ctx.data["currency"] = m.group(1).upper()
        text = text[: m.start()].strip()
    if _QUOTE_NO.match(text):
        return await _open_quote(ctx, text)
    if not text:
        return goto("customer", t("Which customer is the quote for? Type part of the name."))
    return await _pick_customer(ctx, text)


async def _pick_customer(ctx: Ctx, text: str) -> Step:
    t = ctx.t
    matches = find_companies(ctx.session, ctx.user, text, limit=5)
    if not matches:
        return goto("customer", t("No customer matching \"{text}\" that you can see. Try "
                                  "another part of the name.", text=text[:60]))
    if len(matches) > 1:
        words = [w for w in text.lower().replace(".", " ").split()
                 if w not in {"pt", "cv", "tbk", "ud"}]
        exact = [m for m in matches if m.company.name.lower() == " ".join(words)]
        if not exact:
            exact = [m for m in matches if all(w in m.company.name.lower() for w in words)]
        if len(exact) != 1:
            buttons = [Button(m.company.name[:40], value=f"c:{m.company.id}") for m in matches]
            return goto("customer", ctx.reply(t("Which customer?"),
                                              *[[b] for b in buttons]))
        matches = exact
    return _after_customer(ctx, matches[0].company)


def _after_customer(ctx: Ctx, company: Company) -> Step:
    t = ctx.t
    ctx.data.update(company_id=company.id, items=ctx.data.get("items") or {})
    # Check now that the customer can be quoted (price list, currency).
    quote_service.price_list_for(ctx.session, company, ctx.now.date(), ctx.data.get("currency"))
    deals = ctx.session.scalars(select(Deal).where(
        Deal.company_id == company.id, Deal.stage.in_([s.value for s in OPEN_STAGES]),
        deal_visible(ctx.session, ctx.user)).order_by(Deal.updated_at.desc()).limit(4)).all()
    if deals:
        buttons = [[Button(d.title[:40], value=f"d:{d.id}")] for d in deals]
        buttons.append([Button(t("No deal"), value="d:0")])
        return goto("deal", ctx.reply(t("For which deal of {customer}?", customer=company.name),
                                      *buttons))
    return goto("items", _with_form(ctx, t("Quote for {customer}. Which products? Type them "
                                           "with quantities, e.g. \"2 server x1, 10 laptop "
                                           "pro\".", customer=company.name)))


async def choose_customer(ctx: Ctx, inc: Incoming) -> Step:
    if inc.button and inc.button.startswith("c:"):
        company = ctx.session.get(Company, int(inc.button[2:]))
        if company is None:
            raise NotFound("quote.not_found", ref="?")
        return _after_customer(ctx, company)
    text = (inc.text or "").strip()
    if not text:
        return goto("customer", ctx.t("Type part of the customer's name."))
    return await _pick_customer(ctx, text)


async def choose_deal(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    value = inc.button or ""
    if not value.startswith("d:"):
        return goto("deal", t("Press one of the buttons to pick the deal (or No deal)."))
    deal_id = int(value[2:])
    if deal_id:
        deal = ctx.session.scalar(select(Deal).where(Deal.id == deal_id,
                                                     deal_visible(ctx.session, ctx.user)))
        if deal is None:
            raise NotFound("quote.not_found", ref=str(deal_id))
        ctx.data["deal_id"] = deal.id
    return goto("items", _with_form(ctx, t("Which products? Type them with quantities, e.g. "
                                           "\"2 server x1, 10 laptop pro\".")))


async def _open_quote(ctx: Ctx, ref: str, *, revise: bool = False) -> Step:
    """Show a quote with what can be done now: send its PDF, accept it (the order) or
    revise it (the next version); the approver decides a pending discount."""
    t = ctx.t
    quote = quote_service.get_quote(ctx.session, ctx.user, ref.strip())
    version = quote_service.current_version(ctx.session, quote)
    text = _quote_text(ctx.session, quote, version, t)
    if version.discount_status == "pending" and version.approval_id:
        request = ctx.session.get(ApprovalRequest, version.approval_id)
        if request is not None and request.status == "pending" and (
                request.approver_id == ctx.user.id or ctx.role == Role.ADMIN):
            return done(ctx.reply(text, [
                Button(t("Approve"), action="quote.approve", arg=str(request.id)),
                Button(t("Reject"), action="quote.reject", arg=str(request.id))]))
    if quote.status == "accepted":
        return done(ctx.reply(text, [Button(t("PDF"), action="quote.pdf", arg=str(quote.id))]))
    if version.discount_status == "pending":
        return done(text + "\n" + t("It can be revised once the manager has decided."))
    if not revise:
        return done(ctx.reply(text, [
            Button(t("📄 PDF to send"), action="quote.pdf", arg=str(quote.id)),
            Button(t("Accept (order)"), action="quote.accept", arg=str(quote.id)),
            Button(t("Revise"), action="quote.revise", arg=str(quote.id))]))
    ctx.data.update(company_id=quote.company_id, deal_id=quote.deal_id, quote_id=quote.id,
                    currency=quote.currency, discount=str(version.discount_pct or 0))
    _set_items(ctx, quote_service.version_items(version))
    return goto("items", ctx.reply(t("Revising {number}: the next version will be "
                                     "v{version}.", number=quote.number,
                                     version=quote.current_version + 1)), _summary(ctx))


# -- items ---------------------------------------------------------------------------------------
async def edit_items(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    items = _items(ctx)
    values = form_values(inc)
    if values is not None:
        return _items_from_form(ctx, values)
    value = inc.button
    if value == FORM_VALUE:  # a door without forms: ask in text
        return goto("items", t("Type products with quantities, e.g. \"2 server x1, 10 laptop "
                               "pro\", a discount like \"10%\", or press a button."))
    if value:
        if value.startswith("add:"):
            _, pid, qty_text = value.split(":")
            items[int(pid)] = items.get(int(pid), 0) + int(qty_text)
            _set_items(ctx, items)
            return goto("items", _summary(ctx))
        if value.startswith("rm:"):
            items.pop(int(value[3:]), None)
            _set_items(ctx, items)
            return goto("items", _summary(ctx))
        if value == "disc":
            return goto("discount", t("What discount on the whole quote, in percent? Your "
                                      "limit is {limit}%; above it your manager decides.",
                                      limit=_pct_text(quote_service.discount_limit(ctx.user))))
        if value == "save":
            return _save(ctx)
        return goto("items", _summary(ctx))
    text = (inc.text or "").strip()
    if not text:
        return goto("items", t("Type products with quantities, a discount like \"10%\", or "
                               "press a button."))
    if text.lower() in _DONE_WORDS:
        return _save(ctx)
    pct = _parse_pct(text)
    if pct is not None:
        return _ask_discount(ctx, pct)
    m = _CURRENCY.search(text)
    if m and not text[: m.start()].strip():
        currency = m.group(1).upper()
        if ctx.data.get("quote_id"):
            quote = ctx.session.get(Quote, int(ctx.data["quote_id"]))
            if quote is not None and quote.currency != currency:
                raise DomainError("quote.currency_mismatch", currency=currency,
                                  quote_currency=quote.currency)
        quote_service.price_list_for(ctx.session, _company(ctx), ctx.now.date(), currency)
        ctx.data["currency"] = currency
        return goto("items", _summary(ctx))
    m = _REMOVE.match(text)
    if m:
        gone = [p for p in _products(ctx, items) if m.group(1).lower() in p.name.lower()
                or m.group(1).lower() == p.sku.lower()]
        if not gone:
            return goto("items", t("Nothing called \"{text}\" is in the quote.",
                                   text=m.group(1)[:60]))
        for p in gone:
            items.pop(p.id, None)
        _set_items(ctx, items)
        return goto("items", _summary(ctx))
    resolved = resolve_items(ctx.session, text)
    for product, qty in resolved.found:
        items[product.id] = items.get(product.id, 0) + qty
    _set_items(ctx, items)
    replies: list[Reply] = []
    for typed, suggestions in resolved.unknown:
        if suggestions:
            qty = _typed_qty(text, typed)
            replies.append(ctx.reply(
                t("I don't know a product \"{text}\". Did you mean:", text=typed[:60]),
                [Button(s.name, value=f"add:{s.id}:{qty}") for s in suggestions[:3]]))
        else:
            replies.append(ctx.reply(t("I don't know a product \"{text}\" and nothing looks "
                                       "like it. Check the name or the SKU.", text=typed[:60])))
    if resolved.found or not replies:
        replies.append(_summary(ctx))
    return goto("items", *replies)


def _typed_qty(text: str, typed: str) -> int:
    from core.catalog import parse_items

    for item in parse_items(text):
        if item.text == typed:
            return max(1, item.quantity)
    return 1


def _products(ctx: Ctx, items: dict[int, int]) -> list[Product]:
    if not items:
        return []
    return list(ctx.session.scalars(select(Product).where(Product.id.in_(list(items)))))


def _ask_discount(ctx: Ctx, pct: Decimal) -> Step:
    t = ctx.t
    pct = check_discount(pct)
    company = _company(ctx)
    price_list = quote_service.price_list_for(ctx.session, company, ctx.now.date(),
                                              ctx.data.get("currency"))
    pricing = quote_service.price_items(ctx.session, price_list, _items(ctx), ctx.now.date(),
                                        pct)
    if pct > 0 and pricing.priced.floored:
        raise DomainError("quote.below_floor", name=pricing.priced.floored[0].name,
                          pct=_pct_text(pct))
    if pct > quote_service.discount_limit(ctx.user):
        ctx.data["requested"] = str(pct)
        return goto("reason", t("{pct}% is above your limit of {limit}%: your manager must "
                                "approve it. Why does this customer need it? (one line)",
                                pct=_pct_text(pct),
                                limit=_pct_text(quote_service.discount_limit(ctx.user))))
    ctx.data["discount"] = str(pct)
    ctx.data.pop("requested", None)
    return goto("items", _summary(ctx))


async def ask_discount(ctx: Ctx, inc: Incoming) -> Step:
    text = (inc.text or "").replace("%", "").replace(",", ".").strip()
    try:
        pct = Decimal(text)
    except InvalidOperation:
        return goto("discount", ctx.t("Type the discount as a number, e.g. 7.5 for 7.5%."))
    return _ask_discount(ctx, pct)


async def ask_reason(ctx: Ctx, inc: Incoming) -> Step:
    reason = (inc.text or "").strip()
    if len(reason) < 3:
        return goto("reason", ctx.t("Give the manager a short reason (a few words), or "
                                    "/cancel."))
    return _save(ctx, reason=reason[:500])


def _save(ctx: Ctx, reason: str | None = None) -> Step:
    t = ctx.t
    session = ctx.session
    items = _items(ctx)
    if not items:
        return goto("items", t("The quote has no items yet. Type products with quantities."))
    quote = session.get(Quote, int(ctx.data["quote_id"])) if ctx.data.get("quote_id") else None
    deal = session.get(Deal, int(ctx.data["deal_id"])) if ctx.data.get("deal_id") else None
    requested = ctx.data.get("requested") if reason else None
    pct = Decimal(requested or ctx.data.get("discount") or "0")
    version = quote_service.save_quote(
        session, ctx.user, company=_company(ctx), items=items, now=ctx.now, deal=deal,
        quote=quote, currency=ctx.data.get("currency"), discount_pct=pct, reason=reason)
    quote = version.quote
    if version.discount_status == "pending":
        request = session.get(ApprovalRequest, version.approval_id) if version.approval_id \
            else None
        approver = session.get(User, request.approver_id) if request and \
            request.approver_id else None
        return done(t("Quote {number} v{version} is saved. The {pct}% discount is waiting for "
                      "{manager}'s approval; I'll send you the PDF when they decide.",
                      number=quote.number, version=version.number, pct=_pct_text(pct),
                      manager=approver.name if approver else t("a manager")))
    return done(quote_reply(session, quote, version, t,
                            t("Quote {number} v{version} for {customer}: {total}.",
                              number=quote.number, version=version.number,
                              customer=_company(ctx).name,
                              total=t.money(version.total, quote.currency))))


# -- the PDF and the quote card ------------------------------------------------------------------
def _quote_text(session: Session, quote: Quote, version: QuoteVersion, t: Translator) -> str:
    company = session.get(Company, quote.company_id)
    status = {
        "draft": t("draft"), "pending": t("discount waiting for approval"),
        "sent": t("sent"), "accepted": t("accepted"),
    }.get(quote.status, quote.status)
    lines = [t("Quote {number} v{version} for {customer} ({status})", number=quote.number,
               version=version.number, customer=company.name if company else "?",
               status=status)]
    for line in version.lines:
        lines.append(f"• {line.name} × {line.quantity} — {t.money(line.net, quote.currency)}")
    if version.discount_status == "pending":
        lines.append(t("Discount asked: {pct}% ({reason})",
                       pct=_pct_text(version.requested_discount_pct),
                       reason=version.note or "—"))
    lines.append(t("Total {amount}, valid until {date}",
                   amount=t.money(version.total, quote.currency),
                   date=t.date(version.valid_until)))
    return "\n".join(lines)


def quote_pdf(session: Session, quote: Quote, version: QuoteVersion, t: Translator) -> bytes:
    company = session.get(Company, quote.company_id)
    deal = session.get(Deal, quote.deal_id) if quote.deal_id else None
    owner = session.get(User, version.created_by_id) if version.created_by_id else None
    note = None
    if version.discount_status == "rejected":
        note = t("The requested discount of {pct}% was not approved.",
                 pct=_pct_text(version.requested_discount_pct))
    return render_quote_pdf(PdfQuote(
        number=quote.number, version=version.number, currency=quote.currency,
        issued=version.created_at, valid_until=version.valid_until,
        customer=company.name if company else "?",
        customer_address=(company.billing_address or company.head_office_address)
        if company else None,
        customer_city=company.city if company else None,
        deal_title=deal.title if deal else None,
        prepared_by=owner.name if owner else "",
        lines=tuple(PdfLine(sku=line.sku, name=line.name, quantity=line.quantity,
                            unit=str(line.details.get("unit", "")),
                            unit_price=Decimal(line.unit_price),
                            discount_pct=Decimal(line.discount_pct), net=Decimal(line.net))
                    for line in version.lines),
        subtotal=Decimal(version.subtotal), discount_total=Decimal(version.discount_total),
        discount_pct=Decimal(version.discount_pct), tax_total=Decimal(version.tax_total),
        total=Decimal(version.total), discount_note=note,
        seller=organisation.seller(session)), t)


def quote_reply(session: Session, quote: Quote, version: QuoteVersion, t: Translator,
                text: str) -> Reply:
    progress.working(progress.DOCUMENT)
    data = quote_pdf(session, quote, version, t)
    buttons: list[Button] = []
    if quote.status != "accepted":
        buttons = [Button(t("Accept (order)"), action="quote.accept", arg=str(quote.id)),
                   Button(t("Revise"), action="quote.revise", arg=str(quote.id))]
    return Reply(text=text, buttons=(tuple(buttons),) if buttons else (),
                 attachment=Attachment(f"{quote.number}-v{version.number}.pdf", data,
                                       "application/pdf"))


def _arg_id(arg: str) -> int:
    """A record id from a button argument; anything else (forged, stale) is not found."""
    arg = (arg or "").strip()
    if not arg.isascii() or not arg.isdigit() or len(arg) > 9:
        raise NotFound("quote.not_found", ref=arg[:20])
    return int(arg)


# -- actions -------------------------------------------------------------------------------------
async def accept_action(ctx: Ctx, arg: str) -> Step:
    t = ctx.t
    order = quote_service.accept_quote(ctx.session, ctx.user, _arg_id(arg), ctx.now)
    quote = ctx.session.get(Quote, order.quote_id)
    assert quote is not None
    text = t("Order {order} created from {number}: {total}.", order=order.number,
             number=quote.number, total=t.money(order.total, order.currency))
    if quote.deal_id:
        text += "\n" + t("The deal moved to Order placed.")
    return done(text)


async def revise_action(ctx: Ctx, arg: str) -> Step:
    return await ctx.begin("quote", ref=str(_arg_id(arg)), revise="1")


async def pdf_action(ctx: Ctx, arg: str) -> Step:
    quote = quote_service.get_quote(ctx.session, ctx.user, _arg_id(arg))
    version = quote_service.current_version(ctx.session, quote)
    return done(quote_reply(ctx.session, quote, version, ctx.t,
                            ctx.t("Quote {number} v{version}.", number=quote.number,
                                  version=version.number)))


async def _decide(ctx: Ctx, arg: str, approve: bool) -> Step:
    t = ctx.t
    request = approvals.decide(ctx.session, request_id=_arg_id(arg), user=ctx.user,
                               approve=approve, now=ctx.now)
    number = request.details.get("quote_number", "?")
    if approve:
        return done(t("Approved the {pct}% discount on {number}. The rep gets the PDF.",
                      pct=request.details.get("discount_pct", "?"), number=number))
    return done(t("Rejected the {pct}% discount on {number}. The rep is told.",
                  pct=request.details.get("discount_pct", "?"), number=number))


async def approve_action(ctx: Ctx, arg: str) -> Step:
    return await _decide(ctx, arg, True)


async def reject_action(ctx: Ctx, arg: str) -> Step:
    return await _decide(ctx, arg, False)


# -- /quotes: what waits for me, my recent quotes -------------------------------------------------
async def list_quotes(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    session = ctx.session
    waiting = select(ApprovalRequest).where(ApprovalRequest.kind == "discount",
                                            ApprovalRequest.status == "pending")
    if ctx.role != Role.ADMIN:
        waiting = waiting.where(ApprovalRequest.approver_id == ctx.user.id)
    rows: list[list[Button]] = []
    for request in session.scalars(waiting.order_by(ApprovalRequest.id).limit(5)):
        d = request.details
        rows.append([Button(t("To decide: {number} {customer} {pct}%",
                              number=d.get("quote_number", "?"),
                              customer=str(d.get("customer", ""))[:18],
                              pct=d.get("discount_pct", "?")),
                            value=f"q:{request.ref_id}")])
    for quote in quote_service.recent_quotes(session, ctx.user):
        company = session.get(Company, quote.company_id)
        rows.append([Button(f"{quote.number} {company.name[:24] if company else ''} "
                            f"v{quote.current_version}", value=f"q:{quote.id}")])
    if not rows:
        return done(t("No quotes yet. Start one with /quote CUSTOMER."))
    return goto("pick", ctx.reply(t("Quotes (the ones waiting for your decision first):"),
                                  *rows))


async def pick_quote(ctx: Ctx, inc: Incoming) -> Step:
    value = inc.button or ""
    if not value.startswith("q:"):
        text = (inc.text or "").strip()
        if _QUOTE_NO.match(text):
            return await ctx.begin("quote", ref=text)
        return goto("pick", ctx.t("Press one of the quotes, or /cancel."))
    return await ctx.begin("quote", ref=value[2:])


# -- notices -------------------------------------------------------------------------------------
def render_ready(session: Session, row: NoticeRow, user: User | None, t: Translator
                 ) -> Reply | None:
    """The rep's answer to a discount request, with the PDF of the version."""
    quote = session.get(Quote, int(row.params.get("quote_id", 0)))
    if quote is None:
        return None
    version = session.scalar(select(QuoteVersion).where(
        QuoteVersion.quote_id == quote.id,
        QuoteVersion.number == int(row.params.get("version", 0))))
    if version is None:
        return None
    if row.params.get("decision") == "approved":
        text = t("The {pct}% discount on {number} v{version} was approved. Here is the quote: "
                 "{total}.", pct=_pct_text(version.discount_pct), number=quote.number,
                 version=version.number, total=t.money(version.total, quote.currency))
    else:
        text = t("The {pct}% discount on {number} v{version} was not approved; the quote "
                 "stands without it: {total}.", pct=_pct_text(version.requested_discount_pct),
                 number=quote.number, version=version.number,
                 total=t.money(version.total, quote.currency))
    reply = quote_reply(session, quote, version, t, text)
    rows = tuple(tuple(b if b.payload else Button(b.label, action=b.action, arg=b.arg,
                                                    payload=encode_payload(b, None, 0))
                       for b in row) for row in reply.buttons)
    return Reply(text=reply.text, buttons=rows, attachment=reply.attachment)


def register(registry: Registry) -> None:
    """Register the quote flow, its intents, actions and the decision notice."""
    registry.add_phrasings(*quote_phrasings.PHRASINGS)
    registry.add_flow(Flow(
        "quote", start=begin,
        accepts={"customer": "customer", "deal": "button", "items": "text",
                 "discount": "number", "reason": "text"},
        states={"customer": choose_customer, "deal": choose_deal, "items": edit_items,
                "discount": ask_discount, "reason": ask_reason},
        roles=QUOTE_ROLES, commands=("quote", "penawaran"),
        help=N_("Make a price quote (PDF) for a customer"),
        ongoing=ongoing(N_("Still making the quote."))))
    registry.add_flow(Flow(
        "quotes", start=list_quotes, states={"pick": pick_quote}, accepts={"pick": "button"},
        roles=QUOTE_ROLES,
        commands=("quotes",), help=N_("Recent quotes and discounts waiting for you")))
    registry.add_action(Action("quote.accept", accept_action, roles=QUOTE_ROLES, group_ok=False))
    registry.add_action(Action("quote.revise", revise_action, roles=QUOTE_ROLES,
                               group_ok=False))
    registry.add_action(Action("quote.pdf", pdf_action, roles=QUOTE_ROLES, group_ok=False))
    registry.add_action(Action("quote.approve", approve_action,
                               roles=frozenset({Role.MANAGER, Role.ADMIN})))
    registry.add_action(Action("quote.reject", reject_action,
                               roles=frozenset({Role.MANAGER, Role.ADMIN})))
    registry.add_notice("quote.ready", render_ready)
