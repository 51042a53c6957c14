"""Letters to customers: the bot drafts copy-ready text (a delivery confirmation, a
delay, a thank-you note, a reply to a complaint, its resolution), the rep sends it and
presses "Sent it", which records that it went (core.followups.record_customer_message).
Customers are not bot users."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.conversations.flow import FIELD_ROLES, Action, Ctx, Step, done
from bot.conversations.messages import Button
from bot.conversations.registry import Registry
from bot.i18n import Translator
from core import followups as fu_service
from core.models import Company, Contact, Deal, Role, User
from core.models.scheduling import Complaint, DeliverySchedule


def _dear(t: Translator, contact: Contact | None, company: Company | None) -> str:
    if contact is not None:
        return t("Dear {name},", name=contact.name)
    return t("Dear {company} team,", company=company.name if company else "")


def delivery_draft(t: Translator, d: DeliverySchedule, contact: Contact | None,
                   company: Company | None, rep: User) -> str:
    return "\n".join([
        _dear(t, contact, company),
        t("This is to confirm that {what} will be delivered on {when}. Please let me know if "
          "that time does not suit you.", what=d.description, when=t.datetime(d.scheduled_for)),
        t("Kind regards, {rep}", rep=rep.name)])


def delay_draft(t: Translator, d: DeliverySchedule, contact: Contact | None,
                company: Company | None, rep: User) -> str:
    lines = [_dear(t, contact, company),
             t("We are sorry to tell you that the delivery of {what}, planned for {old}, is "
               "delayed to {new}.", what=d.description,
               old=t.datetime(d.original_for or d.scheduled_for),
               new=t.datetime(d.scheduled_for))]
    if d.delay_reason:
        lines.append(t("The reason: {reason}.", reason=d.delay_reason.rstrip(".")))
    lines += [t("We apologise for the inconvenience."), t("Kind regards, {rep}", rep=rep.name)]
    return "\n".join(lines)


def thanks_draft(t: Translator, deal: Deal, contact: Contact | None, company: Company | None,
                 rep: User) -> str:
    return "\n".join([
        _dear(t, contact, company),
        t("Thank you for your order ({title}). We appreciate your trust and will keep you "
          "informed about the delivery.", title=deal.title),
        t("Kind regards, {rep}", rep=rep.name)])


def complaint_draft(t: Translator, c: Complaint, contact: Contact | None,
                    company: Company | None, owner: User | None, rep: User) -> str:
    return "\n".join([
        _dear(t, contact, company),
        t("Thank you for letting us know about this: {issue}", issue=c.issue),
        t("{owner} is following it up and will get back to you by {when}.",
          owner=owner.name if owner else rep.name, when=t.datetime(c.sla_due_at)),
        t("Kind regards, {rep}", rep=rep.name)])


def resolution_draft(t: Translator, c: Complaint, contact: Contact | None,
                     company: Company | None, rep: User) -> str:
    """The letter to the customer once their complaint is resolved."""
    return "\n".join([
        _dear(t, contact, company),
        t("Following up on your complaint ({issue}): it has been resolved.", issue=c.issue),
        t("What we did: {resolution}", resolution=c.resolution or "-"),
        t("Thank you for your patience. If anything is still not right, please reply to me "
          "directly."),
        t("Kind regards, {rep}", rep=rep.name)])


def _draft_for(session: Session, t: Translator, user: User, code: str
               ) -> tuple[str, int, int | None, int, str] | None:
    """(kind, company_id, contact_id, ref_id, text) of the draft a "Sent" button names."""
    letter, ident = code[:1], code[1:]
    if not ident.isdigit():
        return None
    ref = int(ident)
    if letter in ("d", "y"):
        d = session.get(DeliverySchedule, ref)
        if d is None or d.owner_id != user.id:
            return None
        contact = session.get(Contact, d.contact_id) if d.contact_id else None
        company = session.get(Company, d.company_id)
        if letter == "d":
            return ("delivery", d.company_id, d.contact_id, ref,
                    delivery_draft(t, d, contact, company, user))
        return ("delay", d.company_id, d.contact_id, ref,
                delay_draft(t, d, contact, company, user))
    if letter == "t":
        deal = session.get(Deal, ref)
        if deal is None or deal.owner_id != user.id:
            return None
        contact = session.get(Contact, deal.contact_id) if deal.contact_id else None
        company = session.get(Company, deal.company_id)
        return ("thanks", deal.company_id, deal.contact_id, ref,
                thanks_draft(t, deal, contact, company, user))
    if letter == "c":
        c = session.get(Complaint, ref)
        if c is None or user.id not in (c.reported_by_id, c.owner_id):
            return None
        contact = session.get(Contact, c.contact_id) if c.contact_id else None
        company = session.get(Company, c.company_id)
        owner = session.get(User, c.owner_id) if c.owner_id else None
        return ("complaint", c.company_id, c.contact_id, ref,
                complaint_draft(t, c, contact, company, owner, user))
    if letter == "r":
        c = session.get(Complaint, ref)
        if c is None or c.status != "resolved" or (
                user.id not in (c.reported_by_id, c.owner_id)
                and user.role not in (Role.MANAGER.value, Role.ADMIN.value)):
            return None
        contact = session.get(Contact, c.contact_id) if c.contact_id else None
        company = session.get(Company, c.company_id)
        return ("complaint_resolved", c.company_id, c.contact_id, ref,
                resolution_draft(t, c, contact, company, user))
    return None


def sent_button(t: Translator, code: str) -> Button:
    return Button(t("Sent it"), action="followup.sent", arg=code)


async def sent_action(ctx: Ctx, arg: str) -> Step:
    """Record that the rep sent the drafted text to the customer."""
    draft = _draft_for(ctx.session, ctx.t, ctx.user, arg)
    if draft is None:
        return done(ctx.t("That button is no longer valid."))
    kind, company_id, contact_id, ref, text = draft
    _, new = fu_service.record_customer_message(
        ctx.session, ctx.user, kind=kind, company_id=company_id, contact_id=contact_id,
        ref_id=ref, text=text, now=ctx.now)
    if not new:
        return done(ctx.t("Already recorded as sent."))
    return done(ctx.t("📨 Recorded: the message went to the customer."))


def register(registry: Registry) -> None:
    """Register the "Sent it" button of every draft."""
    registry.add_action(Action("followup.sent", sent_action, roles=FIELD_ROLES, group_ok=False))
