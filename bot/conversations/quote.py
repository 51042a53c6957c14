"""Configure, price and approve quotes; PDF in the chat.

/quote [customer | Q-number] -> pick the customer (and deal) -> type items ("2 server x1,
10 laptop pro") -> rule check with a fix button -> priced summary with cross-sell buttons ->
optional discount (within the limit: applied; above: a reason, then the manager decides) ->
the PDF. Revising a quote makes the next version; accepting it makes the order. The quote
being put together is bot.conversations.quote_items, its card and buttons quote_card.
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
from dataclasses import replace

from sqlalchemy import select

from bot.conversations.flow import Ctx, Flow, Step, done, goto, ongoing
from bot.conversations.messages import (
    Button,
    Incoming,
    Reply,
    form_values,
    shorten,
)
from bot.conversations.phrasings import quote as quote_phrasings
from bot.conversations.quote_card import (
    QUOTE_NUMBER,
    QUOTE_ROLES,
    pct_text,
    quote_text,
)
from bot.conversations.quote_items import (
    FORM_VALUE,
    ask_discount,
    ask_reason,
    finish_quote,
    items_from_form,
    offer_discount,
    parse_pct,
    products_of,
    quote_company,
    quote_items_of,
    set_quote_items,
    summary,
    typed_qty,
    with_form,
)
from bot.conversations.registry import Registry
from bot.i18n import N_
from core import quotes as quote_service
from core.catalog import resolve_items
from core.contacts import find_companies, find_contacts, is_clear
from core.errors import DomainError, NotFound
from core.models import OPEN_STAGES, ApprovalRequest, Company, Deal, Role
from core.models.quotes import Quote
from core.scope import deal_visible

_CURRENCY = re.compile(r"(?:^|\s)(?:in|dalam|currency|mata uang)\s+([A-Za-z]{3})\s*$",
                       re.IGNORECASE)

_REMOVE = re.compile(r"^\s*(?:remove|delete|hapus|buang)\s+(.+)$", re.IGNORECASE)
# A discount said with the request: "… diskon 5%", "… 10% discount", "… with 7.5% off".
_TOLD_DISCOUNT = re.compile(
    r"(?:,?\s*(?:with|dengan|and|dan)\s+)?(?:(?:discount|diskon|disc\.?|potongan)\s*"
    r"(?P<a>\d+(?:[.,]\d+)?)\s*%?|(?P<b>\d+(?:[.,]\d+)?)\s*%\s*(?:discount|diskon|off)?)",
    re.IGNORECASE)
_DONE_WORDS = {"done", "save", "pdf", "ok", "selesai", "simpan", "send", "kirim"}

ERRORS = {
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
}

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
        return goto("items", summary(ctx))
    if ctx.args.get("details"):  # "quote for X 2 server x1 diskon 5%": the items, kept
        ctx.data["told_items"] = ctx.args["details"][:500]
    text = (ctx.args.get("text") or ctx.args.get("customer") or "").strip()
    m = _CURRENCY.search(text)
    if m:
        ctx.data["currency"] = m.group(1).upper()
        text = text[: m.start()].strip()
    if QUOTE_NUMBER.match(text):
        return await _open_quote(ctx, text)
    if not text:
        return goto("customer", t("Which customer is the quote for? Type part of the name."))
    return await _pick_customer(ctx, text)


async def _pick_customer(ctx: Ctx, text: str) -> Step:
    t = ctx.t
    matches = find_companies(ctx.session, ctx.user, text, limit=5,
                             index=ctx.services.contacts)
    if not matches:
        # "send a quote to Hendro": a contact's name stands for their company.
        people = find_contacts(ctx.session, ctx.user, text, limit=5,
                               index=ctx.services.contacts)
        if people and is_clear(people, query=text):
            return await _told_items(ctx, _after_customer(ctx, people[0].contact.company))
        if people:
            buttons = [Button(f"{m.contact.name} ({m.contact.company.name})"[:40],
                              value=f"c:{m.contact.company_id}") for m in people]
            return goto("customer", ctx.reply(t("Which customer?"), *[[b] for b in buttons]))
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
    return await _told_items(ctx, _after_customer(ctx, matches[0].company))


def _after_customer(ctx: Ctx, company: Company) -> Step:
    t = ctx.t
    ctx.data.update(company_id=company.id, items=ctx.data.get("items") or {})
    # Check now that the customer can be quoted (price list, currency).
    quote_service.price_list_for(ctx.session, company, ctx.now.date(), ctx.data.get("currency"))
    deals = ctx.session.scalars(select(Deal).where(
        Deal.company_id == company.id, Deal.stage.in_([s.value for s in OPEN_STAGES]),
        deal_visible(ctx.session, ctx.user)).order_by(Deal.updated_at.desc()).limit(4)).all()
    if deals:
        buttons = [[Button(shorten(f"#{d.id} {d.title}"), value=f"d:{d.id}")] for d in deals]
        buttons.append([Button(t("No deal"), value="d:0")])
        return goto("deal", ctx.reply(t("For which deal of {customer}?", customer=company.name),
                                      *buttons))
    return goto("items", with_form(ctx, t("Quote for {customer}. Which products? Type them "
                                           "with quantities, e.g. \"2 server x1, 10 laptop "
                                           "pro\".", customer=company.name)))


async def choose_customer(ctx: Ctx, inc: Incoming) -> Step:
    if inc.button and inc.button.startswith("c:"):
        company = ctx.session.get(Company, int(inc.button[2:]))
        if company is None:
            raise NotFound("quote.not_found", ref="?")
        return await _told_items(ctx, _after_customer(ctx, company))
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
    return await _told_items(ctx, goto("items", with_form(
        ctx, t("Which products? Type them with quantities, e.g. \"2 server x1, 10 laptop "
               "pro\"."))))


async def _told_items(ctx: Ctx, step: Step) -> Step:
    """At the items question, the products (and a discount) said with the request are
    taken as the answer instead of being asked for."""
    told = ctx.data.get("told_items")
    if step.next != "items" or not told:
        return step
    del ctx.data["told_items"]
    m = _TOLD_DISCOUNT.search(told)
    pct = parse_pct(f"{m.group('a') or m.group('b')}%") if m else None
    items_text = (told[:m.start()] + " " + told[m.end():]).strip(" ,.") if m else told
    after = (await edit_items(ctx, replace(ctx.incoming, text=items_text, button=None))
             if items_text else step)
    if pct is None or not quote_items_of(ctx):
        return after
    discounted = offer_discount(ctx, pct)
    # Keep what the items said (a product it does not know) before the discount's answer.
    return Step(discounted.next, [*after.replies[:-1], *discounted.replies])


async def _open_quote(ctx: Ctx, ref: str, *, revise: bool = False) -> Step:
    """Show a quote with what can be done now: send its PDF, accept it (the order) or
    revise it (the next version); the approver decides a pending discount."""
    t = ctx.t
    quote = quote_service.get_quote(ctx.session, ctx.user, ref.strip())
    version = quote_service.current_version(ctx.session, quote)
    text = quote_text(ctx.session, quote, version, t)
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
    set_quote_items(ctx, quote_service.version_items(version))
    return goto("items", ctx.reply(t("Revising {number}: the next version will be "
                                     "v{version}.", number=quote.number,
                                     version=quote.current_version + 1)), summary(ctx))

# -- items ---------------------------------------------------------------------------------------
async def edit_items(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    items = quote_items_of(ctx)
    values = form_values(inc)
    if values is not None:
        return items_from_form(ctx, values)
    value = inc.button
    if value == FORM_VALUE:  # a door without forms: ask in text
        return goto("items", t("Type products with quantities, e.g. \"2 server x1, 10 laptop "
                               "pro\", a discount like \"10%\", or press a button."))
    if value:
        if value.startswith("add:"):
            _, pid, qty_text = value.split(":")
            items[int(pid)] = items.get(int(pid), 0) + int(qty_text)
            set_quote_items(ctx, items)
            return goto("items", summary(ctx))
        if value.startswith("rm:"):
            items.pop(int(value[3:]), None)
            set_quote_items(ctx, items)
            return goto("items", summary(ctx))
        if value == "disc":
            return goto("discount", t("What discount on the whole quote, in percent? Your "
                                      "limit is {limit}%; above it your manager decides.",
                                      limit=pct_text(quote_service.discount_limit(ctx.user))))
        if value == "save":
            return finish_quote(ctx)
        return goto("items", summary(ctx))
    text = (inc.text or "").strip()
    if not text:
        return goto("items", t("Type products with quantities, a discount like \"10%\", or "
                               "press a button."))
    if text.lower() in _DONE_WORDS:
        return finish_quote(ctx)
    pct = parse_pct(text)
    if pct is not None:
        return offer_discount(ctx, pct)
    m = _CURRENCY.search(text)
    if m and not text[: m.start()].strip():
        currency = m.group(1).upper()
        if ctx.data.get("quote_id"):
            quote = ctx.session.get(Quote, int(ctx.data["quote_id"]))
            if quote is not None and quote.currency != currency:
                raise DomainError("quote.currency_mismatch", currency=currency,
                                  quote_currency=quote.currency)
        quote_service.price_list_for(ctx.session, quote_company(ctx), ctx.now.date(), currency)
        ctx.data["currency"] = currency
        return goto("items", summary(ctx))
    m = _REMOVE.match(text)
    if m:
        gone = [p for p in products_of(ctx, items) if m.group(1).lower() in p.name.lower()
                or m.group(1).lower() == p.sku.lower()]
        if not gone:
            return goto("items", t("Nothing called \"{text}\" is in the quote.",
                                   text=m.group(1)[:60]))
        for p in gone:
            items.pop(p.id, None)
        set_quote_items(ctx, items)
        return goto("items", summary(ctx))
    resolved = resolve_items(ctx.session, text)
    for product, qty in resolved.found:
        items[product.id] = items.get(product.id, 0) + qty
    set_quote_items(ctx, items)
    replies: list[Reply] = []
    for typed, suggestions in resolved.unknown:
        if suggestions:
            qty = typed_qty(text, typed)
            replies.append(ctx.reply(
                t("I don't know a product \"{text}\". Did you mean:", text=typed[:60]),
                [Button(s.name, value=f"add:{s.id}:{qty}") for s in suggestions[:3]]))
        else:
            replies.append(ctx.reply(t("I don't know a product \"{text}\" and nothing looks "
                                       "like it. Check the name or the SKU.", text=typed[:60])))
    if resolved.found or not replies:
        replies.append(summary(ctx))
    return goto("items", *replies)


def register(registry: Registry) -> None:
    """Register the quote flow and its intents."""
    registry.add_errors(ERRORS)
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
