"""The Slack door's durable inbox: a job acknowledged by a worker that dies before finishing
it is completed exactly once by another worker on the same database (real bolt stack, real
engine, the local mock Slack Web API). A "kill" here stops a door's worker tasks and its
takeover loop at once, without draining, forgetting or releasing anything."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.conversations.flow import Ctx, Flow, Step, goto
from bot.conversations.messages import Incoming
from bot.conversations.models import ConversationState, ProcessedUpdate
from bot.handlers.slack import SlackDoor
from bot.intake import store as inbox
from bot.intake.models import InboundUpdate
from core import users as user_service
from core.clock import ManualClock
from core.settings import Settings
from tests.handlers.fake_slack import TEAM, FakeSlack
from tests.handlers.slack_fixtures import fake_fixture, slack_settings_for  # noqa: F401
from tests.handlers.slack_support import SignedSlack

LEASE = 15.0


@pytest.fixture
def slack_settings(settings: Settings, fake: FakeSlack) -> Settings:
    return slack_settings_for(settings, fake, inbox_lease_seconds=LEASE)


async def _tally_start(ctx: Ctx, inc: Incoming) -> Step:
    ctx.data["n"] = 1
    return goto("more", "Tally 1")


async def _tally_more(ctx: Ctx, inc: Incoming) -> Step:
    ctx.data["n"] = int(ctx.data.get("n", 0)) + 1
    return goto("more", f"Tally {ctx.data['n']}")


@pytest.fixture(autouse=True)
def tally(app: App) -> Iterator[None]:
    """A flow whose every step counts in the conversation state (a step run twice shows)."""
    app.registry.add_flow(Flow("tally", start=_tally_start, states={"more": _tally_more},
                               commands=("tally",)))
    with app.db.session() as session:
        user = user_service.get_user_by_login(session, "budi")
        user_service.link_identity(session, user, platform="slack", external_id=f"{TEAM}:U1",
                                   chat_id="DU1", now=app.clock.now())
    yield


@asynccontextmanager
async def running(app: App, settings: Settings) -> AsyncIterator[tuple[SlackDoor, SignedSlack]]:
    """A door with the inbox on (also on SQLite) and no periodic takeover (tests call it)."""
    door = SlackDoor(app.engine, settings, http_port=0, host="127.0.0.1",
                     inbox_enabled=True, takeover_every=3600)
    await door.start()
    # Its takeover pass made at start has run (else, late under load, it would claim a job
    # a test has just seen fail and released).
    await asyncio.wait_for(door.intake.first_pass.wait(), 30)
    try:
        async with aiohttp.ClientSession() as http:
            yield door, SignedSlack(http, f"http://127.0.0.1:{door.port}/slack/events")
    finally:
        await door.stop()


async def kill(door: SlackDoor) -> None:
    """Stop the door's work as kill -9 would: nothing drained, forgotten or released."""
    intake = door.intake
    tasks = [t for t in (*intake._workers, intake._takeover, intake._forgetting)
             if t is not None]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    intake._workers, intake._takeover, intake._forgetting = [], None, None
    intake._done_ids.clear()

    async def dead() -> None:  # its stop() (test cleanup) must not release anything
        return None

    intake._release_unfinished = dead  # type: ignore[method-assign]


def tallies(fake: FakeSlack) -> list[str]:
    return [c.text for c in fake.of("chat.postMessage") if c.text.startswith("Tally")]


def tally_count(app: App) -> int:
    with app.db.session() as session:
        state = session.scalar(select(ConversationState).where(
            ConversationState.platform == "slack",
            ConversationState.external_user_id == f"{TEAM}:U1"))
        assert state is not None
        return int(state.data["n"])


def inbox_rows(app: App) -> list[InboundUpdate]:
    with app.db.session() as session:
        return list(session.scalars(select(InboundUpdate)))


async def wait_for(check: Any, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def test_a_job_acked_by_a_killed_worker_is_completed_once_by_another(
        app: App, slack_settings: Settings, fake: FakeSlack, clock: ManualClock) -> None:
    async with running(app, slack_settings) as (first, slack_first):
        await slack_first.command("U1", "tally")
        await first.drain()
        assert tallies(fake) == ["Tally 1"] and inbox_rows(app) == []
        await kill(first)
        status, _ = await slack_first.dm("U1", "more", event_id="EvKilled")
        assert status == 200  # Slack has its ack: it will never send this again
        (row,) = inbox_rows(app)
        assert row.update_id == "EvKilled" and row.claimed_by == first.intake.worker_name
        async with running(app, slack_settings) as (second, _):
            assert await second.take_over() == 0  # the first worker's claim still holds
            clock.advance(seconds=LEASE + 1)
            assert await second.take_over() == 1
            await second.drain()
            assert await second.take_over() == 0
            assert second.stats.taken_over == 1
    assert tallies(fake) == ["Tally 1", "Tally 2"]  # one answer
    assert tally_count(app) == 2  # the step ran once
    assert inbox_rows(app) == []


async def test_a_committed_step_whose_answer_was_never_sent_is_answered_once(
        app: App, slack_settings: Settings, fake: FakeSlack, clock: ManualClock) -> None:
    async with running(app, slack_settings) as (first, slack_first):
        await slack_first.command("U1", "tally")
        await first.drain()

        async def killed_while_sending(*_args: Any, **_kw: Any) -> None:
            await asyncio.Event().wait()  # never returns: the process dies here

        first.send_replies = killed_while_sending  # type: ignore[method-assign]
        await slack_first.dm("U1", "more", event_id="EvUnsent")

        def kept() -> bool:
            with app.db.session() as session:
                record = session.get(ProcessedUpdate, ("slack", "EvUnsent"))
                return record is not None and record.answer is not None

        await wait_for(kept)  # the step committed, with its answer kept
        await kill(first)
        assert tally_count(app) == 2 and tallies(fake) == ["Tally 1"]
        async with running(app, slack_settings) as (second, _):
            clock.advance(seconds=LEASE + 1)  # also past replay_after_seconds
            assert await second.take_over() == 1
            await second.drain()
    assert tallies(fake) == ["Tally 1", "Tally 2"]  # the kept answer, once
    assert tally_count(app) == 2  # not a second step
    assert inbox_rows(app) == []
    with app.db.session() as session:
        record = session.get(ProcessedUpdate, ("slack", "EvUnsent"))
        assert record is not None and record.answer is None


async def test_a_slack_retry_of_an_event_is_processed_once(
        app: App, slack_settings: Settings, fake: FakeSlack, clock: ManualClock) -> None:
    async with running(app, slack_settings) as (first, slack_first):
        await slack_first.command("U1", "tally")
        await first.drain()
        await kill(first)  # slow to the point of dead: Slack sees no timely ack and retries
        await slack_first.dm("U1", "more", event_id="EvRetried")
        async with running(app, slack_settings) as (second, slack_second):
            status, _ = await slack_second.dm("U1", "more", event_id="EvRetried", retry=1)
            assert status == 200
            await second.drain()
            assert second.stats.duplicates == 1 and second.stats.received == 0
            clock.advance(seconds=LEASE + 1)
            assert await second.take_over() == 1
            await second.drain()
            # A later retry, once the event is done and gone from the inbox: the engine's
            # update record answers it with nothing.
            status, _ = await slack_second.dm("U1", "more", event_id="EvRetried", retry=2)
            assert status == 200
            await second.drain()
    assert tallies(fake) == ["Tally 1", "Tally 2"]
    assert tally_count(app) == 2
    assert inbox_rows(app) == []


async def test_nothing_is_left_in_the_inbox_after_normal_traffic(
        app: App, slack_settings: Settings, fake: FakeSlack) -> None:
    async with running(app, slack_settings) as (door, slack):
        await slack.command("U1", "tally")
        await door.drain()
        for _ in range(5):
            await slack.dm("U1", "more")
        await slack.command("U1", "whoami")
        await slack.command("U2", "whoami")  # not linked: asked for an invite code
        await slack.event({"type": "app_home_opened", "user": "U1", "tab": "home"})
        await door.drain()
        question = fake.of("chat.postMessage")[-1]
        await slack.command("U1", "report")
        await door.drain()
        button = fake.of("chat.postMessage")[-1].buttons()[0]
        await slack.press("U1", button, channel="DU1", message_ts="1.1",
                          blocks=question.blocks())
        await door.drain()
        assert door.stats.done == 11 and door.stats.failed == 0
        assert inbox_rows(app) == []
        with app.db.session() as session:
            kept = session.scalar(select(func.count()).select_from(ProcessedUpdate).where(
                ProcessedUpdate.answer.is_not(None)))
        assert kept == 0  # every kept answer forgotten once sent
    assert tallies(fake) == [f"Tally {n}" for n in range(1, 7)]
    assert fake.of("views.publish")


async def test_a_job_that_keeps_failing_is_given_up_without_its_text_in_the_log(
        app: App, slack_settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with running(app, slack_settings) as (door, slack):

        async def broken(_job: Any) -> None:
            raise RuntimeError("boom")

        door._handle = broken  # type: ignore[method-assign, assignment]
        await slack.dm("U1", "secret pricing for Sinar Jaya", event_id="EvBroken")
        await door.drain()
        for attempt in range(2, inbox.MAX_ATTEMPTS + 1):
            (row,) = inbox_rows(app)
            assert row.claimed_by is None  # released at once for another try
            assert row.attempts == attempt - 1
            assert await door.take_over() == 1
            await door.drain()
        assert await door.take_over() == 0
        assert door.stats.given_up == 1 and door.stats.failed == inbox.MAX_ATTEMPTS
    assert inbox_rows(app) == []
    assert "gave up an inbox job after 5 attempts" in caplog.text
    assert "Sinar Jaya" not in caplog.text


async def test_a_stopped_worker_hands_its_unfinished_jobs_on_at_once(
        app: App, slack_settings: Settings, fake: FakeSlack) -> None:
    async with running(app, slack_settings) as (first, slack_first):
        await slack_first.command("U1", "tally")
        await first.drain()
        for task in first.intake._workers:  # busy: the job waits in its queue
            task.cancel()
        await slack_first.dm("U1", "more", event_id="EvQueued")
    (row,) = inbox_rows(app)  # stop() released it: no lease to wait for
    assert row.claimed_by is None
    async with running(app, slack_settings) as (second, _):
        await second.drain(settle=0.2)  # its first takeover pass runs at start
        assert second.stats.taken_over == 1
    assert tallies(fake) == ["Tally 1", "Tally 2"] and inbox_rows(app) == []


