"""Step 6, understand: typed requests are understood; commands, buttons and group chatter
not addressed to the bot are not; the answer's language follows the request or the flow."""

from __future__ import annotations

from bot.app import App
from bot.conversations.pipeline.identify import identify
from bot.conversations.pipeline.state import LockState
from bot.conversations.pipeline.understand import LANGUAGE, Understand
from bot.conversations.pipeline.update import Update
from core.db import Database
from core.models import User
from tests.conversations.pipeline.conftest import MakeUpdate


def _ready(u: Update, database: Database) -> Update:
    assert identify(u) is None
    assert LockState(database.is_postgres)(u) is None
    return u


def _step(app: App) -> Understand:
    engine = app.engine
    return Understand(engine.registry, engine.understander, engine.services)


def test_typed_request_is_understood(app: App, linked: User, database: Database,
                                     make_update: MakeUpdate) -> None:
    u = _ready(make_update(text="who handles Sinar Jaya?"), database)
    assert _step(app)(u) is None
    assert u.understanding is not None and u.understanding.intent is not None


def test_commands_buttons_and_group_chatter_are_not(app: App, linked: User,
                                                    database: Database,
                                                    make_update: MakeUpdate) -> None:
    step = _step(app)
    for kw in ({"text": "/help"}, {"button": "a|x|1"},
               {"text": "who handles Sinar Jaya?", "chat_is_group": True}):
        u = _ready(make_update(**kw), database)
        assert step(u) is None and u.understanding is None, kw


def test_a_request_in_another_language_is_answered_in_it(app: App, linked: User,
                                                         database: Database,
                                                         make_update: MakeUpdate) -> None:
    u = _ready(make_update(text="siapa yang menangani Sinar Jaya?"), database)
    assert linked.locale == "en"
    assert _step(app)(u) is None
    assert u.understanding is not None and u.understanding.intent is not None
    assert u.t.locale == "id"


def test_an_open_flow_goes_on_in_its_language(app: App, linked: User, database: Database,
                                              make_update: MakeUpdate) -> None:
    u = _ready(make_update(text="/help"), database)
    assert u.state is not None
    u.state.flow, u.state.data = "visit", {LANGUAGE: "id"}
    assert _step(app)(u) is None
    assert u.t.locale == "id"


def test_an_open_flow_takes_the_language_it_is_now_spoken_in(
        app: App, linked: User, database: Database, make_update: MakeUpdate) -> None:
    """A search started in Indonesian, then a query typed in English: the results and the
    search's later answers are in English (they stayed Indonesian). An answer to a question
    of a kind (a date, a name) still does not switch (test_dates_in_flows)."""
    u = _ready(make_update(text="what is our return policy for laptops"), database)
    assert u.state is not None
    u.state.flow, u.state.state, u.state.data = "kb", "query", {LANGUAGE: "id"}
    assert _step(app)(u) is None
    assert u.t.locale == "en" and u.state.data[LANGUAGE] == "en"


def test_a_message_not_understood_is_answered_in_its_language(
        app: App, linked: User, database: Database, make_update: MakeUpdate) -> None:
    u = _ready(make_update(text="tolong kabari saya kalau sudah beres ya"), database)
    assert linked.locale == "en"
    assert _step(app)(u) is None
    assert u.t.locale == "id"
