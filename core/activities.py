"""Activities: log a visit/call/meeting/e-mail, its next step, materials sent, check-ins,
and "when did I last / when do I next contact X"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.errors import DomainError, NotFound
from core.models import (
    OPEN_STAGES,
    Activity,
    ActivityKind,
    Company,
    Contact,
    Deal,
    FollowUp,
    FollowUpStatus,
    MaterialSent,
    User,
)

OUTCOMES = ("positive", "neutral", "negative", "no_answer")
NEXT_CHOICES = ("tomorrow", "3days", "nextweek")
DEFAULT_HOUR = 9  # next steps are due at 09:00 in the user's zone
CHECK_IN_WINDOW = timedelta(hours=3)
MAX_NOTES = 2000


@dataclass
class Logged:
    activity: Activity
    follow_up: FollowUp | None
    deals_touched: int


def log_activity(session: Session, user: User, *, company: Company, contact: Contact | None,
                 kind: str, outcome: str | None, notes: str | None, now: datetime,
                 next_due: datetime | None = None, next_kind: str | None = None,
                 next_note: str | None = None, lat: float | None = None,
                 lon: float | None = None) -> Logged:
    """Record an activity, update "last contacted" (contact, company, open deals) and store
    the next step as a dated follow-up."""
    if kind not in {k.value for k in ActivityKind}:
        raise DomainError("visit.bad_kind", kind=kind)
    if outcome is not None and outcome not in OUTCOMES:
        raise DomainError("visit.bad_outcome", outcome=outcome)
    if contact is not None and contact.company_id != company.id:
        raise DomainError("visit.contact_company_mismatch")
    notes = (notes or "").strip() or None
    if notes and len(notes) > MAX_NOTES:
        raise DomainError("visit.notes_too_long", limit=MAX_NOTES)
    if next_due is not None and next_due <= now:
        raise DomainError("visit.date_in_past")
    activity = Activity(user_id=user.id, company_id=company.id,
                        contact_id=contact.id if contact else None, kind=kind,
                        outcome=outcome, notes=notes, lat=lat, lon=lon, occurred_at=now,
                        created_at=now)
    deal_id = session.scalar(
        select(Deal.id).where(Deal.company_id == company.id,
                              Deal.stage.in_([s.value for s in OPEN_STAGES]))
        .order_by(Deal.updated_at.desc()).limit(1))
    activity.deal_id = deal_id
    session.add(activity)
    company.last_contacted_at = now
    if contact is not None:
        # A touch, not an edit: no version bump, so reps logging visits with one contact at
        # once never conflict (a versioned write failed 8 retries in a row on PostgreSQL
        # with 200 reps and one contact), and a concurrent edit of the contact is not lost.
        session.execute(
            update(Contact).where(Contact.id == contact.id, or_(
                Contact.last_contacted_at.is_(None), Contact.last_contacted_at < now))
            .values(last_contacted_at=now).execution_options(synchronize_session=False))
        set_committed_value(contact, "last_contacted_at", now)
    touched = cast(CursorResult[Any], session.execute(
        update(Deal).where(Deal.company_id == company.id,
                           Deal.stage.in_([s.value for s in OPEN_STAGES]))
        .values(last_activity_at=now).execution_options(synchronize_session="fetch")
    )).rowcount or 0
    session.flush()
    follow_up = None
    if next_due is not None:
        follow_up = FollowUp(user_id=user.id, company_id=company.id,
                             contact_id=contact.id if contact else None, deal_id=deal_id,
                             activity_id=activity.id,
                             kind=next_kind or ("meeting" if kind == "meeting" else "follow_up"),
                             note=next_note, due_at=next_due, status=FollowUpStatus.OPEN.value,
                             created_at=now)
        session.add(follow_up)
        session.flush()
    return Logged(activity, follow_up, int(touched))


def record_material(session: Session, user: User, *, company: Company,
                    contact: Contact | None, material: str, product_sku: str | None,
                    now: datetime, channel: str | None = None) -> MaterialSent:
    """Record that a brochure or other material was sent (what, to whom, when, by whom)."""
    material = (material or "").strip()
    if not material:
        raise DomainError("visit.material_missing")
    row = MaterialSent(material=material[:200], product_sku=product_sku, company_id=company.id,
                       contact_id=contact.id if contact else None, sent_by_id=user.id,
                       sent_at=now, channel=channel)
    session.add(row)
    session.flush()
    return row


def check_in(session: Session, user: User, lat: float, lon: float, now: datetime) -> Activity:
    """Attach a shared location to the user's latest visit (logged in the last hours)."""
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise DomainError("visit.bad_location")
    activity = session.scalar(
        select(Activity).where(Activity.user_id == user.id, Activity.kind == "visit",
                               Activity.occurred_at >= now - CHECK_IN_WINDOW,
                               Activity.occurred_at <= now)
        .order_by(Activity.occurred_at.desc(), Activity.id.desc()).limit(1))
    if activity is None:
        raise NotFound("visit.nothing_to_check_in")
    activity.lat, activity.lon = lat, lon
    user.last_lat, user.last_lon, user.last_location_at = lat, lon, now
    return activity


def last_contact(session: Session, user: User, company: Company,
                 contact: Contact | None = None) -> tuple[Activity | None, Activity | None]:
    """(the user's own latest activity, anyone's latest activity) with the company/contact."""
    def latest(mine: bool) -> Activity | None:
        stmt = select(Activity).where(Activity.company_id == company.id)
        if contact is not None:
            stmt = stmt.where(Activity.contact_id == contact.id)
        if mine:
            stmt = stmt.where(Activity.user_id == user.id)
        return session.scalar(stmt.order_by(Activity.occurred_at.desc(),
                                            Activity.id.desc()).limit(1))
    return latest(True), latest(False)


def next_contact(session: Session, user: User, company: Company,
                 contact: Contact | None = None) -> FollowUp | None:
    """The user's earliest open follow-up or meeting with the company (overdue included)."""
    stmt = select(FollowUp).where(FollowUp.company_id == company.id,
                                  FollowUp.user_id == user.id,
                                  FollowUp.status == FollowUpStatus.OPEN.value)
    if contact is not None:
        stmt = stmt.where(FollowUp.contact_id == contact.id)
    return session.scalar(stmt.order_by(FollowUp.due_at, FollowUp.id).limit(1))


# -- dates ------------------------------------------------------------------------------------
def local_at(day: date, tz: str, hour: int = DEFAULT_HOUR, minute: int = 0) -> datetime:
    """`day` at hour:minute in zone `tz`, as aware UTC."""
    return datetime.combine(day, time(hour, minute), ZoneInfo(tz)).astimezone(UTC)


def due_for(choice: str, tz: str, now: datetime) -> datetime:
    """The due time (UTC) of a quick date choice: tomorrow, in 3 days, next week (Monday),
    all at 09:00 in the user's zone."""
    today = now.astimezone(ZoneInfo(tz)).date()
    if choice == "tomorrow":
        day = today + timedelta(days=1)
    elif choice == "3days":
        day = today + timedelta(days=3)
    elif choice == "nextweek":
        day = today + timedelta(days=7 - today.weekday())
    else:
        raise DomainError("visit.bad_date", text=choice)
    return local_at(day, tz)


_WEEKDAYS = {
    "monday": 0, "mon": 0, "senin": 0, "tuesday": 1, "tue": 1, "selasa": 1,
    "wednesday": 2, "wed": 2, "rabu": 2, "thursday": 3, "thu": 3, "kamis": 3,
    "friday": 4, "fri": 4, "jumat": 4, "saturday": 5, "sat": 5, "sabtu": 5,
    "sunday": 6, "sun": 6, "minggu": 6,
}


def parse_due(text: str, tz: str, now: datetime) -> datetime:
    """A typed date (and optional time) in the user's zone -> UTC. Accepts 2026-03-10,
    10/3, 10/03/2026, 10-3-2026, a weekday name (EN/ID), each optionally followed by
    HH:MM. Refuses dates in the past."""
    raw = (text or "").strip().lower()
    today = now.astimezone(ZoneInfo(tz)).date()
    hour, minute = DEFAULT_HOUR, 0
    m = re.search(r"\s+(?:at\s+|jam\s+|pukul\s+)?(\d{1,2})[:.](\d{2})$", raw)
    if m:
        hour, minute = int(m.group(1)), int(m.group(2))
        raw = raw[: m.start()].strip()
        if hour > 23 or minute > 59:
            raise DomainError("visit.bad_date", text=text)
    day: date | None = None
    try:
        if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", raw):
            y, mo, d = (int(x) for x in raw.split("-"))
            day = date(y, mo, d)
        elif m2 := re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{2,4}))?", raw):
            d, mo = int(m2.group(1)), int(m2.group(2))
            y = int(m2.group(3)) if m2.group(3) else today.year
            if y < 100:
                y += 2000
            day = date(y, mo, d)
            if not m2.group(3) and day < today:
                day = date(y + 1, mo, d)
        elif raw in _WEEKDAYS:
            ahead = (_WEEKDAYS[raw] - today.weekday()) % 7 or 7
            day = today + timedelta(days=ahead)
        elif raw in ("tomorrow", "besok"):
            day = today + timedelta(days=1)
        elif raw in ("today", "hari ini"):
            day = today
    except ValueError:
        day = None
    if day is None:
        raise DomainError("visit.bad_date", text=text[:40])
    due = local_at(day, tz, hour, minute)
    if due <= now:
        raise DomainError("visit.date_in_past")
    return due
