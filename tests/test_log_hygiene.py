"""Log hygiene: with every platform secret set to a recognisable value and logging configured by
the real configure_logging (bot/logs.py) at DEBUG, full scenario runs (every script in
tests/scenarios through `sfa chat`, and a Telegram and a Slack exchange through the real doors)
leave no secret in any log line at any level, and no personal data (demo contacts' phone
numbers and e-mails, the bodies of the messages sent) in INFO-and-above records."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner
from pydantic import SecretStr
from sqlalchemy import create_engine, text

from bot.app import App
from bot.cli import main
from bot.handlers.slack import SlackDoor
from bot.handlers.telegram import TelegramDoor
from bot.logs import configure_logging
from core.settings import Settings
from tests.handlers.fake_slack import FakeSlack
from tests.handlers.fake_telegram import TOKEN as TG_TOKEN
from tests.handlers.fake_telegram import FakeTelegram
from tests.handlers.slack_support import BOT_TOKEN, SIGNING_SECRET, SignedSlack, SlackUser
from tests.handlers.telegram_fixtures import link

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
SECRETS = {
    "TELEGRAM_BOT_TOKEN": "123456789:AAHygieneTelegramTokenValue_zz-0042",
    "TELEGRAM_WEBHOOK_SECRET": "hygiene-webhook-secret-0042",
    "SLACK_BOT_TOKEN": "xoxb-hygiene-slack-bot-token-0042",
    "SLACK_APP_TOKEN": "xapp-hygiene-slack-app-token-0042",
    "SLACK_SIGNING_SECRET": "hygiene-signing-secret-0042",
}
NOW = "2026-03-02T02:00:00+00:00"
DIRECTIVE = re.compile(r"^(#|@|\[|/)")


class Collect(logging.Handler):
    """Every record the process makes, as the configured formatter would print it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self, min_level: int = logging.DEBUG) -> list[str]:
        formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
        return [formatter.format(r) for r in self.records if r.levelno >= min_level]


@pytest.fixture(name="restore_logging")
def restore_logging_fixture() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in
              ("httpx", "httpcore", "telegram", "telegram.ext", "apscheduler", "slack_bolt",
               "aiohttp", "alembic", "slack_sdk")}
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)
    for name, lvl in levels.items():
        logging.getLogger(name).setLevel(lvl)


def _bodies(script: Path) -> list[str]:
    """The free text a user typed in a scenario (what must not reach INFO logs)."""
    lines = [line.strip() for line in script.read_text().splitlines()]
    return [line for line in lines if line and not DIRECTIVE.match(line) and len(line) >= 16]


def _personal_data(db_url: str) -> list[str]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT phone, email FROM contacts")).fetchall()
    finally:
        engine.dispose()
    values = [v for row in rows for v in row if v]
    assert len(values) > 50, "the demo world has contacts with phones and e-mails"
    return values


def _check(lines_all: list[str], lines_info: list[str], personal: list[str]) -> None:
    everything = "\n".join(lines_all)
    for name, secret in SECRETS.items():
        assert secret not in everything, f"{name} leaked into the logs"
    info = "\n".join(lines_info)
    leaked = [p for p in personal if p in info]
    assert leaked == [], f"personal data in INFO logs: {leaked[:5]}"


def test_scenarios_through_the_console_leak_nothing(
        tmp_path: Path, restore_logging: None) -> None:
    seeded_db = tmp_path / "seeded.db"
    base_env = {**SECRETS, "SFA_DATA_DIR": str(tmp_path / "data"), "SFA_LOG_LEVEL": "DEBUG",
                "SFA_LOG_FORMAT": "json", "SFA_DATABASE_URL": f"sqlite:///{seeded_db}"}
    runner = CliRunner()
    seeded = runner.invoke(main, ["seed", "--companies", "30", "--contacts", "60"],
                           env=base_env)
    assert seeded.exit_code == 0, seeded.output
    personal = _personal_data(f"sqlite:///{seeded_db}")
    scripts = sorted(SCENARIOS.glob("*.txt"))
    assert len(scripts) >= 5
    seen = 0
    for script in scripts:
        db = tmp_path / f"{script.stem}.db"
        with sqlite3.connect(seeded_db) as source, sqlite3.connect(db) as target:
            source.backup(target)  # WAL and all
        env = {**base_env, "SFA_DATABASE_URL": f"sqlite:///{db}"}
        as_login = "maya" if re.search(r"--as maya", script.read_text()) else "budi"
        run = runner.invoke(main, ["chat", "--as", as_login, "--script", str(script),
                                   "--now", NOW], env=env)
        assert run.exit_code == 0, f"{script.name}: {run.output[-2000:]}"
        assert "bot" in run.stdout, f"{script.name} produced no conversation"
        records = [json.loads(line) for line in run.stderr.splitlines()
                   if line.startswith("{")]
        assert len(records) == len([x for x in run.stderr.splitlines() if x.strip()]), (
            f"{script.name}: every log line is one JSON record")
        every = [json.dumps(r, ensure_ascii=False) for r in records] + [run.stdout]
        info = [json.dumps(r, ensure_ascii=False) for r in records
                if r["level"] not in ("DEBUG",)]
        _check(every, info, personal + _bodies(script))
        seen += len(records)
    assert seen > 0, "the runs were logged"


async def test_telegram_and_slack_exchanges_leak_nothing(
        app: App, settings: Settings, restore_logging: None) -> None:
    secrets = [TG_TOKEN, BOT_TOKEN, SIGNING_SECRET]
    configure_logging("DEBUG", "json", secrets)
    for noisy in ("telegram", "telegram.ext", "httpx", "slack_bolt", "slack_sdk", "aiohttp"):
        logging.getLogger(noisy).setLevel(logging.DEBUG)  # the loudest they can be
    collect = Collect()
    logging.getLogger().addHandler(collect)
    with app.db.session() as session:
        personal = [v for row in session.execute(text("SELECT phone, email FROM contacts"))
                    for v in row if v]
    typed = ["My private note about Hendro: call him at +62 812 5555 0199",
             "hendro.private@example.co.id wants 12 laptops"]

    tg = FakeTelegram()
    await tg.start()
    door = TelegramDoor(app.engine, tg.token, api_url=tg.url, poll_timeout=1)
    await door.start()
    try:
        budi = FakeTelegram.user(7001, "Budi")
        link(app, "budi", budi)
        for n, message in enumerate(["/help", *typed, "who handles Sinar Jaya?"], start=1):
            tg.send_text(budi, message)
            await tg.wait_sent(budi["id"], n)
    finally:
        await door.stop()
        await tg.stop()

    fake = await FakeSlack(retry_after=0).start()
    slack_settings = settings.model_copy(update={
        "slack_bot_token": SecretStr(BOT_TOKEN), "slack_signing_secret": SecretStr(SIGNING_SECRET),
        "slack_api_url": fake.api_url})
    sdoor = SlackDoor(app.engine, slack_settings, http_port=0, host="127.0.0.1")
    await sdoor.start()
    try:
        with app.db.session() as session:
            from core import users as user_service
            user = user_service.get_user_by_login(session, "sari")
            user_service.link_identity(session, user, platform="slack", external_id="T1:UH1",
                                       chat_id="DUH1", now=app.clock.now())
        async with aiohttp.ClientSession() as http:
            slack = SignedSlack(http, f"http://127.0.0.1:{sdoor.port}/slack/events")
            sari = SlackUser(slack, fake, sdoor, "UH1")
            assert "/whoami" in await sari.cmd("help")
            for message in typed:
                assert await sari.say(message)
            status, _ = await slack.dm("UH1", "bad signature", signature="v0=00")
            assert status == 401
    finally:
        await sdoor.stop()
        await fake.stop()

    assert len(collect.records) > 20, "the exchange was logged at DEBUG"
    assert any(r.name.startswith("telegram") for r in collect.records)
    _check(collect.lines(), collect.lines(logging.INFO), personal + typed)
