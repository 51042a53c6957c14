"""Notices (pushed messages): enqueued in the caller's transaction, durable and idempotent;
and the delivery policy the scheduler applies to them.

The policy is the product's rules for a due notice, decided here so that the scheduler only
schedules and sends: whether it still goes (an inactive recipient's notice is cancelled),
when (not in the recipient's quiet hours unless urgent), where (the chat the user linked
most recently among the platforms the sending process serves) and when to give up (a user
no process can reach is retried hourly for a day; a send is tried MAX_SEND_ATTEMPTS times,
and the admins hear of a push that failed for good).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.models import ChatIdentity, NoticeRow, NoticeStatus, Role, User

log = logging.getLogger(__name__)

QUIET_START = time(21, 0)  # local time: no pushes from 21:00 ...
QUIET_END = time(7, 0)  # ... to 07:00, unless urgent
UNREACHABLE_RETRY = timedelta(hours=1)  # a user no chat of this process reaches: again in 1 h
UNREACHABLE_MAX = 24  # ... and failed after that many tries (a day)
MAX_SEND_ATTEMPTS = 8  # failed sends of one push before it is given up
BACKOFF_BASE = timedelta(seconds=5)
BACKOFF_MAX = timedelta(hours=1)
FAILURE_KIND = "delivery.failed"  # what the admins get for a push given up


def notice_key(reason: str, *, user_id: int | None = None, channel: str | None = None) -> str:
    """Return the idempotency key of a notice: the recipient plus the reason."""
    target = f"u{user_id}" if user_id is not None else f"c{channel}"
    return f"{target}|{reason}"


def enqueue_notice(
    session: Session,
    *,
    kind: str,
    reason: str,
    due_at: datetime,
    now: datetime,
    recipient_user_id: int | None = None,
    channel: tuple[str, str] | None = None,
    params: dict[str, Any] | None = None,
    urgent: bool = False,
) -> NoticeRow | None:
    """Record that message `kind` is due to a user (or a team channel) at `due_at`.

    Args:
        kind: what to render (the bot's renderer for this kind writes the words).
        reason: why, unique per recipient (e.g. ``"followup:12:due"``); the same reason for
            the same recipient is enqueued once: a second call returns None.
        channel: (platform, chat id) of a team channel, instead of `recipient_user_id`.
        params: JSON-safe values the renderer needs (ids, amounts as strings).
        urgent: urgent notices ignore the recipient's quiet hours.
    """
    if (recipient_user_id is None) == (channel is None):
        raise ValueError("a notice goes to exactly one user or one channel")
    key = notice_key(
        reason, user_id=recipient_user_id, channel=":".join(channel) if channel else None
    )
    if session.scalar(select(NoticeRow.id).where(NoticeRow.key == key)) is not None:
        return None
    row = NoticeRow(
        recipient_user_id=recipient_user_id,
        channel_platform=channel[0] if channel else None,
        channel_id=channel[1] if channel else None,
        kind=kind,
        key=key,
        params=dict(params or {}),
        urgent=urgent,
        due_at=due_at,
        status=NoticeStatus.PENDING.value,
        attempts=0,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # a concurrent transaction enqueued the same key first
        return None
    return row


def cancel_notices(session: Session, *, reason_prefix: str) -> int:
    """Cancel pending notices whose reason starts with `reason_prefix` (any recipient)."""
    rows = session.scalars(
        select(NoticeRow).where(
            NoticeRow.key.contains("|" + reason_prefix, autoescape=True),
            NoticeRow.status == NoticeStatus.PENDING.value,
        )
    ).all()
    count = 0
    for row in rows:
        if row.key.split("|", 1)[1].startswith(reason_prefix):
            row.status = NoticeStatus.CANCELLED.value
            count += 1
    return count


def existing_keys(session: Session, keys: list[str]) -> set[str]:
    """The keys among `keys` that some notice already has."""
    found: set[str] = set()
    for i in range(0, len(keys), 500):
        found.update(session.scalars(select(NoticeRow.key).where(
            NoticeRow.key.in_(keys[i:i + 500]))))
    return found


def enqueue_notices(session: Session, items: list[dict], now: datetime) -> int:
    """Enqueue user notices whose key is not there yet: what enqueue_notice does, as batched
    INSERT ... ON CONFLICT (key) DO NOTHING RETURNING (a sweep may find 10k); returns how
    many were new."""
    if not items:
        return 0
    rows = [dict(recipient_user_id=item["recipient_user_id"], channel_platform=None,
                 channel_id=None, kind=item["kind"],
                 key=notice_key(item["reason"], user_id=item["recipient_user_id"]),
                 params=dict(item.get("params") or {}), urgent=bool(item.get("urgent")),
                 due_at=item["due_at"], status=NoticeStatus.PENDING.value, attempts=0,
                 claimed_by=None, claimed_until=None, last_error=None, sent_at=None,
                 created_at=now)
            for item in items]
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table: Any = NoticeRow.__table__
    # Core, not the ORM's bulk insert: a third of the cost for 10k rows.
    done = session.connection().execute(
        insert(table).on_conflict_do_nothing(index_elements=["key"]).returning(table.c.id),
        rows)
    return len(done.all())


# -- the delivery policy ---------------------------------------------------------------------
def quiet_release(tz_name: str, when: datetime, *, start: time = QUIET_START,
                  end: time = QUIET_END) -> datetime | None:
    """When `when` falls in the quiet hours of zone `tz_name`, the UTC time they end
    (the next local `end`); None when it may be sent now."""
    zone = ZoneInfo(tz_name)
    local = when.astimezone(zone)
    now_t = local.time()
    quiet = (now_t >= start or now_t < end) if start > end else start <= now_t < end
    if not quiet:
        return None
    day = local.date() if now_t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Delivery:
    """What becomes of one due notice now: sent to (platform, chat_id) when `status` is
    QUEUED; otherwise the notice's new status, with `due_at` (PENDING: when to look again),
    `attempts` and `reason` (kept as its last error) when they change."""

    status: NoticeStatus
    platform: str = ""
    chat_id: str = ""
    due_at: datetime | None = None
    attempts: int | None = None
    reason: str | None = None

    @property
    def send(self) -> bool:
        return self.status is NoticeStatus.QUEUED

    def changes(self) -> dict[str, Any]:
        """The notice's columns this decision sets (besides its status)."""
        values: dict[str, Any] = {}
        if self.due_at is not None:
            values["due_at"] = self.due_at
        if self.attempts is not None:
            values["attempts"] = self.attempts
        if self.reason is not None:
            values["last_error"] = self.reason
        return values


INACTIVE = Delivery(NoticeStatus.CANCELLED, reason="recipient inactive")


def pick_chat(identities: Iterable[ChatIdentity], platforms: Collection[str]
              ) -> ChatIdentity | None:
    """The chat a user's notices go to: the one linked most recently among `platforms`."""
    usable = [i for i in identities if i.platform in platforms and i.chat_id]
    if not usable:
        return None
    return max(usable, key=lambda i: (i.linked_at, i.id))


class DeliveryPolicy:
    """Decides, for a batch of due notices, where each goes now (see the module's doc).

    Built per batch by `for_batch` (two queries: the recipients and their chats); `decide`
    then needs no database. `platforms` are those the deciding process can send on."""

    def __init__(self, users: dict[int, User], identities: dict[int, list[ChatIdentity]],
                 *, platforms: Collection[str], now: datetime) -> None:
        self.users = users
        self.identities = identities
        self.platforms = frozenset(platforms)
        self.now = now
        self._releases: dict[str, datetime | None] = {}  # time zone -> end of quiet hours
        self._chats: dict[int, Delivery | None] = {}  # user -> where their notices go

    @classmethod
    def for_batch(cls, session: Session, notices: Iterable[NoticeRow], *,
                  platforms: Collection[str], now: datetime) -> DeliveryPolicy:
        user_ids = {n.recipient_user_id for n in notices if n.recipient_user_id is not None}
        users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(user_ids)))}
        identities: dict[int, list[ChatIdentity]] = {}
        for linked in session.scalars(select(ChatIdentity).where(
                ChatIdentity.user_id.in_(user_ids))):
            identities.setdefault(linked.user_id, []).append(linked)
        return cls(users, identities, platforms=platforms, now=now)

    def recipient(self, notice: NoticeRow) -> User | None:
        """The notice's user (None for a team channel's notice or an unknown user)."""
        if notice.recipient_user_id is None:
            return None
        return self.users.get(notice.recipient_user_id)

    def decide(self, notice: NoticeRow) -> Delivery:
        if notice.recipient_user_id is None:  # a team channel
            platform = str(notice.channel_platform)
            if platform not in self.platforms:
                return Delivery(NoticeStatus.PENDING, due_at=self.now + UNREACHABLE_RETRY)
            return Delivery(NoticeStatus.QUEUED, platform, str(notice.channel_id))
        user = self.users.get(notice.recipient_user_id)
        if user is None or not user.active:
            return INACTIVE
        if not notice.urgent:
            zone = user.timezone
            if zone not in self._releases:
                self._releases[zone] = quiet_release(zone, self.now)
            release = self._releases[zone]
            if release is not None:
                return Delivery(NoticeStatus.PENDING, due_at=release)
        if user.id not in self._chats:
            ident = pick_chat(self.identities.get(user.id, ()), self.platforms)
            self._chats[user.id] = (None if ident is None else Delivery(
                NoticeStatus.QUEUED, ident.platform, str(ident.chat_id)))
        found = self._chats[user.id]
        if found is not None:
            return found
        attempts = notice.attempts + 1
        if attempts >= UNREACHABLE_MAX:
            return Delivery(NoticeStatus.FAILED, attempts=attempts, reason="no linked chat")
        # Another process, with that platform's door, sends it when due; a user who has not
        # linked a chat yet may do so.
        return Delivery(NoticeStatus.PENDING, due_at=self.now + UNREACHABLE_RETRY,
                        attempts=attempts,
                        reason=("no chat on this process's platforms"
                                if self.identities.get(user.id) else "no linked chat"))


def send_backoff(attempts: int) -> timedelta:
    """The wait after `attempts` failed sends of a push: 5 s, 10 s, 20 s, ... up to 1 h."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)


def give_up_send(attempts: int, *, permanent: bool) -> bool:
    """True when a push that failed `attempts` times (the last one `permanent`: the chat is
    gone or blocked the bot) is not tried again."""
    return permanent or attempts >= MAX_SEND_ATTEMPTS


def delivery_failed(session: Session, *, outbox_id: int, kind: str, platform: str,
                    user_id: int | None, error: str | None, now: datetime) -> int:
    """A push was given up: tell every active admin but its own recipient, at once (urgent);
    returns how many were told. A failed failure report is not reported (no loops)."""
    log.error("delivery failed for good (outbox %s, %s to %s): %s", outbox_id, kind,
              platform, error)
    if kind == FAILURE_KIND:
        return 0
    admins = session.scalars(select(User.id).where(User.role == Role.ADMIN.value, User.active)
                             ).all()
    told = 0
    for admin_id in admins:
        if admin_id == user_id:
            continue
        if enqueue_notice(session, kind=FAILURE_KIND, reason=f"delivery-failed:{outbox_id}",
                          recipient_user_id=admin_id, due_at=now, now=now, urgent=True,
                          params={"outbox_id": outbox_id, "kind": kind, "platform": platform,
                                  "user_id": user_id, "error": error}) is not None:
            told += 1
    return told
