"""The delivery policy of notices (core.notices): whether a due notice still goes, when
(quiet hours), on which platform and chat, and when it is given up. The scheduler only
applies these decisions (tests/scheduler covers that it does)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from core import notices
from core import users as user_service
from core.db import Database
from core.models import ChatIdentity, NoticeRow, NoticeStatus, User
from core.notices import Delivery, DeliveryPolicy, enqueue_notice

NOON_JAKARTA = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)  # Monday 12:00 in Jakarta
NIGHT_JAKARTA = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)  # Monday 22:30 in Jakarta
NY = "America/New_York"


def _user(uid: int, *, zone: str = "Asia/Jakarta", active: bool = True) -> User:
    return User(id=uid, login=f"u{uid}", name=f"User {uid}", role="rep", timezone=zone,
                active=active, locale="en")


def _chat(uid: int, platform: str, chat_id: str | None, linked: datetime,
          ident: int = 0) -> ChatIdentity:
    return ChatIdentity(id=ident or uid * 10 + len(platform), platform=platform,
                        external_id=f"{platform}-{uid}", chat_id=chat_id, user_id=uid,
                        linked_at=linked)


def _notice(uid: int | None, *, urgent: bool = False, attempts: int = 0,
            channel: tuple[str, str] | None = None) -> NoticeRow:
    return NoticeRow(id=1, recipient_user_id=uid, kind="test", key="k", urgent=urgent,
                     attempts=attempts, channel_platform=channel[0] if channel else None,
                     channel_id=channel[1] if channel else None)


def _policy(users: list[User], chats: list[ChatIdentity], *, now: datetime = NOON_JAKARTA,
            platforms: tuple[str, ...] = ("telegram", "slack")) -> DeliveryPolicy:
    by_user: dict[int, list[ChatIdentity]] = {}
    for chat in chats:
        by_user.setdefault(chat.user_id, []).append(chat)
    return DeliveryPolicy({u.id: u for u in users}, by_user, platforms=platforms, now=now)


# -- quiet hours -------------------------------------------------------------------------------
def test_quiet_hours_end_at_seven_local_time() -> None:
    jkt = "Asia/Jakarta"
    assert notices.quiet_release(jkt, datetime(2026, 3, 2, 2, 0, tzinfo=UTC)) is None  # 09:00
    assert notices.quiet_release(jkt, datetime(2026, 3, 2, 13, 59, tzinfo=UTC)) is None  # 20:59
    assert notices.quiet_release(jkt, datetime(2026, 3, 2, 14, 0, tzinfo=UTC)) == datetime(
        2026, 3, 3, 0, 0, tzinfo=UTC)  # 21:00 -> 07:00 next day
    assert notices.quiet_release(jkt, datetime(2026, 3, 2, 20, 0, tzinfo=UTC)) == datetime(
        2026, 3, 3, 0, 0, tzinfo=UTC)  # 03:00 -> 07:00 the same local day
    # Across the DST change in New York: 22:00 Saturday -> 07:00 Sunday (EDT, 11:00 UTC).
    assert notices.quiet_release(NY, datetime(2026, 3, 8, 3, 0, tzinfo=UTC)) == datetime(
        2026, 3, 8, 11, 0, tzinfo=UTC)


def test_a_notice_due_in_quiet_hours_waits_for_their_end_unless_urgent() -> None:
    sari = _user(1)
    policy = _policy([sari], [_chat(1, "telegram", "501", NOON_JAKARTA)], now=NIGHT_JAKARTA)
    assert policy.decide(_notice(1)) == Delivery(
        NoticeStatus.PENDING, due_at=datetime(2026, 3, 3, 0, 0, tzinfo=UTC))  # 07:00 Tuesday
    assert policy.decide(_notice(1, urgent=True)) == Delivery(
        NoticeStatus.QUEUED, "telegram", "501")


def test_quiet_hours_are_the_recipients_own() -> None:
    # 22:30 in Jakarta is 10:30 in New York: the New York rep gets it now.
    jakarta, new_york = _user(1), _user(2, zone=NY)
    policy = _policy([jakarta, new_york], [_chat(1, "telegram", "501", NOON_JAKARTA),
                                           _chat(2, "telegram", "502", NOON_JAKARTA)],
                     now=NIGHT_JAKARTA)
    assert policy.decide(_notice(1)).status is NoticeStatus.PENDING
    assert policy.decide(_notice(2)) == Delivery(NoticeStatus.QUEUED, "telegram", "502")


# -- inactive recipients -----------------------------------------------------------------------
def test_an_inactive_or_removed_recipients_notice_is_cancelled() -> None:
    gone = _user(1, active=False)
    policy = _policy([gone], [_chat(1, "telegram", "501", NOON_JAKARTA)])
    decided = policy.decide(_notice(1))
    assert (decided.status, decided.reason, decided.send) == (
        NoticeStatus.CANCELLED, "recipient inactive", False)
    assert decided.changes() == {"last_error": "recipient inactive"}
    assert policy.decide(_notice(99)).status is NoticeStatus.CANCELLED  # no such user
    # Even an urgent one, and even in quiet hours.
    night = _policy([gone], [], now=NIGHT_JAKARTA)
    assert night.decide(_notice(1, urgent=True)).status is NoticeStatus.CANCELLED


# -- platform choice ---------------------------------------------------------------------------
def test_the_chat_linked_last_among_the_served_platforms_receives_it() -> None:
    budi = _user(1)
    first, later = NOON_JAKARTA - timedelta(days=9), NOON_JAKARTA - timedelta(days=2)
    chats = [_chat(1, "telegram", "501", first), _chat(1, "slack", "D01", later),
             _chat(1, "console", "ext-budi", NOON_JAKARTA)]
    both = _policy([budi], chats)
    assert both.decide(_notice(1)) == Delivery(NoticeStatus.QUEUED, "slack", "D01")
    assert both.recipient(_notice(1)) is budi
    telegram_only = _policy([budi], chats, platforms=("telegram",))
    assert telegram_only.decide(_notice(1)) == Delivery(NoticeStatus.QUEUED, "telegram", "501")


def test_an_identity_without_a_chat_is_not_a_place_to_send() -> None:
    budi = _user(1)
    chats = [_chat(1, "telegram", "501", NOON_JAKARTA - timedelta(days=1)),
             _chat(1, "slack", None, NOON_JAKARTA)]
    assert _policy([budi], chats).decide(_notice(1)) == Delivery(
        NoticeStatus.QUEUED, "telegram", "501")


def test_a_team_channels_notice_goes_to_its_channel_when_this_process_serves_it() -> None:
    policy = _policy([], [], platforms=("telegram",))
    assert policy.decide(_notice(None, channel=("telegram", "-100500"))) == Delivery(
        NoticeStatus.QUEUED, "telegram", "-100500")
    assert policy.recipient(_notice(None, channel=("telegram", "-100500"))) is None
    other = policy.decide(_notice(None, channel=("slack", "C01")))
    assert other == Delivery(NoticeStatus.PENDING,
                             due_at=NOON_JAKARTA + notices.UNREACHABLE_RETRY)
    # Channels have no quiet hours (the team decides what its channel gets).
    night = _policy([], [], platforms=("slack",), now=NIGHT_JAKARTA)
    assert night.decide(_notice(None, channel=("slack", "C01"))).send


# -- giving up ---------------------------------------------------------------------------------
def test_a_user_no_process_can_reach_is_retried_hourly_then_given_up() -> None:
    slack_only, unlinked = _user(1), _user(2)
    policy = _policy([slack_only, unlinked], [_chat(1, "slack", "D01", NOON_JAKARTA)],
                     platforms=("telegram",))
    assert policy.decide(_notice(1, attempts=3)) == Delivery(
        NoticeStatus.PENDING, due_at=NOON_JAKARTA + timedelta(hours=1), attempts=4,
        reason="no chat on this process's platforms")
    assert policy.decide(_notice(2)) == Delivery(
        NoticeStatus.PENDING, due_at=NOON_JAKARTA + timedelta(hours=1), attempts=1,
        reason="no linked chat")
    last = policy.decide(_notice(2, attempts=notices.UNREACHABLE_MAX - 1))
    assert last == Delivery(NoticeStatus.FAILED, attempts=notices.UNREACHABLE_MAX,
                            reason="no linked chat")
    assert last.changes() == {"attempts": notices.UNREACHABLE_MAX,
                              "last_error": "no linked chat"}


def test_a_failing_send_backs_off_and_is_given_up_after_its_attempts() -> None:
    assert [notices.send_backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert notices.send_backoff(30) == timedelta(hours=1)
    assert not notices.give_up_send(1, permanent=False)
    assert not notices.give_up_send(notices.MAX_SEND_ATTEMPTS - 1, permanent=False)
    assert notices.give_up_send(notices.MAX_SEND_ATTEMPTS, permanent=False)
    assert notices.give_up_send(1, permanent=True)  # blocked, chat gone: no retry


def test_a_push_given_up_is_reported_to_the_other_admins_once(database: Database) -> None:
    now = NOON_JAKARTA
    with database.session() as s:
        ids = {login: user_service.add_user(s, login=login, name=login.title(), role=role,
                                            now=now).id
               for login, role in (("admin", "admin"), ("root", "admin"), ("budi", "rep"))}
    with database.session() as s:
        told = notices.delivery_failed(s, outbox_id=7, kind="followup.due", platform="slack",
                                       user_id=ids["root"], error="permanent: is_archived",
                                       now=now)
        again = notices.delivery_failed(s, outbox_id=7, kind="followup.due", platform="slack",
                                        user_id=ids["root"], error="again", now=now)
        loop = notices.delivery_failed(s, outbox_id=8, kind=notices.FAILURE_KIND,
                                       platform="slack", user_id=ids["admin"], error="x",
                                       now=now)
    assert (told, again, loop) == (1, 0, 0)
    with database.session() as s:
        rows = s.scalars(select(NoticeRow)).all()
    assert [(r.recipient_user_id, r.kind, r.urgent, r.params["error"]) for r in rows] == [
        (ids["admin"], notices.FAILURE_KIND, True, "permanent: is_archived")]


def test_the_policy_of_a_batch_reads_its_recipients_and_chats(database: Database) -> None:
    now = NOON_JAKARTA
    with database.session() as s:
        budi = user_service.add_user(s, login="budi", name="Budi", role="rep", now=now)
        sari = user_service.add_user(s, login="sari", name="Sari", role="rep", now=now)
        user_service.link_identity(s, budi, platform="telegram", external_id="501",
                                   chat_id="501", now=now)
        for user in (budi, sari):
            enqueue_notice(s, kind="test", reason="r", due_at=now, now=now,
                           recipient_user_id=user.id)
        enqueue_notice(s, kind="test", reason="r", due_at=now, now=now,
                       channel=("telegram", "-100500"))
    with database.session() as s:
        batch = s.scalars(select(NoticeRow).order_by(NoticeRow.id)).all()
        policy = DeliveryPolicy.for_batch(s, batch, platforms={"telegram"}, now=now)
        decided = [(d.status, d.platform, d.chat_id) for d in map(policy.decide, batch)]
    assert decided == [(NoticeStatus.QUEUED, "telegram", "501"),
                       (NoticeStatus.PENDING, "", ""),
                       (NoticeStatus.QUEUED, "telegram", "-100500")]
