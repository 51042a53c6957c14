"""Follow-ups and personal reminders: the due reminder (snooze / done), the meeting brief,
the morning plan, the thank-you note when an order is placed, /remind and /reminders.

Pushed messages are rendered here (one renderer per notice kind); their buttons are actions
(snooze, done) that check the record's current state when pressed. Complaints are
bot.conversations.complaints, promised deliveries bot.conversations.deliveries, the letters
to customers bot.conversations.drafts.
"""

from __future__ import annotations

import re
from datetime import datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.conversations import dates
from bot.conversations.complaints import SEVERITIES
from bot.conversations.drafts import sent_button, thanks_draft
from bot.conversations.flow import FIELD_ROLES, Action, Ctx, Flow, Step, done, goto, ongoing
from bot.conversations.lookup import material_label
from bot.conversations.messages import Button, Incoming, Reply
from bot.conversations.phrasings import followups as followups_phrasings
from bot.conversations.registry import Registry
from bot.conversations.understanding.text import fold
from bot.i18n import N_, Translator
from core import deliveries
from core import followups as fu_service
from core.models import Company, Contact, Deal, FollowUp, NoticeRow, Role, User
from core.models.scheduling import DeliverySchedule

QUOTE_STATUS = {"draft": N_("draft"), "pending": N_("discount waiting for approval"),
                "sent": N_("sent"), "accepted": N_("accepted")}

ERRORS = {
    "followup.not_found": N_("That follow-up is not yours or no longer exists."),
    "followup.closed": N_("That follow-up is already {status}."),
    "followup.bad_snooze": N_("Snooze for 1 hour or until tomorrow."),
    "reminder.no_note": N_("What should I remind you of? Say it in a few words."),
    "reminder.note_too_long": N_("Please keep the reminder under {limit} characters."),
    "reminder.in_past": N_("That time has already passed. Give a time in the future, e.g. "
                           "tomorrow 10:00, Friday 14:00 or in 3 days."),
    "reminder.too_far": N_("I can remind you up to a year ahead; please pick an earlier date."),
}

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
    return Reply.with_buttons(text, (sent_button(t, f"t{deal.id}"),))


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


# -- reminders list --------------------------------------------------------------------------
async def reminders_list(ctx: Ctx, inc: Incoming) -> Step:
    """The user's open follow-ups (soonest first) and upcoming deliveries."""
    items = fu_service.open_followups(ctx.session, ctx.user, limit=8)
    if _OVERDUE_WORDS.search(fold(ctx.incoming.text or "")):  # "what's overdue?", "yg telat"
        return _overdue(ctx, items)
    upcoming = deliveries.upcoming_deliveries(ctx.session, ctx.user, ctx.now, limit=5)
    if _DELIVERY_WORDS.search(fold(ctx.incoming.text or "")):  # "pengiriman minggu ini"
        if not upcoming:
            return done(ctx.t("No deliveries scheduled."))
        return done(*(_delivery_reply(ctx, d) for d in upcoming))
    if not items and not upcoming:
        return done(ctx.t("Nothing planned: no open follow-ups or deliveries."))
    replies: list[Reply] = []
    if items:
        replies.append(Reply(ctx.t("Your open follow-ups:")))
        replies.extend(_followup_reply(ctx, f) for f in items)
    replies.extend(_delivery_reply(ctx, d) for d in upcoming)
    return done(*replies)


def _delivery_reply(ctx: Ctx, d: DeliverySchedule) -> Reply:
    company = ctx.session.get(Company, d.company_id)
    return Reply.with_buttons(
        ctx.t("🚚 {when} {company}: {what}", when=ctx.t.datetime(d.scheduled_for),
              company=company.name if company else "?", what=d.description),
        (Button(ctx.t("Delay"), action="delivery.delay", arg=str(d.id)),
         Button(ctx.t("Delivered"), action="delivery.delivered", arg=str(d.id))))


_DELIVERY_WORDS = re.compile(r"\b(?:deliver\w*|shipments?|pengiriman|kiriman)\b")
_OVERDUE_WORDS = re.compile(r"\b(?:overdue|late|behind|missed|past due|telat|terlambat|"
                            r"lewat|kelewat|keteteran|nunggak)\b")


def _followup_reply(ctx: Ctx, f: FollowUp) -> Reply:
    when = fu_service.effective_due(f)
    late = ctx.t(" (overdue)") if when <= ctx.now else ""
    return Reply.with_buttons(
        f"{ctx.t.datetime(when)}{late} — {kind_word(ctx.t, f.kind)}: "
        f"{_who(ctx.t, f.company, f.contact)}" + (f"\n{f.note[:100]}" if f.note else ""),
        followup_buttons(ctx.t, f.id))


def _overdue(ctx: Ctx, items: list[FollowUp]) -> Step:
    """Only what is past its time; when nothing is, say so and name the next one."""
    late = [f for f in items if fu_service.effective_due(f) <= ctx.now]
    if late:
        return done(Reply(ctx.t("Overdue:")), *(_followup_reply(ctx, f) for f in late))
    if not items:
        return done(ctx.t("Nothing overdue, and no open follow-ups."))
    first = items[0]
    return done(Reply(ctx.t("Nothing overdue. Next: {when}.",
                            when=ctx.t.datetime(fu_service.effective_due(first)))),
                _followup_reply(ctx, first))


# -- personal reminders ("remind me tomorrow at 10 to call Hendro") --------------------------
async def remind_start(ctx: Ctx, inc: Incoming) -> Step:
    """Read the time and the note from the request; ask for what is missing."""
    when, what = find_when(ctx, ctx.args.get("text") or "")
    # A date said first left the request's own words at the note's front ("besok ingatkan
    # saya kirim proposal"): the understanding strips them as for a whole message.
    what = ctx.engine.understander.without_lead_words(what, "remind") or what
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
    """Register reminders and follow-ups: flows, actions and notice renderers."""
    registry.add_errors(ERRORS)
    registry.add_phrasings(*followups_phrasings.PHRASINGS)
    registry.add_flow(Flow(
        "remind", start=remind_start, roles=FIELD_ROLES, commands=("remind",),
        help=N_("Remind me: /remind tomorrow 10:00 call Hendro"),
        states={"when": remind_when, "what": remind_what},
        accepts={"when": "date", "what": "text"},
        ongoing=ongoing(N_("Still setting your reminder."))))
    registry.add_flow(Flow("reminders", start=reminders_list, roles=FIELD_ROLES,
                           commands=("reminders",),
                           help=N_("Your open follow-ups and deliveries")))
    for action in (Action("followup.snooze", snooze_action, group_ok=False),
                   Action("followup.done", done_action, group_ok=False)):
        registry.add_action(action)
    registry.add_notice("followup.due", render_due, prefetch=prefetch_followups)
    registry.add_notice("followup.meeting", render_meeting, prefetch=prefetch_followups)
    registry.add_notice("followup.morning", render_morning)
    registry.add_notice("followup.thanks", render_thanks)
    registry.add_notice("delivery.failed", render_delivery_failed)
