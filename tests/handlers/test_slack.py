"""The Slack door end to end: signed HTTP requests to the real bolt app, the real engine and
database, and a local mock Slack Web API recording what the door sends."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.app import App
from bot.conversations.flow import Ctx, Flow, Step, done, goto
from bot.conversations.messages import (
    Attachment,
    Button,
    Form,
    FormField,
    FormReply,
    Incoming,
    Reply,
    form_values,
)
from bot.conversations.models import ProcessedUpdate
from bot.handlers.slack import SlackDoor, SlackSender, make_client
from core import users as user_service
from core.errors import DomainError
from core.models import ChatIdentity
from core.ports import PermanentFailure, RateLimited
from core.settings import Settings
from tests.handlers.fake_slack import BOT_USER, TEAM, FakeSlack
from tests.handlers.slack_fixtures import fake_fixture, slack_settings_for  # noqa: F401
from tests.handlers.slack_support import SignedSlack


@pytest.fixture
def slack_settings(settings: Settings, fake: FakeSlack) -> Settings:
    return slack_settings_for(settings, fake)


@pytest.fixture
async def door(app: App, slack_settings: Settings) -> AsyncIterator[SlackDoor]:
    d = SlackDoor(app.engine, slack_settings, http_port=0, host="127.0.0.1")
    await d.start()
    yield d
    await d.stop()


@pytest.fixture
async def slack(door: SlackDoor) -> AsyncIterator[SignedSlack]:
    async with aiohttp.ClientSession() as http:
        yield SignedSlack(http, f"http://127.0.0.1:{door.port}/slack/events")


def link(app: App, login: str, slack_user: str) -> None:
    with app.db.session() as session:
        user = user_service.get_user_by_login(session, login)
        user_service.link_identity(session, user, platform="slack",
                                   external_id=f"{TEAM}:{slack_user}",
                                   chat_id=f"D{slack_user}", now=app.clock.now())


async def test_link_by_invite_code_then_help(app: App, door: SlackDoor, slack: SignedSlack,
                                             fake: FakeSlack) -> None:
    status, _ = await slack.dm("U1", "hello")
    assert status == 200
    await door.drain()
    assert "invite code" in fake.texts()
    with app.db.session() as session:
        code = user_service.create_invite(
            session, user_service.get_user_by_login(session, "budi"), now=app.clock.now()).code
    fake.clear()
    status, body = await slack.command("U1", f"start {code}")
    assert status == 200 and body == ""  # acked at once, empty body
    await door.drain()
    assert fake.of("conversations.open")[0].args["users"] == "U1"
    welcome = fake.of("chat.postMessage")[0]
    assert welcome.args["channel"] == "DU1" and "Your chat is now linked" in welcome.text
    with app.db.session() as session:
        identity = session.scalar(select(ChatIdentity).where(
            ChatIdentity.platform == "slack", ChatIdentity.external_id == f"{TEAM}:U1"))
        assert identity is not None and identity.chat_id == "DU1"
    fake.clear()
    await slack.command("U1", "")  # a bare /sfa is /help
    await slack.dm("U1", "help")  # "help" typed in the DM is the command too
    await door.drain()
    helps = fake.of("chat.postMessage")
    assert len(helps) == 2 and all("Here is what you can do" in c.text for c in helps)
    assert "/whoami" in helps[0].text


async def test_slash_command_from_a_channel_answers_in_the_dm(
        app: App, door: SlackDoor, slack: SignedSlack, fake: FakeSlack) -> None:
    link(app, "budi", "U1")
    await slack.command("U1", "whoami", channel="C9")
    await door.drain()
    answer = fake.of("chat.postMessage")[0]
    assert answer.args["channel"] == "DU1" and "You are Budi" in answer.text
    note = fake.of("chat.postEphemeral")[0]
    assert note.args["channel"] == "C9" and note.args["user"] == "U1"
    assert "direct messages" in note.text


async def test_link_by_profile_email_when_enabled(app: App, slack_settings: Settings,
                                                  fake: FakeSlack) -> None:
    with app.db.session() as session:
        budi = user_service.get_user_by_login(session, "budi")
        email = budi.email
    assert email
    fake.emails["U7"] = email.upper()  # matched case-insensitively
    enabled = slack_settings.model_copy(update={"slack_link_by_email": True})
    door = SlackDoor(app.engine, enabled, http_port=0, host="127.0.0.1")
    await door.start()
    try:
        async with aiohttp.ClientSession() as http:
            slack = SignedSlack(http, f"http://127.0.0.1:{door.port}/slack/events")
            await slack.command("U7", "whoami")
            await slack.command("U8", "whoami")  # no e-mail match: asked for a code
            await door.drain()
    finally:
        await door.stop()
    texts = fake.texts()
    assert "Linked to Budi" in texts and "You are Budi" in texts
    assert [c.args["user"] for c in fake.of("users.info")] == ["U7", "U8"]
    to_u8 = [c.text for c in fake.of("chat.postMessage") if c.args["channel"] == "DU8"]
    assert len(to_u8) == 1 and "invite code" in to_u8[0]


async def test_a_button_flow_and_the_pressed_message_is_closed(
        app: App, door: SlackDoor, slack: SignedSlack, fake: FakeSlack) -> None:
    link(app, "maya", "U2")
    await slack.command("U2", "report")
    await door.drain()
    question = fake.of("chat.postMessage")[-1]
    assert "Which report?" in question.text
    first = question.buttons()[0]
    assert first["value"].startswith("f|report|")
    await slack.press("U2", first, channel="DU2", message_ts="111.1",
                      blocks=question.blocks())
    await door.drain()
    update = fake.of("chat.update")[-1]
    assert update.args["ts"] == "111.1"
    assert not [b for b in update.blocks() if b["type"] == "actions"]  # buttons gone
    assert "You chose: " + first["text"]["text"] in str(update.blocks())
    assert "Grouped how?" in fake.of("chat.postMessage")[-1].text or \
        "For which period?" in fake.of("chat.postMessage")[-1].text
    # The same old button pressed again (a second tab, a double click): refused by the engine.
    latest = fake.last_buttons()
    fake.clear()
    await slack.press("U2", first, channel="DU2", message_ts="111.1")
    await door.drain()
    assert "no longer applies" in fake.texts()
    # Walk on to the end: the report's chart goes out through the external upload API.
    for _ in range(3):
        if fake.of("files.completeUploadExternal"):
            break
        await slack.press("U2", latest[0], channel="DU2", message_ts=f"2{time.time()}")
        await door.drain()
        latest = fake.last_buttons()
    assert fake.of("files.getUploadURLExternal")
    complete = fake.of("files.completeUploadExternal")[0]
    assert complete.args["channel_id"] == "DU2"
    asked = fake.of("files.getUploadURLExternal")[0].args
    (data,) = fake.uploads.values()
    assert int(asked["length"]) == len(data) > 0
    assert (asked["filename"].endswith(".png") and data.startswith(b"\x89PNG")) or (
        asked["filename"].endswith(".csv") and data.startswith(b"Name,"))


async def test_signature_and_timestamp_are_checked(app: App, door: SlackDoor,
                                                   slack: SignedSlack, fake: FakeSlack) -> None:
    link(app, "budi", "U1")
    status, _ = await slack.command("U1", "whoami", signature="v0=" + "0" * 64)
    assert status == 401
    status, _ = await slack.command("U1", "whoami", timestamp=int(time.time()) - 6 * 60)
    assert status == 401
    await door.drain()
    assert door.stats.received == 0
    assert not fake.posted()
    status, _ = await slack.command("U1", "whoami", timestamp=int(time.time()) - 4 * 60)
    assert status == 200
    # Slack's URL check when the events URL is configured: answered with the challenge.
    status, body = await slack.post('{"type": "url_verification", "challenge": "c-42"}',
                                    "application/json")
    assert status == 200 and "c-42" in body
    await door.drain()
    assert "You are Budi" in fake.texts()


async def test_a_retried_event_is_handled_once(app: App, door: SlackDoor, slack: SignedSlack,
                                               fake: FakeSlack, slack_settings: Settings
                                               ) -> None:
    link(app, "budi", "U1")
    await slack.dm("U1", "whoami", event_id="EvSame")
    await slack.dm("U1", "whoami", event_id="EvSame", retry=1)
    await door.drain()
    assert len(fake.of("chat.postMessage")) == 1
    assert door.stats.duplicates == 1
    # Even a new process (no memory of it) does not run it again: the engine recorded it.
    other = SlackDoor(app.engine, slack_settings, http_port=0, host="127.0.0.1")
    await other.start()
    try:
        async with aiohttp.ClientSession() as http:
            again = SignedSlack(http, f"http://127.0.0.1:{other.port}/slack/events")
            status, _ = await again.dm("U1", "whoami", event_id="EvSame", retry=2)
            assert status == 200
            await other.drain()
    finally:
        await other.stop()
    assert len(fake.of("chat.postMessage")) == 1
    with app.db.session() as session:
        assert session.get(ProcessedUpdate, ("slack", "EvSame")) is not None


async def test_rate_limited_replies_are_retried_after_retry_after(
        app: App, door: SlackDoor, slack: SignedSlack, fake: FakeSlack) -> None:
    link(app, "budi", "U1")
    fake.rate_limit["chat.postMessage"] = 1
    await slack.dm("U1", "whoami")
    await door.drain()
    methods = [c.method for c in fake.calls if c.method.startswith("chat.postMessage")]
    assert methods == ["chat.postMessage:429", "chat.postMessage"]
    assert "You are Budi" in fake.texts()


async def test_sender_reports_429_and_permanent_failures(slack_settings: Settings,
                                                        fake: FakeSlack) -> None:
    fake.retry_after = 7
    async with aiohttp.ClientSession() as http:
        client = make_client(slack_settings, retry_rate_limits=False)
        client.session = http
        sender = SlackSender(client)
        ts = await sender.deliver("DU1", Reply(
            text="Follow up with Sinar Jaya", buttons=((Button("Done", payload="a|fu.done|4"),),)))
        assert ts
        sent = fake.of("chat.postMessage")[0]
        assert sent.buttons()[0]["value"] == "a|fu.done|4"
        fake.rate_limit["chat.postMessage"] = 1
        with pytest.raises(RateLimited) as limited:
            await sender.deliver("DU1", Reply(text="again"))
        assert limited.value.retry_after == 7
        fake.fail_channels["DGONE"] = "channel_not_found"
        with pytest.raises(PermanentFailure):
            await sender.deliver("DGONE", Reply(text="x"))
        await sender.deliver("DU1", Reply(
            text="Your quote", attachment=Attachment("Q-1.pdf", b"%PDF-1.4 x",
                                                     "application/pdf")))
    assert list(fake.uploads.values()) == [b"%PDF-1.4 x"]


# -- a form (modal), a file in, and a channel mention, with a small flow of the test's own --
async def _form_start(ctx: Ctx, inc: Incoming) -> Step:
    form = Form(title="Log a visit", submit_label="Save", fields=(
        FormField("company", "Company"),
        FormField("amount", "Amount", kind="number", required=False),
        FormField("outcome", "Outcome", kind="choice",
                  options=(("good", "Good"), ("bad", "Bad"))),
    ))
    return goto("fill", FormReply("Fill in the visit, or type: company, outcome.",
                                  buttons=((Button("Open form", value="form"),),), form=form))


async def _form_fill(ctx: Ctx, inc: Incoming) -> Step:
    values = form_values(inc)
    if values is None:
        return goto("fill", Reply("Type: company, outcome."))
    if values["company"] == "nobody":
        raise DomainError("test.no_company")  # refused: nothing saved, the form stays usable
    return done(f"Saved {values['company']} / {values.get('amount', '-')} / "
                f"{values['outcome']}")


async def _upload_start(ctx: Ctx, inc: Incoming) -> Step:
    return goto("file", Reply("Send me the file."))


async def _upload_file(ctx: Ctx, inc: Incoming) -> Step:
    if inc.file is None:
        return goto("file", Reply("That was not a file."))
    return done(Reply(f"Got {inc.file.name}: {inc.file.size} bytes, "
                      f"starts {inc.file.data[:4]!r}",
                      attachment=Attachment("echo.txt", inc.file.data[:10], "text/plain")))


@pytest.fixture
def test_flows(app: App) -> None:
    app.registry.add_flow(Flow("formtest", start=_form_start, states={"fill": _form_fill},
                               commands=("formtest",)))
    app.registry.add_flow(Flow("uploadtest", start=_upload_start,
                               states={"file": _upload_file}, commands=("uploadtest",)))


def _values(company: str, amount: str, outcome: str | None) -> dict[str, Any]:
    return {
        "company": {"v": {"type": "plain_text_input", "value": company}},
        "amount": {"v": {"type": "plain_text_input", "value": amount}},
        "outcome": {"v": {"type": "static_select", "selected_option":
                          {"value": outcome} if outcome else None}},
    }


async def test_a_form_opens_a_modal_and_shows_field_errors(
        app: App, door: SlackDoor, slack: SignedSlack, fake: FakeSlack,
        test_flows: None) -> None:
    link(app, "budi", "U1")
    await slack.command("U1", "formtest")
    await door.drain()
    message = fake.of("chat.postMessage")[-1]
    (button,) = message.buttons()
    assert button["action_id"].startswith("sfa_form")
    status, _ = await slack.press("U1", button, channel="DU1", message_ts="5.5",
                                  blocks=message.blocks())
    assert status == 200
    await door.drain()
    view = fake.of("views.open")[0].args["view"]
    assert view["type"] == "modal" and [b["block_id"] for b in view["blocks"]] == [
        "company", "amount", "outcome"]
    status, body = await slack.submit("U1", view, _values("", "12x", None))
    assert status == 200
    errors = __import__("json").loads(body)
    assert errors["response_action"] == "errors"
    assert set(errors["errors"]) == {"company", "amount", "outcome"}
    assert "required" in errors["errors"]["company"]
    await door.drain()
    assert not any("Saved" in c.text for c in fake.of("chat.postMessage"))
    status, body = await slack.submit("U1", view, _values("nobody", "1", "good"))
    assert status == 200 and body == ""
    await door.drain()
    assert "test.no_company" in fake.texts()  # the step refused it (no words registered)
    assert not fake.of("chat.update")  # the message keeps its button: open the form again
    status, body = await slack.submit("U1", view, _values("PT Sinar Jaya", "1,500,000", "good"))
    assert status == 200 and body == ""
    await door.drain()
    assert "Saved PT Sinar Jaya / 1500000 / good" in fake.texts()
    closed = fake.of("chat.update")[-1]
    assert closed.args["ts"] == "5.5" and "You chose: Open form" in str(closed.blocks())
    # The same modal submitted again: its button is spent, nothing is saved twice.
    fake.clear()
    await slack.submit("U1", view, _values("PT Sinar Jaya", "1", "good"))
    await door.drain()
    assert "Saved" not in fake.texts()


async def test_a_file_in_and_a_file_out(app: App, door: SlackDoor, slack: SignedSlack,
                                        fake: FakeSlack, test_flows: None) -> None:
    link(app, "budi", "U1")
    fake.downloads["brochure.pdf"] = b"%PDF-1.7 brochure"
    await slack.command("U1", "uploadtest")
    await door.drain()
    await slack.dm("U1", "", extra={"subtype": "file_share", "files": [{
        "id": "F1", "name": "brochure.pdf", "mimetype": "application/pdf", "size": 17,
        "url_private_download": f"{fake.url}/files/brochure.pdf"}]})
    await door.drain()
    assert "Got brochure.pdf: 17 bytes, starts b'%PDF'" in fake.texts(
        "files.completeUploadExternal")
    assert list(fake.uploads.values()) == [b"%PDF-1.7 b"]
    assert [c.args["name"] for c in fake.of("download")] == ["brochure.pdf"]
    # A file over the size cap is refused without being downloaded.
    fake.clear()
    await slack.dm("U1", "", extra={"subtype": "file_share", "files": [{
        "id": "F2", "name": "huge.zip", "mimetype": "application/zip", "size": 300_000_000,
        "url_private_download": f"{fake.url}/files/huge.zip"}]})
    await door.drain()
    assert "That file is too big" in fake.texts()
    assert not fake.of("download")
    # A file Slack will not hand over: said so, nothing reaches the flow.
    fake.clear()
    await slack.dm("U1", "", extra={"subtype": "file_share", "files": [{
        "id": "F3", "name": "gone.pdf", "mimetype": "application/pdf", "size": 10,
        "url_private_download": f"{fake.url}/files/gone.pdf"}]})
    await door.drain()
    assert "could not fetch that file" in fake.texts()


async def test_a_command_in_a_channel_without_a_dm_stays_private(
        app: App, door: SlackDoor, slack: SignedSlack, fake: FakeSlack) -> None:
    link(app, "budi", "U1")
    fake.fail_methods["conversations.open"] = "cannot_dm_bot"
    await slack.command("U1", "whoami", channel="C5")
    await door.drain()
    assert not fake.of("chat.postMessage")
    (note,) = fake.of("chat.postEphemeral")
    assert note.args["channel"] == "C5" and "could not open a direct message" in note.text


async def test_a_mention_in_a_channel_answers_privately_when_it_should(
        app: App, door: SlackDoor, slack: SignedSlack, fake: FakeSlack) -> None:
    link(app, "budi", "U1")
    await slack.event({"type": "app_mention", "channel": "C1", "user": "U1",
                       "text": f"<@{BOT_USER}> whoami", "ts": "1.1"})
    await door.drain()
    (note,) = fake.of("chat.postEphemeral")
    assert note.args["channel"] == "C1" and note.args["user"] == "U1"
    assert "private chat" in note.text
    assert not fake.of("chat.postMessage")


async def test_app_home_shows_the_day(app: App, door: SlackDoor, slack: SignedSlack,
                                      fake: FakeSlack) -> None:
    link(app, "budi", "U1")
    await slack.event({"type": "app_home_opened", "user": "U1", "channel": "DU1",
                       "tab": "home"})
    await slack.event({"type": "app_home_opened", "user": "U5", "channel": "DU5",
                       "tab": "home"})
    await door.drain()
    budi, stranger = fake.of("views.publish")
    assert budi.args["user_id"] == "U1"
    shown = str(budi.args["view"])
    assert budi.args["view"]["type"] == "home"
    assert "Your day, Budi" in shown and "Pipeline" in shown and "Today" in shown
    assert "Link your Slack account first" in str(stranger.args["view"])
    # The stages carry the chat's own labels (those of /pipeline and the deal card).
    from bot.conversations.deal import stage_label
    from bot.i18n import Translator
    from core.models import OPEN_STAGES, Deal

    with app.db.session() as session:
        budi_id = user_service.get_user_by_login(session, "budi").id
        stages = set(session.scalars(select(Deal.stage).where(
            Deal.owner_id == budi_id, Deal.stage.in_([s.value for s in OPEN_STAGES]))))
    assert stages
    for stage in stages:
        assert f"• {stage_label(Translator('en'), stage)}: " in shown


async def test_app_home_shows_a_technicians_jobs_in_indonesian(
        app: App, door: SlackDoor, slack: SignedSlack, fake: FakeSlack) -> None:
    from core.models import Company
    from core.models.fieldservice import ServiceJob

    link(app, "tono", "U9")
    with app.db.session() as session:
        tono = user_service.get_user_by_login(session, "tono")
        tono.locale = "id"
        company = session.scalar(select(Company).where(Company.name == "Sinar Jaya Abadi"))
        job = ServiceJob(company_id=company.id, skill="repair", description="AC rusak",
                         status="en_route", technician_id=tono.id, eta_at=app.clock.now(),
                         created_at=app.clock.now(), updated_at=app.clock.now())
        session.add(job)
        session.flush()
        job_id = job.id
    await slack.event({"type": "app_home_opened", "user": "U9", "channel": "DU9",
                       "tab": "home"})
    await door.drain()
    shown = str(fake.of("views.publish")[0].args["view"])
    assert "Pekerjaan Anda" in shown
    assert f"#{job_id} Sinar Jaya Abadi — dalam perjalanan · 09:00" in shown


async def test_socket_mode_when_an_app_token_is_set(app: App, slack_settings: Settings,
                                                    fake: FakeSlack) -> None:
    import asyncio

    link(app, "budi", "U1")
    settings = slack_settings.model_copy(update={"slack_app_token": SecretStr("xapp-test"),
                                                 "slack_signing_secret": None})
    door = SlackDoor(app.engine, settings)
    await door.start()
    try:
        assert door.port is None  # no HTTP endpoint in Socket Mode
        for _ in range(200):
            if fake._sockets:
                break
            await asyncio.sleep(0.01)
        await fake.push("slash_commands", {
            "team_id": TEAM, "user_id": "U1", "channel_id": "DU1", "command": "/sfa",
            "text": "whoami", "trigger_id": "trS1"}, "env-1")
        for _ in range(300):
            if fake.of("chat.postMessage"):
                break
            await asyncio.sleep(0.01)
        await door.drain()
    finally:
        await door.stop()
    assert [a.get("envelope_id") for a in fake.socket_acks] == ["env-1"]
    assert "You are Budi" in fake.texts()
