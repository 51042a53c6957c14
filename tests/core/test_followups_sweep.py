"""The due sweep's high-water mark (issue 23): a run reads what fell due or was added since
the last one, a full pass now and then catches what the mark cannot see, the notices it
makes in SQL are keyed exactly as enqueue_notice keys them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from core import followups as svc
from core import users as user_service
from core.db import Database
from core.models import FollowUp, NoticeRow, User
from core.models.derived import SweepMark
from core.notices import notice_key

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def rep(database: Database) -> int:
    with database.session() as s:
        user: User = user_service.add_user(s, login="budi", name="Budi", role="rep", now=NOW)
        return user.id


def _follow_up(database: Database, user_id: int, due: datetime, **values: object) -> int:
    with database.session() as s:
        fu = FollowUp(user_id=user_id, kind="follow_up", due_at=due, status="open",
                      created_at=NOW, **values)
        s.add(fu)
        s.flush()
        return fu.id


def _sweep(database: Database, now: datetime) -> int:
    with database.session() as s:
        return svc.followups_due(s, now)


def test_keys_and_params_made_in_sql_match_enqueue_notice(database: Database,
                                                          rep: int) -> None:
    plain = _follow_up(database, rep, NOW - timedelta(minutes=3, microseconds=654_321))
    snoozed_to = NOW - timedelta(seconds=7, microseconds=1)
    snoozed = _follow_up(database, rep, NOW - timedelta(hours=2), snoozed_until=snoozed_to)
    assert _sweep(database, NOW) == 2
    with database.session() as s:
        rows = {n.params["followup_id"]: n for n in s.scalars(select(NoticeRow))}
    for fid, when in ((plain, NOW - timedelta(minutes=3, microseconds=654_321)),
                      (snoozed, snoozed_to)):
        notice = rows[fid]
        assert notice.key == notice_key(f"followup:{fid}:due:{int(when.timestamp())}",
                                        user_id=rep)
        assert notice.params == {"followup_id": fid}
        assert (notice.kind, notice.status, notice.urgent, notice.attempts) == (
            "followup.due", "pending", False, 0)
        assert notice.due_at == when and notice.recipient_user_id == rep
        assert notice.created_at == NOW


def test_a_run_reads_from_its_mark_and_finds_late_additions(database: Database,
                                                            rep: int) -> None:
    _follow_up(database, rep, NOW - timedelta(minutes=1))
    assert _sweep(database, NOW) == 1
    with database.session() as s:
        mark = s.get(SweepMark, svc.DUE_MARK)
        assert mark is not None and mark.seen_until == NOW
    assert _sweep(database, NOW + timedelta(seconds=30)) == 0
    # Added after the last run with a due time before its mark: found by its id.
    late = _follow_up(database, rep, NOW - timedelta(minutes=5))
    assert _sweep(database, NOW + timedelta(minutes=1)) == 1
    # Falls due between two runs: found by its due time.
    _follow_up(database, rep, NOW + timedelta(minutes=1, seconds=30))
    assert _sweep(database, NOW + timedelta(minutes=2)) == 1
    assert _sweep(database, NOW + timedelta(minutes=2)) == 0
    with database.session() as s:
        assert {n.params["followup_id"] for n in s.scalars(select(NoticeRow))} >= {late}


def test_what_the_mark_cannot_see_the_full_pass_finds(database: Database, rep: int) -> None:
    _follow_up(database, rep, NOW - timedelta(minutes=1))
    assert _sweep(database, NOW) == 1
    # A row that committed after a later one (PostgreSQL): an id below the mark's, due
    # before it. Plain SQL, as another process would write it.
    with database.engine.begin() as conn:
        top = conn.execute(select(FollowUp.id).order_by(FollowUp.id.desc())).scalar()
        conn.execute(insert(FollowUp).values(
            id=(top or 0) + 50, user_id=rep, kind="follow_up", due_at=NOW - timedelta(hours=1),
            status="open", created_at=NOW))
    with database.session() as s:  # the mark claims a higher id than that row's
        mark = s.get(SweepMark, svc.DUE_MARK)
        assert mark is not None
        mark.max_id = (top or 0) + 100
    assert _sweep(database, NOW + timedelta(minutes=1)) == 0  # not seen by the mark
    assert _sweep(database, NOW + svc.FULL_SWEEP_EVERY) == 1  # the full pass


def test_a_rolled_back_run_leaves_the_mark_where_it_was(database: Database, rep: int) -> None:
    _follow_up(database, rep, NOW - timedelta(minutes=1))
    with pytest.raises(RuntimeError), database.session() as s:
        assert svc.followups_due(s, NOW) == 1
        raise RuntimeError("the scheduler's transaction fails after the sweep")
    with database.session() as s:
        assert s.get(SweepMark, svc.DUE_MARK) is None
        assert not list(s.scalars(select(NoticeRow)))
    assert _sweep(database, NOW + timedelta(minutes=1)) == 1


def test_a_clock_stepping_back_means_a_full_pass(database: Database, rep: int) -> None:
    assert _sweep(database, NOW) == 0
    _follow_up(database, rep, NOW - timedelta(hours=2))
    with database.session() as s:  # as if this row's id were already seen
        mark = s.get(SweepMark, svc.DUE_MARK)
        assert mark is not None
        mark.max_id += 10
    assert _sweep(database, NOW - timedelta(minutes=5)) == 1
