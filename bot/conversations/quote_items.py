"""The quote being put together: its items and the priced summary, the items form (Slack
shows it as a modal; other doors ask in text), the discount and its reason, and saving it
(the PDF, or waiting for the manager's approval)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from bot.conversations.flow import Ctx, Step, done, goto
from bot.conversations.messages import (
    Button,
    Form,
    FormField,
    FormReply,
    Incoming,
    Reply,
)
from bot.conversations.quote_card import pct_text, quote_reply
from bot.i18n import N_
from core import quotes as quote_service
from core.catalog import check_configuration, cross_sell, expand_bundles, resolve_items
from core.errors import DomainError, NotFound
from core.models import ApprovalRequest, Company, Deal, User
from core.models.quotes import Product, Quote
from core.pricing import check_discount

DISCOUNT = re.compile(r"^\s*(?:discount|diskon|disc\.?|potongan)?\s*(-?\d+(?:[.,]\d+)?)\s*%?\s*"
                       r"(?:discount|diskon|off)?\s*$", re.IGNORECASE)

FORM_VALUE = "form"
FORM_BUTTON = N_("📝 Items in a form")
MAX_FORM_LINES = 3000

# -- helpers ---------------------------------------------------------------------------------
def quote_items_of(ctx: Ctx) -> dict[int, int]:
    return {int(k): int(v) for k, v in (ctx.data.get("items") or {}).items()}


def set_quote_items(ctx: Ctx, items: dict[int, int]) -> None:
    ctx.data["items"] = {str(k): v for k, v in items.items() if v > 0}


def quote_company(ctx: Ctx) -> Company:
    company = ctx.session.get(Company, int(ctx.data["company_id"]))
    if company is None:
        raise NotFound("quote.not_found", ref="?")
    return company


def parse_pct(text: str) -> Decimal | None:
    m = DISCOUNT.match(text)
    if not m or ("%" not in text and not re.search(r"discount|diskon|disc|potongan|off", text,
                                                   re.IGNORECASE)):
        return None
    try:
        return Decimal(m.group(1).replace(",", "."))
    except InvalidOperation:
        return None


def summary(ctx: Ctx) -> Reply:
    """The priced summary (or the first configuration issue with its fix buttons)."""
    t = ctx.t
    items = quote_items_of(ctx)
    if not items:
        return with_form(ctx, t("Which products? Type them with quantities, e.g. \"2 server "
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
    company = quote_company(ctx)
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
            extra = t(" ({pct}% off)", pct=pct_text(line.discount_pct.normalize()))
        lines.append(f"{i}. {line.name} × {line.quantity} — {t.money(line.net, cur)}{extra}")
    lines.append(t("Subtotal {amount}", amount=t.money(priced.subtotal, cur)))
    if priced.discount_total:
        lines.append(t("Discounts −{amount}", amount=t.money(priced.discount_total, cur)))
    lines.append(t("Tax {amount}", amount=t.money(priced.tax_total, cur)))
    lines.append(t("Total {amount}", amount=t.money(priced.total, cur)))
    if discount:
        lines.append(t("Quote discount {pct}% applied.", pct=pct_text(discount)))
    lines.append(t("Type more items, a discount like \"10%\", or \"remove NAME\"."))
    suggestions = cross_sell(session, items)
    sell = [Button(t("+ {name}", name=s.name), value=f"add:{s.id}:1") for s in suggestions]
    actions = [Button(t("Discount"), value="disc"),
               Button(t("Create PDF quote"), value="save")]
    if suggestions:
        lines.append(t("Customers buying these often add: {names}.",
                       names=", ".join(s.name for s in suggestions)))
    return with_form(ctx, "\n".join(lines), sell, actions)

# -- the items form --------------------------------------------------------------------------
def with_form(ctx: Ctx, text: str, *rows: list[Button],
               values: dict[str, str] | None = None) -> FormReply:
    """A reply of the items state with the items form's button as its last row."""
    form_row = (Button(ctx.t(FORM_BUTTON), value=FORM_VALUE),)
    return FormReply(text=text, buttons=(*(tuple(r) for r in rows if r), form_row),
                     form=items_form(ctx, values))


def items_form(ctx: Ctx, values: dict[str, str] | None) -> Form:
    """The quote's items as "quantity SKU" lines, the discount and the reason for one above
    the rep's limit; filled with the current quote, or with `values` after a refusal."""
    t = ctx.t
    if values is None:
        items = quote_items_of(ctx)
        skus = {p.id: p.sku for p in products_of(ctx, items)}
        discount = Decimal(ctx.data.get("discount") or "0")
        values = {"items": "\n".join(f"{qty} {skus[pid]}" for pid, qty in items.items()
                                     if pid in skus),
                  "discount": pct_text(discount) if discount else ""}
    limit = pct_text(quote_service.discount_limit(ctx.user))
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


class Refused(Exception):
    """A form value the data refuses; its message is shown with the form again."""


def items_from_form(ctx: Ctx, values: dict[str, str]) -> Step:
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
            raise Refused("\n".join(problems))
        items: dict[int, int] = {}
        for product, qty in resolved.found:
            items[product.id] = items.get(product.id, 0) + qty
        set_quote_items(ctx, items)
        step = offer_discount(ctx, Decimal(values.get("discount") or "0"))
    except DomainError as exc:
        return refuse_form(ctx, values, before, t.error(exc.code, exc.params))
    except Refused as exc:
        return refuse_form(ctx, values, before, str(exc))
    if step.next != "reason":
        return step
    reason = (values.get("reason") or "").strip()
    if len(reason) < 3:
        limit = pct_text(quote_service.discount_limit(ctx.user))
        return refuse_form(ctx, values, before, t(
            "{pct}% is above your limit of {limit}%: give your manager a reason in the form, "
            "or ask for less.", pct=pct_text(Decimal(ctx.data["requested"])), limit=limit))
    return finish_quote(ctx, reason=reason[:500])


def refuse_form(ctx: Ctx, values: dict[str, str], before: Mapping[str, Any], problem: str
            ) -> Step:
    for key in ("items", "discount", "requested"):
        ctx.data.pop(key, None)
    ctx.data.update(before)
    text = "\n".join([problem, ctx.t("Correct it in the form, or type the items here.")])
    # The quote as it stands keeps its buttons (add, remove, discount, PDF) under the message.
    current = summary(ctx)
    rows = [list(row) for row in current.buttons if all(b.value != FORM_VALUE for b in row)]
    return goto("items", with_form(ctx, text, *rows, values=values))


def typed_qty(text: str, typed: str) -> int:
    from core.catalog import parse_items

    for item in parse_items(text):
        if item.text == typed:
            return max(1, item.quantity)
    return 1


def products_of(ctx: Ctx, items: dict[int, int]) -> list[Product]:
    if not items:
        return []
    return list(ctx.session.scalars(select(Product).where(Product.id.in_(list(items)))))


def offer_discount(ctx: Ctx, pct: Decimal) -> Step:
    t = ctx.t
    pct = check_discount(pct)
    company = quote_company(ctx)
    price_list = quote_service.price_list_for(ctx.session, company, ctx.now.date(),
                                              ctx.data.get("currency"))
    pricing = quote_service.price_items(ctx.session, price_list, quote_items_of(ctx),
                                        ctx.now.date(), pct)
    if pct > 0 and pricing.priced.floored:
        raise DomainError("quote.below_floor", name=pricing.priced.floored[0].name,
                          pct=pct_text(pct))
    if pct > quote_service.discount_limit(ctx.user):
        ctx.data["requested"] = str(pct)
        return goto("reason", t("{pct}% is above your limit of {limit}%: your manager must "
                                "approve it. Why does this customer need it? (one line)",
                                pct=pct_text(pct),
                                limit=pct_text(quote_service.discount_limit(ctx.user))))
    ctx.data["discount"] = str(pct)
    ctx.data.pop("requested", None)
    return goto("items", summary(ctx))


async def ask_discount(ctx: Ctx, inc: Incoming) -> Step:
    text = (inc.text or "").replace("%", "").replace(",", ".").strip()
    try:
        pct = Decimal(text)
    except InvalidOperation:
        return goto("discount", ctx.t("Type the discount as a number, e.g. 7.5 for 7.5%."))
    return offer_discount(ctx, pct)


async def ask_reason(ctx: Ctx, inc: Incoming) -> Step:
    reason = (inc.text or "").strip()
    if len(reason) < 3:
        return goto("reason", ctx.t("Give the manager a short reason (a few words), or "
                                    "/cancel."))
    if check_configuration(ctx.session, expand_bundles(ctx.session, quote_items_of(ctx))):
        # An item still needs fixing (a required part): the reason is kept for the request
        # the quote makes when saved, and the items question shows what to fix. It said
        # "add it first" and stayed on the reason, whatever was typed.
        ctx.data["reason"] = reason[:500]
        return goto("items", summary(ctx))
    return finish_quote(ctx, reason=reason[:500])


def finish_quote(ctx: Ctx, reason: str | None = None) -> Step:
    t = ctx.t
    session = ctx.session
    reason = reason or ctx.data.get("reason")
    items = quote_items_of(ctx)
    if not items:
        return goto("items", t("The quote has no items yet. Type products with quantities."))
    quote = session.get(Quote, int(ctx.data["quote_id"])) if ctx.data.get("quote_id") else None
    deal = session.get(Deal, int(ctx.data["deal_id"])) if ctx.data.get("deal_id") else None
    requested = ctx.data.get("requested") if reason else None
    pct = Decimal(requested or ctx.data.get("discount") or "0")
    version = quote_service.save_quote(
        session, ctx.user, company=quote_company(ctx), items=items, now=ctx.now, deal=deal,
        quote=quote, currency=ctx.data.get("currency"), discount_pct=pct, reason=reason)
    quote = version.quote
    if version.discount_status == "pending":
        request = session.get(ApprovalRequest, version.approval_id) if version.approval_id \
            else None
        approver = session.get(User, request.approver_id) if request and \
            request.approver_id else None
        return done(t("Quote {number} v{version} is saved. The {pct}% discount is waiting for "
                      "{manager}'s approval; I'll send you the PDF when they decide.",
                      number=quote.number, version=version.number, pct=pct_text(pct),
                      manager=approver.name if approver else t("a manager")))
    return done(quote_reply(session, quote, version, t,
                            t("Quote {number} v{version} for {customer}: {total}.",
                              number=quote.number, version=version.number,
                              customer=quote_company(ctx).name,
                              total=t.money(version.total, quote.currency))))
