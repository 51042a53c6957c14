"""Test doubles for the scheduler: a scripted sender and a fake monotonic clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from bot.app import App
from bot.conversations.messages import Reply
from bot.conversations.notices import NoticeRendering
from core import users as user_service
from core.models import ChatIdentity, FollowUp, User
from scheduler import Scheduler, SchedulerConfig


class FakeTime:
    """Monotonic seconds that only move when the scheduler sleeps."""

    def __init__(self) -> None:
        self.t = 1000.0

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        import asyncio

        await asyncio.sleep(0)  # let the sends started so far run at the current time
        self.t += max(seconds, 0.0)


@dataclass
class FakeSender:
    """Records deliveries; raises the scripted exceptions first (one per call)."""

    platform: str = "console"
    clock: FakeTime | None = None
    sent: list[tuple[str, Reply]] = field(default_factory=list)
    keys: list[str | None] = field(default_factory=list)  # each push's key, as sent
    times: list[tuple[float, str]] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)
    calls: int = 0

    async def deliver(self, chat_id: str, message: Reply, key: str | None = None
                      ) -> str | None:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((chat_id, message))
        self.keys.append(key)
        if self.clock is not None:
            self.times.append((self.clock.t, chat_id))
        return str(len(self.sent))

    def texts(self) -> str:
        return "\n".join(m.text for _, m in self.sent)


def make_scheduler(app: App, senders: dict, fake: FakeTime | None = None,
                   **config: object) -> Scheduler:
    fake = fake or FakeTime()
    return Scheduler(app.db, app.clock, NoticeRendering(app.registry), senders,
                     sweeps=app.sweeps,
                     config=SchedulerConfig(**config),  # type: ignore[arg-type]
                     monotonic=fake.monotonic, sleep=fake.sleep, in_thread=False,
                     worker="test-worker")


def link(app: App, login: str, platform: str = "console", chat_id: str | None = None,
         when: datetime | None = None) -> int:
    """Link a chat identity to LOGIN (chat id defaults to ext-LOGIN); returns the user id."""
    with app.db.session() as session:
        user = user_service.get_user_by_login(session, login)
        external = f"ext-{login}" if platform == "console" else (chat_id or login)
        exists = session.scalar(select(ChatIdentity).where(
            ChatIdentity.platform == platform, ChatIdentity.external_id == external))
        if exists is None:
            user_service.link_identity(session, user, platform=platform, external_id=external,
                                       chat_id=chat_id or external,
                                       now=when or app.clock.now())
        return user.id


def add_followup(app: App, login: str, *, due: datetime, kind: str = "follow_up",
                 note: str = "Call back about the quote", company_id: int | None = None
                 ) -> int:
    with app.db.session() as session:
        user = session.scalar(select(User).where(User.login == login))
        assert user is not None
        fu = FollowUp(user_id=user.id, company_id=company_id, kind=kind, note=note,
                      due_at=due, status="open", created_at=app.clock.now())
        session.add(fu)
        session.flush()
        return fu.id


def clean_slate(app: App) -> None:
    """Close the demo world's follow-ups and pending notices so a test sees only its own."""
    from sqlalchemy import update

    from core.models import NoticeRow

    with app.db.session() as session:
        session.execute(update(FollowUp).values(status="cancelled"))
        session.execute(update(NoticeRow).where(NoticeRow.status == "pending")
                        .values(status="cancelled"))


def followup_sweeps(*names: str) -> list:
    """The follow-up sweeps named (default: due reminders and meeting briefs)."""
    from bot.app import build_sweeps

    names = names or ("followups.due", "followups.meeting_brief")
    return build_sweeps().named(*names)
