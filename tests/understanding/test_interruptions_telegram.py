"""The conversation of tests/understanding/scenario.py on Telegram: the real PTB stack
against the fake Bot API."""

from __future__ import annotations

from bot.app import App
from bot.handlers.telegram import TelegramDoor
from tests.handlers.fake_telegram import FakeTelegram
from tests.handlers.telegram_fixtures import door_fixture, fake_fixture, link  # noqa: F401
from tests.handlers.test_telegram_scenarios import TgUser
from tests.understanding.scenario import STEPS, check

BUDI_TG = FakeTelegram.user(7101, "Budi")


async def test_the_conversation_on_telegram(app: App, fake: FakeTelegram,
                                            door: TelegramDoor) -> None:
    link(app, "budi", BUDI_TG)
    budi = TgUser(fake, BUDI_TG)
    transcript = []
    for kind, arg, _ in STEPS:
        transcript.append(await (budi.say(arg) if kind == "say" else budi.press(arg)))
    check(transcript)




async def test_a_group_message_counts_when_it_mentions_the_bot(app: App, fake: FakeTelegram,
                                                               door: TelegramDoor) -> None:
    import asyncio

    link(app, "budi", BUDI_TG)
    group = fake.group_chat(-100555, "Java West sales")
    fake.send_text(BUDI_TG, "who handles Sinar Jaya Abadi?", chat=group)  # chatter
    await asyncio.sleep(1.5)
    assert fake.sent_to(group["id"]) == []
    fake.send_text(BUDI_TG, "@sfa_test_bot who handles Sinar Jaya Abadi?", chat=group)
    await fake.wait_for(lambda: len(fake.sent_to(group["id"])) > 0, 10)
    answer = fake.sent_to(group["id"])[0]["text"]
    assert "private chat" in answer  # understood, and customer data kept out of the group
