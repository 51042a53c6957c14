"""Property-based fuzzing of the engine with every registered flow: arbitrary unicode, control
characters, 64 KiB texts, forged and foreign payloads, odd locations and files, duplicated
and out-of-order update ids. No exception escapes, no step crashes (the generic "something
went wrong" reply never appears), every input gets a reply or a deliberate silent drop, and
the database stays consistent."""

from __future__ import annotations

import asyncio
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from bot.app import App
from bot.conversations.messages import Incoming, IncomingFile
from core.db import Database
from tests.support.chat import CollectingChat

CRASH = "something went wrong"
_ids = itertools.count(1_000_000)

unicode_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=300)
control_text = st.text(alphabet=st.sampled_from("\x00\x01\x07\x1b\u202e\u200b\ufeff\n\t "),
                       max_size=40)
commands = st.sampled_from(["/start", "/help", "/cancel", "/language", "/language id",
                            "/find", "/visit", "/deal", "/quote", "/kb", "/report",
                            "/week", "/jobs", "/newlead", "/newjob", "/invite", "/users",
                            "/start ABCDEFGH", "/whoami", "/" + "x" * 70])
phrases = st.sampled_from(["who handles Sinar Jaya?", "log visit", "my week",
                           "won by rep this quarter", "search pricing policy",
                           "siapa yang menangani maju bersama", "+62 21 555 0123", "PT",
                           "report", "funnel", "0", "-1", "1e309", "[1]", "Sinar"])


def payloads(flows: list[str], actions: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda f, t, v: f"f|{f}|{t}|{v}", st.sampled_from(flows or ["x"]),
                  st.sampled_from(["0", "1", "2", "ff", "-1", ""]), unicode_text),
        st.builds(lambda a, v: f"a|{a}|{v}", st.sampled_from(actions or ["x"]),
                  st.one_of(st.integers(-5, 10**12).map(str), unicode_text)),
        unicode_text,
    )


def events(flows: list[str], actions: list[str]) -> st.SearchStrategy[dict[str, object]]:
    floats = st.floats(allow_nan=True, allow_infinity=True)
    return st.one_of(
        st.fixed_dictionaries({"text": st.one_of(unicode_text, control_text, commands,
                                                 phrases)}),
        st.fixed_dictionaries({"text": st.just("z" * 65536)}),
        st.fixed_dictionaries({"button": payloads(flows, actions)}),
        st.fixed_dictionaries({"location": st.tuples(floats, floats)}),
        st.fixed_dictionaries({"file": st.tuples(unicode_text, st.integers(0, 10**10))}),
    )


def _incoming(who: str, event: dict[str, object], update_id: str) -> Incoming:
    kw: dict[str, object] = {}
    if "text" in event:
        kw["text"] = event["text"]
    elif "button" in event:
        kw["button"] = event["button"] or "?"
    elif "location" in event:
        lat, lon = event["location"]  # type: ignore[misc]
        kw["location"] = (lat, lon)
    else:
        name, size = event["file"]  # type: ignore[misc]
        kw["file"] = IncomingFile(name=name or "x", mime="application/octet-stream",
                                  size=size, data=b"\x00" * min(size, 64))
    return Incoming(platform="telegram", chat_id=who, user_id=who, update_id=update_id,
                    **kw)  # type: ignore[arg-type]


def _consistent(db: Database) -> None:
    with db.engine.connect() as conn:
        if db.dialect == "sqlite":
            assert conn.execute(text("PRAGMA foreign_key_check")).fetchall() == []
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        orphans = conn.execute(text(
            "SELECT count(*) FROM conversation_states s LEFT JOIN users u ON u.id = s.user_id "
            "WHERE s.user_id IS NOT NULL AND u.id IS NULL")).scalar()
        assert orphans == 0


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_engine_survives_anything(app: App, chat: CollectingChat, data: st.DataObject) -> None:
    for login in ("budi", "maya", "tono", "admin"):
        chat.as_user(login, platform="telegram")
    flows = sorted(app.registry.flows)
    actions = sorted(app.registry.actions)
    who = data.draw(st.sampled_from(["ext-budi", "ext-maya", "ext-tono", "ext-admin",
                                     "stranger"]))
    script = data.draw(st.lists(events(flows, actions), min_size=1, max_size=8))
    repeat = data.draw(st.booleans())

    async def play() -> None:
        for event in script:
            update_id = str(next(_ids))
            inc = _incoming(who, event, update_id)
            replies = await app.engine.handle(inc)
            assert isinstance(replies, list)
            for reply in replies:
                assert reply.text or reply.attachment is not None
                assert CRASH not in reply.text, f"a step crashed on {event!r}: {reply.text}"
                for row in reply.buttons:
                    for button in row:
                        assert len(button.payload.encode()) <= 64
            if repeat:
                # A redelivery is answered by nothing; input refused before it reaches the
                # database (too long, empty, too big) may be refused again, identically.
                again = await app.engine.handle(inc)
                assert again == [] or [r.text for r in again] == [r.text for r in replies]

    asyncio.run(play())
    _consistent(app.db)
