"""Property-based fuzzing of the Telegram door: update JSON with wrong-type and missing fields,
huge texts, control characters, unknown update kinds, forged callback data, duplicated and
out-of-order update ids, posted to the real PTB stack (webhook mode: Update.de_json and the
application's handlers) in front of the real engine and database.

Invariants: the door always answers the webhook call (200, or 400 for what is not an update),
no exception escapes or is logged as a failure, every update gets a reply in its chat or a
silent drop that is logged, and the database passes the consistency checks afterwards."""

from __future__ import annotations

import copy
import itertools
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import App
from bot.handlers.telegram import SECRET_HEADER, TelegramDoor
from tests.handlers.fake_telegram import FakeTelegram
from tests.handlers.telegram_fixtures import fake_fixture, link  # noqa: F401
from tests.support.consistency import assert_consistent

BUDI = FakeTelegram.user(6001, "Budi")
MAYA = FakeTelegram.user(6003, "Maya", "id")
STRANGER = FakeTelegram.user(6999, "Eve")
SECRET = "fuzz-webhook-secret-42"
REPLIES = {"sendMessage", "answerCallbackQuery", "editMessageText", "editMessageReplyMarkup",
           "sendDocument", "sendPhoto"}
FAILURES = ("failed", "telegram error", "could not apologise")
_messages = itertools.count(10_000)
_update_ids = itertools.count(1)

unicode_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)
control_text = st.text(alphabet=st.sampled_from("\x00\x01\x07\x1b\x7f\u202e\u200b\ufeff\n\t "),
                       min_size=1, max_size=30)
texts = st.one_of(unicode_text, control_text,
                  st.sampled_from(["/start", "/help", "/cancel", "/visit", "/find Sinar",
                                   "/start BADCODE1", "/whoami", "/help@other_bot",
                                   "/help@sfa_test_bot", "who handles Sinar Jaya?", "<b>x</b>",
                                   "/" + "x" * 80]),
                  st.sampled_from(["y" * 4097, "z" * 65536]))
wrong = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**64),
                  st.floats(allow_nan=True), st.just(""), st.just([]), st.just({}),
                  st.just([1, "a"]), st.just({"x": 1}), unicode_text)
forged = st.one_of(
    st.builds(lambda f, t, v: f"f|{f}|{t}|{v}",
              st.sampled_from(["log_visit", "report", "colour", "x", ""]),
              st.sampled_from(["0", "1", "999", "-1", "ff", ""]), unicode_text),
    st.builds(lambda a, v: f"a|{a}|{v}", st.sampled_from(["lead.claim", "approval.ok", "x"]),
              st.one_of(st.integers(-5, 10**12).map(str), unicode_text)),
    unicode_text, st.just("|" * 64))
users = st.sampled_from([BUDI, MAYA, STRANGER])


def _message(user: dict[str, Any], **body: Any) -> dict[str, Any]:
    return {"message_id": next(_messages), "date": 1_772_416_800,
            "chat": FakeTelegram.private_chat(user), "from": user, **body}


@st.composite
def base_updates(draw: st.DrawFn) -> dict[str, Any]:
    user = copy.deepcopy(draw(users))
    kind = draw(st.sampled_from(["text", "text", "text", "callback", "location", "contact",
                                 "sticker", "group", "channel", "unknown", "edited"]))
    if kind == "text":
        text = draw(texts)
        body: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            body["entities"] = [{"type": "bot_command", "offset": 0,
                                 "length": len(text.split()[0]) if text.split() else 1}]
        return {"message": _message(user, **body)}
    if kind == "callback":
        shown = _message({"id": 987654321, "is_bot": True, "first_name": "SFA"},
                         text="earlier question")
        shown["chat"] = FakeTelegram.private_chat(user)
        cq: dict[str, Any] = {"id": str(next(_messages)), "from": user,
                              "chat_instance": "ci", "data": draw(forged)}
        if draw(st.booleans()):
            cq["message"] = shown
        return {"callback_query": cq}
    if kind == "location":
        floats = st.floats(allow_nan=False, allow_infinity=False, width=32)
        return {"message": _message(user, location={"latitude": draw(floats),
                                                    "longitude": draw(floats)})}
    if kind == "contact":
        return {"message": _message(user, contact={"phone_number": draw(unicode_text),
                                                   "first_name": draw(unicode_text)})}
    if kind == "sticker":
        return {"message": _message(user, sticker={
            "file_id": "s", "file_unique_id": "s", "width": 1, "height": 1,
            "is_animated": False, "is_video": False, "type": "regular"})}
    if kind == "group":
        msg = _message(user, text=draw(texts))
        msg["chat"] = FakeTelegram.group_chat(-100123)
        return {"message": msg}
    if kind == "channel":
        return {"channel_post": {"message_id": 1, "date": 0, "text": draw(texts),
                                 "chat": {"id": -100999, "type": "channel", "title": "c"}}}
    if kind == "edited":
        return {"edited_message": _message(user, text=draw(texts))}
    return {draw(st.sampled_from(["poll", "my_chat_member", "inline_query", "x_new_kind"])):
            {"id": "1", "anything": draw(wrong)}}


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((*prefix, key))
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.extend(_paths(value, (*prefix, i)))
    return out


@st.composite
def updates(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    """An update and whether a field was broken (Telegram itself never sends those)."""
    update = draw(base_updates())
    broken = False
    for _ in range(draw(st.integers(0, 2))):  # break a field: wrong type or missing
        paths = _paths(update)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = update
        for key in path[:-1]:
            parent = parent[key]
        broken = True
        if draw(st.booleans()):
            # A copy: `st.just({"x": 1})` hands out one shared object, and a second break
            # inside it would make the update contain itself.
            parent[path[-1]] = copy.deepcopy(draw(wrong))
        elif isinstance(parent, dict):
            del parent[path[-1]]
    return update, broken


class Hook(str):
    """The webhook's URL; `worked()` waits until what was posted to it is worked (the
    webhook answers 200 once an update is recorded, and works it after)."""

    door: TelegramDoor

    async def worked(self) -> None:
        assert self.door.webhook is not None
        await self.door.webhook.drain(timeout=30)


@pytest.fixture(name="hook")
async def hook_fixture(app: App, fake: FakeTelegram) -> AsyncIterator[Hook]:
    door = TelegramDoor(app.engine, fake.token, api_url=fake.url, port=0, listen="127.0.0.1",
                        webhook_url="https://bot.example.com/tg/fuzz", webhook_secret=SECRET,
                        set_commands=False)
    await door.start()
    try:
        hook = Hook(f"http://127.0.0.1:{door.bound_port}/tg/fuzz")
        hook.door = door
        yield hook
    finally:
        await door.stop()


def _chat_of(update: dict[str, Any]) -> Any:
    """The chat a reply would go to, if the update names one a reply could reach."""
    for kind in ("message", "callback_query"):
        body = update.get(kind)
        if not isinstance(body, dict):
            continue
        if kind == "callback_query":
            message = body.get("message")
            sender = body.get("from")
            if isinstance(message, dict) and isinstance(message.get("chat"), dict):
                return message["chat"].get("id")
            return sender.get("id") if isinstance(sender, dict) else None
        chat = body.get("chat")
        return chat.get("id") if isinstance(chat, dict) else None
    return None


@settings(max_examples=60, deadline=None, derandomize=False,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(batch=st.lists(updates(), min_size=1, max_size=4),
       ids=st.lists(st.integers(0, 6), min_size=4, max_size=4))
async def test_the_telegram_door_survives_any_update(
        app: App, fake: FakeTelegram, hook: Hook, caplog: pytest.LogCaptureFixture,
        batch: list[tuple[dict[str, Any], bool]], ids: list[int]) -> None:
    for login, user in (("budi", BUDI), ("maya", MAYA)):
        link(app, login, user)
    caplog.set_level(logging.DEBUG, logger="bot")
    base = next(_update_ids) * 10  # this example's ids: out of order, some repeated
    async with aiohttp.ClientSession() as http:
        for (update, broken), update_id in zip(batch, ids, strict=False):
            body = {"update_id": base + update_id, **copy.deepcopy(update)}
            caplog.clear()
            calls = len(fake.calls)
            async with http.post(hook, json=body, headers={SECRET_HEADER: SECRET}) as resp:
                status = resp.status
            assert status in (200, 400), f"webhook answered {status} to {body!r}"
            await hook.worked()  # a 200 means recorded: the update is worked after it
            # PTB's error handler never sees an exception: the door keeps them all.
            escaped = [r.getMessage() for r in caplog.records
                       if r.getMessage().startswith("telegram error")]
            assert escaped == [], f"{body!r} -> {escaped}"
            if not broken:  # a well-formed update never takes the failure path
                failures = [r.getMessage() for r in caplog.records
                            if r.levelno >= logging.WARNING
                            and any(word in r.getMessage() for word in FAILURES)]
                assert failures == [], f"{body!r} -> {failures}"
            replied = [c for c in fake.calls[calls:] if c.method in REPLIES]
            dropped = [r for r in caplog.records if "dropped" in r.getMessage()
                       or "duplicate" in r.getMessage() or "bad update" in r.getMessage()]
            assert replied or dropped, f"no reply and no logged drop for {body!r}"
    assert_consistent(app.db, set(app.registry.flows))


@pytest.mark.parametrize(("text", "chat_id"), [([], 6001), ({"x": 1}, 6001), (7, 6001),
                                                ("hello", None), ([], None)])
async def test_a_forged_message_is_dropped_in_a_logged_line(
        app: App, fake: FakeTelegram, hook: Hook, caplog: pytest.LogCaptureFixture,
        text: Any, chat_id: Any) -> None:
    """Found by the fuzz test: a list as text and no chat id went down the failure path
    (an exception, then an apology that could not be sent) instead of being dropped."""
    link(app, "budi", BUDI)
    caplog.set_level(logging.DEBUG, logger="bot")
    body = {"update_id": 990_000 + next(_update_ids), "message": {
        "message_id": 10681, "date": 1772416800,
        "chat": {"id": chat_id, "type": "private", "first_name": "Budi"},
        "from": {"id": 6001, "is_bot": False, "first_name": "Budi", "language_code": "en"},
        "text": text}}
    calls = len(fake.calls)
    async with aiohttp.ClientSession() as http, http.post(
            hook, json=body, headers={SECRET_HEADER: SECRET}) as resp:
        assert resp.status in (200, 400)
    await hook.worked()
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if any(word in m for word in FAILURES)], messages
    assert [m for m in messages if "dropped" in m or "bad update" in m], messages
    assert [c for c in fake.calls[calls:] if c.method in REPLIES] == []
