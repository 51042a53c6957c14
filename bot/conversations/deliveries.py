"""Promised deliveries: schedule one (customer, what, when) with a confirmation to copy,
delay it (with the customer's letter), mark it delivered; the day-before reminder
(core.deliveries finds what is due)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversations.drafts import delay_draft, delivery_draft, sent_button
from bot.conversations.flow import FIELD_ROLES, Action, Ctx, Flow, Step, done, goto, ongoing
from bot.conversations.followups import parse_when
from bot.conversations.lookup import main_contact, pick_company
from bot.conversations.messages import Button, Incoming, Reply
from bot.conversations.phrasings import deliveries as deliveries_phrasings
from bot.conversations.registry import Registry
from bot.i18n import N_, Translator
from core import deliveries
from core.models import Company, Contact, NoticeRow, User
from core.models.scheduling import CustomerMessage, DeliverySchedule

ERRORS = {
    "delivery.company_not_found": N_("I cannot find that company among your accounts."),
    "delivery.bad_description": N_("Please say what will be delivered."),
    "delivery.in_past": N_("That time is in the past. Give a future date, e.g. 2026-03-10 "
                           "14:00, tomorrow 10:00 or in 3 days."),
    "delivery.not_later": N_("A delay must move the delivery later than it is now."),
    "delivery.not_found": N_("That delivery is not yours or no longer exists."),
    "delivery.closed": N_("That delivery is already {status}."),
}


def render_delivery(session: Session, notice: NoticeRow, user: User | None, t: Translator
                    ) -> Reply | None:
    """A delivery within a day: confirm it to the customer (copy-ready text)."""
    d = session.get(DeliverySchedule, int(notice.params.get("delivery_id", 0)))
    if d is None or user is None or d.status not in ("scheduled", "delayed"):
        return None
    contact = session.get(Contact, d.contact_id) if d.contact_id else None
    company = session.get(Company, d.company_id)
    head = t("🚚 Delivery on {when} to {company}: {what}", when=t.datetime(d.scheduled_for),
             company=company.name if company else "?", what=d.description)
    told = session.scalar(select(CustomerMessage.sent_at).where(
        CustomerMessage.kind.in_(("delivery", "delay")), CustomerMessage.ref_id == d.id,
        CustomerMessage.sent_at >= d.updated_at).order_by(CustomerMessage.sent_at.desc())
        .limit(1))
    if told is not None:
        return Reply.with_buttons(
            "\n".join([head, t("The customer was told on {when}.", when=t.datetime(told))]),
            (Button(t("Delivered"), action="delivery.delivered", arg=str(d.id)),
             Button(t("Delay"), action="delivery.delay", arg=str(d.id))))
    text = "\n".join([head, t("Confirm it to the customer; here is a text to copy:"), "",
                      delivery_draft(t, d, contact, company, user)])
    return Reply.with_buttons(text, (sent_button(t, f"d{d.id}"),
                                     Button(t("Delivered"), action="delivery.delivered",
                                            arg=str(d.id))))


async def delivered_action(ctx: Ctx, arg: str) -> Step:
    """Mark a delivery delivered."""
    if not arg.isdigit():
        return done(ctx.t("That button is no longer valid."))
    d = deliveries.mark_delivered(ctx.session, ctx.user, int(arg), ctx.now)
    return done(ctx.t("✅ Delivery marked delivered: {what}.", what=d.description))


async def delay_action(ctx: Ctx, arg: str) -> Step:
    """Start moving a delivery later."""
    if not arg.isdigit():
        return done(ctx.t("That button is no longer valid."))
    return await ctx.begin("delivery_delay", id=arg)


async def delivery_start(ctx: Ctx, inc: Incoming) -> Step:
    """Schedule a delivery: ask for the customer."""
    text = ctx.args.get("text", "")
    if text:
        return await delivery_company(ctx, replace(inc, text=text, button=None))
    return goto("company", ctx.t("Schedule a delivery. Which customer is it for?"))


async def delivery_company(ctx: Ctx, inc: Incoming) -> Step:
    """Pick the company."""
    picked = await pick_company(ctx, inc)
    if isinstance(picked, Step):
        return picked
    ctx.data["company_id"] = picked.id
    return goto("what", ctx.t("Delivery to {company}. What will be delivered?",
                              company=picked.name))


async def delivery_what(ctx: Ctx, inc: Incoming) -> Step:
    """Take the description."""
    text = (inc.text or "").strip()
    if len(text) < 2:
        return goto("what", ctx.t("Please say what will be delivered."))
    ctx.data["what"] = text[:300]
    return goto("when", ctx.t("When? E.g. 2026-03-10 14:00, 10/3 14:00, tomorrow 10:00 or in "
                              "3 days."))


async def delivery_when(ctx: Ctx, inc: Incoming) -> Step:
    """Take the date and schedule it."""
    when = parse_when(ctx, inc.text or "")
    if when is None:
        return goto("when", ctx.t("I did not understand that date. Use e.g. 2026-03-10 14:00, "
                                  "10/3 14:00, tomorrow 10:00 or in 3 days."))
    company = ctx.session.get(Company, ctx.data["company_id"])
    contact = main_contact(ctx.session, company) if company else None
    d = deliveries.schedule_delivery(ctx.session, ctx.user, company_id=ctx.data["company_id"],
                                     description=ctx.data["what"], when=when, now=ctx.now,
                                     contact_id=contact.id if contact else None)
    text = "\n".join([
        ctx.t("🚚 Delivery scheduled for {when}. I will remind you a day before.",
              when=ctx.t.datetime(d.scheduled_for)),
        ctx.t("A confirmation to the customer to copy:"), "",
        delivery_draft(ctx.t, d, contact, company, ctx.user)])
    return done(ctx.reply(text, (sent_button(ctx.t, f"d{d.id}"),
                                 Button(ctx.t("Delay"), action="delivery.delay",
                                        arg=str(d.id)))))


async def delay_start(ctx: Ctx, inc: Incoming) -> Step:
    """Ask for the new delivery date."""
    did = ctx.args.get("id", "")
    d = ctx.session.get(DeliverySchedule, int(did)) if did.isdigit() else None
    if d is None or (d.owner_id != ctx.user.id and ctx.user.role not in ("manager", "admin")):
        return done(ctx.t("That delivery is not yours or no longer exists."))
    if d.status not in ("scheduled", "delayed"):
        return done(ctx.t("That delivery is already {status}.", status=d.status))
    ctx.data["delivery_id"] = d.id
    return goto("when", ctx.t("Delay \"{what}\" (now {when}) to when?", what=d.description,
                              when=ctx.t.datetime(d.scheduled_for)))


async def delay_when(ctx: Ctx, inc: Incoming) -> Step:
    """Take the new date."""
    when = parse_when(ctx, inc.text or "")
    if when is None:
        return goto("when", ctx.t("I did not understand that date. Use e.g. 2026-03-10 14:00, "
                                  "10/3 14:00, tomorrow 10:00 or in 3 days."))
    d = ctx.session.get(DeliverySchedule, ctx.data["delivery_id"])
    if d is not None and when <= d.scheduled_for:
        return goto("when", ctx.t("A delay must move the delivery later than it is now."))
    ctx.data["when"] = when.isoformat()
    return goto("reason", ctx.reply(ctx.t("Why is it delayed? (one line, or Skip)"),
                                    (Button(ctx.t("Skip"), value="skip"),)))


async def delay_reason(ctx: Ctx, inc: Incoming) -> Step:
    """Record the delay and draft the confirmation to the customer."""
    reason = "" if inc.button == "skip" else (inc.text or "").strip()
    d = deliveries.delay_delivery(ctx.session, ctx.user, ctx.data["delivery_id"],
                                  new_when=datetime.fromisoformat(ctx.data["when"]),
                                  reason=reason, now=ctx.now)
    company = ctx.session.get(Company, d.company_id)
    contact = ctx.session.get(Contact, d.contact_id) if d.contact_id else None
    text = "\n".join([
        ctx.t("Delivery moved to {when}.", when=ctx.t.datetime(d.scheduled_for)),
        ctx.t("A delay confirmation to the customer to copy:"), "",
        delay_draft(ctx.t, d, contact, company, ctx.user)])
    return done(ctx.reply(text, (sent_button(ctx.t, f"y{d.id}"),)))


def register(registry: Registry) -> None:
    """Register the delivery flows, their buttons and the day-before reminder."""
    registry.add_errors(ERRORS)
    registry.add_phrasings(*deliveries_phrasings.PHRASINGS)
    registry.add_flow(Flow(
        "delivery", start=delivery_start, roles=FIELD_ROLES, commands=("delivery",),
        help=N_("Schedule a delivery to a customer"),
        states={"company": delivery_company, "what": delivery_what, "when": delivery_when},
        accepts={"company": "customer", "what": "text", "when": "date"},
        ongoing=ongoing(N_("Still scheduling the delivery."))))
    registry.add_flow(Flow("delivery_delay", start=delay_start, roles=FIELD_ROLES,
                           states={"when": delay_when, "reason": delay_reason},
                           accepts={"when": "date", "reason": "text"}))
    for action in (Action("delivery.delivered", delivered_action, roles=FIELD_ROLES,
                          group_ok=False),
                   Action("delivery.delay", delay_action, roles=FIELD_ROLES, group_ok=False)):
        registry.add_action(action)
    registry.add_notice("delivery.upcoming", render_delivery)
