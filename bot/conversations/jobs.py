"""Field-service jobs in chat: offers with accept (ETA) / decline buttons for technicians,
/jobs (today's route), manual assignment from an escalation, and the notices of this area.
/newjob is bot.conversations.dispatch, the technician's reports from the site
bot.conversations.job_status.

```mermaid
stateDiagram-v2
    [*] --> offered: /newjob, import, Order placed
    offered --> offered: decline / time-out (next technician)
    offered --> escalated: nobody left
    escalated --> assigned: manager assigns
    offered --> assigned: accept + ETA
    assigned --> en_route: On my way
    en_route --> on_site: Arrived (location at the site)
    assigned --> on_site: Arrived
    on_site --> done: notes, parts, photo
    assigned --> cannot_complete: reason
    en_route --> cannot_complete: reason
    on_site --> cannot_complete: reason
```
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversations.flow import Action, Ctx, Flow, Step, done
from bot.conversations.messages import Button, Incoming, Reply, button_rows
from bot.conversations.phrasings import jobs as jobs_phrasings
from bot.conversations.registry import Registry
from bot.i18n import N_, Translator
from core import fieldservice as fs
from core import job_status, technicians
from core.errors import DomainError
from core.models import Company, Contact, NoticeRow, Role, User
from core.models.fieldservice import JobOffer, ServiceJob

DISPATCHERS = frozenset({Role.MANAGER, Role.ADMIN})
TECHNICIANS = frozenset({Role.TECHNICIAN})
JOB_VIEWERS = frozenset({Role.TECHNICIAN, Role.MANAGER, Role.ADMIN})

SKILL_LABELS = {
    "installation": N_("Installation"),
    "repair": N_("Repair"),
    "maintenance": N_("Maintenance"),
    "network": N_("Network"),
    "electrical": N_("Electrical"),
    "hvac": N_("Air conditioning"),
}

PRIORITY_LABELS = {
    1: N_("P1 urgent"),
    2: N_("P2 high"),
    3: N_("P3 normal"),
    4: N_("P4 low"),
}

STATUS_LABELS = {
    "new": N_("new"),
    "offered": N_("offered"),
    "escalated": N_("waiting for a manager"),
    "assigned": N_("assigned"),
    "en_route": N_("on the way"),
    "on_site": N_("on site"),
    "done": N_("done"),
    "cannot_complete": N_("could not be completed"),
    "cancelled": N_("cancelled"),
}

SKIP_WORDS = {"skip", "lewati", "none", "no", "tidak", "tidak ada", "-"}

ERRORS = {
    "job.not_found": N_("No such job, or it is not yours to see."),
    "job.offer_not_found": N_("That offer is not for you."),
    "job.offer_gone": N_("Too late: the offer for job #{job} timed out or moved on to "
                         "someone else. Nothing changed; /jobs shows what is yours."),
    "job.offer_already_accepted": N_("You already accepted job #{job}. /jobs shows it."),
    "job.already_assigned": N_("Job #{job} is already assigned to {tech} (by {by}). "
                               "Nothing changed."),
    "job.technician_not_found": N_("That technician is not available."),
    "job.bad_status": N_("Job #{job} is {status} now, so that step does not apply. /jobs "
                         "shows the current state."),
    "job.not_dispatcher": N_("Only managers and admins create and assign jobs."),
    "job.not_technician": N_("{name} is not a technician."),
    "job.bad_skill": N_("Unknown skill {skill}. Use one of: {skills}."),
    "job.bad_priority": N_("The priority is P1, P2, P3 or P4."),
    "job.bad_description": N_("Describe the job in 3 to 2000 characters."),
    "job.bad_window": N_("The time window must end after it starts."),
    "job.bad_profile": N_("Working hours or load cap are not valid."),
    "job.bad_location": N_("That location is not valid. Share your location again."),
    "job.too_far": N_("You are {km} km from the site; on site means within {radius} m. "
                      "Share your location again when you are there."),
    "job.bad_eta": N_("Pick one of the ETA buttons."),
    "job.bad_parts": N_("List the parts like \"2x filter, 1x belt\" (at most 50 items), or "
                        "press No parts."),
    "job.notes_missing": N_("Write a short note of what you did."),
    "job.reason_missing": N_("Say in a few words why the job cannot be completed."),
    "job.import_columns": N_("The CSV file lacks the columns: {columns}."),
    "job.import_company": N_("No customer {company}."),
    "job.import_value": N_("A priority, coordinate or date in this row is not valid."),
}


# -- words ----------------
def company_name(company: Company | None) -> str:
    if company is None:
        return "—"
    form = company.legal_form
    if not form:
        return company.name
    return f"{company.name} {form}" if form in ("Tbk", "Ltd", "Inc") else f"{form} {company.name}"


def eta_label(t: Translator, minutes: int) -> str:
    if minutes < 60:
        return t("{minutes} min", minutes=minutes)
    return t("{hours} h", hours=minutes // 60)


def _window(t: Translator, job: ServiceJob) -> str:
    if job.window_start is None or job.window_end is None:
        return t("any time")
    if t.local(job.window_start).date() == t.local(job.window_end).date():
        return f"{t.date(job.window_start)} {t.time(job.window_start)}–{t.time(job.window_end)}"
    return f"{t.datetime(job.window_start)} – {t.datetime(job.window_end)}"


def job_summary(t: Translator, session: Session, job: ServiceJob) -> str:
    """One job in a few lines: what, where, when, how urgent, who."""
    company = session.get(Company, job.company_id)
    lines = [
        t("Job #{id} · {priority} · {skill}", id=job.id, priority=t(PRIORITY_LABELS[job.priority]),
          skill=t(SKILL_LABELS.get(job.skill, job.skill))),
        t("Customer: {company}", company=company_name(company)),
        t("Site: {address}", address=job.site_address or "—"),
        t("Window: {window}", window=_window(t, job)),
        t("Work: {description}", description=job.description),
    ]
    if job.equipment:
        lines.append(t("Equipment: {equipment}", equipment=job.equipment))
    status = t(STATUS_LABELS.get(job.status, job.status))
    if job.technician_id:
        tech = session.get(User, job.technician_id)
        lines.append(t("Status: {status} · {tech}", status=status,
                       tech=tech.name if tech else "—"))
    else:
        lines.append(t("Status: {status}", status=status))
    if job.eta_at and job.status in ("assigned", "en_route"):
        lines.append(t("ETA: {eta}", eta=t.time(job.eta_at)))
    return "\n".join(lines)


def technician_buttons(t: Translator, job: ServiceJob) -> list[list[Button]]:
    """The status buttons of a job for its technician."""
    arg = str(job.id)
    go = Button(t("On my way"), action="job.go", arg=arg)
    arrived = Button(t("Arrived"), action="job.arrive", arg=arg)
    late = Button(t("Running late"), action="job.late", arg=arg)
    fail = Button(t("Cannot complete"), action="job.fail", arg=arg)
    finish = Button(t("Done"), action="job.done", arg=arg)
    if job.status == "assigned":
        return [[go, arrived], [late, fail]]
    if job.status == "en_route":
        return [[arrived, late], [fail]]
    if job.status == "on_site":
        return [[finish, fail]]
    return []


def job_card(t: Translator, session: Session, job: ServiceJob, viewer: User) -> Reply:
    """The job with the buttons this viewer may press."""
    rows: list[list[Button]] = []
    if viewer.id == job.technician_id:
        rows = technician_buttons(t, job)
    elif viewer.role in (Role.MANAGER.value, Role.ADMIN.value) and job.status in fs.OPEN:
        rows = assign_rows(t, session, job)
    return Reply.with_buttons(job_summary(t, session, job), *rows)


def offer_reply(t: Translator, session: Session, offer: JobOffer, job: ServiceJob) -> Reply:
    """An offer: the job, how far, answer by when; accept with an ETA, or decline."""
    lines = [t("🔧 New job offer"), job_summary(t, session, job)]
    if offer.distance_km is not None:
        lines.append(t("About {km} km from your last location.", km=f"{offer.distance_km:.1f}"))
    lines.append(t("Answer by {time}, or it goes to the next technician.",
                   time=t.time(offer.expires_at)))
    accept = [Button(t("Accept · {eta}", eta=eta_label(t, m)), action="job.accept",
                     arg=f"{offer.id}:{m}") for m in fs.ETA_CHOICES_MIN[:3]]
    return Reply.with_buttons("\n".join(lines), accept,
                              [Button(t("Decline"), action="job.decline", arg=str(offer.id))])


def assign_rows(t: Translator, session: Session, job: ServiceJob) -> list[list[Button]]:
    """Buttons to give the job to a technician by hand (eligible ones first)."""
    candidates = technicians.rank_technicians(session, job, _now(session, job),
                                              eligible_only=False, limit=6)
    buttons = []
    for c in candidates[:6]:
        first = c.name.split()[0] if c.name.split()[0] not in ("I",) else c.name
        where = f"{c.distance_km:.0f} km" if c.distance_km is not None else "?"
        mark = "" if c.eligible else " ⚠"
        buttons.append(Button(t("Assign {name} ({where}, load {load}){mark}", name=first,
                                where=where, load=c.load, mark=mark),
                              action="job.assign", arg=f"{job.id}:{c.user_id}"))
    return [list(row) for row in button_rows(buttons, 2)]


def _now(session: Session, job: ServiceJob) -> datetime:
    # Renderers get no clock: the job's last change is the reference for on-shift marks.
    return session.info.get("now") or job.updated_at


def escalation_text(t: Translator, session: Session, job: ServiceJob) -> str:
    asked = session.scalars(select(JobOffer).where(JobOffer.job_id == job.id)).all()
    head = t("⚠ No technician took job #{id}: please assign it by hand.", id=job.id)
    if asked:
        names = []
        for offer in asked:
            tech = session.get(User, offer.technician_id)
            names.append(f"{tech.name if tech else '?'} ({t(OFFER_LABELS[offer.status])})")
        head += "\n" + t("Asked: {names}", names=", ".join(names))
    else:
        head += "\n" + t("Nobody with that skill is on shift and free in that territory.")
    text = head + "\n" + job_summary(t, session, job)
    candidates = technicians.rank_technicians(session, job, _now(session, job),
                                              eligible_only=False, limit=6)
    if any(not c.eligible for c in candidates[:6]):
        text += "\n" + t("⚠ = off shift or at the load cap.")
    return text

OFFER_LABELS = {
    "pending": N_("waiting"),
    "accepted": N_("accepted"),
    "declined": N_("declined"),
    "expired": N_("no answer"),
    "withdrawn": N_("withdrawn"),
}


def customer_contact(session: Session, job: ServiceJob) -> Contact | None:
    """Whom the customer-facing notices address: the job's contact, else a decision maker."""
    if job.contact_id is not None:
        return session.get(Contact, job.contact_id)
    return session.scalar(select(Contact).where(Contact.company_id == job.company_id)
                          .order_by(Contact.is_decision_maker.desc(), Contact.id).limit(1))


def delay_draft(t: Translator, session: Session, job: ServiceJob, eta: datetime) -> str:
    """The copy-ready delay notice for the customer contact, in the reader's language."""
    contact = customer_contact(session, job)
    tech = session.get(User, job.technician_id) if job.technician_id else None
    name = contact.name if contact else t("Sir/Madam")
    phone = (contact.mobile or contact.phone or "—") if contact else "—"
    draft = t("Dear {contact}, our technician {tech} is on the way for your service request "
              "#{job} but will arrive around {eta}, later than the agreed {end}. We apologise "
              "for the delay.", contact=name, tech=tech.name if tech else "—", job=job.id,
              eta=t.time(eta), end=t.time(job.window_end) if job.window_end else "—")
    return t("Delay notice for {contact} ({phone}), ready to send:", contact=name,
             phone=phone) + "\n“" + draft + "”"


# -- /jobs ----------------
async def jobs_start(ctx: Ctx, inc: Incoming) -> Step:
    """Show my offers and my route today (technicians) or the open jobs (managers)."""
    t, session = ctx.t, ctx.session
    if ctx.role == Role.TECHNICIAN:
        replies: list[Reply] = []
        for offer in fs.pending_offers_for(session, ctx.user, ctx.now):
            offered = session.get(ServiceJob, offer.job_id)
            if offered is not None:
                replies.append(offer_reply(t, session, offer, offered))
        route = fs.route_for_today(session, ctx.user, ctx.now)
        if not route:
            replies.append(Reply(t("No jobs on your route today.")))
            return done(*replies)
        lines = [t("Your route today:")]
        buttons = []
        for n, job in enumerate(route, 1):
            company = session.get(Company, job.company_id)
            lines.append(t("{n}. {window} · #{id} {company} · {status}", n=n,
                           window=_window(t, job), id=job.id, company=company_name(company),
                           status=t(STATUS_LABELS.get(job.status, job.status))))
            buttons.append(Button(t("Open #{id}", id=job.id), action="job.show", arg=str(job.id)))
        replies.append(Reply.with_buttons("\n".join(lines), *button_rows(buttons, 3)))
        first = route[0]
        replies.append(job_card(t, session, first, ctx.user))
        return done(*replies)
    jobs = fs.open_jobs_for_manager(session, ctx.user)
    if not jobs:
        return done(t("No open service jobs. /newjob creates one."))
    lines = [t("Open service jobs:")]
    buttons = []
    for job in jobs:
        tech = session.get(User, job.technician_id) if job.technician_id else None
        company = session.get(Company, job.company_id)
        lines.append(t("#{id} {priority} · {company} · {status}{tech}", id=job.id,
                       priority=t(PRIORITY_LABELS[job.priority]), company=company_name(company),
                       status=t(STATUS_LABELS.get(job.status, job.status)),
                       tech=f" · {tech.name}" if tech else ""))
        buttons.append(Button(t("Open #{id}", id=job.id), action="job.show", arg=str(job.id)))
    return done(Reply.with_buttons("\n".join(lines), *button_rows(buttons[:12], 4)))


# -- actions ----------------
def number_arg(arg: str) -> int:
    if not arg.isdigit():
        raise DomainError("job.not_found")
    return int(arg)


async def act_show(ctx: Ctx, arg: str) -> Step:
    """Show a job with the buttons that apply now."""
    job = fs.get_job(ctx.session, number_arg(arg), ctx.user)
    ctx.session.info["now"] = ctx.now
    return done(job_card(ctx.t, ctx.session, job, ctx.user))


async def act_accept(ctx: Ctx, arg: str) -> Step:
    """Accept an offer with an ETA."""
    offer_text, _, eta_text = arg.partition(":")
    job = fs.accept_offer(ctx.session, offer_id=number_arg(offer_text), user=ctx.user,
                          eta_minutes=number_arg(eta_text), now=ctx.now)
    t = ctx.t
    replies = [Reply(t("Job #{id} is yours. Expected on site at {eta}.", id=job.id,
                       eta=t.time(job.eta_at) if job.eta_at else "—")),
               job_card(t, ctx.session, job, ctx.user)]
    if job.eta_at and job_status.note_delay(ctx.session, job, ctx.now):
        replies.append(Reply(t("That is after the customer's window, so the account's rep "
                               "was asked to send this:") + "\n"
                             + delay_draft(t, ctx.session, job, job.eta_at)))
    return done(*replies)


async def act_decline(ctx: Ctx, arg: str) -> Step:
    """Decline an offer; it moves to the next technician."""
    offer = ctx.session.get(JobOffer, number_arg(arg))
    job_id = offer.job_id if offer else 0
    fs.decline_offer(ctx.session, offer_id=number_arg(arg), user=ctx.user, now=ctx.now)
    return done(ctx.t("Declined job #{id}; it goes to the next technician.", id=job_id))


async def act_go(ctx: Ctx, arg: str) -> Step:
    """Mark a job en route."""
    job = job_status.start_travel(ctx.session, job_id=number_arg(arg), user=ctx.user, now=ctx.now)
    t = ctx.t
    return done(Reply.with_buttons(
        t("On your way to job #{id}. Press Arrived at the site and share your location.",
          id=job.id), *technician_buttons(t, job)))


async def act_arrive(ctx: Ctx, arg: str) -> Step:
    """Ask for the location that proves the technician is on site."""
    return await ctx.begin("job_arrive", job=arg)


async def act_done(ctx: Ctx, arg: str) -> Step:
    return await ctx.begin("job_done", job=arg)


async def act_fail(ctx: Ctx, arg: str) -> Step:
    return await ctx.begin("job_fail", job=arg)


async def act_late(ctx: Ctx, arg: str) -> Step:
    return await ctx.begin("job_eta", job=arg)


async def act_assign(ctx: Ctx, arg: str) -> Step:
    """Assign a job by hand (the first manager to press wins)."""
    job_text, _, tech_text = arg.partition(":")
    job = fs.assign_job(ctx.session, job_id=number_arg(job_text),
                        technician_id=number_arg(tech_text), by=ctx.user, now=ctx.now)
    tech = ctx.session.get(User, job.technician_id)
    return done(ctx.t("Job #{id} assigned to {tech}; they have been told.", id=job.id,
                      tech=tech.name if tech else "?"))


async def act_redispatch(ctx: Ctx, arg: str) -> Step:
    """Offer a job that could not be completed to the next technician."""
    offer = fs.redispatch(ctx.session, job_id=number_arg(arg), by=ctx.user, now=ctx.now)
    t = ctx.t
    if offer is None:
        job = ctx.session.get(ServiceJob, number_arg(arg))
        assert job is not None
        ctx.session.info["now"] = ctx.now
        return done(Reply.with_buttons(escalation_text(t, ctx.session, job),
                                       *assign_rows(t, ctx.session, job)))
    tech = ctx.session.get(User, offer.technician_id)
    return done(t("Job #{id} is offered to {tech} now.", id=offer.job_id,
                  tech=tech.name if tech else "?"))


# -- notices ----------------
def render_offer(session: Session, row: NoticeRow, user: User | None, t: Translator
                 ) -> Reply | None:
    offer = session.get(JobOffer, int(row.params.get("offer_id", 0)))
    if offer is None or offer.status != "pending":
        return None  # answered, timed out or withdrawn meanwhile
    job = session.get(ServiceJob, offer.job_id)
    return offer_reply(t, session, offer, job) if job else None


def render_escalation(session: Session, row: NoticeRow, user: User | None, t: Translator
                      ) -> Reply | None:
    job = session.get(ServiceJob, int(row.params.get("job_id", 0)))
    if job is None or job.status != "escalated":
        return None
    return Reply.with_buttons(escalation_text(t, session, job), *assign_rows(t, session, job))


def render_assigned(session: Session, row: NoticeRow, user: User | None, t: Translator
                    ) -> Reply | None:
    job = session.get(ServiceJob, int(row.params.get("job_id", 0)))
    if job is None or user is None or job.technician_id != user.id or job.status != "assigned":
        return None
    return Reply.with_buttons(t("📋 You have been assigned a job.") + "\n"
                              + job_summary(t, session, job), *technician_buttons(t, job))


def render_completed(session: Session, row: NoticeRow, user: User | None, t: Translator
                     ) -> Reply | None:
    job = session.get(ServiceJob, int(row.params.get("job_id", 0)))
    if job is None or job.status != "done":
        return None
    tech = session.get(User, job.technician_id) if job.technician_id else None
    parts = ", ".join(f"{p['qty']}× {p['item']}" for p in job.parts) or t("none")
    text = t("✅ Job #{id} at {company} was completed by {tech} at {time}.\nNotes: {notes}\n"
             "Parts: {parts}", id=job.id, company=company_name(session.get(Company,
                                                                             job.company_id)),
             tech=tech.name if tech else "—",
             time=t.datetime(job.finished_at) if job.finished_at else "—",
             notes=job.notes or "—", parts=parts)
    if job.photo_name:
        text += "\n" + t("Photo: {name}", name=job.photo_name)
    return Reply(text)


def render_failed(session: Session, row: NoticeRow, user: User | None, t: Translator
                  ) -> Reply | None:
    job = session.get(ServiceJob, int(row.params.get("job_id", 0)))
    if job is None or job.status != "cannot_complete":
        return None
    tech = session.get(User, job.technician_id) if job.technician_id else None
    text = t("❌ Job #{id} at {company} could not be completed by {tech}: {reason}",
             id=job.id, company=company_name(session.get(Company, job.company_id)),
             tech=tech.name if tech else "—", reason=job.failure_reason or "—")
    if user is None or user.role not in (Role.MANAGER.value, Role.ADMIN.value):
        return Reply(text)
    return Reply.with_buttons(text, [Button(t("Dispatch again"), action="job.redispatch",
                                            arg=str(job.id))])


def render_delay(session: Session, row: NoticeRow, user: User | None, t: Translator
                 ) -> Reply | None:
    job = session.get(ServiceJob, int(row.params.get("job_id", 0)))
    if job is None or job.status not in ("assigned", "en_route"):
        return None
    eta = datetime.fromisoformat(str(row.params.get("eta")))
    return Reply(t("⏰ Job #{id} at {company} is running late.", id=job.id,
                   company=company_name(session.get(Company, job.company_id)))
                 + "\n" + delay_draft(t, session, job, eta))


def render_accepted(session: Session, row: NoticeRow, user: User | None, t: Translator
                    ) -> Reply | None:
    """To the dispatching manager: a technician took the job."""
    job = session.get(ServiceJob, int(row.params.get("job_id", 0)))
    if job is None or job.technician_id != row.params.get("technician_id") \
            or job.status in ("cancelled", "cannot_complete"):
        return None
    tech = session.get(User, job.technician_id) if job.technician_id else None
    text = t("👍 {tech} took job #{id} at {company}.", tech=tech.name if tech else "—",
             id=job.id, company=company_name(session.get(Company, job.company_id)))
    if job.eta_at is not None and job.status in ("assigned", "en_route"):
        text += " " + t("Expected on site {time}.", time=t.datetime(job.eta_at))
    return Reply.with_buttons(text, [Button(t("Show job"), action="job.show",
                                            arg=str(job.id))])


def render_arrived(session: Session, row: NoticeRow, user: User | None, t: Translator
                   ) -> Reply | None:
    """To the customer's rep: the technician is on site."""
    job = session.get(ServiceJob, int(row.params.get("job_id", 0)))
    if job is None or job.arrived_at is None:
        return None
    tech = session.get(User, job.technician_id) if job.technician_id else None
    return Reply(t("📍 {tech} arrived at {company} for job #{id} at {time}: {work}",
                   tech=tech.name if tech else "—",
                   company=company_name(session.get(Company, job.company_id)), id=job.id,
                   time=t.time(job.arrived_at), work=job.description[:120]))


def register(registry: Registry) -> None:
    """Register /jobs, the job buttons, the intents and the notices of field service."""
    registry.add_errors(ERRORS)
    registry.add_phrasings(*jobs_phrasings.PHRASINGS)
    registry.add_flow(Flow("jobs", start=jobs_start, roles=JOB_VIEWERS, commands=("jobs",),
                           help=N_("My jobs today and job offers")))
    for name, handler, roles in (
        ("job.show", act_show, JOB_VIEWERS),
        ("job.accept", act_accept, TECHNICIANS),
        ("job.decline", act_decline, TECHNICIANS),
        ("job.go", act_go, TECHNICIANS),
        ("job.arrive", act_arrive, TECHNICIANS),
        ("job.done", act_done, TECHNICIANS),
        ("job.fail", act_fail, TECHNICIANS),
        ("job.late", act_late, TECHNICIANS),
        ("job.assign", act_assign, DISPATCHERS),
        ("job.redispatch", act_redispatch, DISPATCHERS),
    ):
        registry.add_action(Action(name, handler, roles=roles, group_ok=False))
    registry.add_notice("job.offer", render_offer)
    registry.add_notice("job.escalation", render_escalation)
    registry.add_notice("job.assigned", render_assigned)
    registry.add_notice("job.completed", render_completed)
    registry.add_notice("job.cannot_complete", render_failed)
    registry.add_notice("job.delay", render_delay)
    registry.add_notice("job.accepted", render_accepted)
    registry.add_notice("job.arrived", render_arrived)
