"""The conversation engine: state across restarts, duplicates, stale and forged buttons,
expiry, ordering per user, linking, roles, and bad input that changes nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.conversations.engine import Engine
from bot.conversations.flow import FIELD_ROLES, Action, Ctx, Flow, Step, done, goto, intent
from bot.conversations.messages import Button, Incoming, Reply
from bot.conversations.models import ConversationState, ProcessedUpdate
from bot.conversations.registry import Registry
from core import users as user_service
from core.clock import ManualClock
from core.db import Database
from core.errors import DomainError
from core.models import Activity, ChatIdentity, InviteCode, User
from core.settings import Settings
from tests.support.chat import CollectingChat, texts

# -- a two-step test flow: pick a colour (buttons), then type a note; writes an Activity ------


async def begin(ctx: Ctx, inc: Incoming) -> Step:
    return goto("colour", ctx.reply("Pick a colour", [Button("Red", value="red"),
                                                      Button("Blue", value="blue")]))


async def colour(ctx: Ctx, inc: Incoming) -> Step:
    choice = inc.button or (inc.text or "").lower()
    if choice not in ("red", "blue"):
        return goto("colour", Reply("Please press Red or Blue."))
    ctx.data["colour"] = choice
    return goto("note", Reply(f"{choice} it is. Now type a note."))


async def note(ctx: Ctx, inc: Incoming) -> Step:
    text = inc.text or ""
    if text == "boom":
        raise RuntimeError("step exploded")
    if text == "refuse":
        raise DomainError("test.refused")
    company_id = ctx.session.scalar(select(func.min(Activity.company_id))) or 1
    ctx.session.add(Activity(user_id=ctx.user.id, company_id=company_id, kind="call",
                             notes=f"{ctx.data['colour']}:{text}", occurred_at=ctx.now,
                             created_at=ctx.now))
    return done(f"Saved {ctx.data['colour']} / {text}")


async def echo(ctx: Ctx, inc: Incoming) -> Step:
    return done(f"echo {ctx.args.get('text', '')}")


async def greet(ctx: Ctx, inc: Incoming) -> Step:
    return done(f"hello {ctx.args.get('who', '')}")


async def ping_action(ctx: Ctx, arg: str) -> Step:
    return done(f"pong {arg}")


def make_registry() -> Registry:
    registry = Registry()
    registry.add_flow(Flow("pick", start=begin, states={"colour": colour, "note": note},
                           roles=FIELD_ROLES, commands=("pick",), help="Pick a colour"))
    registry.add_flow(Flow("echo", start=echo, commands=("echo",), timeout=timedelta(minutes=5)))
    registry.add_flow(Flow("greet", start=greet))
    registry.add_intent(intent("greet", r"^say hi to (?P<who>\w+)"))
    registry.add_action(Action("ping", ping_action))
    registry.fallback = "echo"
    return registry


@pytest.fixture
def engine(database: Database, settings: Settings, clock: ManualClock, world: object) -> Engine:
    return Engine(database, make_registry(), settings=settings, clock=clock)


@pytest.fixture
def tchat(engine: Engine) -> CollectingChat:
    return CollectingChat(engine)


def count(db: Database, model: type) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


async def test_two_step_flow_with_buttons(tchat: CollectingChat, database: Database) -> None:
    budi = tchat.as_user("budi")
    out = await budi.say("/pick")
    assert out[0].text == "Pick a colour"
    assert [b.label for row in out[0].buttons for b in row] == ["Red", "Blue"]
    assert all(b.payload.startswith("f|pick|") for row in out[0].buttons for b in row)
    assert "red it is" in texts(await budi.press("Red"))
    assert texts(await budi.say("met the buyer")) == "Saved red / met the buyer"
    with database.session() as s:
        assert s.scalar(select(Activity.notes)) == "red:met the buyer"


async def test_state_survives_a_restart(engine: Engine, database: Database,
                                        settings: Settings, clock: ManualClock) -> None:
    budi = CollectingChat(engine).as_user("budi")
    await budi.say("/pick")
    await budi.press("Blue")
    # A new engine (a restarted process) continues the same conversation from the database.
    restarted = Engine(database, make_registry(), settings=settings, clock=clock)
    replies = await restarted.handle(budi.incoming(text="after restart"))
    assert texts(replies) == "Saved blue / after restart"


async def test_duplicate_update_id_is_processed_once(tchat: CollectingChat,
                                                     database: Database) -> None:
    budi = tchat.as_user("budi")
    await budi.say("/pick")
    await budi.press("Red")
    inc = budi.incoming(text="once", update_id="dup-1")
    first = await budi.send(inc)
    second = await budi.send(inc)
    assert texts(first) == "Saved red / once"
    assert second == []
    assert count(database, Activity) == 1


async def test_stale_button_is_answered_not_acted_on(tchat: CollectingChat,
                                                     database: Database) -> None:
    budi = tchat.as_user("budi")
    await budi.say("/pick")
    old_red = budi.find("Red")
    await budi.press("Blue")
    out = await budi.send(budi.incoming(button=old_red.payload))
    assert "earlier message" in texts(out)
    # The conversation is still waiting for the note of the *blue* choice.
    assert texts(await budi.say("x")) == "Saved blue / x"


async def test_forged_and_foreign_payloads(tchat: CollectingChat, database: Database) -> None:
    budi = tchat.as_user("budi")
    sari = tchat.as_user("sari")
    out = await budi.say("/pick")
    red = out[0].buttons[0][0]
    token = red.payload.split("|")[2]
    # A value that was never offered, with the right token, is refused.
    forged = await budi.send(budi.incoming(button=f"f|pick|{token}|green"))
    assert "no longer valid" in texts(forged)
    # Garbage payloads and unknown actions.
    for junk in ("", "x", "f|pick", "a|nope|1", "f|nosuchflow|1|red", "\x00\xff", "a" * 500):
        reply = await budi.send(budi.incoming(button=junk or "?"))
        assert reply and reply[0].text
    # Sari presses Budi's button: it belongs to no conversation of hers.
    foreign = await sari.send(sari.incoming(button=red.payload))
    assert "pesan sebelumnya" in texts(foreign)  # Sari reads Indonesian
    # Budi's flow is untouched and still works.
    assert "red it is" in texts(await budi.press("Red"))
    assert count(database, Activity) == 0


async def test_expired_state(tchat: CollectingChat, clock: ManualClock) -> None:
    budi = tchat.as_user("budi")
    await budi.say("/pick")
    red = budi.find("Red")
    clock.advance(minutes=31)
    out = await budi.send(budi.incoming(button=red.payload))
    assert "timed out" in texts(out)
    # Plain text after expiry goes to the normal routing (fallback), not the dead flow.
    assert texts(await budi.say("hello")).endswith("echo hello")


async def test_intent_fallback_action_and_unknown_command(tchat: CollectingChat) -> None:
    budi = tchat.as_user("budi")
    assert texts(await budi.say("say hi to Maya")) == "hello Maya"
    assert texts(await budi.say("anything else")) == "echo anything else"
    assert texts(await budi.send(budi.incoming(button="a|ping|7"))) == "pong 7"
    assert "Unknown command /frobnicate" in texts(await budi.say("/frobnicate now"))


async def test_domain_error_rolls_back_the_step_only(tchat: CollectingChat,
                                                     database: Database) -> None:
    budi = tchat.as_user("budi")
    await budi.say("/pick")
    await budi.press("Red")
    out = await budi.say("refuse")
    assert "test.refused" in texts(out)  # no registered words: the generic message
    out = await budi.say("boom")
    assert "something went wrong" in texts(out)
    assert count(database, Activity) == 0
    assert texts(await budi.say("fine")) == "Saved red / fine"  # still in the same state


async def test_cancel_help_language(tchat: CollectingChat) -> None:
    budi = tchat.as_user("budi")
    assert texts(await budi.say("/cancel")) == "Nothing to cancel."
    await budi.say("/pick")
    assert texts(await budi.say("/cancel")) == "Cancelled."
    assert texts(await budi.say("hello")) == "echo hello"
    assert "/pick" in texts(await budi.say("/help"))
    assert "Bahasa" in texts(await budi.say("/language id"))
    assert texts(await budi.say("/cancel")) == "Tidak ada yang perlu dibatalkan."
    assert "/language en" in texts(await budi.say("/language fr"))


async def test_role_refusal(tchat: CollectingChat) -> None:
    tono = tchat.as_user("agus")  # technician (English): the pick flow is for field roles
    out = await tono.say("/pick")
    assert "role cannot" in texts(out)
    assert "/pick" not in texts(await tono.say("/help"))


async def test_unlinked_user_sees_nothing_but_the_linking_prompt(
    engine: Engine, database: Database, clock: ManualClock
) -> None:
    stranger = Incoming(platform="telegram", chat_id="999", user_id="999", text="/pick")
    for text in ("/pick", "who handles Sinar Jaya?", "/help", "/start WRONGCODE"):
        out = await engine.handle(Incoming(platform="telegram", chat_id="999",
                                           user_id="999", text=text))
        joined = texts(out)
        assert "Sinar" not in joined and "Pick a colour" not in joined
        assert "invite code" in joined
    out = await engine.handle(Incoming(platform="telegram", chat_id="999", user_id="999",
                                       button="a|ping|1"))
    assert "pong" not in texts(out)
    assert count(database, ConversationState) == 0
    assert stranger.key == ("telegram", "999", "999")


async def test_invite_links_once_and_expires(engine: Engine, database: Database,
                                             clock: ManualClock) -> None:
    with database.session() as s:
        user = user_service.get_user_by_login(s, "sari")
        code = user_service.create_invite(s, user, now=clock.now(),
                                          ttl=timedelta(hours=1)).code
        old = user_service.create_invite(s, user, now=clock.now() - timedelta(hours=2),
                                         ttl=timedelta(hours=1)).code
    out = await engine.handle(Incoming(platform="telegram", chat_id="5", user_id="5",
                                       text=f"/start {code.lower()}"))
    assert "Sari" in texts(out)
    # Linked: the same identity now uses the bot.
    assert texts(await engine.handle(Incoming(platform="telegram", chat_id="5", user_id="5",
                                              text="hi"))) == "echo hi"
    # The code is single-use, an expired code is refused.
    for other, c in (("6", code), ("7", old)):
        out = await engine.handle(Incoming(platform="telegram", chat_id=other, user_id=other,
                                           text=f"/start {c}"))
        assert "not valid" in texts(out)
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(ChatIdentity)
                        .where(ChatIdentity.platform == "telegram")) == 1
        assert s.scalar(select(InviteCode.used_at).where(InviteCode.code == code)) is not None


async def test_deactivated_user_is_refused(tchat: CollectingChat, database: Database) -> None:
    budi = tchat.as_user("budi")
    with database.session() as s:
        user_service.deactivate_user(s, user_service.get_user_by_login(s, "budi"))
    out = await budi.say("/pick")
    assert "deactivated" in texts(out)


async def test_bad_input_gets_a_reply_and_changes_nothing(tchat: CollectingChat,
                                                          database: Database) -> None:
    budi = tchat.as_user("budi")
    await budi.say("/cancel")
    before = count(database, Activity)
    cases = ["x" * 5000, "", "   ", "\x00\x01\x02", "\ud7ff\ufffe" * 10,
             bytes(range(256)).decode("latin-1"), "/" + "z" * 100, "/"]
    for text in cases:
        out = await budi.say(text)
        assert out and out[0].text, f"no reply for {text[:20]!r}"
        assert len(out[0].text) < 400
    assert "too long" in texts(await budi.say("y" * 4097))
    assert count(database, Activity) == before
    with database.session() as s:
        assert s.scalar(select(ConversationState.flow)) is None


async def test_updates_of_one_user_run_in_order(tchat: CollectingChat) -> None:
    budi = tchat.as_user("budi")
    await budi.say("/pick")
    red = budi.find("Red")
    # Fired concurrently, handled in arrival order: the button, then the note.
    results = await asyncio.gather(
        budi.send(budi.incoming(button=red.payload)),
        budi.send(budi.incoming(text="first note")),
    )
    assert "red it is" in texts(results[0])
    assert texts(results[1]) == "Saved red / first note"


async def test_different_users_run_concurrently(tchat: CollectingChat,
                                                database: Database) -> None:
    users = [tchat.as_user(login) for login in ("budi", "sari", "andi", "dewi", "rizky")]
    await asyncio.gather(*(u.say("/pick") for u in users))
    await asyncio.gather(*(u.press("Blue") for u in users))
    outs = await asyncio.gather(*(u.say(f"note {u.login}") for u in users))
    assert [texts(o) for o in outs] == [f"Saved blue / note {u.login}" for u in users]
    assert count(database, Activity) == 5


async def test_group_chat_ignores_chatter(engine: Engine, database: Database,
                                          clock: ManualClock) -> None:
    with database.session() as s:
        user = s.scalar(select(User).where(User.login == "budi"))
        assert user is not None
        user_service.link_identity(s, user, platform="telegram", external_id="42",
                                   chat_id="42", now=clock.now())
    out = await engine.handle(Incoming(platform="telegram", chat_id="-100", user_id="42",
                                       text="random chatter", chat_is_group=True))
    assert out == []
    out = await engine.handle(Incoming(platform="telegram", chat_id="-100", user_id="42",
                                       text="/pick", chat_is_group=True))
    assert "private chat" in texts(out)
    out = await engine.handle(Incoming(platform="telegram", chat_id="-100", user_id="42",
                                       button="a|ping|3", chat_is_group=True))
    assert texts(out) == "pong 3"
    assert count(database, ProcessedUpdate) == 0


async def test_flooding_user_is_answered_once_then_dropped(
    database: Database, settings: Settings, clock: ManualClock, world: object
) -> None:
    limited = settings.model_copy(update={"rate_limit_messages": 20,
                                          "rate_limit_window_seconds": 10})
    tchat = CollectingChat(Engine(database, make_registry(), settings=limited, clock=clock))
    budi = tchat.as_user("budi", platform="telegram")
    sari = tchat.as_user("sari", platform="telegram")
    answers = [await budi.say(f"msg {i}") for i in range(25)]
    assert all(texts(a).startswith("echo") for a in answers[:20])
    assert "faster than I can follow" in texts(answers[20])
    assert all(a == [] for a in answers[21:])
    assert texts(await sari.say("still served")) == "echo still served"  # others unaffected
    clock.advance(seconds=11)
    assert texts(await budi.say("after the window")) == "echo after the window"


async def test_an_action_button_naming_an_impossible_record_is_refused_politely(
        chat, caplog) -> None:
    """A forged payload with an id past the database's integer range (found by the Telegram
    fuzz test on PostgreSQL, where it raised a DataError) is refused before any lookup."""
    import logging

    from tests.support.chat import texts

    budi = chat.as_user("budi")
    with caplog.at_level(logging.ERROR):
        for payload in ("a|lead.claim|2147483648", "a|followup.snooze|99999999999:1h",
                        "a|kb.version|1:" + "9" * 40):
            assert "That button is no longer valid." in texts(
                await budi.send(budi.incoming(button=payload)))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # An ordinary id still reaches the action (which answers for itself).
    assert "That button is no longer valid." not in texts(
        await budi.send(budi.incoming(button="a|lead.claim|2147483647")))
