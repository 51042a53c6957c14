"""Live locations: each update is remembered; a rep arriving at a customer's site gets its
brief (once a day), a technician reaching a job's site is on site, one on the way tells the
rep the arrival time. The field day's pushed messages (the brief, the technician's ETA)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.conversations.flow import FIELD_ROLES, Action, Ctx, Step, done
from bot.conversations.jobs import technician_buttons
from bot.conversations.locations import remember
from bot.conversations.lookup import company_name
from bot.conversations.messages import (
    LIVE_LOCATION_ACTION,
    Button,
    Reply,
)
from bot.conversations.registry import Registry
from bot.i18n import Translator
from core import customer_brief, dayplan, job_status, sites
from core import fieldservice as fs
from core.errors import DomainError
from core.models import Company, NoticeRow, Role, User
from core.models.fieldservice import ServiceJob
from core.notices import enqueue_notice

# A brief is for the moment of arrival: one held longer (quiet hours) is dropped, not sent.
BRIEF_STALE = timedelta(hours=1)


# -- live locations ------------------------------------------------------------------------
def _technician_live(ctx: Ctx, point: tuple[float, float]) -> Step:
    """A technician on the way: at a job's site it is "arrived" (the rep is told); on the
    way to an en-route job, the rep is told the ETA once."""
    settings = ctx.services.settings
    for job in fs.route_for_today(ctx.session, ctx.user, ctx.now):
        if job.status not in ("assigned", "en_route"):
            continue
        dist = job_status.distance_to_site(job, point[0], point[1])
        if dist is None:
            continue
        rep = fs.customer_rep(ctx.session, job)
        if dist <= job_status.ARRIVAL_RADIUS_KM:  # arrived: the rep hears it (core.fieldservice)
            job = job_status.arrive(ctx.session, job_id=job.id, user=ctx.user, lat=point[0],
                                    lon=point[1], now=ctx.now)
            return done(Reply.with_buttons(
                ctx.t("📍 You reached the site of job #{id}: on site since {time}. Press "
                      "Done when finished.", id=job.id, time=ctx.t.time(ctx.now)),
                *technician_buttons(ctx.t, job)))
        if job.status == "en_route" and rep is not None:
            factor = dayplan.PlanSettings.from_settings(settings).factor(None)
            minutes = max(1, round(dist * factor / settings.dayplan_speed_kmh * 60))
            eta = ctx.now + timedelta(minutes=minutes)
            enqueue_notice(ctx.session, kind="fieldday.tech_eta",
                           reason=f"job:{job.id}:live-eta", recipient_user_id=rep.id,
                           due_at=ctx.now, now=ctx.now,
                           params={"job_id": job.id, "eta": eta.isoformat(),
                                   "technician": ctx.user.name})
    return done()


async def act_live(ctx: Ctx, arg: str) -> Step:
    """One live-location update: remember it; a technician may arrive at a job; a rep
    within a customer's site radius gets its brief (once a day). Silent otherwise."""
    inc = ctx.incoming
    if inc.location is None or inc.chat_is_group:
        return done()
    try:
        point = remember(ctx, inc.location)
    except DomainError:
        return done()
    if ctx.role == Role.TECHNICIAN:
        return _technician_live(ctx, point)
    radius_km = ctx.services.settings.checkin_radius_m / 1000
    here = sites.near(ctx.session, ctx.user, point[0], point[1], radius_km=radius_km, limit=3)
    customer_brief.offer_arrival_briefs(ctx.session, ctx.user,
                                        [n.company.id for n in here], ctx.now)
    return done()


# -- pushed messages ------------------------------------------------------------------------
def brief_text(t: Translator, brief: customer_brief.CustomerBrief) -> str:
    """The brief in a few lines."""
    from bot.conversations.deal import req_label, stage_label

    lines = [t("📋 Brief: {company}", company=company_name(brief.company))]
    for c in brief.contacts:
        role = " · ".join(x for x in (c.job_title, c.department) if x)
        dm = t(" (decision maker)") if c.is_decision_maker else ""
        lines.append(f"• {c.name}" + (f" — {role}" if role else "") + dm)
    for note in brief.deals:
        deal = note.deal
        lines.append(t("Deal: {title} — {stage}, {amount}", title=deal.title,
                       stage=stage_label(t, deal.stage), amount=t.money(deal.amount,
                                                                        deal.currency)))
        if note.next_stage and note.missing:
            lines.append("  " + t("To reach {stage} it still needs: {needs}.",
                                  stage=stage_label(t, note.next_stage),
                                  needs=", ".join(req_label(t, r) for r in note.missing)))
    if brief.last_visit is not None:
        lines.append(t("Last visit {date}: {notes}", date=t.date(brief.last_visit.occurred_at),
                       notes=(brief.last_visit.notes or t("no notes"))[:160]))
    for complaint in brief.complaints:
        lines.append(t("⚠️ Open complaint ({severity}): {issue}",
                       severity=complaint.severity, issue=complaint.issue[:100]))
    for f in brief.followups:
        lines.append(t("⏰ Follow-up due {when}: {note}", when=t.datetime(f.due_at),
                       note=(f.note or "-")[:80]))
    if brief.unsent:
        lines.append(t("Not sent yet: the brochure for {products}.",
                       products=", ".join(p.name for p in brief.unsent[:3])))
    for doc in brief.documents:
        if doc.seen_version is None:
            lines.append(t("📄 {title} (version {version}): you have not opened it yet.",
                           title=doc.document.title, version=doc.document.version))
        elif not doc.changes:
            lines.append(t("📄 {title}: no change since you last opened it.",
                           title=doc.document.title))
        else:
            notes = "; ".join(f"v{v.version}: {v.note or '—'}" for v in doc.changes[-3:])
            lines.append(t("📄 {title} changed since you opened version {seen}: {notes}",
                           title=doc.document.title, seen=doc.seen_version, notes=notes))
    return "\n".join(lines)


def render_brief(session: Session, row: NoticeRow, user: User | None, t: Translator
                 ) -> Reply | None:
    """The customer brief (arrival or 15 minutes before a planned visit)."""
    if user is None or row.due_at - row.created_at > BRIEF_STALE:
        return None  # held by the quiet hours past the moment it was for: not sent late
    company_id = int(row.params.get("company_id", 0))
    now = row.due_at
    brief = customer_brief.customer_brief(session, user, company_id, now)
    if brief is None:
        return None
    head = (t("You are at {company}.", company=company_name(brief.company))
            if row.params.get("why") == "arrived" else
            t("Your visit to {company} is planned at {time}.",
              company=company_name(brief.company),
              time=t.time(datetime.fromisoformat(str(row.params.get("at"))))
              if row.params.get("at") else "—"))
    buttons = [Button(t("📄 Open {title}", title=d.document.title)[:60], action="kb.open",
                      arg=str(d.document.id)) for d in brief.documents]
    buttons.append(Button(t("📝 Log the visit"), action="field.visit", arg=str(company_id)))
    return Reply("\n".join([head, brief_text(t, brief)]),
                 buttons=tuple((b,) for b in buttons))


def render_tech_eta(session: Session, row: NoticeRow, user: User | None, t: Translator
                    ) -> Reply | None:
    """A technician on the way (live location): the account's rep hears the ETA."""
    job = session.get(ServiceJob, int(row.params.get("job_id", 0)))
    if job is None or job.status != "en_route":
        return None
    company = session.get(Company, job.company_id)
    eta = datetime.fromisoformat(str(row.params.get("eta")))
    return Reply(t("🚐 {tech} is on the way to job #{id} at {company}, expected about {eta}.",
                   tech=str(row.params.get("technician") or "—"), id=job.id,
                   company=company_name(company) if company else "—", eta=t.time(eta)))


def register(registry: Registry) -> None:
    """Register the live-location action and the field day's pushed messages."""
    registry.add_action(Action(LIVE_LOCATION_ACTION, act_live,
                               roles=FIELD_ROLES | {Role.TECHNICIAN}))
    registry.add_notice("fieldday.brief", render_brief)
    registry.add_notice("fieldday.tech_eta", render_tech_eta)
