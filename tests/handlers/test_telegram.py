"""The Telegram door end to end: the real python-telegram-bot stack against a fake Bot API."""

from __future__ import annotations

import copy
import html
import json
import logging

import pytest
from sqlalchemy import select

from bot.app import App
from bot.conversations.flow import Flow, Step, done, goto
from bot.conversations.messages import Button, Incoming
from bot.conversations.models import ProcessedUpdate
from bot.handlers.telegram import TelegramDoor
from bot.i18n import Translator
from core import users as user_service
from core.models import ChatIdentity, Team
from tests.handlers.fake_telegram import FakeTelegram
from tests.handlers.telegram_fixtures import door_fixture, fake_fixture, link  # noqa: F401

BUDI = FakeTelegram.user(5001, "Budi")
SARI = FakeTelegram.user(5002, "Sari", "id")
MAYA = FakeTelegram.user(5003, "Maya")
STRANGER = FakeTelegram.user(5999, "Eve")


def _invite(app: App, login: str) -> str:
    with app.db.session() as session:
        user = user_service.get_user_by_login(session, login)
        return user_service.create_invite(session, user, now=app.clock.now()).code


async def test_link_with_invite_code_then_help_and_menu(
        app: App, fake: FakeTelegram, door: TelegramDoor) -> None:
    fake.send_text(STRANGER, "hello")
    [hello] = await fake.wait_sent(STRANGER["id"], 1)
    assert "only talk to registered users" in hello["text"]

    code = _invite(app, "budi")
    fake.send_text(BUDI, f"/start {code}")
    [welcome] = await fake.wait_sent(BUDI["id"], 1)
    assert welcome["text"] == "Welcome, Budi Santoso! Your chat is now linked."
    with app.db.session() as session:
        identity = session.scalar(select(ChatIdentity).where(
            ChatIdentity.platform == "telegram", ChatIdentity.external_id == "5001"))
        assert identity is not None and identity.chat_id == "5001"

    fake.send_text(BUDI, "/help")
    help_text = (await fake.wait_sent(BUDI["id"], 2))[1]["text"]
    assert help_text.startswith("Here is what you can do:")
    assert "/cancel" in help_text

    # The menu: guests see start/help (en + id); Budi's chat gets the rep's commands.
    default_en = fake.commands[('{"type": "default"}', "")]
    assert [c["command"] for c in default_en] == ["start", "help"]
    assert fake.commands[('{"type": "default"}', "id")][1]["description"] == (
        "Tampilkan apa yang bisa Anda lakukan")
    chat_scope = json.dumps({"chat_id": 5001, "type": "chat"}, sort_keys=True)
    menu = await fake.wait_for(lambda: fake.commands.get((chat_scope, "")))
    names = [c["command"] for c in menu]
    assert "help" in names and "cancel" in names
    assert "invite" not in names and "linkchannel" not in names  # admin / manager only


async def test_user_text_is_escaped_and_language_hint_used(
        app: App, fake: FakeTelegram, door: TelegramDoor) -> None:
    link(app, "budi", BUDI)
    fake.send_text(BUDI, "/<b>bold</b>")
    [reply] = await fake.wait_sent(BUDI["id"], 1)
    call = fake.calls_of("sendMessage")[-1]
    assert call.params["parse_mode"] == "HTML"
    assert "/&lt;b&gt;bold&lt;/b&gt;" in reply["text"]
    fake.send_text(FakeTelegram.user(5998, "Tamu", "id-ID"), "halo")
    [hello] = await fake.wait_sent(5998, 1)
    assert hello["text"] == html.escape(Translator("id")(
        "Hello! I am the sales assistant of this company and I only talk to registered users. "
        "To start, send /start followed by the invite code your admin gave you."), quote=False)
    assert hello["text"].startswith("Halo")


def _pick_flow() -> Flow:
    async def start(ctx, inc: Incoming) -> Step:  # type: ignore[no-untyped-def]
        return goto("pick", ctx.reply("Pick a colour", [Button("Red", value="red"),
                                                          Button("Blue", value="blue")]))

    async def pick(ctx, inc: Incoming) -> Step:  # type: ignore[no-untyped-def]
        if inc.button is None:
            return goto("pick", "Press a button.")
        return done(f"You picked {inc.button}.")

    return Flow("colour_pick", start=start, states={"pick": pick}, commands=("colour",))


async def test_button_flow_edits_the_pressed_message_and_refuses_stale_buttons(
        app: App, fake: FakeTelegram, door: TelegramDoor) -> None:
    app.registry.add_flow(_pick_flow())
    link(app, "budi", BUDI)
    fake.send_text(BUDI, "/colour")
    [question] = await fake.wait_sent(BUDI["id"], 1)
    labels = [b["text"] for row in question["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["Red", "Blue"]
    assert question["reply_markup"]["inline_keyboard"][0][0]["callback_data"].startswith(
        "f|colour_pick|")

    as_shown = copy.deepcopy(question)  # what a second device still shows
    fake.press(BUDI, question, "Blue")
    sent = await fake.wait_sent(BUDI["id"], 2)
    assert sent[1]["text"] == "You picked blue."
    assert fake.calls_of("answerCallbackQuery"), "every callback query is answered"
    edited = fake.messages[(str(BUDI["id"]), question["message_id"])]
    assert "reply_markup" not in edited and edited["text"].endswith("✓ Blue</i>")

    # The old message (as the user's app still shows it) pressed again: refused, not re-run.
    answers = len(fake.calls_of("answerCallbackQuery"))
    fake.press(BUDI, as_shown, "Red")
    sent = await fake.wait_sent(BUDI["id"], 3)
    assert "earlier message" in sent[2]["text"]
    assert len(fake.calls_of("answerCallbackQuery")) == answers + 1


async def test_one_shot_commands_leave_no_old_button_alive(
        app: App, fake: FakeTelegram, door: TelegramDoor) -> None:
    """A one-shot command on a clear conversation writes no state (the engine's fast path);
    a button from a finished flow stays refused and the next run of that flow gets a new
    token."""
    from bot.conversations.models import ConversationState

    app.registry.add_flow(_pick_flow())
    link(app, "budi", BUDI)
    fake.send_text(BUDI, "/colour")
    [first] = await fake.wait_sent(BUDI["id"], 1)
    old = copy.deepcopy(first)
    fake.press(BUDI, first, "Blue")
    await fake.wait_sent(BUDI["id"], 2)

    def state() -> tuple[str | None, int, object]:
        with app.db.session() as session:
            row = session.scalar(select(ConversationState).where(
                ConversationState.external_user_id == str(BUDI["id"])))
            assert row is not None
            return row.flow, row.token, row.updated_at

    cleared = state()
    assert cleared[0] is None
    fake.send_text(BUDI, "/whoami")
    fake.send_text(BUDI, "/whoami")
    sent = await fake.wait_sent(BUDI["id"], 4)
    assert sent[2]["text"].startswith("You are") and sent[3]["text"].startswith("You are")
    assert state() == cleared, "a one-shot command on a clear state writes nothing"

    fake.send_text(BUDI, "/colour")
    second = (await fake.wait_sent(BUDI["id"], 5))[4]

    def token(message: dict) -> str:  # type: ignore[type-arg]
        return message["reply_markup"]["inline_keyboard"][0][0]["callback_data"].split("|")[2]

    assert token(second) != token(old)
    fake.press(BUDI, old, "Red")  # the finished flow's message, as another device shows it
    sent = await fake.wait_sent(BUDI["id"], 6)
    assert "earlier message" in sent[5]["text"]
    fake.press(BUDI, second, "Red")
    sent = await fake.wait_sent(BUDI["id"], 7)
    assert sent[6]["text"] == "You picked red."


async def test_location_contact_and_unsupported_messages(
        app: App, fake: FakeTelegram, door: TelegramDoor) -> None:
    seen: list[Incoming] = []

    async def take(ctx, inc: Incoming) -> Step:  # type: ignore[no-untyped-def]
        seen.append(inc)
        return done("got it")

    app.registry.add_flow(Flow("take_location", start=take))
    app.registry.location_flow = "take_location"
    app.registry.add_flow(Flow("take_file", start=take))
    app.registry.file_flow = "take_file"
    link(app, "budi", BUDI)
    fake.send_location(BUDI, -6.2, 106.8)
    await fake.wait_sent(BUDI["id"], 1)
    assert seen[0].location == (-6.2, 106.8)
    fake.send_contact(BUDI, "+6281234567", "Ratna", "Kusumawati")
    await fake.wait_sent(BUDI["id"], 2)
    assert seen[1].file is not None and seen[1].file.mime == "text/vcard"
    assert b"TEL;TYPE=CELL:+6281234567" in seen[1].file.data
    fake.push({"message": {"message_id": 77, "date": 0, "chat": fake.private_chat(BUDI),
                           "from": BUDI, "sticker": {"file_id": "s", "file_unique_id": "s",
                                                     "width": 1, "height": 1,
                                                     "is_animated": False,
                                                     "is_video": False, "type": "regular"}}})
    sent = await fake.wait_sent(BUDI["id"], 3)
    assert "did not get any text" in sent[2]["text"]


async def test_upload_is_downloaded_and_too_big_is_refused_before_download(
        app: App, fake: FakeTelegram, door: TelegramDoor) -> None:
    seen: list[Incoming] = []

    async def take(ctx, inc: Incoming) -> Step:  # type: ignore[no-untyped-def]
        seen.append(inc)
        return done(f"stored {inc.file.name if inc.file else '-'}")

    app.registry.add_flow(Flow("take_file", start=take))
    app.registry.file_flow = "take_file"
    link(app, "budi", BUDI)
    fake.send_document(BUDI, "brochure.pdf", b"%PDF-1.4 small", "application/pdf")
    [stored] = await fake.wait_sent(BUDI["id"], 1)
    assert stored["text"] == "stored brochure.pdf"
    assert seen[0].file is not None and seen[0].file.data == b"%PDF-1.4 small"
    assert len(fake.calls_of("getFile")) == 1 and len(fake.calls_of("download")) == 1

    fake.send_document(BUDI, "huge.zip", b"x", "application/zip", size=50 * 1024 * 1024)
    sent = await fake.wait_sent(BUDI["id"], 2)
    assert "too big (50.0 MB)" in sent[1]["text"] and "20.0 MB" in sent[1]["text"]
    assert len(fake.calls_of("getFile")) == 1, "the big file was never fetched"
    assert len(seen) == 1

    fake.send_photo(BUDI, b"\xff\xd8\xff jpeg bytes")
    sent = await fake.wait_sent(BUDI["id"], 3)
    assert seen[1].file is not None and seen[1].file.mime == "image/jpeg"
    assert seen[1].file.data == b"\xff\xd8\xff jpeg bytes"  # the largest size was taken


async def test_redelivered_update_runs_once(app: App, fake: FakeTelegram,
                                            door: TelegramDoor) -> None:
    link(app, "budi", BUDI)
    update = fake.build_text(BUDI, "/whoami")
    first = fake.push(update)
    await fake.wait_sent(BUDI["id"], 1)
    fake.push({**update, "update_id": first})  # the same update id again
    fake.send_text(BUDI, "/help")
    sent = await fake.wait_sent(BUDI["id"], 2)
    assert sent[1]["text"].startswith("Here is what you can do")
    assert len(sent) == 2
    with app.db.session() as session:
        ids = session.scalars(select(ProcessedUpdate.update_id).where(
            ProcessedUpdate.platform == "telegram")).all()
    assert str(first) in ids


async def test_linkchannel_and_group_buttons_authorize_the_presser(
        app: App, fake: FakeTelegram, door: TelegramDoor) -> None:
    link(app, "maya", MAYA)
    link(app, "budi", BUDI)
    group = fake.group_chat(-100777, "Java West sales")
    fake.send_text(BUDI, "/linkchannel", chat=group)
    sent = await fake.wait_sent(-100777, 1)
    assert "Your role cannot use that" in sent[0]["text"]
    fake.send_text(MAYA, "/linkchannel@sfa_test_bot", chat=group)
    sent = await fake.wait_sent(-100777, 2)
    assert "team channel of Java West" in sent[1]["text"]
    assert fake.calls_of("sendMessage")[-1].params["reply_parameters"]["message_id"]
    with app.db.session() as session:
        team = session.scalar(select(Team).where(Team.name == "Java West"))
        assert team is not None
        assert (team.channel_platform, team.channel_id) == ("telegram", "-100777")
    fake.send_text(MAYA, "/linkchannel")  # in private: told where to send it
    [private] = await fake.wait_sent(MAYA["id"], 1)
    assert "group chat" in private["text"]
    fake.send_text(MAYA, "just chatting", chat=group)  # plain group chatter: no answer
    fake.send_text(STRANGER, "/help", chat=group)
    fake.send_text(MAYA, "/help@SomeOtherBot", chat=group)  # for another bot: not ours
    fake.send_text(MAYA, "/whoami")
    await fake.wait_sent(MAYA["id"], 2)
    assert len(fake.sent_to(-100777)) == 2


async def test_a_failing_telegram_call_is_logged_and_others_are_served(
        app: App, fake: FakeTelegram, door: TelegramDoor, caplog: pytest.LogCaptureFixture
) -> None:
    link(app, "budi", BUDI)
    link(app, "sari", SARI)
    fake.fail("sendMessage", 500, times=1)
    with caplog.at_level(logging.INFO):
        fake.send_text(BUDI, "/whoami")
        # The failed reply is followed by an apology once Telegram answers again.
        sent = await fake.wait_sent(BUDI["id"], 1)
        assert "did not take my answer" in sent[0]["text"]
        assert "was handled" in sent[0]["text"]  # the update did run: no "nothing saved"
        fake.send_text(SARI, "/whoami")
        sent = await fake.wait_sent(SARI["id"], 1)
        assert "Sari Purnamasari" in sent[0]["text"]
    assert any("failed" in r.getMessage() for r in caplog.records)
