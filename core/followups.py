"""Follow-up management: reminders, snooze/done, pre-visit briefs, the morning plan,
thank-you notes and the drafts a rep sends a customer (complaints are core.complaints,
promised deliveries core.deliveries; quiet hours, like all delivery rules, core.notices).

Everything here is rules and records; the words are written by the bot's renderers
(bot/conversations/followups.py). Times are aware UTC; local times are computed with
zoneinfo so 07:30 stays 07:30 across DST changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Integer, String, cast, func, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.approvals import count_waiting
from core.errors import Conflict, DomainError, NotFound
from core.models import (
    OPEN_STAGES,
    Activity,
    Company,
    Contact,
    Deal,
    DealStageChange,
    FollowUp,
    FollowUpStatus,
    MaterialSent,
    NoticeRow,
    NoticeStatus,
    Role,
    Stage,
    User,
)
from core.models.base import UTCDateTime
from core.models.derived import SweepMark
from core.models.quotes import Quote
from core.models.scheduling import Complaint, CustomerMessage
from core.notices import (
    cancel_notices,
    enqueue_notice,
    enqueue_notices,
    existing_keys,
    notice_key,
)
from core.sweeps import sweep

MORNING_PLAN_AT = time(7, 30)
MORNING_PLAN_UNTIL = time(11, 0)  # a plan not sent by then (scheduler down) is skipped
SNOOZE_TOMORROW_AT = time(9, 0)
BRIEF_BEFORE = timedelta(minutes=30)
DUE_LOOKBACK = timedelta(days=1)  # older overdue follow-ups appear in the morning plan
MEETING_KINDS = frozenset({"meeting", "demo", "visit", "presentation"})
THANKS_WITHIN = timedelta(days=3)


# -- local time ------------------------------------------------------------------------------
def local_at(tz_name: str, day: date, at: time) -> datetime:
    """Return the UTC instant of wall-clock `at` on `day` in zone `tz_name` (DST-correct)."""
    return datetime.combine(day, at, tzinfo=ZoneInfo(tz_name)).astimezone(UTC)


def local_date(tz_name: str, when: datetime) -> date:
    return when.astimezone(ZoneInfo(tz_name)).date()


# -- follow-ups ------------------------------------------------------------------------------
def effective_due(fu: FollowUp) -> datetime:
    return fu.snoozed_until or fu.due_at


REMINDER_NOTE_MAX = 300
REMINDER_AHEAD_MAX = timedelta(days=366)


def add_reminder(session: Session, user: User, *, due_at: datetime, note: str, now: datetime,
                 contact: Contact | None = None) -> FollowUp:
    """A personal reminder ("remind me tomorrow at 10 to call Hendro"): a follow-up of the
    user's own, pushed when due like any other (snooze / done), linked to the contact and
    company when the note names one the user may see."""
    note = " ".join((note or "").split())
    if len(note) < 2:
        raise DomainError("reminder.no_note")
    if len(note) > REMINDER_NOTE_MAX:
        raise DomainError("reminder.note_too_long", limit=REMINDER_NOTE_MAX)
    if due_at <= now:
        raise DomainError("reminder.in_past")
    if due_at > now + REMINDER_AHEAD_MAX:
        raise DomainError("reminder.too_far")
    fu = FollowUp(user_id=user.id, company_id=contact.company_id if contact else None,
                  contact_id=contact.id if contact else None, kind="reminder", note=note,
                  due_at=due_at, status=FollowUpStatus.OPEN.value, created_at=now)
    session.add(fu)
    session.flush()
    return fu


def _own_followup(session: Session, user: User, followup_id: int) -> FollowUp:
    fu = session.scalar(select(FollowUp).where(FollowUp.id == followup_id).with_for_update())
    if fu is None or (fu.user_id != user.id and user.role != Role.ADMIN.value):
        raise NotFound("followup.not_found")
    if fu.status != FollowUpStatus.OPEN.value:
        raise Conflict("followup.closed", status=fu.status)
    return fu


def snooze_followup(session: Session, user: User, followup_id: int, how: str,
                    now: datetime) -> FollowUp:
    """Snooze a follow-up by one hour (`how="1h"`) or to tomorrow 09:00 local ("tomorrow")."""
    fu = _own_followup(session, user, followup_id)
    if how == "1h":
        until = now + timedelta(hours=1)
    elif how == "tomorrow":
        until = local_at(user.timezone, local_date(user.timezone, now) + timedelta(days=1),
                         SNOOZE_TOMORROW_AT)
    else:
        raise DomainError("followup.bad_snooze")
    fu.snoozed_until = until
    return fu


def complete_followup(session: Session, user: User, followup_id: int, now: datetime
                      ) -> FollowUp:
    """Mark a follow-up done; reminders not yet sent for it are cancelled."""
    fu = _own_followup(session, user, followup_id)
    fu.status = FollowUpStatus.DONE.value
    fu.done_at = now
    cancel_notices(session, reason_prefix=f"followup:{fu.id}:")
    return fu


def open_followups(session: Session, user: User, *, limit: int = 20) -> list[FollowUp]:
    """The user's open follow-ups, soonest first."""
    return list(session.scalars(
        select(FollowUp).where(FollowUp.user_id == user.id,
                               FollowUp.status == FollowUpStatus.OPEN.value)
        .order_by(func.coalesce(FollowUp.snoozed_until, FollowUp.due_at)).limit(limit)))


# The due sweep keeps a high-water mark in the database (core.models.derived.SweepMark,
# written in the sweep's own transaction): the time of its last run (every follow-up due by
# then was seen) and the highest follow-up id then. A run reads what fell due since (by the
# indexed due columns) and the follow-ups added since (by id), so a sweep that finds nothing
# new reads almost nothing. A full pass over DUE_LOOKBACK runs when there is no mark and
# every FULL_SWEEP_EVERY, for what the mark cannot see: a row whose transaction committed
# after a later one (PostgreSQL), a due date edited into the past, a clock stepping back.
FULL_SWEEP_EVERY = timedelta(minutes=10)
SWEEP_OVERLAP = timedelta(seconds=2)  # each run looks this far before its mark again
DUE_MARK = "followups.due"


@sweep("followups.due", every=timedelta(minutes=1))
def followups_due(session: Session, now: datetime) -> int:
    """Follow-ups (not meetings) whose time came: a reminder with snooze / done buttons.

    Reads only what fell due or was added since the last run (its SweepMark),
    with a full pass over DUE_LOOKBACK now and then; the notices' unique key makes a
    follow-up seen twice enqueue once."""
    mark = session.execute(select(SweepMark.seen_until, SweepMark.max_id, SweepMark.full_at)
                           .where(SweepMark.name == DUE_MARK)).first()
    full = mark is None or now - mark.full_at >= FULL_SWEEP_EVERY or now < mark.seen_until
    # Read the top id first: a follow-up committed after it has a higher id (seen by the
    # next run), one committed before it is visible to the reads below.
    top_id = session.scalar(select(func.max(FollowUp.id))) or 0
    since = now - DUE_LOOKBACK
    if not full and mark is not None:
        since = max(since, mark.seen_until - SWEEP_OVERLAP)
    fu: Any = FollowUp.__table__
    due = func.coalesce(fu.c.snoozed_until, fu.c.due_at)
    base = [fu.c.status == FollowUpStatus.OPEN.value, fu.c.kind.not_in(MEETING_KINDS)]
    # The effective due time is snoozed_until when set, else due_at: one read each, both
    # served by an index on (status, column).
    reads = [[*base, fu.c.snoozed_until.is_(None), fu.c.due_at <= now, fu.c.due_at > since],
             [*base, fu.c.snoozed_until <= now, fu.c.snoozed_until > since]]
    if not full and mark is not None and top_id > mark.max_id:
        reads.append([*base, fu.c.id > mark.max_id, due <= now, due > now - DUE_LOOKBACK])
    count = sum(_enqueue_due(session, where, now) for where in reads)
    _keep_mark(session, DUE_MARK, seen_until=now, max_id=top_id,
               full_at=now if full or mark is None else mark.full_at)
    return count


def _enqueue_due(session: Session, where: list[Any], now: datetime) -> int:
    """One INSERT ... SELECT ... ON CONFLICT (key) DO NOTHING: a "followup.due" notice for
    each follow-up matching `where`, keyed as enqueue_notice keys it
    ("u{user}|followup:{id}:due:{epoch seconds of the effective due time}"); returns how many
    were new. The rows never leave the database (10k in tens of milliseconds)."""
    fu: Any = FollowUp.__table__
    notices: Any = NoticeRow.__table__
    due = func.coalesce(fu.c.snoozed_until, fu.c.due_at)
    if session.get_bind().dialect.name == "postgresql":
        epoch: Any = cast(func.floor(func.extract("epoch", due)), BigInteger)
        params: Any = func.jsonb_build_object("followup_id", fu.c.id)
        insert: Any = pg_insert
    else:
        # Whole seconds, cut (not rounded, as strftime would): "YYYY-MM-DD HH:MM:SS.ffffff"
        epoch = cast(func.strftime("%s", func.substr(due, 1, 19)), Integer)
        params = func.json_object("followup_id", fu.c.id)
        insert = sqlite_insert
    key = (literal("u") + cast(fu.c.user_id, String) + literal("|followup:")
           + cast(fu.c.id, String) + literal(":due:") + cast(epoch, String))
    rows = select(fu.c.user_id, literal("followup.due"), key, params, literal(False), due,
                  literal(NoticeStatus.PENDING.value), literal(0),
                  literal(now, UTCDateTime())).where(*where)
    stmt = insert(notices).from_select(
        ["recipient_user_id", "kind", "key", "params", "urgent", "due_at", "status",
         "attempts", "created_at"], rows).on_conflict_do_nothing(index_elements=["key"])
    return len(session.execute(stmt.returning(notices.c.id)).all())


def _keep_mark(session: Session, name: str, *, seen_until: datetime, max_id: int,
               full_at: datetime) -> None:
    """Write a sweep's mark (an upsert: two schedulers may write it at once)."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    values = {"seen_until": seen_until, "max_id": max_id, "full_at": full_at}
    session.execute(insert(SweepMark).values(name=name, **values)
                    .on_conflict_do_update(index_elements=["name"], set_=values))


@sweep("followups.meeting_brief", every=timedelta(minutes=1))
def meeting_briefs(session: Session, now: datetime) -> int:
    """Meetings starting within 30 minutes: a reminder with the pre-visit brief (urgent:
    quiet hours do not hold it)."""
    rows = session.execute(
        select(FollowUp.id, FollowUp.user_id, FollowUp.due_at)
        .where(FollowUp.status == FollowUpStatus.OPEN.value,
               FollowUp.kind.in_(MEETING_KINDS),
               FollowUp.due_at > now, FollowUp.due_at <= now + BRIEF_BEFORE)).all()
    items = [dict(kind="followup.meeting",
                  reason=f"followup:{fid}:brief:{int(due_at.timestamp())}",
                  recipient_user_id=user_id, due_at=due_at - BRIEF_BEFORE, urgent=True,
                  params={"followup_id": fid}) for fid, user_id, due_at in rows]
    return enqueue_notices(session, items, now)


@dataclass
class Brief:
    """What a rep should know before meeting a customer."""

    company: Company | None
    contact: Contact | None
    last_activity: Activity | None = None
    open_deals: list[Deal] = field(default_factory=list)
    quotes: list[Quote] = field(default_factory=list)
    materials: list[MaterialSent] = field(default_factory=list)
    complaints: list[Complaint] = field(default_factory=list)


def pre_visit_brief(session: Session, fu: FollowUp) -> Brief:
    """Last contact, open deals and quotes, materials sent and open complaints."""
    brief = Brief(company=fu.company, contact=fu.contact)
    if fu.company_id is None:
        return brief
    cid = fu.company_id
    brief.last_activity = session.scalar(
        select(Activity).where(Activity.company_id == cid)
        .order_by(Activity.occurred_at.desc()).limit(1))
    brief.open_deals = list(session.scalars(
        select(Deal).where(Deal.company_id == cid,
                           Deal.stage.in_([s.value for s in OPEN_STAGES]))
        .order_by(Deal.amount.desc()).limit(5)))
    brief.quotes = list(session.scalars(
        select(Quote).where(Quote.company_id == cid,
                            Quote.status.in_(("draft", "pending", "sent")))
        .order_by(Quote.updated_at.desc()).limit(3)))
    brief.materials = list(session.scalars(
        select(MaterialSent).where(MaterialSent.company_id == cid)
        .order_by(MaterialSent.sent_at.desc()).limit(3)))
    brief.complaints = list(session.scalars(
        select(Complaint).where(Complaint.company_id == cid, Complaint.status == "open")
        .order_by(Complaint.created_at.desc()).limit(3)))
    return brief


# -- the morning plan ------------------------------------------------------------------------
@dataclass
class Plan:
    day: date
    meetings: list[FollowUp]
    due_today: list[FollowUp]
    overdue: list[FollowUp]
    approvals: int = 0  # requests waiting for this manager's decision

    @property
    def empty(self) -> bool:
        return not (self.meetings or self.due_today or self.overdue or self.approvals)


def morning_plan(session: Session, user: User, now: datetime) -> Plan:
    """Today's meetings, follow-ups due today and overdue ones, in the user's own day."""
    day = local_date(user.timezone, now)
    start = local_at(user.timezone, day, time(0, 0))
    end = local_at(user.timezone, day + timedelta(days=1), time(0, 0))
    due = func.coalesce(FollowUp.snoozed_until, FollowUp.due_at)
    rows = list(session.scalars(
        select(FollowUp).where(FollowUp.user_id == user.id,
                               FollowUp.status == FollowUpStatus.OPEN.value, due < end)
        .order_by(due).limit(60)))
    meetings = [f for f in rows if f.kind in MEETING_KINDS and effective_due(f) >= start]
    today = [f for f in rows if f.kind not in MEETING_KINDS and effective_due(f) >= start]
    overdue = [f for f in rows if effective_due(f) < start]
    return Plan(day, meetings, today, overdue, count_waiting(session, user))


@sweep("followups.morning_plan", every=timedelta(minutes=5))
def morning_plans(session: Session, now: datetime) -> int:
    """At 07:30 local time, each active rep and manager with something planned gets it."""
    users = session.scalars(select(User).where(
        User.active, User.role.in_((Role.REP.value, Role.MANAGER.value)))).all()
    candidates = []
    for user in users:
        day = local_date(user.timezone, now)
        at = local_at(user.timezone, day, MORNING_PLAN_AT)
        if at <= now < local_at(user.timezone, day, MORNING_PLAN_UNTIL):
            candidates.append((user, day, at))
    if not candidates:
        return 0
    existing = existing_keys(session, [notice_key(f"morning:{day.isoformat()}", user_id=u.id)
                                        for u, day, _ in candidates])
    count = 0
    for user, day, at in candidates:
        reason = f"morning:{day.isoformat()}"
        if notice_key(reason, user_id=user.id) in existing:
            continue
        if morning_plan(session, user, now).empty:
            continue
        if enqueue_notice(session, kind="followup.morning", reason=reason,
                          recipient_user_id=user.id, due_at=at, now=now,
                          params={"day": day.isoformat()}):
            count += 1
    return count


# -- thank-you notes -------------------------------------------------------------------------
@sweep("followups.thanks", every=timedelta(minutes=10))
def thank_you_notes(session: Session, now: datetime) -> int:
    """A deal reached Order placed: the owner gets a thank-you note to send the customer."""
    rows = session.execute(
        select(Deal.id, Deal.owner_id).join(DealStageChange, DealStageChange.deal_id == Deal.id)
        .where(DealStageChange.to_stage == Stage.ORDER_PLACED.value,
               DealStageChange.at > now - THANKS_WITHIN, DealStageChange.at <= now,
               Deal.stage == Stage.ORDER_PLACED.value, Deal.owner_id.is_not(None))).all()
    items = [dict(kind="followup.thanks", reason=f"deal:{deal_id}:thanks",
                  recipient_user_id=owner_id, due_at=now, params={"deal_id": deal_id})
             for deal_id, owner_id in set(rows)]
    return enqueue_notices(session, items, now)


# -- customer message drafts -----------------------------------------------------------------
def record_customer_message(session: Session, user: User, *, kind: str, company_id: int,
                            text: str, now: datetime, contact_id: int | None = None,
                            ref_id: int | None = None) -> tuple[CustomerMessage, bool]:
    """Record that the rep sent a drafted message to the customer; (row, False) when that
    message was recorded before (a second press)."""
    existing = session.scalar(select(CustomerMessage).where(
        CustomerMessage.kind == kind, CustomerMessage.ref_id == ref_id,
        CustomerMessage.company_id == company_id, CustomerMessage.text == text))
    if existing is not None and existing.sent_at is not None:
        return existing, False
    message = existing or CustomerMessage(kind=kind, ref_id=ref_id, company_id=company_id,
                                          contact_id=contact_id, user_id=user.id, text=text,
                                          created_at=now)
    message.sent_at = now
    session.add(message)
    session.add(Activity(user_id=user.id, company_id=company_id, contact_id=contact_id,
                         kind="email", outcome=f"{kind}_sent", notes=text[:2000],
                         occurred_at=now, created_at=now))
    return message, True

