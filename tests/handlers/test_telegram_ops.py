"""The Telegram door's operations: webhook mode and its secret, 429s, the outbox sender,
the token kept out of logs, and the wiring in the composition root and the CLI."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time

import aiohttp
import pytest
from click.testing import CliRunner
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.app import App, build_app, telegram_doors
from bot.cli import main
from bot.conversations.messages import Attachment, Button, Reply
from bot.conversations.models import ProcessedUpdate
from bot.handlers.telegram import SECRET_HEADER, TelegramDoor, TelegramStartError
from core.ports import DeliveryError, PermanentFailure, RateLimited
from core.settings import Settings
from tests.handlers.fake_telegram import FakeTelegram
from tests.handlers.telegram_fixtures import door_fixture, fake_fixture, link  # noqa: F401

BUDI = FakeTelegram.user(6001, "Budi")
SARI = FakeTelegram.user(6002, "Sari", "id")
ANDI = FakeTelegram.user(6003, "Andi")


async def _post(url: str, update: dict, secret: str | None) -> int:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    async with aiohttp.ClientSession() as http, http.post(url, json=update,
                                                          headers=headers) as response:
        return response.status


async def test_webhook_mode_checks_the_secret_and_dedupes_across_workers(
        app: App, fake: FakeTelegram, settings: Settings) -> None:
    link(app, "budi", BUDI)
    worker1 = TelegramDoor(app.engine, fake.token, api_url=fake.url, port=0,
                           listen="127.0.0.1", webhook_url="https://bot.example.com/tg/hook",
                           webhook_secret="right-secret-123")
    # A second worker process: its own engine over the same database.
    other = build_app(settings, clock=app.clock, db=app.db, upgrade=False)
    worker2 = TelegramDoor(other.engine, fake.token, api_url=fake.url, port=0,
                           listen="127.0.0.1", webhook_url="https://bot.example.com/tg/hook",
                           webhook_secret="right-secret-123", set_commands=False)
    await worker1.start()
    await worker2.start()
    try:
        assert fake.webhook is not None
        assert fake.webhook["url"] == "https://bot.example.com/tg/hook"
        assert fake.webhook["secret_token"] == "right-secret-123"
        url1 = f"http://127.0.0.1:{worker1.bound_port}/tg/hook"
        url2 = f"http://127.0.0.1:{worker2.bound_port}/tg/hook"
        update = {"update_id": 42, **fake.build_text(BUDI, "/whoami")}
        assert await _post(url1, update, None) == 403
        assert await _post(url1, update, "wrong-secret") == 403
        assert await _post(url2, update, "right-secret-12") == 403
        assert fake.sent_to(BUDI["id"]) == []
        assert await _post(url1, update, "right-secret-123") == 200
        # Telegram retries the same update on the other worker: answered once only.
        assert await _post(url2, update, "right-secret-123") == 200
        sent = await fake.wait_sent(BUDI["id"], 1)
        await asyncio.sleep(0.1)
        assert len(fake.sent_to(BUDI["id"])) == 1
        assert "Budi Santoso" in sent[0]["text"]
        assert not fake.calls_of("getUpdates"), "webhook mode does not poll"
        with app.db.session() as session:
            assert session.scalar(select(func.count()).select_from(ProcessedUpdate)) == 1
    finally:
        await worker2.stop()
        await worker1.stop()


async def test_a_webhook_update_acked_by_a_killed_worker_is_answered_by_another(
        app: App, fake: FakeTelegram, settings: Settings) -> None:
    """The webhook answers 200 once the update is in the inbox; a worker killed before
    working it leaves it there, and another worker takes it over once its claim lapses."""
    link(app, "budi", BUDI)
    hook = dict(listen="127.0.0.1", port=0, webhook_url="https://bot.example.com/tg/hook",
                webhook_secret="right-secret-123", set_commands=False, api_url=fake.url)
    first = TelegramDoor(app.engine, fake.token, **hook)  # type: ignore[arg-type]
    other = build_app(settings, clock=app.clock, db=app.db, upgrade=False)
    second = TelegramDoor(other.engine, fake.token, **hook)  # type: ignore[arg-type]
    await first.start()
    await second.start()
    try:
        assert first.webhook is not None and second.webhook is not None
        dead = first.webhook.intake
        workers, dead._workers = dead._workers, []  # killed: nothing it holds is worked
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        update = {"update_id": 4242, **fake.build_text(BUDI, "/whoami")}
        url = f"http://127.0.0.1:{first.bound_port}/tg/hook"
        assert await _post(url, update, "right-secret-123") == 200  # recorded: Telegram is done
        await asyncio.sleep(0.2)
        assert fake.sent_to(BUDI["id"]) == []
        assert await second.webhook.intake.take_over() == 0  # the first one's claim holds
        app.clock.advance(seconds=settings.inbox_lease_seconds + 1)  # type: ignore[attr-defined]
        assert await second.webhook.intake.take_over() == 1
        sent = await fake.wait_sent(BUDI["id"], 1)
        await second.webhook.drain()
        assert len(fake.sent_to(BUDI["id"])) == 1 and "Budi Santoso" in sent[0]["text"]
        assert await second.webhook.intake.take_over() == 0  # done and forgotten
    finally:
        await second.stop()
        await first.stop()


async def test_429_pauses_every_reply_for_the_time_named(
        app: App, fake: FakeTelegram, door: TelegramDoor) -> None:
    for login, user in (("budi", BUDI), ("sari", SARI), ("andi", ANDI)):
        link(app, login, user)
    fake.fail("sendMessage", 429, retry_after=1)
    started = time.monotonic()
    fake.send_text(BUDI, "/whoami")
    await fake.wait_for(lambda: fake.calls_of("sendMessage"))
    for user in (SARI, ANDI):  # replies due while Telegram asked the bot to wait
        fake.send_text(user, "/whoami")
    for user in (BUDI, SARI, ANDI):
        await fake.wait_sent(user["id"], 1, timeout=10)
    sends = fake.calls_of("sendMessage")
    assert [c.status for c in sends] == [429, 200, 200, 200], "one 429, then no storm"
    assert sends[0].params["chat_id"] == sends[1].params["chat_id"] == BUDI["id"]
    assert sends[1].at - sends[0].at >= 1.0  # waited the time Telegram named
    assert all(c.at - sends[0].at >= 1.0 for c in sends[2:])  # everyone waited
    assert time.monotonic() - started < 8


async def test_sender_delivers_and_maps_telegram_refusals(
        app: App, fake: FakeTelegram, door: TelegramDoor) -> None:
    sender = door.sender
    assert sender.platform == "telegram"
    message_id = await sender.deliver("6001", Reply(
        "Follow up <Sinar Jaya> & call",
        buttons=((Button("Done", payload="a|followup.done|7"),),)))
    [sent] = fake.sent_to(6001)
    assert message_id == str(sent["message_id"])
    assert sent["text"] == "Follow up &lt;Sinar Jaya&gt; &amp; call"
    assert sent["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "a|followup.done|7"
    # The text goes out as PTB's send_message would send it (no Message built from the answer)
    assert set(fake.calls_of("sendMessage")[0].params) == {"chat_id", "text", "parse_mode",
                                                          "reply_markup"}

    doc_id = await sender.deliver("-100500", Reply(
        "Quote Q-7", attachment=Attachment("Q-7.pdf", b"%PDF-1.4 quote", "application/pdf")))
    await sender.deliver("-100500", Reply(
        "", attachment=Attachment("chart.png", b"\x89PNG fake", "image/png")))
    vcard = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ratna Kusumawati\r\nTEL:+62811\r\nEND:VCARD\r\n"
    await sender.deliver("-100500", Reply(
        "", attachment=Attachment("ratna.vcf", vcard, "text/vcard")))
    doc, photo, contact = fake.sent_to(-100500)
    assert doc["document"]["file_name"] == "Q-7.pdf" and doc["caption"] == "Quote Q-7"
    assert doc_id == str(doc["message_id"])
    assert fake.files[doc["document"]["file_id"]] == b"%PDF-1.4 quote"
    assert fake.files[photo["photo"][0]["file_id"]] == b"\x89PNG fake"
    assert contact["contact"]["phone_number"] == "+62811"
    assert contact["contact"]["first_name"] == "Ratna"

    fake.fail("sendMessage", 429, times=2, retry_after=1)
    with pytest.raises(RateLimited) as limited:
        await sender.deliver("6001", Reply("again"))
    assert limited.value.retry_after == 1
    fake.fail("sendMessage", 403)
    with pytest.raises(PermanentFailure):
        await sender.deliver("6001", Reply("blocked"))
    fake.fail("sendMessage", 400)
    with pytest.raises(PermanentFailure):
        await sender.deliver("123", Reply("chat not found"))
    fake.fail("sendMessage", 500)
    with pytest.raises(DeliveryError) as failed:
        await sender.deliver("6001", Reply("server trouble"))
    assert not isinstance(failed.value, PermanentFailure)


async def test_sender_of_a_door_that_never_started(app: App, fake: FakeTelegram) -> None:
    """`sfa scheduler` delivers through the door's sender without starting the door."""
    idle = TelegramDoor(app.engine, fake.token, api_url=fake.url)
    sent = await asyncio.gather(*(idle.sender.deliver("6001", Reply(f"push {i}"))
                                  for i in range(3)))
    assert len(set(sent)) == 3 and len(fake.calls_of("getMe")) == 1
    assert sorted(fake.texts_to(6001)) == ["push 0", "push 1", "push 2"]
    await idle.sender.close()


async def test_long_text_is_split_under_the_limit(app: App, fake: FakeTelegram,
                                                  door: TelegramDoor) -> None:
    text = "\n".join(f"line {i} " + "x" * 80 for i in range(120))  # ~10,800 characters
    await door.sender.deliver("6001", Reply(text, buttons=((Button("OK", payload="a|x|1"),),)))
    sent = fake.sent_to(6001)
    assert len(sent) == 3 and all(len(m["text"]) <= 4096 for m in sent)
    assert "reply_markup" in sent[-1] and "reply_markup" not in sent[0]
    assert "\n".join(m["text"] for m in sent) == text


async def test_token_never_reaches_the_logs(
        app: App, fake: FakeTelegram, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    # Earlier tests may have run configure_logging (which quiets these): turn them all up.
    for name in ("telegram", "telegram.ext", "telegram.ext.ExtBot"):
        caplog.set_level(logging.DEBUG, logger=name)
    link(app, "budi", BUDI)
    running = TelegramDoor(app.engine, fake.token, api_url=fake.url, poll_timeout=1)
    await running.start()
    logging.getLogger("httpx").setLevel(logging.DEBUG)  # even if someone turns httpx up
    try:
        fake.send_text(BUDI, "/help")
        await fake.wait_sent(BUDI["id"], 1)
        fake.fail("sendMessage", 500)
        fake.fail("getUpdates", 500)
        fake.send_text(BUDI, "/whoami")
        await fake.wait_sent(BUDI["id"], 2, timeout=10)
    finally:
        await running.stop()
        logging.getLogger("httpx").setLevel(logging.WARNING)
    assert any("getUpdates" in r.getMessage() or "sendMessage" in r.getMessage()
               for r in caplog.records), "the HTTP layer did log"
    assert fake.token not in caplog.text
    secret = fake.token.split(":", 1)[1]
    assert secret not in caplog.text

    bad = TelegramDoor(app.engine, "111:wrong-token-abcdef", api_url=fake.url)
    with pytest.raises(TelegramStartError) as refused:
        await bad.start()
    assert "wrong-token" not in str(refused.value) and "wrong-token" not in caplog.text
    await bad.application.shutdown()


def test_composition_root_builds_the_door_from_settings(app: App) -> None:
    assert telegram_doors(app) == []
    configured = app.settings.model_copy(update={
        "telegram_bot_token": SecretStr("123:abcdefgh"),
        "telegram_api_url": "http://127.0.0.1:1"})
    with_token = dataclasses.replace(app, settings=configured)
    [polling] = telegram_doors(with_token)
    assert isinstance(polling, TelegramDoor) and polling.webhook_url is None
    assert polling.bot.base_url == "http://127.0.0.1:1/bot123:abcdefgh"
    with_token.run.telegram_webhook = ("https://x.example/hook", 8444)
    [hooked] = telegram_doors(with_token)
    assert hooked.webhook_url == "https://x.example/hook" and hooked.port == 8444
    assert hooked.application.updater is None
    with_token.run.telegram_webhook = None


def test_cli_run_webhook_needs_a_token(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"SFA_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "TELEGRAM_BOT_TOKEN": ""}
    result = CliRunner().invoke(main, ["run", "--telegram-webhook", "https://x/hook"], env=env)
    assert result.exit_code == 2
    assert "--telegram-webhook needs TELEGRAM_BOT_TOKEN" in result.stderr
