"""Follow-up rules: local times across DST, snooze, sweeps, complaints with
SLA escalation, deliveries and thank-you notes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select, update

from core import complaints, deliveries
from core import followups as svc
from core.db import Database
from core.demo import DemoWorld
from core.errors import Conflict, DomainError, NotFound
from core.models import (
    Company,
    Deal,
    DealStageChange,
    FollowUp,
    NoticeRow,
    Stage,
    User,
)
from core.models.scheduling import Complaint

NY = "America/New_York"


def _user(session, login: str) -> User:
    user = session.scalar(select(User).where(User.login == login))
    assert user is not None
    return user


def _notices(session, kind: str) -> list[NoticeRow]:
    return list(session.scalars(select(NoticeRow).where(NoticeRow.kind == kind)
                                .order_by(NoticeRow.id)))


def _company_of(session, user: User) -> Company:
    from core.scope import company_visible

    company = session.scalar(select(Company).where(company_visible(session, user))
                             .order_by(Company.id).limit(1))
    assert company is not None
    return company


@pytest.fixture
def clean(database: Database, world: DemoWorld) -> Database:
    with database.session() as session:
        session.execute(update(FollowUp).values(status="cancelled"))
        session.execute(update(NoticeRow).values(status="cancelled"))
    return database


def test_local_times_follow_dst() -> None:
    # New York moves to summer time on Sunday 8 March 2026.
    assert svc.local_at(NY, date(2026, 3, 7), time(7, 30)) == datetime(2026, 3, 7, 12, 30,
                                                                       tzinfo=UTC)
    assert svc.local_at(NY, date(2026, 3, 9), time(7, 30)) == datetime(2026, 3, 9, 11, 30,
                                                                       tzinfo=UTC)
    assert svc.local_at("Asia/Jakarta", date(2026, 3, 2), time(7, 30)) == datetime(
        2026, 3, 2, 0, 30, tzinfo=UTC)


def test_snooze_done_and_ownership(clean: Database) -> None:
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    with clean.session() as s:
        budi, andi = _user(s, "budi"), _user(s, "andi")
        fu = FollowUp(user_id=budi.id, kind="follow_up", note="x", due_at=now, status="open",
                      created_at=now)
        s.add(fu)
        s.flush()
        assert svc.snooze_followup(s, budi, fu.id, "1h", now).snoozed_until == now + timedelta(
            hours=1)
        tomorrow = svc.snooze_followup(s, budi, fu.id, "tomorrow", now).snoozed_until
        assert tomorrow == datetime(2026, 3, 3, 2, 0, tzinfo=UTC)  # 09:00 Jakarta
        with pytest.raises(DomainError):
            svc.snooze_followup(s, budi, fu.id, "forever", now)
        with pytest.raises(NotFound):
            svc.snooze_followup(s, andi, fu.id, "1h", now)
        svc.complete_followup(s, budi, fu.id, now)
        with pytest.raises(Conflict):
            svc.complete_followup(s, budi, fu.id, now)


def test_due_sweep_is_idempotent_and_follows_snoozes(clean: Database) -> None:
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    with clean.session() as s:
        budi = _user(s, "budi")
        due = FollowUp(user_id=budi.id, kind="follow_up", due_at=now - timedelta(minutes=1),
                       status="open", created_at=now)
        later = FollowUp(user_id=budi.id, kind="follow_up", due_at=now + timedelta(minutes=5),
                         status="open", created_at=now)
        ancient = FollowUp(user_id=budi.id, kind="follow_up", due_at=now - timedelta(days=3),
                           status="open", created_at=now)
        s.add_all([due, later, ancient])
    with clean.session() as s:
        assert svc.followups_due(s, now) == 1
        assert svc.followups_due(s, now) == 0
        assert svc.followups_due(s, now + timedelta(minutes=5)) == 1
    with clean.session() as s:
        budi = _user(s, "budi")
        svc.snooze_followup(s, budi, due.id, "1h", now)
    with clean.session() as s:
        assert svc.followups_due(s, now + timedelta(minutes=30)) == 0
        assert svc.followups_due(s, now + timedelta(hours=1)) == 1
        keys = [n.key for n in _notices(s, "followup.due")]
    assert len(keys) == 3 and len(set(keys)) == 3


def test_meeting_brief_thirty_minutes_before_and_urgent(clean: Database,
                                                        world: DemoWorld) -> None:
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    with clean.session() as s:
        budi = _user(s, "budi")
        company = _company_of(s, budi)
        meeting = FollowUp(user_id=budi.id, company_id=company.id, kind="meeting",
                           due_at=now + timedelta(minutes=45), status="open", created_at=now)
        s.add(meeting)
        s.flush()
        assert svc.meeting_briefs(s, now) == 0
        assert svc.meeting_briefs(s, now + timedelta(minutes=15)) == 1
        notice = _notices(s, "followup.meeting")[0]
        assert notice.urgent and notice.due_at == now + timedelta(minutes=15)
        brief = svc.pre_visit_brief(s, meeting)
        assert brief.company is not None and brief.company.id == company.id
        # The due sweep leaves meetings to the brief.
        assert svc.followups_due(s, now + timedelta(hours=1)) == 0


def test_morning_plan_at_seven_thirty_local_across_dst(clean: Database) -> None:
    with clean.session() as s:
        budi = _user(s, "budi")
        budi.timezone = NY
        s.add(FollowUp(user_id=budi.id, kind="follow_up", note="call",
                       due_at=datetime(2026, 3, 9, 15, 0, tzinfo=UTC), status="open",
                       created_at=datetime(2026, 3, 1, tzinfo=UTC)))
    with clean.session() as s:
        # Monday 9 March 2026 (EDT): 07:29 local is 11:29 UTC.
        assert svc.morning_plans(s, datetime(2026, 3, 9, 11, 29, tzinfo=UTC)) == 0
        assert svc.morning_plans(s, datetime(2026, 3, 9, 11, 30, tzinfo=UTC)) == 1
        assert svc.morning_plans(s, datetime(2026, 3, 9, 11, 35, tzinfo=UTC)) == 0
        notice = _notices(s, "followup.morning")[0]
        assert notice.due_at == datetime(2026, 3, 9, 11, 30, tzinfo=UTC)
        plan = svc.morning_plan(s, _user(s, "budi"), notice.due_at)
        assert plan.day == date(2026, 3, 9) and len(plan.due_today) == 1
    with clean.session() as s:
        # Saturday 7 March (EST): 07:30 local is 12:30 UTC; the follow-up is then upcoming,
        # so nothing is planned that day and no plan is sent.
        assert svc.morning_plans(s, datetime(2026, 3, 7, 12, 30, tzinfo=UTC)) == 0


def test_complaint_gets_owner_reminder_and_escalates_once(clean: Database) -> None:
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    with clean.session() as s:
        budi, andi = _user(s, "budi"), _user(s, "andi")
        company = _company_of(s, budi)
        c = complaints.register_complaint(s, budi, company_id=company.id,
                                          issue="Printer arrived broken",
                                          severity="critical", now=now, owner_id=andi.id)
        assert c.sla_due_at == now + timedelta(hours=4)
        fu = s.get(FollowUp, c.follow_up_id)
        assert fu is not None and fu.user_id == andi.id and fu.due_at == now + timedelta(hours=2)
        assigned = _notices(s, "complaint.assigned")
        assert [n.recipient_user_id for n in assigned] == [andi.id] and assigned[0].urgent
        cid = c.id
    with clean.session() as s:
        assert complaints.escalate_complaints(s, now + timedelta(hours=3)) == 0
        assert complaints.escalate_complaints(s, now + timedelta(hours=4)) == 1
        assert complaints.escalate_complaints(s, now + timedelta(hours=5)) == 0
        maya = _user(s, "maya")
        assert [n.recipient_user_id for n in _notices(s, "complaint.escalation")] == [maya.id]
    with clean.session() as s, pytest.raises(DomainError):
        complaints.resolve_complaint(s, _user(s, "budi"), cid, "", now)
    with clean.session() as s, pytest.raises(DomainError):  # someone from another team
        complaints.resolve_complaint(s, _user(s, "dewi"), cid, "Replaced it", now)
    with clean.session() as s:
        resolved = complaints.resolve_complaint(s, _user(s, "maya"), cid,
                                                "Replaced the printer", now)
        assert resolved.status == "resolved"
        assert s.get(FollowUp, resolved.follow_up_id).status == "done"


def test_complaint_input_is_checked(clean: Database) -> None:
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    with clean.session() as s:
        budi = _user(s, "budi")
        company = _company_of(s, budi)
        for kwargs, code in ((dict(issue="x", severity="low"), "complaint.bad_issue"),
                             (dict(issue="Late", severity="urgent"), "complaint.bad_severity")):
            with pytest.raises(DomainError) as err:
                complaints.register_complaint(s, budi, company_id=company.id, now=now, **kwargs)
            assert err.value.code == code
        # A company outside the rep's territories is "not found".
        dewi = _user(s, "dewi")
        theirs = _company_of(s, dewi)
        with pytest.raises(NotFound):
            complaints.register_complaint(s, budi, company_id=theirs.id, issue="Late",
                                          severity="low", now=now)
        assert s.scalar(select(Complaint.id)) is None


def test_delivery_reminder_day_before_and_after_delay(clean: Database) -> None:
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    with clean.session() as s:
        budi = _user(s, "budi")
        company = _company_of(s, budi)
        with pytest.raises(DomainError):
            deliveries.schedule_delivery(s, budi, company_id=company.id, description="Servers",
                                         when=now - timedelta(hours=1), now=now)
        d = deliveries.schedule_delivery(s, budi, company_id=company.id, description="Servers",
                                         when=now + timedelta(days=3), now=now)
        did = d.id
    with clean.session() as s:
        assert deliveries.delivery_reminders(s, now + timedelta(days=1)) == 0
        assert deliveries.delivery_reminders(s, now + timedelta(days=2)) == 1
        assert deliveries.delivery_reminders(s, now + timedelta(days=2, hours=1)) == 0
        budi = _user(s, "budi")
        with pytest.raises(DomainError):
            deliveries.delay_delivery(s, budi, did, new_when=now + timedelta(days=1), reason="",
                                      now=now)
        d = deliveries.delay_delivery(s, budi, did, new_when=now + timedelta(days=5),
                                      reason="Customs", now=now + timedelta(days=2))
        assert d.original_for == now + timedelta(days=3) and d.status == "delayed"
    with clean.session() as s:
        assert deliveries.delivery_reminders(s, now + timedelta(days=4, hours=1)) == 1
        assert len(_notices(s, "delivery.upcoming")) == 2


def test_thank_you_note_after_order_placed(clean: Database) -> None:
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    with clean.session() as s:
        budi = _user(s, "budi")
        company = _company_of(s, budi)
        deal = Deal(title="20 laptops", company_id=company.id, owner_id=budi.id,
                    stage=Stage.ORDER_PLACED.value, created_at=now, updated_at=now)
        s.add(deal)
        s.flush()
        s.add(DealStageChange(deal_id=deal.id, user_id=budi.id, from_stage="solution",
                              to_stage="order_placed", at=now))
    with clean.session() as s:
        assert svc.thank_you_notes(s, now + timedelta(minutes=10)) == 1
        assert svc.thank_you_notes(s, now + timedelta(minutes=20)) == 0
        assert svc.thank_you_notes(s, now + timedelta(days=4)) == 0
        budi = _user(s, "budi")
        msg, new = svc.record_customer_message(s, budi, kind="thanks", company_id=company.id,
                                               text="Thank you", now=now, ref_id=deal.id)
        assert new and msg.sent_at == now
        _, again = svc.record_customer_message(s, budi, kind="thanks", company_id=company.id,
                                               text="Thank you", now=now, ref_id=deal.id)
        assert not again
