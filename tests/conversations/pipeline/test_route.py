"""Step 7, route: commands, buttons, the open flow, a fixed-syntax intent, the fallback."""

from __future__ import annotations

from bot.conversations.engine import Engine
from bot.conversations.pipeline.state import save
from bot.conversations.pipeline.update import Update
from core.clock import ManualClock
from core.db import Database
from core.models import User
from core.settings import Settings
from tests.conversations.pipeline.conftest import MakeUpdate
from tests.conversations.test_engine import make_registry
from tests.support.chat import texts


async def _route(engine: Engine, u: Update) -> list[str]:
    for step in engine.steps:
        assert step(u) is None
    replies = await engine.route(u)
    save(u)  # what the engine does after the route step
    return [r.text for r in replies]


def _engine(database: Database, settings: Settings, clock: ManualClock) -> Engine:
    return Engine(database, make_registry(), settings=settings, clock=clock)


async def test_commands_flows_and_fallback(database: Database, settings: Settings,
                                           clock: ManualClock, linked: User,
                                           make_update: MakeUpdate) -> None:
    engine = _engine(database, settings, clock)
    assert await _route(engine, make_update(text="/cancel")) == ["Nothing to cancel."]
    assert (await _route(engine, make_update(text="/nope")))[0].startswith("Unknown command")
    assert await _route(engine, make_update(text="/echo@SomeBot loud")) == ["echo loud"]
    assert await _route(engine, make_update(text="say hi to ani")) == ["hello ani"]
    assert await _route(engine, make_update(text="anything else")) == ["echo anything else"]


async def test_open_flow_gets_the_answer_and_its_buttons(database: Database,
                                                         settings: Settings,
                                                         clock: ManualClock, linked: User,
                                                         make_update: MakeUpdate) -> None:
    engine = _engine(database, settings, clock)
    u = make_update(text="/pick")
    for step in engine.steps:
        assert step(u) is None
    asked = await engine.route(u)
    save(u)
    payload = asked[0].buttons[0][0].payload
    assert payload.startswith("f|pick|") and u.state is not None and u.state.flow == "pick"
    assert await _route(engine, make_update(button=payload)) == ["red it is. Now type a note."]
    stale = await _route(engine, make_update(button=payload))
    assert "no longer" in stale[0]
    assert await _route(engine, make_update(button="a|ping|7")) == ["pong 7"]
    assert "no longer valid" in (await _route(engine, make_update(button="a|ping|99999999999")))[0]
    assert texts(await engine.route(_ready(engine, make_update(text="/cancel")))) == "Cancelled."


def _ready(engine: Engine, u: Update) -> Update:
    for step in engine.steps:
        assert step(u) is None
    return u
