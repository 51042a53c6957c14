"""Reminders, snooze/done, complaints, deliveries, thank-you notes (scheduler notices).

Pushed messages are rendered here (one renderer per notice kind); their buttons are actions
(snooze, done, sent, resolve) that check the record's current state when pressed.
Customers are not bot users: the bot drafts copy-ready text, the rep sends it and presses
"Sent", which records that it went.

```mermaid
stateDiagram-v2
    [*] --> company: /complaint
    company --> issue
    issue --> severity
    severity --> owner
    owner --> [*]: registered (+ draft to the customer)
```
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.conversations import dates
from bot.conversations.flow import FIELD_ROLES, Action, Ctx, Flow, Step, done, goto, ongoing
from bot.conversations.lookup import material_label
from bot.conversations.messages import Button, Incoming, Reply, button_rows
from bot.conversations.notices import PREFETCH
from bot.conversations.phrasings import followups as followups_phrasings
from bot.conversations.registry import Registry
from bot.i18n import N_, Translator, register_errors
from core import complaints, deliveries
from core import followups as fu_service
from core.models import Company, Contact, Deal, FollowUp, NoticeRow, Role, User
from core.models.scheduling import Complaint, CustomerMessage, DeliverySchedule

QUOTE_STATUS = {"draft": N_("draft"), "pending": N_("discount waiting for approval"),
                "sent": N_("sent"), "accepted": N_("accepted")}

register_errors({
    "followup.not_found": N_("That follow-up is not yours or no longer exists."),
    "followup.closed": N_("That follow-up is already {status}."),
    "followup.bad_snooze": N_("Snooze for 1 hour or until tomorrow."),
    "complaint.bad_issue": N_("Please describe the complaint in a few words."),
    "complaint.issue_too_long": N_("Please keep the complaint under {limit} characters."),
    "complaint.bad_severity": N_("Severity {severity} is unknown: use low, medium, high or "
                                 "critical."),
    "complaint.company_not_found": N_("I cannot find that company among your accounts."),
    "delivery.company_not_found": N_("I cannot find that company among your accounts."),
    "complaint.contact_not_found": N_("That contact does not belong to this company."),
    "complaint.bad_owner": N_("The follow-up owner must be an active rep or manager."),
    "complaint.not_found": N_("That complaint no longer exists."),
    "complaint.not_owner": N_("Only the complaint's owner, reporter, their manager or an admin "
                              "can resolve it."),
    "complaint.closed": N_("That complaint is already resolved."),
    "complaint.bad_resolution": N_("Please say in a few words what was done."),
    "delivery.bad_description": N_("Please say what will be delivered."),
    "delivery.in_past": N_("That time is in the past. Give a future date, e.g. 2026-03-10 "
                           "14:00, tomorrow 10:00 or in 3 days."),
    "delivery.not_later": N_("A delay must move the delivery later than it is now."),
    "delivery.not_found": N_("That delivery is not yours or no longer exists."),
    "delivery.closed": N_("That delivery is already {status}."),
    "reminder.no_note": N_("What should I remind you of? Say it in a few words."),
    "reminder.note_too_long": N_("Please keep the reminder under {limit} characters."),
    "reminder.in_past": N_("That time has already passed. Give a time in the future, e.g. "
                           "tomorrow 10:00, Friday 14:00 or in 3 days."),
    "reminder.too_far": N_("I can remind you up to a year ahead; please pick an earlier date."),
})

SEVERITIES = (("low", N_("Low")), ("medium", N_("Medium")), ("high", N_("High")),
              ("critical", N_("Critical")))
SEVERITY_WORDS = {"low": "low", "rendah": "low", "medium": "medium", "sedang": "medium",
                  "high": "high", "tinggi": "high", "critical": "critical", "kritis": "critical"}
KIND_WORDS = {
    "follow_up": N_("Follow-up"), "meeting": N_("Meeting"), "demo": N_("Product demo"),
    "visit": N_("Visit"), "presentation": N_("Presentation"), "proposal": N_("Proposal"),
    "call": N_("Call"), "complaint": N_("Complaint follow-up"), "reminder": N_("Reminder"),
}
WHEN_EXAMPLES = N_("e.g. tomorrow 10:00, Friday 14:00, in 3 days or 2026-12-10 09:00")
# Verbs that open a reminder's note: the rest may name a contact ("call Hendro").
_NOTE_VERBS = re.compile(r"^(?:call|phone|ring|visit|meet|email|e-mail|text|message|chase|"
                         r"follow up with|follow-up with|check (?:in )?with|"
                         r"send (?:\w+\s+){1,3}?to|telepon|telpon|hubungi|kunjungi|temui|"
                         r"kirim (?:\w+\s+){1,3}?ke|tanya)\s+", re.IGNORECASE)



def kind_word(t: Translator, kind: str) -> str:
    word = KIND_WORDS.get(kind)
    return t(word) if word else kind.replace("_", " ")


def _who(t: Translator, company: Company | None, contact: Contact | None) -> str:
    parts = [p for p in ((company.name if company else None),
                         (contact.name if contact else None)) if p]
    return " · ".join(parts) if parts else t("(no customer)")


def followup_buttons(t: Translator, fid: int) -> tuple[Button, ...]:
    return (Button(t("Snooze 1h"), action="followup.snooze", arg=f"{fid}:1h"),
            Button(t("Tomorrow"), action="followup.snooze", arg=f"{fid}:tomorrow"),
            Button(t("Done"), action="followup.done", arg=str(fid)))


# -- date input: one understanding for every typed date (bot.conversations.dates) -------------
DEFAULT_AT = time(10, 0)  # a day without a time of day means 10:00


def parse_when(ctx: Ctx, text: str) -> datetime | None:
    """A date-time typed as a whole answer ("lusa jam 10", "15 Des", "in 2 weeks") as UTC;
    None when it is not understood."""
    value = dates.parse_when(text, ctx.t.locale, ctx.now, ctx.user.timezone)
    return None if value is None else dates.moment(value, ctx.user.timezone, DEFAULT_AT)


def find_when(ctx: Ctx, text: str) -> tuple[datetime | None, str]:
    """The first date-time in free text ("call Hendro tomorrow at 10", "besok jam 14.00
    kirim brosur") as UTC, and the text without it."""
    value, rest = dates.find_when(text, ctx.t.locale, ctx.now, ctx.user.timezone)
    return (None if value is None
            else dates.moment(value, ctx.user.timezone, DEFAULT_AT)), rest


# -- customer drafts (copy-ready text for the rep to send) -----------------------------------
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


def _sent_button(t: Translator, code: str) -> Button:
    return Button(t("Sent it"), action="followup.sent", arg=code)


# -- notice renderers ------------------------------------------------------------------------
def render_due(session: Session, notice: NoticeRow, user: User | None, t: Translator
               ) -> Reply | None:
    """A follow-up is due: what, for whom, with snooze / done buttons."""
    fu = session.get(FollowUp, int(notice.params.get("followup_id", 0)))
    if fu is None or user is None or fu.status != "open" or fu.user_id != user.id:
        return None
    if fu.snoozed_until is not None and fu.snoozed_until > notice.due_at:
        return None  # snoozed again after this reminder was made
    lines = [t("⏰ {kind} due: {note}", kind=kind_word(t, fu.kind), note=fu.note or "-"),
             _who(t, fu.company, fu.contact),
             t("Due {when}", when=t.datetime(fu.due_at))]
    contact = fu.contact
    if contact is not None and (contact.mobile or contact.phone):
        lines.append(t("Phone: {phone}", phone=contact.mobile or contact.phone))
    return Reply.with_buttons("\n".join(lines), followup_buttons(t, fu.id))


def brief_lines(t: Translator, brief: fu_service.Brief) -> list[str]:
    lines = []
    last = brief.last_activity
    lines.append(t("Last contact: {when} ({kind}{outcome})", when=t.date(last.occurred_at),
                   kind=kind_word(t, last.kind),
                   outcome=", " + last.outcome.replace("_", " ") if last.outcome else "")
                 if last else t("Last contact: none recorded"))
    if brief.open_deals:
        lines.append(t("Open deals:"))
        lines += [f"• {d.title} — {d.stage.replace('_', ' ')}, {t.money(d.amount, d.currency)}"
                  for d in brief.open_deals]
    else:
        lines.append(t("Open deals: none"))
    if brief.quotes:
        lines.append(t("Open quotes: {numbers}",
                       numbers=", ".join(f"{q.number} ({t(QUOTE_STATUS.get(q.status, q.status))})"
                                         for q in brief.quotes)))
    if brief.materials:
        lines.append(t("Materials sent: {items}", items=", ".join(
            f"{material_label(t, m.material)} ({t.date(m.sent_at)})" for m in brief.materials)))
    if brief.complaints:
        lines.append(t("⚠️ Open complaints:"))
        lines += [f"• {c.issue[:80]} ({t(dict(SEVERITIES).get(c.severity, c.severity))})"
                  for c in brief.complaints]
    return lines


def render_meeting(session: Session, notice: NoticeRow, user: User | None, t: Translator
                   ) -> Reply | None:
    """A meeting in 30 minutes, with the pre-visit brief."""
    fu = session.get(FollowUp, int(notice.params.get("followup_id", 0)))
    if fu is None or user is None or fu.status != "open":
        return None
    head = t("📅 {kind} at {time}: {who}", kind=kind_word(t, fu.kind), time=t.time(fu.due_at),
             who=_who(t, fu.company, fu.contact))
    lines = [head]
    if fu.note:
        lines.append(fu.note)
    lines.append("")
    lines += brief_lines(t, fu_service.pre_visit_brief(session, fu))
    return Reply.with_buttons("\n".join(lines),
                              (Button(t("Done"), action="followup.done", arg=str(fu.id)),))


def _item_line(t: Translator, f: FollowUp) -> str:
    who = _who(t, f.company, f.contact)
    return f"• {t.time(fu_service.effective_due(f))} {kind_word(t, f.kind)} — {who}" + (
        f": {f.note[:60]}" if f.note else "")


def render_morning(session: Session, notice: NoticeRow, user: User | None, t: Translator
                   ) -> Reply | None:
    """The 07:30 plan: today's meetings, follow-ups due today, overdue ones."""
    if user is None:
        return None
    plan = fu_service.morning_plan(session, user, notice.due_at)
    if plan.empty:
        return None
    lines = [t("☀️ Good morning, {name}! Your plan for {day}:", name=user.name.split()[0],
               day=t.date(plan.day))]
    if plan.meetings:
        lines.append(t.n("{count} meeting today:", "{count} meetings today:",
                         len(plan.meetings)))
        lines += [_item_line(t, f) for f in plan.meetings[:8]]
    if plan.due_today:
        lines.append(t.n("{count} follow-up due today:", "{count} follow-ups due today:",
                         len(plan.due_today)))
        lines += [_item_line(t, f) for f in plan.due_today[:8]]
    if plan.overdue:
        lines.append(t.n("{count} overdue follow-up:", "{count} overdue follow-ups:",
                         len(plan.overdue)))
        lines += [f"• {t.date(fu_service.effective_due(f))} {kind_word(t, f.kind)} — "
                  f"{_who(t, f.company, f.contact)}" for f in plan.overdue[:5]]
    if plan.meetings or plan.due_today or plan.overdue:
        lines.append(t("Send /reminders to see and close them."))
    if plan.approvals:
        lines.append(t.n("🔏 {count} request waits for your decision: /approvals",
                         "🔏 {count} requests wait for your decision: /approvals",
                         plan.approvals))
    if user.role in (Role.REP.value, Role.MANAGER.value):  # the field day's route for it
        return Reply.with_buttons("\n".join(lines), [Button(t("🗺 Plan my day"),
                                                            action="field.plan")])
    return Reply("\n".join(lines))


def _complaint_text(t: Translator, session: Session, c: Complaint) -> list[str]:
    company = session.get(Company, c.company_id)
    owner = session.get(User, c.owner_id) if c.owner_id else None
    return [t("Customer: {company}", company=company.name if company else "?"),
            t("Severity: {severity}", severity=t(dict(SEVERITIES).get(c.severity, c.severity))),
            t("Issue: {issue}", issue=c.issue),
            t("Owner: {owner}", owner=owner.name if owner else "-"),
            t("Resolve by: {when}", when=t.datetime(c.sla_due_at))]


def render_complaint_assigned(session: Session, notice: NoticeRow, user: User | None,
                              t: Translator) -> Reply | None:
    """You were made the follow-up owner of a complaint."""
    c = session.get(Complaint, int(notice.params.get("complaint_id", 0)))
    if c is None or user is None or c.status != "open":
        return None
    text = "\n".join([t("📣 You are the follow-up owner of a complaint."),
                      *_complaint_text(t, session, c)])
    return Reply.with_buttons(text, (Button(t("Resolve"), action="complaint.resolve",
                                            arg=str(c.id)),))


def render_complaint_escalation(session: Session, notice: NoticeRow, user: User | None,
                                t: Translator) -> Reply | None:
    """A complaint is still open past its deadline (to the manager)."""
    c = session.get(Complaint, int(notice.params.get("complaint_id", 0)))
    if c is None or user is None or c.status != "open":
        return None
    text = "\n".join([t("⚠️ A complaint is still open past its deadline."),
                      *_complaint_text(t, session, c)])
    return Reply.with_buttons(text, (Button(t("Resolve"), action="complaint.resolve",
                                            arg=str(c.id)),))


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
    return Reply.with_buttons(text, (_sent_button(t, f"d{d.id}"),
                                     Button(t("Delivered"), action="delivery.delivered",
                                            arg=str(d.id))))


def render_thanks(session: Session, notice: NoticeRow, user: User | None, t: Translator
                  ) -> Reply | None:
    """An order was placed: a thank-you note for the customer (copy-ready text)."""
    deal = session.get(Deal, int(notice.params.get("deal_id", 0)))
    if deal is None or user is None or deal.owner_id != user.id:
        return None
    contact = session.get(Contact, deal.contact_id) if deal.contact_id else None
    company = session.get(Company, deal.company_id)
    text = "\n".join([
        t("🎉 {company} placed an order ({title}). A thank-you note to copy:",
          company=company.name if company else "?", title=deal.title), "",
        thanks_draft(t, deal, contact, company, user)])
    return Reply.with_buttons(text, (_sent_button(t, f"t{deal.id}"),))


def render_delivery_failed(session: Session, notice: NoticeRow, user: User | None,
                           t: Translator) -> Reply | None:
    """A pushed message could not be delivered for good (to admins)."""
    if user is None:
        return None
    who = session.get(User, notice.params.get("user_id")) if notice.params.get("user_id") \
        else None
    return Reply(t("⚠️ A {kind} message to {who} on {platform} could not be delivered and will "
                   "not be retried: {error}", kind=notice.params.get("kind", "?"),
                   who=who.name if who else t("a channel"),
                   platform=notice.params.get("platform", "?"),
                   error=str(notice.params.get("error") or "-")[:200]))


# -- actions ---------------------------------------------------------------------------------
async def snooze_action(ctx: Ctx, arg: str) -> Step:
    """Snooze a follow-up for an hour or until tomorrow morning."""
    fid, _, how = arg.partition(":")
    if not fid.isdigit():
        return done(ctx.t("That button is no longer valid."))
    fu = fu_service.snooze_followup(ctx.session, ctx.user, int(fid), how, ctx.now)
    assert fu.snoozed_until is not None  # snooze_followup always sets it
    return done(ctx.t("😴 Snoozed until {when}.", when=ctx.t.datetime(fu.snoozed_until)))


async def done_action(ctx: Ctx, arg: str) -> Step:
    """Mark a follow-up done."""
    if not arg.isdigit():
        return done(ctx.t("That button is no longer valid."))
    fu = fu_service.complete_followup(ctx.session, ctx.user, int(arg), ctx.now)
    return done(ctx.t("✅ Done: {kind} — {who}.", kind=kind_word(ctx.t, fu.kind),
                      who=_who(ctx.t, fu.company, fu.contact)))


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


async def delivered_action(ctx: Ctx, arg: str) -> Step:
    """Mark a delivery delivered."""
    if not arg.isdigit():
        return done(ctx.t("That button is no longer valid."))
    d = deliveries.mark_delivered(ctx.session, ctx.user, int(arg), ctx.now)
    return done(ctx.t("✅ Delivery marked delivered: {what}.", what=d.description))


async def resolve_action(ctx: Ctx, arg: str) -> Step:
    """Start resolving a complaint (asks what was done)."""
    if not arg.isdigit():
        return done(ctx.t("That button is no longer valid."))
    return await ctx.begin("complaint_resolve", id=arg)


async def delay_action(ctx: Ctx, arg: str) -> Step:
    """Start moving a delivery later."""
    if not arg.isdigit():
        return done(ctx.t("That button is no longer valid."))
    return await ctx.begin("delivery_delay", id=arg)


# -- choosing a company (shared by the complaint and delivery flows) -------------------------
def _find_companies(ctx: Ctx, text: str) -> list[Company]:
    try:
        from core import contacts as contact_service

        matches = contact_service.find_companies(ctx.session, ctx.user, text, limit=5,
                                                 index=ctx.services.contacts)
        if matches and contact_service.is_clear(matches):
            return [matches[0].company]
        found = [m.company for m in matches]
    except Exception:  # the lookup index is another area's; fall back to a plain search
        found = []
    return found or fu_service.find_company(ctx.session, ctx.user, text)


async def _pick_company(ctx: Ctx, inc: Incoming, then: str) -> Step | Company:
    if inc.button and inc.button.startswith("co:"):
        company = ctx.session.get(Company, int(inc.button[3:]))
        if company is not None:
            return company
    text = (inc.text or "").strip()
    if not text:
        return goto("company", ctx.t("Which company? Type part of its name."))
    found = _find_companies(ctx, text)
    if not found:
        return goto("company", ctx.t("I found no company like \"{text}\" among your accounts. "
                                     "Try another part of the name, or /cancel.",
                                     text=text[:40]))
    if len(found) == 1:
        return found[0]
    buttons = [Button(c.name[:40], value=f"co:{c.id}") for c in found]
    return goto("company", ctx.reply(ctx.t("Which one?"), *button_rows(buttons, 1)))


def _main_contact(session: Session, company: Company) -> Contact | None:
    return session.scalar(select(Contact).where(Contact.company_id == company.id)
                          .order_by(Contact.is_decision_maker.desc(), Contact.id).limit(1))


# -- complaint flow --------------------------------------------------------------------------
async def complaint_start(ctx: Ctx, inc: Incoming) -> Step:
    """Register a complaint: ask for the customer first."""
    text = ctx.args.get("text") or ctx.args.get("company") or ""
    if text:
        return await complaint_company(ctx, replace(inc, text=text, button=None))
    return goto("company", ctx.t("Register a complaint. Which customer is it from?"))


async def complaint_company(ctx: Ctx, inc: Incoming) -> Step:
    """Pick the company."""
    picked = await _pick_company(ctx, inc, "issue")
    if isinstance(picked, Step):
        return picked
    ctx.data["company_id"] = picked.id
    return goto("issue", ctx.t("Complaint from {company}. What is the issue? Explain it in a "
                               "sentence or two.", company=picked.name))


async def complaint_issue(ctx: Ctx, inc: Incoming) -> Step:
    """Take the issue text."""
    text = (inc.text or "").strip()
    if len(text) < 3:
        return goto("issue", ctx.t("Please describe the complaint in a few words."))
    if len(text) > 2000:
        return goto("issue", ctx.t("Please keep the complaint under {limit} characters.",
                                   limit=2000))
    ctx.data["issue"] = text
    buttons = [Button(ctx.t(label), value=code) for code, label in SEVERITIES]
    return goto("severity", ctx.reply(ctx.t("How severe is it?"), *button_rows(buttons, 4)))


async def complaint_severity(ctx: Ctx, inc: Incoming) -> Step:
    """Choose the severity."""
    value = inc.button or SEVERITY_WORDS.get((inc.text or "").strip().lower())
    if value not in complaints.COMPLAINT_SLA:
        buttons = [Button(ctx.t(label), value=code) for code, label in SEVERITIES]
        return goto("severity", ctx.reply(ctx.t("Choose low, medium, high or critical."),
                                          *button_rows(buttons, 4)))
    ctx.data["severity"] = value
    return goto("owner", ctx.reply(ctx.t("Who follows it up? Press a button or type a login."),
                                   _owner_buttons(ctx)))


def _owner_buttons(ctx: Ctx) -> tuple[Button, ...]:
    buttons = [Button(ctx.t("Me"), value="me")]
    manager = complaints.manager_of(ctx.session, ctx.user)
    if manager is not None and manager.id != ctx.user.id:
        buttons.append(Button(manager.name[:40], value=f"u:{manager.id}"))
    return tuple(buttons)


async def complaint_owner(ctx: Ctx, inc: Incoming) -> Step:
    """Choose the follow-up owner and register the complaint."""
    owner_id: int | None = None
    if inc.button == "me":
        owner_id = ctx.user.id
    elif inc.button and inc.button.startswith("u:"):
        owner_id = int(inc.button[2:])
    else:
        login = (inc.text or "").strip().lower().lstrip("@")
        if login in ("me", "saya", "aku"):
            owner_id = ctx.user.id
        else:
            row = ctx.session.scalar(select(User).where(User.login == login))
            if row is None:
                return goto("owner", ctx.reply(ctx.t(
                    "No user {login}. Type a login, or press Me.", login=login[:30]),
                    _owner_buttons(ctx)))
            owner_id = row.id
    company = ctx.session.get(Company, ctx.data["company_id"])
    contact = _main_contact(ctx.session, company) if company else None
    complaint = complaints.register_complaint(
        ctx.session, ctx.user, company_id=ctx.data["company_id"], issue=ctx.data["issue"],
        severity=ctx.data["severity"], now=ctx.now, owner_id=owner_id,
        contact_id=contact.id if contact else None)
    owner = ctx.session.get(User, complaint.owner_id)
    text = "\n".join([
        ctx.t("Complaint #{id} registered.", id=complaint.id),
        *_complaint_text(ctx.t, ctx.session, complaint),
        ctx.t("A follow-up reminder is set for {when}.",
              when=ctx.t.datetime(complaint.created_at + (complaint.sla_due_at -
                                                          complaint.created_at) / 2)),
        "", ctx.t("A reply to the customer to copy:"), "",
        complaint_draft(ctx.t, complaint, contact, company, owner, ctx.user)])
    return done(ctx.reply(text, (_sent_button(ctx.t, f"c{complaint.id}"),
                                 Button(ctx.t("Resolve"), action="complaint.resolve",
                                        arg=str(complaint.id)))))


async def resolve_start(ctx: Ctx, inc: Incoming) -> Step:
    """Ask what was done to resolve the complaint."""
    cid = ctx.args.get("id", "")
    complaint = ctx.session.get(Complaint, int(cid)) if cid.isdigit() else None
    if complaint is None:
        return done(ctx.t("That complaint no longer exists."))
    if complaint.status != "open":
        return done(ctx.t("That complaint is already resolved."))
    ctx.data["complaint_id"] = complaint.id
    return goto("resolution", ctx.t("Resolve the complaint \"{issue}\": what was done?",
                                    issue=complaint.issue[:80]))


async def resolve_text(ctx: Ctx, inc: Incoming) -> Step:
    """Close the complaint with the resolution."""
    text = (inc.text or "").strip()
    if len(text) < 3:
        return goto("resolution", ctx.t("Please say in a few words what was done."))
    c = complaints.resolve_complaint(ctx.session, ctx.user, ctx.data["complaint_id"], text,
                                     ctx.now)
    t = ctx.t
    contact = ctx.session.get(Contact, c.contact_id) if c.contact_id else None
    company = ctx.session.get(Company, c.company_id)
    text = "\n".join([t("✅ Complaint #{id} resolved.", id=c.id), "",
                      t("A letter for the customer, ready to send:"),
                      resolution_draft(t, c, contact, company, ctx.user)])
    return done(ctx.reply(text, (_sent_button(t, f"r{c.id}"),)))


async def complaints_list(ctx: Ctx, inc: Incoming) -> Step:
    """List open complaints with Resolve buttons."""
    rows = complaints.open_complaints(ctx.session, ctx.user)
    if not rows:
        return done(ctx.t("No open complaints. Register one with /complaint."))
    lines = [ctx.t("Open complaints:")]
    buttons = []
    for c in rows:
        company = ctx.session.get(Company, c.company_id)
        late = ctx.t(" (late)") if c.sla_due_at <= ctx.now else ""
        lines.append(f"#{c.id} {company.name if company else '?'} — {c.issue[:60]} "
                     f"({c.severity}, {ctx.t.datetime(c.sla_due_at)}{late})")
        buttons.append(Button(ctx.t("Resolve #{id}", id=c.id), action="complaint.resolve",
                              arg=str(c.id)))
    return done(ctx.reply("\n".join(lines), *button_rows(buttons, 2)))


# -- reminders list --------------------------------------------------------------------------
async def reminders_list(ctx: Ctx, inc: Incoming) -> Step:
    """The user's open follow-ups (soonest first) and upcoming deliveries."""
    items = fu_service.open_followups(ctx.session, ctx.user, limit=8)
    upcoming = deliveries.upcoming_deliveries(ctx.session, ctx.user, ctx.now, limit=5)
    if not items and not upcoming:
        return done(ctx.t("Nothing planned: no open follow-ups or deliveries."))
    replies: list[Reply] = []
    if items:
        replies.append(Reply(ctx.t("Your open follow-ups:")))
        for f in items:
            when = fu_service.effective_due(f)
            late = ctx.t(" (overdue)") if when <= ctx.now else ""
            replies.append(Reply.with_buttons(
                f"{ctx.t.datetime(when)}{late} — {kind_word(ctx.t, f.kind)}: "
                f"{_who(ctx.t, f.company, f.contact)}" + (f"\n{f.note[:100]}" if f.note else ""),
                followup_buttons(ctx.t, f.id)))
    for d in upcoming:
        company = ctx.session.get(Company, d.company_id)
        replies.append(Reply.with_buttons(
            ctx.t("🚚 {when} {company}: {what}", when=ctx.t.datetime(d.scheduled_for),
                  company=company.name if company else "?", what=d.description),
            (Button(ctx.t("Delay"), action="delivery.delay", arg=str(d.id)),
             Button(ctx.t("Delivered"), action="delivery.delivered", arg=str(d.id)))))
    return done(*replies)


# -- delivery flows --------------------------------------------------------------------------
async def delivery_start(ctx: Ctx, inc: Incoming) -> Step:
    """Schedule a delivery: ask for the customer."""
    text = ctx.args.get("text", "")
    if text:
        return await delivery_company(ctx, replace(inc, text=text, button=None))
    return goto("company", ctx.t("Schedule a delivery. Which customer is it for?"))


async def delivery_company(ctx: Ctx, inc: Incoming) -> Step:
    """Pick the company."""
    picked = await _pick_company(ctx, inc, "what")
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
    contact = _main_contact(ctx.session, company) if company else None
    d = deliveries.schedule_delivery(ctx.session, ctx.user, company_id=ctx.data["company_id"],
                                     description=ctx.data["what"], when=when, now=ctx.now,
                                     contact_id=contact.id if contact else None)
    text = "\n".join([
        ctx.t("🚚 Delivery scheduled for {when}. I will remind you a day before.",
              when=ctx.t.datetime(d.scheduled_for)),
        ctx.t("A confirmation to the customer to copy:"), "",
        delivery_draft(ctx.t, d, contact, company, ctx.user)])
    return done(ctx.reply(text, (_sent_button(ctx.t, f"d{d.id}"),
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
    return done(ctx.reply(text, (_sent_button(ctx.t, f"y{d.id}"),)))


def prefetch_followups(session: Session, notices: list[NoticeRow]) -> list[object]:
    """Load the follow-ups (with company and contact) a batch of reminders names; returned
    so that the caller keeps them (and their loaded relations) in the identity map."""
    ids = {int(n.params.get("followup_id", 0)) for n in notices}
    if not ids:
        return []
    followups = list(session.scalars(select(FollowUp).where(FollowUp.id.in_(ids))))
    # Their companies and contacts, set as loaded (cheaper than selectinload, and than a
    # lazy load each, which most follow-ups, with neither, would still go through).
    companies = {c.id: c for c in session.scalars(select(Company).where(Company.id.in_(
        {f.company_id for f in followups if f.company_id})))}
    contacts = {c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_(
        {f.contact_id for f in followups if f.contact_id})))}
    for f in followups:
        set_committed_value(f, "company", companies.get(f.company_id or 0))
        set_committed_value(f, "contact", contacts.get(f.contact_id or 0))
    return [*followups, *companies.values(), *contacts.values()]


# -- personal reminders ("remind me tomorrow at 10 to call Hendro") --------------------------
async def remind_start(ctx: Ctx, inc: Incoming) -> Step:
    """Read the time and the note from the request; ask for what is missing."""
    when, what = find_when(ctx, ctx.args.get("text") or "")
    ctx.data["what"] = what[:fu_service.REMINDER_NOTE_MAX + 1]
    if when is None:
        return goto("when", ctx.t("When should I remind you? ({examples})",
                                  examples=ctx.t(WHEN_EXAMPLES)))
    return _remind_next(ctx, when)


async def remind_when(ctx: Ctx, inc: Incoming) -> Step:
    """Take the time (the note may come with it)."""
    when, rest = find_when(ctx, inc.text or "")
    if when is None:
        return goto("when", ctx.t("I did not understand that time. Try {examples}, or /cancel.",
                                  examples=ctx.t(WHEN_EXAMPLES)))
    if not ctx.data.get("what"):
        ctx.data["what"] = rest[:fu_service.REMINDER_NOTE_MAX + 1]
    return _remind_next(ctx, when)


async def remind_what(ctx: Ctx, inc: Incoming) -> Step:
    """Take the note."""
    ctx.data["what"] = (inc.text or "").strip()
    return _remind_next(ctx, datetime.fromisoformat(ctx.data["when"]))


def _remind_next(ctx: Ctx, when: datetime) -> Step:
    t = ctx.t
    if when <= ctx.now:
        return goto("when", t("That time has already passed. Give a time in the future, e.g. "
                              "tomorrow 10:00, Friday 14:00 or in 3 days."))
    what = ctx.data.get("what") or ""
    if len(what) < 2:
        ctx.data["when"] = when.isoformat()
        return goto("what", t("What should I remind you of on {when}?",
                              when=t.datetime(when)))
    contact = _named_contact(ctx, what)
    fu = fu_service.add_reminder(ctx.session, ctx.user, due_at=when, note=what, now=ctx.now,
                                 contact=contact)
    text = t("⏰ I will remind you on {when}: {note}", when=t.datetime(fu.due_at), note=fu.note)
    if contact is not None:
        text += "\n" + t("Linked to {contact} ({company}).", contact=contact.name,
                         company=contact.company.name)
    return done(Reply.with_buttons(text, [Button(t("Cancel this reminder"),
                                                 action="followup.done", arg=str(fu.id))]))


def _named_contact(ctx: Ctx, note: str) -> Contact | None:
    """The contact a note names after its verb ("call Hendro W"), when clearly one."""
    from core import contacts as contact_service

    m = _NOTE_VERBS.match(note)
    if m is None:
        return None
    who = note[m.end():].split(" about ")[0].split(" tentang ")[0][:60]
    matches = contact_service.find_contacts(ctx.session, ctx.user, who, limit=3,
                                            index=ctx.services.contacts)
    if contact_service.is_clear(matches, floor=85.0):
        return matches[0].contact
    return None


def register(registry: Registry) -> None:
    """Register reminders, complaints, deliveries: flows, actions and notice renderers."""
    registry.add_phrasings(*followups_phrasings.PHRASINGS)
    registry.add_flow(Flow(
        "complaint", start=complaint_start, roles=FIELD_ROLES, commands=("complaint",),
        help=N_("Register a customer complaint"),
        accepts={"company": "customer", "issue": "text", "severity": "button",
                 "owner": "button"},
        states={"company": complaint_company, "issue": complaint_issue,
                "severity": complaint_severity, "owner": complaint_owner},
        ongoing=ongoing(N_("Still registering the complaint."))))
    registry.add_flow(Flow("complaint_resolve", start=resolve_start, roles=FIELD_ROLES,
                           states={"resolution": resolve_text},
                           accepts={"resolution": "text"}))
    registry.add_flow(Flow("complaints", start=complaints_list, roles=FIELD_ROLES,
                           commands=("complaints",), help=N_("Open complaints")))
    registry.add_flow(Flow(
        "remind", start=remind_start, roles=FIELD_ROLES, commands=("remind",),
        help=N_("Remind me: /remind tomorrow 10:00 call Hendro"),
        states={"when": remind_when, "what": remind_what},
        accepts={"when": "date", "what": "text"},
        ongoing=ongoing(N_("Still setting your reminder."))))
    registry.add_flow(Flow("reminders", start=reminders_list, roles=FIELD_ROLES,
                           commands=("reminders",),
                           help=N_("Your open follow-ups and deliveries")))
    registry.add_flow(Flow(
        "delivery", start=delivery_start, roles=FIELD_ROLES, commands=("delivery",),
        help=N_("Schedule a delivery to a customer"),
        states={"company": delivery_company, "what": delivery_what, "when": delivery_when},
        accepts={"company": "customer", "what": "text", "when": "date"},
        ongoing=ongoing(N_("Still scheduling the delivery."))))
    registry.add_flow(Flow("delivery_delay", start=delay_start, roles=FIELD_ROLES,
                           states={"when": delay_when, "reason": delay_reason},
                           accepts={"when": "date", "reason": "text"}))
    for action in (Action("followup.snooze", snooze_action, group_ok=False),
                   Action("followup.done", done_action, group_ok=False),
                   Action("followup.sent", sent_action, roles=FIELD_ROLES, group_ok=False),
                   Action("delivery.delivered", delivered_action, roles=FIELD_ROLES,
                          group_ok=False),
                   Action("delivery.delay", delay_action, roles=FIELD_ROLES, group_ok=False),
                   Action("complaint.resolve", resolve_action, roles=FIELD_ROLES,
                          group_ok=False)):
        registry.add_action(action)
    PREFETCH["followup.due"] = PREFETCH["followup.meeting"] = prefetch_followups
    registry.add_notice("followup.due", render_due)
    registry.add_notice("followup.meeting", render_meeting)
    registry.add_notice("followup.morning", render_morning)
    registry.add_notice("followup.thanks", render_thanks)
    registry.add_notice("complaint.assigned", render_complaint_assigned)
    registry.add_notice("complaint.escalation", render_complaint_escalation)
    registry.add_notice("delivery.upcoming", render_delivery)
    registry.add_notice("delivery.failed", render_delivery_failed)
