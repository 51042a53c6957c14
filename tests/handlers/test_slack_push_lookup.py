"""Slack pushes carry their outbox key as message metadata, so a scheduler that takes over a
push whose result died with another scheduler asks Slack first (conversations.history) and
sends it only if it is not there: on Slack a push arrives once even across a kill -9."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import select

from bot.app import App
from bot.conversations.messages import Reply
from bot.conversations.notices import decode_reply
from bot.handlers.slack import PUSH_EVENT, SlackSender, make_client
from core.models.scheduling import OutboxRow
from core.settings import Settings
from scheduler.outbox import claim_outbox, push_key, start_sends
from tests.handlers.fake_slack import FakeSlack
from tests.handlers.slack_fixtures import fake_fixture, slack_settings_for  # noqa: F401
from tests.scheduler.support import clean_slate, make_scheduler


@pytest.fixture
async def sender(settings: Settings, fake: FakeSlack) -> AsyncIterator[SlackSender]:
    slack = slack_settings_for(settings, fake)
    async with aiohttp.ClientSession() as http:
        client = make_client(slack, retry_rate_limits=False)
        client.session = http
        yield SlackSender(client)


async def test_a_keyed_push_is_found_by_its_key_and_only_by_it(
        sender: SlackSender, fake: FakeSlack, app: App) -> None:
    since = app.clock.now() - timedelta(days=365)  # the fake stamps real time
    ts = await sender.deliver("U7", Reply("Call Hendro today"), key="sfa-outbox-41")
    posted = fake.of("chat.postMessage")[0].args
    assert posted["metadata"] == {"event_type": PUSH_EVENT,
                                  "event_payload": {"key": "sfa-outbox-41"}}
    assert await sender.find_sent("U7", "sfa-outbox-41", since) == ts  # via the DM it opens
    assert await sender.find_sent("DU7", "sfa-outbox-41", since) == ts
    assert await sender.find_sent("U7", "sfa-outbox-42", since) is None
    assert await sender.find_sent("C1", "sfa-outbox-41", since) is None
    # An answer (no key) carries no metadata.
    await sender.deliver("U7", Reply("plain"))
    assert "metadata" not in fake.of("chat.postMessage")[1].args


async def test_a_push_left_sending_by_a_dead_scheduler_arrives_once(
        sender: SlackSender, fake: FakeSlack, app: App) -> None:
    clean_slate(app)
    now = app.clock.now()
    lease = timedelta(seconds=30)
    with app.db.session() as session:
        for chat in ("U1", "U2"):
            session.add(OutboxRow(key=f"reminder:{chat}", kind="x", platform="slack",
                                  chat_id=chat, message={"text": f"Reminder for {chat}"},
                                  status="pending", attempts=0, next_attempt_at=now,
                                  created_at=now - timedelta(days=300)))
    items = claim_outbox(app.db, worker="dead", now=now, lease=lease, platforms={"slack"},
                         decode=decode_reply)
    ids = {i.chat_id: i.id for i in items}
    with app.db.session() as session:
        start_sends(session, list(ids.values()), worker="dead", now=now, lease=lease)
    # The dead scheduler's request for U1 reached Slack; the one for U2 never left.
    arrived = await sender.deliver("U1", Reply("Reminder for U1"), key=push_key(ids["U1"]))
    app.clock.advance(seconds=31)
    report = await make_scheduler(app, {"slack": sender}).tick()
    assert report.sent == 2
    texts = [c.args.get("text") for c in fake.of("chat.postMessage")]
    assert sorted(texts) == ["Reminder for U1", "Reminder for U2"]  # U1 not sent again
    assert [c.method for c in fake.calls].count("conversations.history") == 2
    with app.db.session() as session:
        rows = {r.chat_id: r for r in session.scalars(select(OutboxRow).where(
            OutboxRow.platform == "slack"))}
    assert (rows["U1"].status, rows["U1"].external_id) == ("sent", arrived)
    assert rows["U2"].status == "sent"


async def test_when_slack_cannot_be_asked_the_push_is_sent_again(
        sender: SlackSender, fake: FakeSlack, app: App) -> None:
    clean_slate(app)
    now = app.clock.now()
    lease = timedelta(seconds=30)
    with app.db.session() as session:
        session.add(OutboxRow(key="reminder:C9", kind="x", platform="slack", chat_id="C9",
                              message={"text": "Team digest"}, status="pending", attempts=0,
                              next_attempt_at=now, created_at=now))
    items = claim_outbox(app.db, worker="dead", now=now, lease=lease, platforms={"slack"},
                         decode=decode_reply)
    with app.db.session() as session:
        start_sends(session, [items[0].id], worker="dead", now=now, lease=lease)
    fake.fail_methods["conversations.history"] = "missing_scope"
    app.clock.advance(seconds=31)
    report = await make_scheduler(app, {"slack": sender}).tick()
    assert report.sent == 1
    assert [c.args.get("text") for c in fake.of("chat.postMessage")] == ["Team digest"]
