"""Kept answers: a door whose platform redelivers an unanswered update (Telegram webhooks)
asks the engine to keep an update's replies until they are sent. A redelivery after the
handling worker died between commit and send gets them (once, and only after the grace);
a redelivery racing a live worker, or after the answer went out, gets nothing."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.conversations.engine import Engine
from bot.conversations.messages import (
    Attachment,
    Button,
    Form,
    FormField,
    FormReply,
    Reply,
    pack_replies,
    unpack_replies,
)
from bot.conversations.models import ProcessedUpdate
from bot.conversations.update_records import forget_old_updates
from core.clock import ManualClock
from core.db import Database
from core.models import Activity
from core.settings import Settings
from tests.conversations.test_engine import make_registry
from tests.support.chat import CollectingChat, texts


@pytest.fixture
def engine(database: Database, settings: Settings, clock: ManualClock, world: object) -> Engine:
    quick = settings.model_copy(update={"replay_after_seconds": 0.3})
    return Engine(database, make_registry(), settings=quick, clock=clock)


def kept(db: Database, update_id: str) -> bytes | None:
    with db.session() as s:
        return s.scalar(select(ProcessedUpdate.answer).where(
            ProcessedUpdate.update_id == update_id))


def activities(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Activity)) or 0


async def _at_note(engine: Engine) -> tuple[CollectingChat, object]:
    budi = CollectingChat(engine).as_user("budi")
    await budi.say("/pick")
    await budi.press("Red")
    return budi, budi


async def test_a_redelivery_after_a_crash_gets_the_kept_answer_once(
        engine: Engine, database: Database, clock: ManualClock) -> None:
    budi, _ = await _at_note(engine)
    inc = replace(budi.incoming(text="met the buyer", update_id="u-1"), keep_answer=True)
    first = await engine.handle(inc)
    assert texts(first) == "Saved red / met the buyer"
    assert kept(database, "u-1") is not None  # the door died here: nothing was sent

    clock.advance(seconds=1)  # past the grace: the handling worker is taken for dead
    again = await engine.handle(inc)
    assert texts(again) == "Saved red / met the buyer"
    assert kept(database, "u-1") is None  # taken: a third delivery gets nothing
    assert await engine.handle(inc) == []
    assert activities(database) == 1  # the step itself ran once


async def test_buttons_and_their_payloads_survive_the_replay(
        engine: Engine, clock: ManualClock) -> None:
    budi = CollectingChat(engine).as_user("budi")
    inc = replace(budi.incoming(text="/pick", update_id="u-2"), keep_answer=True)
    first = await engine.handle(inc)
    clock.advance(seconds=1)
    again = await engine.handle(inc)
    assert [[b.payload for b in row] for row in again[0].buttons] == \
        [[b.payload for b in row] for row in first[0].buttons]
    # The replayed button works like the original.
    assert "red it is" in texts(await engine.handle(
        budi.incoming(button=again[0].buttons[0][0].payload)))


async def test_a_redelivery_while_the_first_worker_sends_gets_nothing(
        engine: Engine, database: Database) -> None:
    budi, _ = await _at_note(engine)
    inc = replace(budi.incoming(text="quick", update_id="u-3"), keep_answer=True)
    assert texts(await engine.handle(inc)) == "Saved red / quick"
    started = time.monotonic()
    second = asyncio.create_task(engine.handle(inc))  # within the grace: it waits
    await asyncio.sleep(0.1)
    assert not second.done()
    engine.answer_sent("console", "u-3")  # the first worker sent the answer
    await engine.flush_sent()
    assert await second == []
    assert time.monotonic() - started < 0.3 + 0.25
    assert activities(database) == 1


async def test_the_grace_also_runs_on_the_wall_clock(engine: Engine) -> None:
    # A frozen or skewed clock cannot hold a redelivery forever.
    budi, _ = await _at_note(engine)
    inc = replace(budi.incoming(text="later", update_id="u-4"), keep_answer=True)
    await engine.handle(inc)
    started = time.monotonic()
    assert texts(await engine.handle(inc)) == "Saved red / later"
    assert 0.25 <= time.monotonic() - started < 2


async def test_refused_steps_keep_their_answer_and_other_doors_keep_nothing(
        engine: Engine, database: Database, clock: ManualClock) -> None:
    budi, _ = await _at_note(engine)
    refused = replace(budi.incoming(text="refuse", update_id="u-5"), keep_answer=True)
    out = await engine.handle(refused)
    clock.advance(seconds=1)
    assert texts(await engine.handle(refused)) == texts(out)
    plain = budi.incoming(text="fine", update_id="u-6")  # polling, console: no redelivery
    assert texts(await engine.handle(plain)) == "Saved red / fine"
    assert kept(database, "u-6") is None
    assert await engine.handle(plain) == []


def test_replies_pack_and_unpack_whole() -> None:
    form = Form(title="Visit", fields=(
        FormField("outcome", "Outcome", kind="choice", options=(("pos", "Positive"),)),
        FormField("notes", "Notes", kind="long_text", required=False, max_length=900)),
        submit_label="Log", value="form")
    replies = [
        Reply("plain"),
        Reply.with_buttons("pick", [Button("A", value="a", payload="f|x|1|a"),
                                    Button("Claim", action="lead.claim", arg="7",
                                           payload="a|lead.claim|7")]),
        Reply("quote", attachment=Attachment("q.pdf", b"%PDF-\x00\xff", "application/pdf",
                                             caption="Quote Q-1")),
        Reply("| a | b |", preformatted=True, ephemeral=True),
        FormReply("fill in", buttons=((Button("Form", value="form", payload="f|v|2|form"),),),
                  form=form),
    ]
    assert unpack_replies(pack_replies(replies)) == replies


def test_old_update_records_are_forgotten(database: Database, clock: ManualClock) -> None:
    now = clock.now()
    with database.session() as s:
        s.add_all([ProcessedUpdate(platform="telegram", update_id=str(i),
                                   processed_at=now - timedelta(days=i)) for i in range(10)])
    with database.session() as s:
        assert forget_old_updates(s, now) == 2  # 8 and 9 days old
    with database.session() as s:
        left = set(s.scalars(select(ProcessedUpdate.update_id)))
    assert left == {str(i) for i in range(8)}


async def test_a_sent_answer_is_forgotten_by_the_next_update_or_soon(
        engine: Engine, database: Database) -> None:
    """No transaction of its own under load: the next update's transaction clears it; when
    that transaction rolls back (a step that blew up), it is cleared by the next one, or by
    the 50 ms fallback."""
    budi, _ = await _at_note(engine)
    for update_id in ("s-1", "s-2"):
        await engine.handle(replace(budi.incoming(text="/whoami", update_id=update_id),
                                    keep_answer=True))
    assert kept(database, "s-1") is not None and kept(database, "s-2") is not None
    engine.answer_sent("console", "s-1")
    await engine.handle(budi.incoming(text="anything"))  # no await in between: same tick
    assert kept(database, "s-1") is None
    await budi.say("/pick")
    await budi.press("Red")
    engine.answer_sent("console", "s-2")
    await engine.handle(budi.incoming(text="boom"))  # the note step raises: rolled back
    assert kept(database, "s-2") is not None
    await asyncio.sleep(0.15)
    assert kept(database, "s-2") is None
