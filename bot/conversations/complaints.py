"""Complaints: register one (customer, issue, severity, follow-up owner) with a reply to
copy, resolve it (with a letter to the customer), list the open ones; the owner's and the
manager's pushed notices (core.complaints escalates past the SLA).

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

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversations.drafts import complaint_draft, resolution_draft, sent_button
from bot.conversations.flow import FIELD_ROLES, Action, Ctx, Flow, Step, done, goto, ongoing
from bot.conversations.lookup import main_contact, pick_company
from bot.conversations.messages import Button, Incoming, Reply, button_rows
from bot.conversations.phrasings import complaints as complaints_phrasings
from bot.conversations.registry import Registry
from bot.i18n import N_, Translator
from core import complaints
from core.models import Company, Contact, NoticeRow, User
from core.models.scheduling import Complaint

ERRORS = {
    "complaint.bad_issue": N_("Please describe the complaint in a few words."),
    "complaint.issue_too_long": N_("Please keep the complaint under {limit} characters."),
    "complaint.bad_severity": N_("Severity {severity} is unknown: use low, medium, high or "
                                 "critical."),
    "complaint.company_not_found": N_("I cannot find that company among your accounts."),
    "complaint.contact_not_found": N_("That contact does not belong to this company."),
    "complaint.bad_owner": N_("The follow-up owner must be an active rep or manager."),
    "complaint.not_found": N_("That complaint no longer exists."),
    "complaint.not_owner": N_("Only the complaint's owner, reporter, their manager or an admin "
                              "can resolve it."),
    "complaint.closed": N_("That complaint is already resolved."),
    "complaint.bad_resolution": N_("Please say in a few words what was done."),
}

SEVERITIES = (("low", N_("Low")), ("medium", N_("Medium")), ("high", N_("High")),
              ("critical", N_("Critical")))

SEVERITY_WORDS = {"low": "low", "rendah": "low", "medium": "medium", "sedang": "medium",
                  "high": "high", "tinggi": "high", "critical": "critical", "kritis": "critical"}


def complaint_lines(t: Translator, session: Session, c: Complaint) -> list[str]:
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
                      *complaint_lines(t, session, c)])
    return Reply.with_buttons(text, (Button(t("Resolve"), action="complaint.resolve",
                                            arg=str(c.id)),))


def render_complaint_escalation(session: Session, notice: NoticeRow, user: User | None,
                                t: Translator) -> Reply | None:
    """A complaint is still open past its deadline (to the manager)."""
    c = session.get(Complaint, int(notice.params.get("complaint_id", 0)))
    if c is None or user is None or c.status != "open":
        return None
    text = "\n".join([t("⚠️ A complaint is still open past its deadline."),
                      *complaint_lines(t, session, c)])
    return Reply.with_buttons(text, (Button(t("Resolve"), action="complaint.resolve",
                                            arg=str(c.id)),))


async def resolve_action(ctx: Ctx, arg: str) -> Step:
    """Start resolving a complaint (asks what was done)."""
    if not arg.isdigit():
        return done(ctx.t("That button is no longer valid."))
    return await ctx.begin("complaint_resolve", id=arg)


async def complaint_start(ctx: Ctx, inc: Incoming) -> Step:
    """Register a complaint: ask for the customer first."""
    text = ctx.args.get("text") or ctx.args.get("company") or ""
    if ctx.args.get("details"):  # the issue said with the customer: not asked again
        ctx.data["told"] = ctx.args["details"][:2000]
    if text:
        return await complaint_company(ctx, replace(inc, text=text, button=None))
    return goto("company", ctx.t("Register a complaint. Which customer is it from?"))


async def complaint_company(ctx: Ctx, inc: Incoming) -> Step:
    """Pick the company."""
    picked = await pick_company(ctx, inc)
    if isinstance(picked, Step):
        return picked
    ctx.data["company_id"] = picked.id
    told = ctx.data.pop("told", None)
    if told:
        return await complaint_issue(ctx, replace(inc, text=told, button=None), said_first=True)
    return goto("issue", ctx.t("Complaint from {company}. What is the issue? Explain it in a "
                               "sentence or two.", company=picked.name))


async def complaint_issue(ctx: Ctx, inc: Incoming, said_first: bool = False) -> Step:
    """Take the issue text (`said_first`: it came with the request)."""
    text = (inc.text or "").strip()
    if len(text) < 3:
        return goto("issue", ctx.t("Please describe the complaint in a few words."))
    if len(text) > 2000:
        return goto("issue", ctx.t("Please keep the complaint under {limit} characters.",
                                   limit=2000))
    ctx.data["issue"] = text
    buttons = [Button(ctx.t(label), value=code) for code, label in SEVERITIES]
    question = ctx.t("How severe is it?")
    if said_first:  # taken from the request itself: show what was understood
        company = ctx.session.get(Company, ctx.data["company_id"])
        question = "\n".join([ctx.t("Complaint from {company}: {issue}",
                                     company=company.name if company else "-", issue=text),
                               question])
    return goto("severity", ctx.reply(question, *button_rows(buttons, 4)))


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
    contact = main_contact(ctx.session, company) if company else None
    complaint = complaints.register_complaint(
        ctx.session, ctx.user, company_id=ctx.data["company_id"], issue=ctx.data["issue"],
        severity=ctx.data["severity"], now=ctx.now, owner_id=owner_id,
        contact_id=contact.id if contact else None)
    owner = ctx.session.get(User, complaint.owner_id)
    text = "\n".join([
        ctx.t("Complaint #{id} registered.", id=complaint.id),
        *complaint_lines(ctx.t, ctx.session, complaint),
        ctx.t("A follow-up reminder is set for {when}.",
              when=ctx.t.datetime(complaint.created_at + (complaint.sla_due_at -
                                                          complaint.created_at) / 2)),
        "", ctx.t("A reply to the customer to copy:"), "",
        complaint_draft(ctx.t, complaint, contact, company, owner, ctx.user)])
    return done(ctx.reply(text, (sent_button(ctx.t, f"c{complaint.id}"),
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
    return done(ctx.reply(text, (sent_button(t, f"r{c.id}"),)))


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


def register(registry: Registry) -> None:
    """Register the complaint flows, the Resolve button and the complaint notices."""
    registry.add_errors(ERRORS)
    registry.add_phrasings(*complaints_phrasings.PHRASINGS)
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
    registry.add_action(Action("complaint.resolve", resolve_action, roles=FIELD_ROLES,
                               group_ok=False))
    registry.add_notice("complaint.assigned", render_complaint_assigned)
    registry.add_notice("complaint.escalation", render_complaint_escalation)
