"""Time management: the week's agenda (meetings, follow-ups, contact-by dates) and calendar
files (iCalendar) for meetings and follow-ups, in the user's own time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.fieldservice import ACTIVE
from core.models import OPEN_STAGES, Company, Contact, Deal, FollowUp, User
from core.models.fieldservice import ServiceJob

DEFAULT_MEETING_MINUTES = 60


@dataclass(frozen=True)
class AgendaItem:
    """One thing on the agenda: a follow-up/meeting, a lead's contact-by date or a service
    job of the technician's."""

    kind: str  # the follow-up kind ("meeting", "follow_up", ...), "contact_by" or "job"
    at: datetime  # UTC
    title: str  # company (and contact) it concerns
    note: str | None
    overdue: bool
    follow_up_id: int | None = None
    deal_id: int | None = None
    job_id: int | None = None


@dataclass(frozen=True)
class Agenda:
    overdue: list[AgendaItem]
    days: list[tuple[date, list[AgendaItem]]]  # local dates, in order, each day sorted


def _title(company: Company | None, contact: Contact | None, fallback: str) -> str:
    if company and contact:
        return f"{company.name} — {contact.name}"
    if company:
        return company.name
    return fallback


def week_agenda(session: Session, user: User, now: datetime, days: int = 7) -> Agenda:
    """The user's open follow-ups and meetings and their leads' contact-by dates from now to
    `days` ahead (by local day), with everything overdue first."""
    tz = ZoneInfo(user.timezone)
    today = now.astimezone(tz).date()
    end_local = today + timedelta(days=days)
    end = datetime.combine(end_local, datetime.min.time(), tzinfo=tz)
    rows = session.execute(
        select(FollowUp, Company, Contact)
        .outerjoin(Company, Company.id == FollowUp.company_id)
        .outerjoin(Contact, Contact.id == FollowUp.contact_id)
        .where(FollowUp.user_id == user.id, FollowUp.status == "open", FollowUp.due_at < end)
        .order_by(FollowUp.due_at)
    ).all()
    items: list[AgendaItem] = []
    for follow_up, company, contact in rows:
        due = follow_up.snoozed_until or follow_up.due_at
        items.append(AgendaItem(kind=follow_up.kind, at=due,
                                title=_title(company, contact, follow_up.kind),
                                note=follow_up.note, overdue=due < now,
                                follow_up_id=follow_up.id, deal_id=follow_up.deal_id))
    leads = session.execute(
        select(Deal, Company).join(Company, Company.id == Deal.company_id)
        .where(Deal.owner_id == user.id, Deal.contact_by.is_not(None), Deal.contact_by < end,
               Deal.stage.in_([s.value for s in OPEN_STAGES[:2]]),
               Deal.last_activity_at.is_(None))
    ).all()
    for deal, company in leads:
        assert deal.contact_by is not None
        title = (deal.title if deal.title.startswith(company.name)
                 else f"{company.name}: {deal.title}")
        note = deal.need if deal.need and deal.need not in title else None
        items.append(AgendaItem(kind="contact_by", at=deal.contact_by, title=title, note=note,
                                overdue=deal.contact_by < now, deal_id=deal.id))
    items += _jobs(session, user, now, end)
    items.sort(key=lambda i: i.at)
    overdue = [i for i in items if i.overdue]
    by_day: dict[date, list[AgendaItem]] = {}
    for item in items:
        if not item.overdue:
            by_day.setdefault(item.at.astimezone(tz).date(), []).append(item)
    return Agenda(overdue=overdue, days=sorted(by_day.items()))


def _jobs(session: Session, user: User, now: datetime, end: datetime) -> list[AgendaItem]:
    """The technician's assigned and running jobs whose window starts before `end`."""
    rows = session.execute(
        select(ServiceJob, Company).join(Company, Company.id == ServiceJob.company_id)
        .where(ServiceJob.technician_id == user.id, ServiceJob.status.in_(ACTIVE),
               func.coalesce(ServiceJob.window_start, ServiceJob.created_at) < end)).all()
    items = []
    for job, company in rows:
        at = job.window_start or job.created_at
        late = job.window_end is not None and job.window_end < now
        items.append(AgendaItem(kind="job", at=at, title=f"#{job.id} {company.name}",
                                note=" ".join(job.description.split())[:80], overdue=late,
                                deal_id=job.deal_id, job_id=job.id))
    return items


def follow_up_ics(session: Session, user: User, follow_up_id: int, *, summary: str,
                  now: datetime, organizer_name: str | None = None,
                  organizer_email: str | None = None) -> bytes:
    """An iCalendar invitation for one of the user's meetings or follow-ups.

    Times are written as UTC instants (what every phone calendar accepts) and the event
    carries the user's zone name for display; `summary` is the localized title.
    """
    row = session.execute(
        select(FollowUp, Company, Contact)
        .outerjoin(Company, Company.id == FollowUp.company_id)
        .outerjoin(Contact, Contact.id == FollowUp.contact_id)
        .where(FollowUp.id == follow_up_id, FollowUp.user_id == user.id)
    ).first()
    if row is None:
        raise NotFound("agenda.not_found")
    follow_up, company, contact = row
    start = follow_up.snoozed_until or follow_up.due_at
    end = follow_up.ends_at or start + timedelta(minutes=DEFAULT_MEETING_MINUTES)
    cal = Calendar()
    cal.add("prodid", "-//SFA Assistant//sfa-assistant//EN")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"follow-up-{follow_up.id}@sfa-assistant")
    event.add("dtstamp", now)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", summary)
    if follow_up.note:
        event.add("description", follow_up.note)
    if company is not None:
        location = company.delivery_address if follow_up.kind == "installation" else (
            company.head_office_address)
        if location:
            event.add("location", vText(location))
    if contact is not None and contact.email:
        attendee = vCalAddress(f"mailto:{contact.email}")
        attendee.params["cn"] = vText(contact.name)
        event.add("attendee", attendee)
    if organizer_name and (user.email or organizer_email):  # the rep, else the company
        organizer = vCalAddress(f"mailto:{user.email or organizer_email}")
        organizer.params["cn"] = vText(organizer_name)
        event.add("organizer", organizer)
    event.add("x-wr-timezone", user.timezone)
    cal.add_component(event)
    return cal.to_ical()
