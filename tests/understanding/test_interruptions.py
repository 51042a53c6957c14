"""Questions in the middle of a flow, the clarifying question and the walk-through's fixes:
the conversation of tests/understanding/scenario.py on the terminal (the real CLI and console
door; Telegram and Slack: test_interruptions_telegram.py, test_interruptions_slack.py), and
the fixes through the engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select

from bot.app import App
from bot.cli import main
from core.models import Company, Contact, Deal, Role, User
from core.models.enums import Stage
from tests.support.chat import CollectingChat, texts
from tests.understanding.scenario import check, script


def test_the_conversation_on_the_terminal(tmp_path: Path) -> None:
    env = {"SFA_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
           "SFA_DATA_DIR": str(tmp_path / "data"), "SFA_LOG_LEVEL": "WARNING"}
    runner = CliRunner()
    seeded = runner.invoke(main, ["seed", "--companies", "20", "--contacts", "40"], env=env)
    assert seeded.exit_code == 0, seeded.output
    path = tmp_path / "steps.txt"
    path.write_text(script(), encoding="utf-8")
    result = runner.invoke(main, ["chat", "--as", "budi", "--script", str(path)], env=env)
    assert result.exit_code == 0, result.output
    # One chunk per step: what follows the line the user typed or pressed.
    chunks: list[str] = []
    for line in result.stdout.splitlines():
        if line.startswith("budi: "):
            chunks.append("")
        elif chunks:
            chunks[-1] += line.removeprefix("bot: ").strip() + "\n"
    check(chunks)


# -- the walk-through's fixes, through the engine ------------------------------------------------
async def test_the_earlier_buttons_still_work_after_a_question(chat: CollectingChat) -> None:
    budi = chat.as_user("budi")
    await budi.say("log visit Hendro Wibisono")
    positive = budi.find("👍 Positive")
    out = texts(await budi.say("phone of Hendro Wibisono?"))
    assert "Still logging the visit" in out
    out = texts(await budi.send(budi.incoming(button=positive.payload)))
    assert "Any notes?" in out  # the outcome button of the message before the question


async def test_a_typed_answer_keeps_the_buttons_of_the_question(chat: CollectingChat) -> None:
    budi = chat.as_user("budi")
    await budi.say("log visit Hendro Wibisono")
    positive = budi.find("👍 Positive")
    out = texts(await budi.say("it went well i think"))
    assert "How did the visit" in out or "outcome" in out.lower()
    out = texts(await budi.send(budi.incoming(button=positive.payload)))
    assert "Any notes?" in out and "earlier message" not in out


async def test_a_name_given_in_full_gets_no_did_you_mean(chat: CollectingChat) -> None:
    out = texts(await chat.as_user("maya").say("who handles Maju Bersama?"))
    assert "CV Maju Bersama is handled by" in out and "Did you mean" not in out


async def test_two_contacts_with_one_name_are_told_apart(app: App,
                                                         chat: CollectingChat) -> None:
    with app.db.session() as s:
        twins = list(s.scalars(select(Contact).where(Contact.name == "Ani Pratama")
                               .order_by(Contact.id)))
        assert len(twins) == 2
        companies = [s.get(Company, c.company_id).name for c in twins]
    admin = chat.as_user("admin")
    out = texts(await admin.say("log visit Ani Pratama"))
    assert "Did you mean" in out
    second = next(b for b in admin.buttons if companies[1] in b.label)
    out = texts(await admin.press(second.label))
    assert "Ani Pratama" in out and companies[1] in out  # the second one, not a company


async def test_a_budget_without_an_amount_is_asked_again(app: App, chat: CollectingChat,
                                                         clock: Any) -> None:
    with app.db.session() as s:
        budi = s.scalar(select(User).where(User.login == "budi"))
        company = s.scalar(select(Company).where(Company.name == "Sinar Jaya Abadi"))
        deal = Deal(title="Servers for Sinar Jaya", company_id=company.id, owner_id=budi.id,
                    stage=Stage.CONTACTED.value, amount=100_000_000, currency="IDR",
                    created_at=clock.now(), updated_at=clock.now())
        s.add(deal)
        s.commit()
        deal_id = deal.id
    u = chat.as_user("budi")
    await u.say(f"/advance #{deal_id}")
    out = texts(await u.press("Prospect qualified"))
    assert "budget" in out.lower()
    out = texts(await u.say("they have money"))
    assert "I need an amount for the budget" in out
    out = texts(await u.say("Rp 300 juta"))
    assert "I need an amount" not in out and "budget" not in out.lower()  # on to the next


async def test_no_internal_key_reaches_the_user(app: App, chat: CollectingChat) -> None:
    u = chat.as_user("budi")
    out = texts(await u.say("/brochure Hendro Wibisono"))
    out += texts(await u.say("SRV-X1"))
    out += texts(await u.say("who got the brochure for the Server X1?"))
    assert "brochure:SRV-X1" not in out and "Server X1 brochure" in out
    with app.db.session() as s:
        deal = s.scalar(select(Deal).where(Deal.stage == Stage.ORDER_PLACED.value).limit(1))
        owner = s.get(User, deal.owner_id) if deal else None
    if deal is not None and owner is not None and owner.role == Role.REP.value:
        out = texts(await chat.as_user(owner.login).say(f"/advance #{deal.id}"))
        assert "order_placed" not in out


async def test_a_grouping_that_does_not_exist_is_named(chat: CollectingChat) -> None:
    out = texts(await chat.as_user("maya").say("won by industry this year"))
    assert 'I cannot group Won sales by "industry"' in out and "by territory" in out


async def test_another_teams_customer_is_not_a_spelling_problem(chat: CollectingChat) -> None:
    out = texts(await chat.as_user("budi").say("who handles Summit Medical?"))
    assert "is handled by another team" in out and "spelling" not in out


async def test_the_reply_follows_the_language_of_the_message(chat: CollectingChat) -> None:
    budi = chat.as_user("budi")  # reads English by default
    assert "ditangani oleh" in texts(await budi.say("siapa yang pegang Sinar Jaya Abadi?"))
    assert "is handled by" in texts(await budi.say("who's in charge of Sinar Jaya Abadi?"))
    assert "Hi Budi" in texts(await budi.say("pagi"))  # too short to tell: his own language
    # Words reps use in both languages ("pipeline", "deal") tell nothing; a date does.
    assert "Pipeline Anda" in texts(await budi.say("gimana pipeline saya?"))
    assert "Pipeline Anda" in texts(await budi.say("berapa pipeline saya bulan ini?"))
    assert "Pipeline Anda" in texts(await budi.say("pipeline bulan ini"))
    assert "Your pipeline" in texts(await budi.say("my pipeline this month"))
    # Most words a company's name: the few left still tell the language.
    assert "Solusi apa untuk Sinar Jaya Abadi?" in texts(
        await budi.say("konfigurasi solusi buat Sinar Jaya Abadi"))
    await budi.say("/cancel")
    assert "What should the solution be for Sinar Jaya Abadi?" in texts(
        await budi.say("configure a solution for Sinar Jaya Abadi"))


async def test_a_miss_says_what_was_not_understood(chat: CollectingChat) -> None:
    out = texts(await chat.as_user("budi").say("could you frobnicate the quux for me"))
    assert 'did not understand "frobnicate quux"' in out
    assert "no customer" not in out.lower()


async def test_group_chat_messages_count_only_when_addressed(chat: CollectingChat) -> None:
    from bot.conversations.messages import Incoming

    budi = chat.as_user("budi")
    group = dict(platform="console", chat_id="G1", user_id=budi.external_id, chat_is_group=True)
    assert await budi.send(Incoming(**group, text="who handles Sinar Jaya Abadi?")) == []
    out = texts(await budi.send(Incoming(**group, text="who handles Sinar Jaya Abadi?",
                                         addressed=True)))
    assert "private chat" in out  # understood, and kept out of the group


async def test_a_customer_the_bot_does_not_know_is_never_answered_as_another(
        chat: CollectingChat) -> None:
    """"Zebra Abadi" exists nowhere; one of its words names Sinar Jaya Abadi. The bot asks
    instead of answering about Sinar Jaya Abadi as if it had been named, and a whole question
    typed at that "did you mean" is answered about the customer it names."""
    budi = chat.as_user("budi")
    replies = await budi.say("who handles Zebra Abadi?")
    assert "Did you mean" in texts(replies) and "is handled by" not in texts(replies)
    assert any("Sinar Jaya Abadi" in b.label for r in replies for row in r.buttons for b in row)
    out = texts(await budi.say("who handles Sinar Jaya Abadi?"))
    assert "PT Sinar Jaya Abadi is handled by" in out and "Did you mean" not in out
    assert "ditangani oleh" in texts(await budi.say("siapa pic Sinar Jaya?"))  # no change
