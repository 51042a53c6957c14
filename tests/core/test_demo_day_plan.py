"""The demo's day plan: on a fresh `sfa seed`, every field rep has a follow-up, a meeting and
a delivery, budi an open complaint, and the chat views and the scheduler show them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.app import build_app
from core.clock import ManualClock
from core.db import Database
from core.demo import SeedOptions, seed_demo
from core.demo.scheduling import REPS
from core.models import FollowUp, User
from core.models.scheduling import Complaint, DeliverySchedule
from core.settings import Settings
from tests.support.chat import CollectingChat, texts


def test_every_rep_has_a_day_and_budi_sees_it_in_chat(
        settings: Settings, database: Database, clock: ManualClock) -> None:
    with database.session() as s:
        seed_demo(s, now=clock.now(), options=SeedOptions(companies=40, contacts=100, seed=7))
    with database.session() as s:
        for login in REPS:
            rep = s.scalars(select(User).where(User.login == login)).one()
            open_fu = s.scalars(select(FollowUp).where(FollowUp.user_id == rep.id)).all()
            kinds = sorted(f.kind for f in open_fu)
            expected = ["complaint", "follow_up", "meeting"] if login == "budi" else \
                ["follow_up", "meeting"]
            assert kinds == expected, (login, kinds)
            assert all(f.due_at > clock.now() for f in open_fu)
            assert s.scalar(select(func.count()).select_from(DeliverySchedule).where(
                DeliverySchedule.owner_id == rep.id)) == 1
        assert s.scalar(select(func.count()).select_from(Complaint)) == 1
    app = build_app(settings, clock=clock, db=database, upgrade=False)
    budi = CollectingChat(app.engine).as_user("budi")
    import asyncio

    async def talk() -> None:
        listed = texts(await budi.say("/reminders"))
        assert "Send the price for the upgrade" in listed and "Meeting" in listed
        assert "🚚" in listed and "Complaint follow-up" in listed
        assert "without chargers" in texts(await budi.say("/complaints"))
        assert "Meeting with the decision maker" in texts(await budi.say("what's on this week?"))
        today = texts(await budi.say("what's on today?"))  # today's, and what comes next
        assert today.startswith("Your day:") and "Next:" in today

    asyncio.run(talk())
    # The follow-up's reminder is pushed when it falls due (the scheduler's sweep).
    from core.followups import followups_due

    with database.session() as s:
        first_due = min(f.due_at for f in s.scalars(select(FollowUp)))
        assert followups_due(s, first_due + timedelta(minutes=1)) >= 1
