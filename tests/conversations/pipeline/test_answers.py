"""Kept answers: kept with the update, forgotten once the door acknowledges the Outcome,
replayed to a redelivery only when not sent."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from bot.conversations.engine import Engine
from bot.conversations.models import ProcessedUpdate
from bot.conversations.pipeline.answers import Outcome
from core.clock import ManualClock
from core.db import Database
from core.settings import Settings
from tests.conversations.test_engine import make_registry
from tests.support.chat import CollectingChat


def _answer(database: Database, update_id: str) -> bytes | None:
    with database.session() as s:
        return s.scalar(select(ProcessedUpdate.answer)
                        .where(ProcessedUpdate.update_id == update_id))


async def test_outcome_kept_until_acknowledged(database: Database, settings: Settings,
                                               clock: ManualClock, world: object) -> None:
    engine = Engine(database, make_registry(), settings=settings, clock=clock)
    budi = CollectingChat(engine).as_user("budi")
    inc = replace(budi.incoming(text="/echo hi", update_id="k-1"), keep_answer=True)
    outcome = await engine.handle(inc)
    assert isinstance(outcome, Outcome) and outcome.replies[0].text == "echo hi"
    assert _answer(database, "k-1") is not None
    outcome.acknowledge()
    await engine.flush_sent()
    assert _answer(database, "k-1") is None
    assert await engine.handle(inc) == []  # a redelivery after the send: nothing


async def test_nothing_kept_without_keep_answer(database: Database, settings: Settings,
                                                clock: ManualClock, world: object) -> None:
    engine = Engine(database, make_registry(), settings=settings, clock=clock)
    budi = CollectingChat(engine).as_user("budi")
    outcome = await engine.handle(budi.incoming(text="/echo hi", update_id="k-2"))
    assert outcome.replies[0].text == "echo hi" and _answer(database, "k-2") is None
    outcome.acknowledge()  # nothing to forget: no write is scheduled
    assert not engine.answers._sent


def test_an_outcome_is_a_list_of_replies() -> None:
    outcome = Outcome([])
    outcome.acknowledge()  # no kept answer: nothing happens
    assert outcome == [] and Outcome([]).replies == []
