"""Field-service rules on a real database: eligibility, ranking, the time-out chain with an
injected clock, escalation, late accepts, two managers assigning at once, the status flow,
the route, delays, installation jobs and the CSV import."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import fieldservice as fs
from core import job_status, technicians
from core.clock import ManualClock
from core.db import Database
from core.demo import DemoWorld
from core.errors import Conflict, DomainError, NotFound
from core.models import Company, Deal, NoticeRow, User
from core.models.fieldservice import JobOffer, ServiceJob, TechnicianProfile


def user(session: Session, login: str) -> User:
    found = session.scalar(select(User).where(User.login == login))
    assert found is not None
    return found


def sinar(session: Session) -> Company:
    found = session.scalar(select(Company).where(Company.name == "Sinar Jaya Abadi"))
    assert found is not None
    return found


def new_job(session: Session, now: datetime, *, skill: str = "repair", priority: int = 1,
            creator: str = "maya", company: Company | None = None) -> ServiceJob:
    return fs.create_job(session, company=company or sinar(session), skill=skill,
                         priority=priority, description="Server down", now=now,
                         created_by=user(session, creator))


def names(candidates: list[technicians.Candidate]) -> list[str]:
    return [c.name.split()[0] for c in candidates]


def give_jobs(session: Session, login: str, count: int, now: datetime) -> None:
    tech = user(session, login)
    for _ in range(count):
        job = new_job(session, now, priority=4)
        job.status, job.technician_id = "assigned", tech.id
    session.flush()


def test_haversine_and_night_shift() -> None:
    # Jakarta to Bandung is about 120 km as the crow flies.
    assert 110 < technicians.haversine_km(-6.2088, 106.8456, -6.9175, 107.6191) < 130
    night = TechnicianProfile(shift_start_min=22 * 60, shift_end_min=6 * 60, work_days="0")
    monday_23 = datetime.fromisoformat("2026-03-02T23:00:00+07:00")
    tuesday_05 = datetime.fromisoformat("2026-03-03T05:00:00+07:00")
    tuesday_23 = datetime.fromisoformat("2026-03-03T23:00:00+07:00")
    assert technicians.on_shift(night, "Asia/Jakarta", monday_23)
    # Monday's shift, after midnight
    assert technicians.on_shift(night, "Asia/Jakarta", tuesday_05)
    assert not technicians.on_shift(night, "Asia/Jakarta", tuesday_23)


def test_ranking_by_distance_then_load(database: Database, world: DemoWorld,
                                       clock: ManualClock) -> None:
    now = clock.now()
    with database.session() as session:
        job = new_job(session, now)
        ranked = technicians.rank_technicians(session, job, now)
        assert names(ranked) == ["Tono", "Agus"]  # wayan covers Java East only
        assert ranked[0].distance_km is not None and ranked[0].distance_km < 1
        assert ranked[1].distance_km is not None and 8 < ranked[1].distance_km < 12
        give_jobs(session, "tono", 2, now)  # 3 jobs: 15 km of penalty, more than 10 km
        ranked = technicians.rank_technicians(session, job, now)
        assert names(ranked) == ["Agus", "Tono"]
        assert ranked[1].load == 3


def test_eligibility_skill_territory_shift_cap_active(database: Database, world: DemoWorld,
                                                      clock: ManualClock) -> None:
    now = clock.now()
    with database.session() as session:
        assert names(technicians.rank_technicians(session, new_job(session, now, skill="network"),
                                                  now)) == ["Tono"]
        assert names(technicians.rank_technicians(session, new_job(session, now, skill="hvac"),
                                                  now)) == ["Agus"]
        job = new_job(session, now)
        # 16:30 in Jakarta: agus's shift (07-16) is over, tono's (08-17) is not.
        late = now + timedelta(hours=7, minutes=30)
        assert names(technicians.rank_technicians(session, job, late)) == ["Tono"]
        sunday = now + timedelta(days=6)
        assert technicians.rank_technicians(session, job, sunday) == []
        everyone = technicians.rank_technicians(session, job, sunday, eligible_only=False)
        assert names(everyone) == ["Tono", "Agus"] and not any(c.eligible for c in everyone)
        give_jobs(session, "tono", 3, now)  # cap 4 reached
        assert names(technicians.rank_technicians(session, job, now)) == ["Agus"]
        user(session, "agus").active = False
        session.flush()
        assert technicians.rank_technicians(session, job, now) == []
        assert fs.dispatch(session, job, now) is None
        assert job.status == "escalated"


def test_timeout_chain_then_escalation(database: Database, world: DemoWorld,
                                       clock: ManualClock) -> None:
    start = clock.now()
    with database.session() as session:
        job = new_job(session, start, priority=1)
        first = fs.dispatch(session, job, start)
        assert first is not None and first.technician_id == user(session, "tono").id
        assert first.expires_at == start + timedelta(minutes=5)
        job_id = job.id
    clock.advance(minutes=4)
    with database.session() as session:
        assert fs.expire_offers(session, clock.now()) == 0
    clock.advance(minutes=1)
    with database.session() as session:
        assert fs.expire_offers(session, clock.now()) == 1
        second = fs.pending_offer(session, job_id)
        assert second is not None and second.technician_id == user(session, "agus").id
        assert second.rank == 2
    clock.advance(minutes=5)
    with database.session() as session:
        assert fs.expire_offers(session, clock.now()) == 1
        job = session.get(ServiceJob, job_id)
        assert job is not None and job.status == "escalated"
        told = set(session.scalars(select(NoticeRow.recipient_user_id).where(
            NoticeRow.kind == "job.escalation")))
        assert told == {user(session, "maya").id}
        offers = session.scalars(select(JobOffer.status).where(JobOffer.job_id == job_id)
                                 .order_by(JobOffer.id)).all()
        assert offers == ["expired", "expired"]
        assert fs.expire_offers(session, clock.now()) == 0  # nothing twice


def test_low_priority_waits_longer(database: Database, world: DemoWorld,
                                   clock: ManualClock) -> None:
    now = clock.now()
    with database.session() as session:
        offer = fs.dispatch(session, new_job(session, now, priority=4), now)
        assert offer is not None and offer.expires_at - now == timedelta(minutes=60)
        assert fs.expire_offers(session, now + timedelta(minutes=59)) == 0
        assert fs.expire_offers(session, now + timedelta(minutes=60)) == 1


def test_decline_and_late_accept(database: Database, world: DemoWorld,
                                 clock: ManualClock) -> None:
    now = clock.now()
    with database.session() as session:
        job = new_job(session, now)
        offer = fs.dispatch(session, job, now)
        assert offer is not None
        tono, agus = user(session, "tono"), user(session, "agus")
        with pytest.raises(NotFound):  # not agus's offer
            fs.accept_offer(session, offer_id=offer.id, user=agus, eta_minutes=30, now=now)
        nxt = fs.decline_offer(session, offer_id=offer.id, user=tono, now=now)
        assert nxt is not None and nxt.technician_id == agus.id
        with pytest.raises(Conflict) as late:  # tono changes his mind: too late
            fs.accept_offer(session, offer_id=offer.id, user=tono, eta_minutes=30, now=now)
        assert late.value.code == "job.offer_gone"
        # An offer past its time-out is refused even before the sweep has run.
        with pytest.raises(Conflict):
            fs.accept_offer(session, offer_id=nxt.id, user=agus, eta_minutes=30,
                            now=now + timedelta(minutes=5))
        accepted = fs.accept_offer(session, offer_id=nxt.id, user=agus, eta_minutes=60,
                                   now=now + timedelta(minutes=1))
        assert accepted.technician_id == agus.id and accepted.status == "assigned"
        assert accepted.eta_at == now + timedelta(minutes=61)
        with pytest.raises(Conflict) as again:
            fs.accept_offer(session, offer_id=nxt.id, user=agus, eta_minutes=30, now=now)
        assert again.value.code == "job.offer_already_accepted"


def test_two_managers_assign_at_once_one_wins(database: Database, world: DemoWorld,
                                              clock: ManualClock) -> None:
    now = clock.now()
    with database.session() as session:
        job = new_job(session, now, creator="admin")
        job.status = "escalated"
        job_id = job.id
        ids = {login: user(session, login).id for login in ("maya", "admin", "tono", "agus")}
    barrier = threading.Barrier(2)
    results: dict[str, str] = {}

    def assign(manager: str, tech: str) -> None:
        barrier.wait()
        try:
            with database.session() as session:
                fs.assign_job(session, job_id=job_id, technician_id=ids[tech],
                              by=session.get(User, ids[manager]), now=now)  # type: ignore[arg-type]
            results[manager] = "won"
        except Conflict as exc:
            results[manager] = exc.code

    threads = [threading.Thread(target=assign, args=a) for a in (("maya", "tono"),
                                                                 ("admin", "agus"))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert sorted(results.values()) == ["job.already_assigned", "won"]
    winner = next(m for m, r in results.items() if r == "won")
    with database.session() as session:
        job = session.get(ServiceJob, job_id)
        assert job is not None and job.assigned_by_id == ids[winner]
        assert job.technician_id == ids["tono" if winner == "maya" else "agus"]
        assert session.scalar(select(NoticeRow.recipient_user_id).where(
            NoticeRow.kind == "job.assigned")) == job.technician_id


def test_status_flow(database: Database, world: DemoWorld, clock: ManualClock) -> None:
    now = clock.now()
    with database.session() as session:
        job = new_job(session, now)
        offer = fs.dispatch(session, job, now)
        assert offer is not None
        tono, agus = user(session, "tono"), user(session, "agus")
        with pytest.raises(DomainError):  # not on site yet
            job_status.complete_job(session, job_id=job.id, user=tono, notes="x", parts=[],
                                    now=now)
        fs.accept_offer(session, offer_id=offer.id, user=tono, eta_minutes=30, now=now)
        with pytest.raises(NotFound):
            job_status.start_travel(session, job_id=job.id, user=agus, now=now)
        job_status.start_travel(session, job_id=job.id, user=tono, now=now)
        assert job.status == "en_route"
        lat, lon = job.site_lat, job.site_lon
        assert lat is not None and lon is not None
        with pytest.raises(DomainError) as far:
            job_status.arrive(session, job_id=job.id, user=tono, lat=lat + 0.05, lon=lon, now=now)
        assert far.value.code == "job.too_far"
        job_status.arrive(session, job_id=job.id, user=tono, lat=lat + 0.002, lon=lon,
                          now=now + timedelta(minutes=25))
        assert job.status == "on_site" and tono.last_lat == lat + 0.002
        with pytest.raises(DomainError):
            job_status.complete_job(session, job_id=job.id, user=tono, notes=" ", parts=[],
                                    now=now)
        job_status.complete_job(session, job_id=job.id, user=tono, notes="Fixed", now=now,
                        parts=job_status.parse_parts("2x fuse, cable tie"),
                        photo=("a.jpg", "image/jpeg", b"jpg"))
        assert job.status == "done" and job.parts[0] == {"qty": 2, "item": "fuse"}
        told = set(session.scalars(select(NoticeRow.recipient_user_id).where(
            NoticeRow.kind == "job.completed")))
        assert user(session, "maya").id in told and sinar(session).owner_id in told
        with pytest.raises(Conflict):
            job_status.cannot_complete(session, job_id=job.id, user=tono, reason="late", now=now)

        other = new_job(session, now)
        fs.assign_job(session, job_id=other.id, technician_id=agus.id,
                      by=user(session, "maya"), now=now)
        with pytest.raises(DomainError):
            job_status.cannot_complete(session, job_id=other.id, user=agus, reason="", now=now)
        job_status.cannot_complete(session, job_id=other.id, user=agus, reason="Part missing",
                                   now=now)
        assert other.status == "cannot_complete"
        assert session.scalar(select(NoticeRow.id).where(
            NoticeRow.kind == "job.cannot_complete")) is not None


def test_route_today_windows_first_then_nearest(database: Database, world: DemoWorld,
                                                clock: ManualClock) -> None:
    now = clock.now()
    with database.session() as session:
        tono = user(session, "tono")
        for job in session.scalars(select(ServiceJob).where(ServiceJob.technician_id == tono.id)):
            job.status = "done"
        base = sinar(session)
        lat, lon = base.lat or 0.0, base.lon or 0.0

        def job_at(km_north: float, window: tuple[int, int] | None) -> int:
            w = (now + timedelta(hours=window[0]), now + timedelta(hours=window[1])) \
                if window else (now + timedelta(days=5), now + timedelta(days=6))
            job = fs.create_job(session, company=base, skill="repair", priority=3,
                                description="Route test", now=now, window=w,
                                site=("x", lat + km_north / 111.0, lon))
            job.status, job.technician_id = "assigned", tono.id
            if window is None:  # no time constraint today
                job.window_start = None
            return job.id

        far_free = job_at(20, None)
        late_window = job_at(15, (4, 6))
        early_window = job_at(30, (1, 2))
        near_free = job_at(16, None)
        tomorrow = job_at(1, (25, 27))
        session.flush()
        route = [j.id for j in fs.route_for_today(session, tono, now)]
        assert route == [early_window, late_window, near_free, far_free]
        assert tomorrow not in route


def test_running_late_notes_a_delay_once(database: Database, world: DemoWorld,
                                         clock: ManualClock) -> None:
    now = clock.now()
    with database.session() as session:
        job = new_job(session, now, priority=1)
        offer = fs.dispatch(session, job, now)
        assert offer is not None
        tono = user(session, "tono")
        fs.accept_offer(session, offer_id=offer.id, user=tono, eta_minutes=60, now=now)
        assert not job_status.is_late(job, now)
        assert job_status.note_late_jobs(session, now + timedelta(hours=3)) == 0
        # The P1 window (4 h) ends; nobody on site yet: the sweep notes it once (and the
        # demo job of agus whose window also ended).
        assert job_status.note_late_jobs(session, now + timedelta(hours=4, minutes=1)) == 2
        assert job.delay_noted_at == now + timedelta(hours=4, minutes=1)
        assert job_status.note_late_jobs(session, now + timedelta(hours=4, minutes=2)) == 0
        rows = session.scalars(select(NoticeRow).where(NoticeRow.kind == "job.delay")).all()
        assert {r.recipient_user_id for r in rows} >= {user(session, "maya").id}


def test_installation_job_once_per_deal(database: Database, world: DemoWorld,
                                        clock: ManualClock) -> None:
    now = clock.now()
    with database.session() as session:
        company = sinar(session)
        deal = Deal(title="10 access points for the new plant", company_id=company.id,
                    stage="order_placed", facts={"order_ref": "PO-7781"}, created_at=now,
                    updated_at=now, owner_id=company.owner_id)
        session.add(deal)
        session.flush()
        job = fs.create_installation_job(session, deal, now)
        assert job.kind == "installation" and job.deal_id == deal.id
        assert job.equipment == "PO-7781" and job.status == "offered"
        assert fs.create_installation_job(session, deal, now).id == job.id


def test_import_jobs_csv(database: Database, world: DemoWorld, clock: ManualClock) -> None:
    now = clock.now()
    data = (
        "company,skill,priority,description,equipment,external_id,window_start,window_end\n"
        "Sinar Jaya Abadi,repair,P2,Printer jammed,HP M404,J-1,,\n"
        "Sinar Jaya Abadi,plumbing,3,Leak,,J-2,,\n"
        "No Such Company,repair,3,Broken,,J-3,,\n"
        "Sinar Jaya Abadi,hvac,4,AC service,,J-4,2026-03-03T09:00:00+07:00,"
        "2026-03-03T12:00:00+07:00\n"
        "Sinar Jaya Abadi,repair,X,Bad priority,,J-5,,\n"
    )
    with database.session() as session:
        result = fs.import_jobs(session, data, now=now)
        assert len(result.created) == 2 and result.skipped == 0
        assert [(line, code) for line, code, _ in result.errors] == [
            (3, "job.bad_skill"), (4, "job.import_company"), (6, "job.import_value")]
        jobs = session.scalars(select(ServiceJob).where(ServiceJob.external_id.in_(
            ["J-1", "J-4"])).order_by(ServiceJob.external_id)).all()
        assert [j.status for j in jobs] == ["offered", "offered"]
        assert jobs[1].window_start == datetime.fromisoformat("2026-03-03T09:00:00+07:00")
        again = fs.import_jobs(session, data, now=now)
        assert again.created == [] and again.skipped == 2
        with pytest.raises(DomainError):
            fs.import_jobs(session, "company,skill\nx,y\n", now=now)
