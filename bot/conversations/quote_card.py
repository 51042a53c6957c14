"""A quote as the rep and the manager see it: its card and PDF, the accept / revise / PDF /
approve / reject buttons, /quotes (what waits for me, my recent quotes) and the
quote-ready notice."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversations import progress
from bot.conversations.engine import encode_payload
from bot.conversations.flow import Action, Ctx, Flow, Step, done, goto
from bot.conversations.messages import (
    Attachment,
    Button,
    Incoming,
    Reply,
)
from bot.conversations.registry import Registry
from bot.documents.quote_pdf import PdfLine, PdfQuote, render_quote_pdf
from bot.i18n import N_, Translator
from core import approval_outcomes, organisation
from core import quotes as quote_service
from core.errors import NotFound
from core.models import ApprovalRequest, Company, Deal, NoticeRow, Role, User
from core.models.quotes import Quote, QuoteVersion

QUOTE_ROLES = frozenset({Role.REP, Role.MANAGER, Role.ADMIN})
QUOTE_NUMBER = re.compile(r"^\s*(Q-\d{4}-\d{3,})\s*$", re.IGNORECASE)


def pct_text(value: Decimal) -> str:
    text = f"{Decimal(value):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# -- the PDF and the quote card ------------------------------------------------------------------
def quote_text(session: Session, quote: Quote, version: QuoteVersion, t: Translator) -> str:
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
                       pct=pct_text(version.requested_discount_pct),
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
                 pct=pct_text(version.requested_discount_pct))
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


def arg_id(arg: str) -> int:
    """A record id from a button argument; anything else (forged, stale) is not found."""
    arg = (arg or "").strip()
    if not arg.isascii() or not arg.isdigit() or len(arg) > 9:
        raise NotFound("quote.not_found", ref=arg[:20])
    return int(arg)

# -- actions -------------------------------------------------------------------------------------
async def accept_action(ctx: Ctx, arg: str) -> Step:
    t = ctx.t
    order = quote_service.accept_quote(ctx.session, ctx.user, arg_id(arg), ctx.now)
    quote = ctx.session.get(Quote, order.quote_id)
    assert quote is not None
    text = t("Order {order} created from {number}: {total}.", order=order.number,
             number=quote.number, total=t.money(order.total, order.currency))
    if quote.deal_id:
        text += "\n" + t("The deal moved to Order placed.")
    return done(text)


async def revise_action(ctx: Ctx, arg: str) -> Step:
    return await ctx.begin("quote", ref=str(arg_id(arg)), revise="1")


async def pdf_action(ctx: Ctx, arg: str) -> Step:
    quote = quote_service.get_quote(ctx.session, ctx.user, arg_id(arg))
    version = quote_service.current_version(ctx.session, quote)
    return done(quote_reply(ctx.session, quote, version, ctx.t,
                            ctx.t("Quote {number} v{version}.", number=quote.number,
                                  version=version.number)))


async def _decide(ctx: Ctx, arg: str, approve: bool) -> Step:
    t = ctx.t
    request = approval_outcomes.decide(ctx.session, request_id=arg_id(arg), user=ctx.user,
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
        if QUOTE_NUMBER.match(text):
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
                 "{total}.", pct=pct_text(version.discount_pct), number=quote.number,
                 version=version.number, total=t.money(version.total, quote.currency))
    else:
        text = t("The {pct}% discount on {number} v{version} was not approved; the quote "
                 "stands without it: {total}.", pct=pct_text(version.requested_discount_pct),
                 number=quote.number, version=version.number,
                 total=t.money(version.total, quote.currency))
    reply = quote_reply(session, quote, version, t, text)
    rows = tuple(tuple(b if b.payload else Button(b.label, action=b.action, arg=b.arg,
                                                    payload=encode_payload(b, None, 0))
                       for b in row) for row in reply.buttons)
    return Reply(text=reply.text, buttons=rows, attachment=reply.attachment)


def register(registry: Registry) -> None:
    """Register /quotes, the quote buttons and the quote-ready notice."""
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
